"""Plot training/validation curves from mmengine ``vis_data/scalars.json`` logs.

    python tools/analysis_tools/analyze_logs.py plot_curve \\
        work_dirs/<exp>/<time>/vis_data/scalars.json --keys loss d1 --out fig.png
    python tools/analysis_tools/analyze_logs.py cal_train_time \\
        work_dirs/<exp>/<time>/vis_data/scalars.json

``scalars.json`` has one JSON object per line: training lines carry ``loss``,
``decode.loss_*``, ``lr``, ``time`` with ``iter``/``step``; validation lines carry the
metrics (``d1``, ``abs_rel``, ``rmse``, ...) with ``step``. Each key is plotted against
``step`` (the training iteration), one curve per log and key, one subplot per key.
"""
import argparse
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple


def _read_entries(path: str) -> List[dict]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'log file not found: {path}')
    entries = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{lineno} is not JSON: {e}') from e
    return entries


def load_scalars(path: str, mode: str = 'all') -> Dict[str, List[Tuple[float, float]]]:
    """Read a scalars.json into ``{key: [(step, value), ...]}``.

    Args:
        path (str): The JSON-lines log.
        mode (str): ``'all'``, ``'train'`` (lines with ``iter``: mmengine writes it on
            training lines only) or ``'val'`` (the other lines with a ``step``: the
            validation results, which carry their own ``time``/``data_time``).
            Defaults to 'all'.

    Returns:
        dict[str, list[tuple[float, float]]]: Series in file order.
    """
    if mode not in ('all', 'train', 'val'):
        raise ValueError(f"mode must be 'all', 'train' or 'val', got {mode!r}")
    series = defaultdict(list)
    for entry in _read_entries(path):
        step = entry.get('step', entry.get('iter'))
        if step is None:
            continue
        is_train = 'iter' in entry
        if (mode == 'train' and not is_train) or (mode == 'val' and is_train):
            continue
        for key, value in entry.items():
            if key in ('step', 'iter', 'epoch') or not isinstance(value, (int, float)):
                continue
            series[key].append((float(step), float(value)))
    return dict(series)


def plot_curve(logs: Sequence[str], keys: Sequence[str], out: str = None,
               legend: Sequence[str] = None, title: str = None) -> List[str]:
    """Plot ``keys`` of each log; save to ``out`` (Agg backend) or show.

    Returns:
        list[str]: The plotted curve labels.
    """
    import matplotlib
    if out:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    data = [load_scalars(p) for p in logs]
    if legend is not None and len(legend) != len(logs) * len(keys):
        raise ValueError(f'--legend needs {len(logs) * len(keys)} names (logs x keys), '
                         f'got {len(legend)}')
    for key in keys:
        if not any(key in d for d in data):
            avail = sorted(set().union(*[d.keys() for d in data]))
            raise KeyError(f'key "{key}" is in none of {list(logs)}; available: {avail}')
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 3 * len(keys)), squeeze=False)
    labels = []
    for k, key in enumerate(keys):
        ax = axes[k, 0]
        for i, (path, d) in enumerate(zip(logs, data)):
            if key not in d:
                continue
            steps, values = zip(*d[key])
            label = legend[i * len(keys) + k] if legend else \
                (f'{osp.basename(osp.dirname(osp.dirname(path))) or path} {key}'
                 if len(logs) > 1 else key)
            ax.plot(steps, values, marker='o' if len(steps) < 20 else None,
                    label=label)
            labels.append(label)
        ax.set_xlabel('iteration')
        ax.set_ylabel(key)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if out:
        fig.savefig(out)
        print(f'saved curves to {out}')
        plt.close(fig)
    else:
        plt.show()
    return labels


def cal_train_time(logs: Sequence[str]) -> List[dict]:
    """Mean/min/max seconds per training iteration of each log.

    Only the training lines' ``time`` counts: a validation line also has a ``time``
    (seconds per validation image), which is not training time.

    Args:
        logs (Sequence[str]): scalars.json files.

    Returns:
        list[dict]: Per log: ``log``, ``iters`` (logged training lines), ``mean_s``,
        ``min_s``, ``max_s``.
    """
    stats = []
    for path in logs:
        times = [v for _, v in load_scalars(path, mode='train').get('time', [])]
        if not times:
            raise KeyError(f'{path} has no "time" entries (not a training log?)')
        s = dict(log=path, iters=len(times), mean_s=sum(times) / len(times),
                 min_s=min(times), max_s=max(times))
        print(f"{path}: {s['iters']} logged iters, {s['mean_s']:.4f} s/iter on average "
              f"(min {s['min_s']:.4f}, max {s['max_s']:.4f})")
        stats.append(s)
    return stats


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyse mmengine scalars.json logs')
    sub = parser.add_subparsers(dest='task', required=True)
    p = sub.add_parser('plot_curve', help='plot curves of some keys')
    p.add_argument('json_logs', nargs='+', help='scalars.json files')
    p.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot')
    p.add_argument('--legend', nargs='+', default=None, help='curve names')
    p.add_argument('--title', default=None, help='figure title')
    p.add_argument('--out', default=None, help='output image (else show a window)')
    t = sub.add_parser('cal_train_time', help='seconds per training iteration')
    t.add_argument('json_logs', nargs='+', help='scalars.json files')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.task == 'plot_curve':
        return plot_curve(args.json_logs, args.keys, args.out, args.legend, args.title)
    return cal_train_time(args.json_logs)


if __name__ == '__main__':
    main()
