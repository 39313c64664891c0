"""Host vs host + DGR: throughput (img/s) and peak memory, training and inference.

For each model (PixelFormer Swin-L on NYU 416x544, the quickstart MiT-B0 model at
240x320), variant (``host``, ``dgr``, ``dgr-cp`` = DGR with activation checkpointing),
mode (``train-fp32``, ``train-amp``, ``infer``) and execution (``eager``,
``compile`` = ``torch.compile`` of the whole estimator), one fresh worker process builds
the model from its config (random weights), runs ``--warmup`` untimed and ``--iters``
timed steps on random uint8 images of the config's crop size, and reports:

* img/s = batch * iters / (time of the timed steps), CUDA synchronised around each step;
* peak memory: ``torch.cuda.max_memory_allocated`` over the timed steps on CUDA; the
  process's peak resident set size (``resource.getrusage``) on CPU, which includes the
  model and its optimizer state (hence one process per setting).

A training step is the estimator's loss (``mode='loss'``), backward and an AdamW step;
``train-amp`` runs the forward under ``torch.autocast`` (float16 with a GradScaler on
CUDA, bfloat16 on CPU). Inference is ``mode='tensor'`` under ``torch.no_grad``.

Written for a GPU machine (the default device is CUDA when available)::

    python tools/analysis_tools/dgr_gpu_bench.py --out work_dirs/dgr_gpu_bench.json

and runnable on CPU for a smoke test or the activation-checkpointing memory figures::

    python tools/analysis_tools/dgr_gpu_bench.py --device cpu --tiny
    python tools/analysis_tools/dgr_gpu_bench.py --device cpu --models pixelformer \\
        --modes train-fp32 --exec eager --variants host dgr dgr-cp --batch 2 \\
        --warmup 1 --iters 2

Prints a markdown table (with the device, torch version, threads and load average) and,
with ``--out``, writes every measurement as JSON; ``--record FILE`` writes a run record
(``mmdepth_dgr.utils.run_record``: the exact command, commit, library versions, device)
holding them, and ``--update-doc MARKDOWN`` rewrites every block ``<!-- dgr_gpu_bench
records=PATH -->`` ... ``<!-- dgr_gpu_bench:end -->`` of a file with the table of the
record at ``PATH`` (relative to the repository root).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch  # noqa: E402

_WHERE = 'tools/analysis_tools/dgr_gpu_bench.py'
MODELS: Dict[str, dict] = {
    'pixelformer': dict(
        host='configs/pixelformer/pixelformer_swin-l-w7_4xb4-25k_nyu-416x544.py',
        dgr='configs/pixelformer/pixelformer-dgr_swin-l-w7_4xb4-25k_nyu-416x544.py',
        shape=(416, 544), batch=4, depth=(0.5, 9.5),
        # --tiny: the decode-head tests' tiny Swin + head
        tiny={'model.backbone.embed_dims': 16, 'model.backbone.depths': [1, 1, 1, 1],
              'model.backbone.num_heads': [1, 2, 2, 4],
              'model.backbone.pretrain_img_size': 64,
              'model.decode_head.in_channels': [16, 32, 64, 128],
              'model.decode_head.channels': 32,
              'model.decode_head.sam_dims': (16, 32, 64, 128),
              'model.decode_head.sam_num_heads': (1, 2, 2, 4),
              'model.decode_head.num_bins': 16,
              'model.decode_head.bcp_hidden_channels': 32,
              'model.decode_head.ppm_norm_cfg': dict(type='GN', num_groups=8,
                                                     requires_grad=True)}),
    'quickstart': dict(
        host='configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py',
        dgr='configs/dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py',
        shape=(240, 320), batch=4, depth=(0.5, 9.5), tiny={}),
}
VARIANTS = ('host', 'dgr', 'dgr-cp')
MODES = ('train-fp32', 'train-amp', 'infer')
EXECS = ('eager', 'compile')
TINY_SHAPE, TINY_BATCH = (64, 64), 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--models', nargs='+', choices=sorted(MODELS), default=sorted(MODELS))
    p.add_argument('--variants', nargs='+', choices=VARIANTS, default=['host', 'dgr'])
    p.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    p.add_argument('--exec', nargs='+', choices=EXECS, default=list(EXECS), dest='execs')
    p.add_argument('--batch', type=int, default=None,
                   help='images per step (default: the config\'s per-GPU batch, 4)')
    p.add_argument('--shape', type=int, nargs=2, default=None, metavar=('H', 'W'),
                   help='crop size (default: the config\'s)')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    p.add_argument('--dgr', default=None,
                   help='JSON dict of DGRBlock kwargs for the dgr variants, e.g. '
                   '\'{"preset": "authors"}\'')
    p.add_argument('--placement', choices=['block', 'stage'], default=None,
                   help='DGRBackbone placement of the dgr variants (default: its own)')
    p.add_argument('--tiny', action='store_true',
                   help=f'tiny models, {TINY_SHAPE[0]}x{TINY_SHAPE[1]}, batch '
                   f'{TINY_BATCH} (a smoke test, e.g. on CPU)')
    p.add_argument('--in-process', action='store_true',
                   help='run every setting in this process (fast; CPU peak RSS then '
                   'covers all settings so far and is not reported)')
    p.add_argument('--out', default=None, help='write the measurements as JSON')
    p.add_argument('--record', default=None, metavar='JSON',
                   help='write a run record (command, commit, versions, device, load) with '
                   'every measurement to this file')
    p.add_argument('--update-doc', default=None, metavar='MARKDOWN',
                   help='measure nothing: rewrite the tables between "<!-- dgr_gpu_bench '
                   'records=PATH -->" and "<!-- dgr_gpu_bench:end -->" from the records')
    p.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        p.error('--iters must be >= 1 and --warmup >= 0')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        p.error('--device cuda requested but CUDA is not available')
    return args


def settings(args) -> List[dict]:
    """One dict per measurement (model, variant, mode, exec and the sizes)."""
    out = []
    for name in args.models:
        spec = MODELS[name]
        shape = tuple(args.shape or (TINY_SHAPE if args.tiny else spec['shape']))
        batch = args.batch or (TINY_BATCH if args.tiny else spec['batch'])
        for mode in args.modes:
            for ex in args.execs:
                for variant in args.variants:
                    out.append(dict(model=name, variant=variant, mode=mode, exec=ex,
                                    shape=shape, batch=batch, device=args.device,
                                    warmup=args.warmup, iters=args.iters, tiny=args.tiny,
                                    threads=args.threads, dgr=args.dgr,
                                    placement=args.placement))
    return out


def _cfg_options(s: dict) -> dict:
    spec = MODELS[s['model']]
    opts = dict(spec['tiny']) if s['tiny'] else {}
    if s['variant'] != 'host':
        dgr = json.loads(s['dgr']) if s['dgr'] else {}
        if s['variant'] == 'dgr-cp':
            dgr['with_cp'] = True
        if dgr:
            opts['model.backbone.dgr'] = dgr
        if s['placement']:
            opts['model.backbone.placement'] = s['placement']
    return opts


def _batch(model, s: dict, device: str):
    """Random uint8 images with random valid depth through the data preprocessor."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = s['shape']
    lo, hi = MODELS[s['model']]['depth']
    gen = torch.Generator().manual_seed(0)
    imgs, samples = [], []
    for _ in range(s['batch']):
        imgs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen))
        sample = SegDataSample(gt_depth_map=PixelData(
            data=lo + (hi - lo) * torch.rand(1, h, w, generator=gen)))
        sample.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=imgs, data_samples=samples), True)
    return data['inputs'].to(device), data['data_samples']


