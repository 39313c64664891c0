"""Training throughput and peak GPU memory of the official-recipe leaves and their -dgr
leaves: ``python tools/analysis_tools/recipe_gpu_bench.py [CONFIG ...] [--iters 20]``.

Each config's model (pretrained weights off) trains ``--iters`` iterations (after
``--warmup``) through mmengine's ``train_step`` with the config's own optimiser wrapper,
per-GPU batch and training crop, on generated batches (random 8-bit images, random
depth in the dataset's range with the recipe's invalid border), on one CUDA device.
Prints a Markdown table: images/s (per GPU), seconds per iteration, peak allocated
memory. Without CUDA it stops with a message (the numbers would mean nothing).
"""
import argparse
import copy
import os.path as osp
import sys
import time
from typing import Dict, List, Sequence

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from tqdm import tqdm  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401
from mmdepth_dgr.apis import disable_pretrained_weights  # noqa: E402

RECIPES = [
    'configs/pixelformer/pixelformer_swin-l-w7_8xb1-20e_nyu-480x640.py',
    'configs/pixelformer/pixelformer-dgr_swin-l-w7_8xb1-20e_nyu-480x640.py',
    'configs/pixelformer/pixelformer_swin-l-w7_8xb1-20e_kitti-352x1120.py',
    'configs/pixelformer/pixelformer-dgr_swin-l-w7_8xb1-20e_kitti-352x1120.py',
    'configs/newcrfs/newcrfs_swin-l-w7_8xb1-50e_nyu-480x640.py',
    'configs/newcrfs/newcrfs-dgr_swin-l-w7_8xb1-50e_nyu-480x640.py',
    'configs/newcrfs/newcrfs_swin-l-w7_8xb1-50e_kitti-352x1120.py',
    'configs/newcrfs/newcrfs-dgr_swin-l-w7_8xb1-50e_kitti-352x1120.py',
    'configs/adabins/adabins_efficientnet-b5_4xb4-25e_nyu-416x544.py',
    'configs/adabins/adabins-dgr_efficientnet-b5_4xb4-25e_nyu-416x544.py',
    'configs/adabins/adabins_efficientnet-b5_4xb4-25e_kitti-352x704.py',
    'configs/adabins/adabins-dgr_efficientnet-b5_4xb4-25e_kitti-352x704.py',
]


def train_crop(cfg: Config) -> Sequence[int]:
    """The (h, w) the network sees in training: the last crop of the train pipeline, or
    the full NYU frame (480 x 640) when the pipeline has no crop."""
    crop = None
    for t in cfg.train_dataloader.dataset.pipeline:
        if 'crop_size' in t and t['type'] != 'KBCrop':
            crop = tuple(t['crop_size'])
    return crop or (480, 640)


def generated_batch(n: int, hw: Sequence[int], max_depth: float) -> Dict[str, List]:
    h, w = hw
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8))
        depth = torch.rand(1, h, w) * (0.9 * max_depth) + 0.05 * max_depth
        depth[:, :h // 20] = 0  # some invalid pixels, as real GT has
        s = SegDataSample()
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_depth_map = PixelData(data=depth)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def bench(config: str, iters: int, warmup: int, device: str = 'cuda',
          cfg_options: dict = None, crop: Sequence[int] = None) -> Dict[str, float]:
    """Time ``iters`` training steps of ``config`` on generated batches.

    Args:
        config (str): config path.
        iters (int): timed iterations.
        warmup (int): untimed iterations first.
        device (str): ``'cuda'`` (the measurement) or ``'cpu'`` (tests). Defaults to
            ``'cuda'``.
        cfg_options (dict, optional): ``Config.merge_from_dict`` overrides.
        crop (Sequence[int], optional): ``(h, w)`` instead of the config's training crop.

    Returns:
        dict: ``batch``, ``h``, ``w``, ``s_per_iter``, ``img_per_s``, ``peak_gib``
        (None off CUDA).
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cuda = device.startswith('cuda')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(disable_pretrained_weights(copy.deepcopy(cfg.model)))
        model.init_weights()
        model = model.to(device).train()
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    bs = int(cfg.train_dataloader.batch_size)
    hw = tuple(crop) if crop else train_crop(cfg)
    batch = generated_batch(bs, hw, float(cfg.model.decode_head.max_depth))
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in tqdm(range(warmup + iters), desc=osp.basename(config), leave=False):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.train_step(batch, wrapper)
        if cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    sec = sum(times) / len(times)
    out = dict(batch=bs, h=hw[0], w=hw[1], s_per_iter=sec, img_per_s=bs / sec,
               peak_gib=torch.cuda.max_memory_allocated() / 2**30 if cuda else None)
    del model, wrapper
    if cuda:
        torch.cuda.empty_cache()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', default=RECIPES)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit('recipe_gpu_bench.py needs a CUDA device')
    print(f'device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; '
          f'{args.iters} timed iterations after {args.warmup}; command: '
          f'{" ".join([osp.basename(sys.argv[0])] + (argv or sys.argv[1:]))}')
    print('| config | batch/GPU | crop | s/iter | img/s | peak memory (GiB) |')
    print('| :-- | --: | :-: | --: | --: | --: |')
    results = {}
    for c in args.configs:
        r = bench(osp.join(_REPO, c) if not osp.isabs(c) else c, args.iters, args.warmup)
        results[c] = r
        print(f"| {osp.splitext(osp.basename(c))[0]} | {r['batch']} | {r['h']}x{r['w']} | "
              f"{r['s_per_iter']:.3f} | {r['img_per_s']:.2f} | {r['peak_gib']:.1f} |",
              flush=True)
    return results


if __name__ == '__main__':
    main()
