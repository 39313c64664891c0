"""Inference throughput: ``python tools/analysis_tools/benchmark.py CONFIG [CKPT]
--num-iters N --warmup W --device cpu|cuda [--shape H W] [--flip]``.

Times the whole test step (data preprocessor: normalise + pad; network; un-pad
post-processing) on one random uint8 image, after ``--warmup`` untimed steps,
synchronising CUDA around each step. Prints a markdown table with images/s and
ms/image (mean, and median over iterations). No checkpoint = random weights
(throughput does not depend on them).

The image size defaults to the config's test size: the network input of the first test
sample after the config's test pipeline (what ``tools/test.py`` feeds, e.g. 352x1216 after
the KB crop on KITTI); when the test data cannot be read, the native frame size of the
config's dataset type (NYU 480x640, KITTI 375x1242, 352x1216 with ``KBCrop`` in the test
pipeline). The table says which. ``--shape H W`` overrides it.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401
from mmdepth_dgr.apis import init_model  # noqa: E402
from mmdepth_dgr.apis.inference import build_inference_pipeline  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark inference speed')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint path/URL (optional)')
    parser.add_argument('--num-iters', type=int, default=50, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=5, help='untimed iterations')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu', help='cpu | cuda | cuda:N')
    parser.add_argument('--shape', type=int, nargs=2, default=None,
                        metavar=('H', 'W'), help='image size (default: the config\'s '
                        'test size, see the module docstring)')
    parser.add_argument('--flip', action='store_true', help='flip TTA (2 forwards)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.num_iters < 1 or args.warmup < 0:
        parser.error('--num-iters must be >= 1 and --warmup >= 0')
    return args


#: Native frame size (H, W) per dataset type, when the test data cannot be read.
NATIVE_FRAME_SIZE = {'NYUDepthDataset': (480, 640), 'KITTIDepthDataset': (375, 1242)}
#: Test-pipeline steps that fix the size (KITTI's KB crop).
FIXED_SIZE_STEPS = {'KBCrop': (352, 1216)}


def config_test_shape(cfg):
    """The (H, W) of the network input at test time, and where it comes from.

    Args:
        cfg (mmengine.Config): The model config (``test_dataloader.dataset``).

    Returns:
        tuple[int, int, str]: height, width and a short description of the source.

    Raises:
        RuntimeError: Neither the test data nor the dataset type gives a size.
    """
    from mmseg.registry import DATASETS
    ds_cfg = (cfg.get('test_dataloader') or {}).get('dataset')
    if not isinstance(ds_cfg, dict):
        raise RuntimeError('the config has no test_dataloader.dataset to take the test '
                           'size from; pass --shape H W')
    try:
        dataset = DATASETS.build(copy.deepcopy(ds_cfg))
        h, w = (int(v) for v in dataset[0]['inputs'].shape[-2:])
        return h, w, 'first test sample'
    except Exception as e:  # noqa: BLE001  (missing data: fall back, say why)
        reason = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
    size = NATIVE_FRAME_SIZE.get(ds_cfg.get('type'))
    if size is None:
        raise RuntimeError(f'cannot take the test size from the config: the test data is '
                           f'not readable ({reason}) and {ds_cfg.get("type")} has no known '
                           'frame size; pass --shape H W')
    for step in ds_cfg.get('pipeline') or []:
        size = FIXED_SIZE_STEPS.get(step.get('type'), size)
    return size[0], size[1], f'{ds_cfg["type"]} frame size (test data not read: {reason})'


def main(argv=None) -> dict:
    from tqdm import tqdm
    args = parse_args(argv)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('--device cuda requested but CUDA is not available')
    if args.threads:
        torch.set_num_threads(args.threads)
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    model.test_cfg['flip'] = args.flip
    if args.shape is not None:
        (h, w), source = args.shape, '--shape'
    else:
        h, w, source = config_test_shape(model.cfg)
    print(f'input size {h}x{w} ({source})')
    img = np.random.RandomState(0).randint(0, 256, (h, w, 3), dtype=np.uint8)
    packed = build_inference_pipeline(model.cfg, from_array=True)(dict(img=img))
    cuda = args.device.startswith('cuda')

    def step():
        data = pseudo_collate([dict(inputs=packed['inputs'].clone(),
                                    data_samples=packed['data_samples'].clone())])
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            model.test_step(data)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    for _ in tqdm(range(args.warmup), desc='warm-up', leave=False):
        step()
    times = [step() for _ in tqdm(range(args.num_iters), desc='timing')]
    mean_s = sum(times) / len(times)
    med_s = statistics.median(times)
    name = osp.splitext(osp.basename(args.config))[0]
    device = torch.cuda.get_device_name(args.device) if cuda else \
        f'cpu ({torch.get_num_threads()} threads)'
    print('| config | device | input | flip | iters | img/s | ms/img (mean) | '
          'ms/img (median) |')
    print('|---|---|---|---|---|---|---|---|')
    print(f'| {name} | {device} | {h}x{w} | {args.flip} | {args.num_iters} | '
          f'{1.0 / mean_s:.2f} | {1e3 * mean_s:.1f} | {1e3 * med_s:.1f} |')
    return dict(fps=1.0 / mean_s, mean_s=mean_s, median_s=med_s, times=times,
                shape=(h, w), shape_source=source)


if __name__ == '__main__':
    main()