def measure(s: dict) -> dict:
    """Build the model of setting ``s``, run its steps, return the measurement."""
    import mmdepth_dgr  # noqa: F401
    from mmdepth_dgr.apis import init_model
    if s['threads']:
        torch.set_num_threads(s['threads'])
    device = s['device']
    cuda = device.startswith('cuda')
    spec = MODELS[s['model']]
    cfg = osp.join(_REPO, spec['dgr' if s['variant'] != 'host' else 'host'])
    model = init_model(cfg, None, device=device, cfg_options=_cfg_options(s))
    train = s['mode'].startswith('train')
    amp = s['mode'] == 'train-amp'
    model.train(train)
    inputs, samples = _batch(model, s, device)
    params = sum(p.numel() for p in model.parameters())
    fwd = torch.compile(model) if s['exec'] == 'compile' else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5) if train else None
    amp_dtype = torch.float16 if cuda else torch.bfloat16
    scaler = torch.amp.GradScaler('cuda') if amp and cuda else None

    def step():
        if not train:
            with torch.no_grad():
                fwd(inputs, mode='tensor')
            return
        with torch.autocast('cuda' if cuda else 'cpu', dtype=amp_dtype, enabled=amp):
            loss, _ = model.parse_losses(fwd(inputs, samples, mode='loss'))
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    t_first = time.perf_counter()
    for _ in range(s['warmup']):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t_warm = time.perf_counter() - t_first
    times = []
    for _ in range(s['iters']):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if cuda:
        peak = torch.cuda.max_memory_allocated()
    else:  # ru_maxrss is in KiB on Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(s, params=params, img_per_s=s['batch'] * len(times) / sum(times),
                step_s=times, warmup_s=t_warm, peak_bytes=peak,
                peak_kind='cuda max_memory_allocated' if cuda else 'process peak RSS')


