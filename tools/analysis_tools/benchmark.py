"""Inference throughput: ``python tools/analysis_tools/benchmark.py CONFIG [CKPT]
--num-iters N --warmup W --device cpu|cuda [--shape H W] [--flip]``.

Times the whole test step (data preprocessor: normalise + pad; network; un-pad
post-processing) on one random uint8 image of the given size, after ``--warmup``
untimed steps, synchronising CUDA around each step. Prints a markdown table with
images/s and ms/image (mean, and median over iterations). No checkpoint = random
weights (throughput does not depend on them).
"""
import argparse
import os.path as osp
import statistics
import sys
import time

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import mmdepth_dgr  # noqa: E402,F401
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402

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
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'), help='image size (default 480 640)')
    parser.add_argument('--flip', action='store_true', help='flip TTA (2 forwards)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.num_iters < 1 or args.warmup < 0:
        parser.error('--num-iters must be >= 1 and --warmup >= 0')
    return args


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
    h, w = args.shape
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
    return dict(fps=1.0 / mean_s, mean_s=mean_s, median_s=med_s, times=times)


if __name__ == '__main__':
    main()