def _run_worker(s: dict) -> dict:
    """``measure(s)`` in a fresh Python process (clean peak memory)."""
    cmd = [sys.executable, osp.abspath(__file__), '--worker', json.dumps(s)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{_WHERE}: the worker for {s["model"]}/{s["variant"]}/'
                           f'{s["mode"]}/{s["exec"]} failed (exit {proc.returncode}):\n'
                           f'{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _device_name(device: str) -> str:
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'CPU'


def _load() -> Optional[float]:
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else None


def report(results: List[dict], in_process: bool, torch_version: Optional[str] = None,
           load: Tuple[Optional[float], Optional[float]] = (None, None),
           device_name: Optional[str] = None) -> str:
    """Markdown table: every setting with its ratio to the host of the same cell.

    Args:
        results (list[dict]): The measurements.
        in_process (bool): Measured with ``--in-process`` (CPU peak RSS not reported).
        torch_version (str, optional): Defaults to this process's torch.
        load (tuple): 1-minute load average at start and end (None: not known).
        device_name (str, optional): Defaults to this machine's name of the device.

    Returns:
        str: The heading line, the table and the peak-memory line.
    """
    r0 = results[0]
    threads = r0['threads'] or torch.get_num_threads()
    loads = ', '.join(f'{v:.2f} at {w}' for v, w in zip(load, ('start', 'end'))
                      if v is not None)
    lines = [f'### DGR cost on {device_name or _device_name(r0["device"])} '
             f'({r0["device"]}); torch {torch_version or torch.__version__}; {threads} CPU '
             'threads' + (f'; load average {loads}' if loads else ''), '',
             '| model | mode | exec | variant | batch x H x W | img/s | vs host | '
             'peak memory | vs host |', '|---|---|---|---|---|---:|---:|---:|---:|']
    hosts = {(r['model'], r['mode'], r['exec']): r for r in results if r['variant'] == 'host'}
    for r in results:
        h = hosts.get((r['model'], r['mode'], r['exec']))
        mem = (None if in_process and not r['device'].startswith('cuda')
               else r['peak_bytes'])
        mem_s = f'{mem / 2**20:.0f} MiB' if mem is not None else '—'
        d_ips = (f'{100 * (r["img_per_s"] / h["img_per_s"] - 1):+.1f} %'
                 if h and r is not h else '—')
        d_mem = (f'{(mem - h["peak_bytes"]) / 2**20:+.0f} MiB'
                 if h and r is not h and mem is not None else '—')
        lines.append(f'| {r["model"]} | {r["mode"]} | {r["exec"]} | {r["variant"]} | '
                     f'{r["batch"]} x {r["shape"][0]} x {r["shape"][1]} | '
                     f'{r["img_per_s"]:.3g} | {d_ips} | {mem_s} | {d_mem} |')
    lines.append('')
    lines.append(f'peak memory: {r0["peak_kind"]}' +
                 (' (not reported: --in-process on CPU)' if in_process and
                  not r0['device'].startswith('cuda') else ''))
    return '\n'.join(lines)


RECORD_FIELD = 'dgr_gpu_bench'


def load_record(path: str) -> dict:
    """A ``--record`` file, checked for the run-record fields and the measurements
    (:func:`~mmdepth_dgr.utils.run_record.load_tool_record`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a field is missing (the message names the file and the field).
    """
    from mmdepth_dgr.utils.run_record import load_tool_record
    return load_tool_record(path, RECORD_FIELD, _WHERE, body_keys=(
        'results', 'in_process', 'torch', 'device_name', 'load_start', 'load_end'))


def render_record(record: dict, path: str) -> str:
    """The doc block of a record: its command and commit, then :func:`report`'s table."""
    from mmdepth_dgr.utils.run_record import commit_label
    body = record[RECORD_FIELD]
    return (f'Record `{path}`: `{record["command"]}` at commit {commit_label(record)}.\n\n'
            + report(body['results'], body['in_process'], body['torch'],
                     (body['load_start'], body['load_end']), body['device_name']) + '\n')


def _renderer(root: str):
    return lambda path: render_record(load_record(osp.join(root, path)), path)


def doc_blocks(text: str, root: str = '.'):
    """Every ``dgr_gpu_bench`` block of a markdown text: ``(record path, current body,
    body rendered from the record)``."""
    from mmdepth_dgr.utils.run_record import record_doc_blocks
    return record_doc_blocks(text, RECORD_FIELD, _renderer(root))


def update_doc(path: str, root: str = '.') -> int:
    """Rewrite the ``dgr_gpu_bench`` blocks of ``path``; returns how many changed.

    Raises:
        ValueError: the file has no block.
    """
    from mmdepth_dgr.utils.run_record import update_record_doc
    return update_record_doc(path, RECORD_FIELD, _renderer(root))


def main(argv=None) -> List[dict]:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.worker:
        print(json.dumps(measure(json.loads(args.worker))))
        return []
    if args.update_doc:
        print(f'{args.update_doc}: {update_doc(args.update_doc)} block(s) changed')
        return []
    results = []
    todo = settings(args)
    load_start = _load()
    for i, s in enumerate(todo, start=1):
        print(f'[{i}/{len(todo)}] {s["model"]} {s["mode"]} {s["exec"]} {s["variant"]}',
              file=sys.stderr, flush=True)
        results.append(measure(copy.deepcopy(s)) if args.in_process else _run_worker(s))
    load_end = _load()
    print(report(results, args.in_process, load=(load_start, load_end)))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    if args.record:
        from mmdepth_dgr.utils.run_record import make_run_record
        record = make_run_record(
            command=['python', _WHERE, *raw],
            extra={'tool': 'dgr_gpu_bench', RECORD_FIELD: dict(
                results=results, in_process=args.in_process, torch=torch.__version__,
                device_name=_device_name(results[0]['device']), load_start=load_start,
                load_end=load_end)})
        os.makedirs(osp.dirname(osp.abspath(args.record)), exist_ok=True)
        with open(args.record, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1)
            f.write('\n')
        print(f'run record: {args.record}')
    return results


if __name__ == '__main__':
    main()
