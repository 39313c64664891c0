"""The walkthrough tables of ``configs/probe/README.md``, rendered from committed run records.

A block of the README between the markers ::

    <!-- probe-walkthrough-tables: docs/data/probe/a.json docs/data/probe/b.json -->
    ...
    <!-- /probe-walkthrough-tables -->

is :func:`render_tables` of the named records (paths relative to the repository), one
column per record (seed) plus the mean and the min–max over them. ::

    python tools/analysis_tools/sparse_pixel_probe.py render-doc          # rewrite
    python tools/analysis_tools/sparse_pixel_probe.py render-doc --check  # compare only

``tests/test_probe/test_report.py`` checks that the README equals what the records make.
"""
import argparse
import json
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .study import _REPO, ROWS

__all__ = ['README', 'BLOCK_RE', 'load_records', 'render_tables', 'doc_blocks',
           'render_doc', 'main']

README = osp.join(_REPO, 'configs/probe/README.md')
BLOCK_RE = re.compile(r'<!-- probe-walkthrough-tables: (?P<files>[^>]*?) -->\n'
                      r'(?P<body>.*?)'
                      r'<!-- /probe-walkthrough-tables -->', re.S)


def load_records(files: Sequence[str], root: str = _REPO) -> List[Dict]:
    """Read the run records ``files`` (relative to ``root``).

    Raises:
        FileNotFoundError: a record is missing (named).
        ValueError: a file is not a sparse-pixel run record (named).
    """
    out = []
    for name in files:
        path = osp.join(root, name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'probe report: run record {name} not found (under '
                                    f'{root}); re-run the walkthrough that writes it')
        with open(path, encoding='utf-8') as f:
            rec = json.load(f)
        if not str(rec.get('tool', '')).startswith('sparse_pixel') or 'results' not in rec:
            raise ValueError(f'probe report: {name} is not a sparse-pixel run record '
                             '(expected tool sparse_pixel_* and a results field)')
        out.append(rec)
    return out


def _spread(values: List[float], fmt: Callable[[float], str]) -> Tuple[str, str]:
    return fmt(float(np.mean(values))), f'{fmt(min(values))}–{fmt(max(values))}'


def _row(name: str, values: List[float], fmt: Callable[[float], str]) -> str:
    mean, rng = _spread(values, fmt)
    return '| ' + ' | '.join([name, *[fmt(v) for v in values], mean, rng]) + ' |'


def _choice_row(name: str, picks: List[str], options: Tuple[str, str]) -> str:
    counts = ', '.join(f'{o} in {picks.count(o)} of {len(picks)}' for o in options
                       if picks.count(o))
    return '| ' + ' | '.join([name, *picks, counts, '']) + ' |'


def _f3(v: float) -> str:
    return f'{v:.3f}'


def _f2(v: float) -> str:
    return f'{v:.2f}'


def _pct(v: float) -> str:
    return f'{100 * v:.1f} %'


def render_tables(records: Sequence[Dict], files: Sequence[str]) -> str:
    """Markdown: the records' provenance, the cross-evaluation and the mask-location
    table, per record and as mean and min–max over the records.

    Args:
        records (Sequence[dict]): Run records of :func:`mmdepth_dgr.probe.study.probe_record`.
        files (Sequence[str]): Their paths (shown in the provenance table).

    Returns:
        str: the block body (ends with a newline).
    """
    seeds = [f'seed {r["seed"]}' for r in records]
    head = '| | ' + ' | '.join(seeds) + ' | mean | min–max |'
    align = '| :-- |' + ' :-: |' * (len(records) + 2)
    lines = ['| record | seed | commit | data (generator, content sha256) | test images | '
             'net iterations (r18 / mit-b0) | G iterations | λ | mask density |',
             '| :-- | :-: | :-- | :-- | :-: | :-: | :-: | :-: | :-: |']
    for name, r in zip(files, records):
        git, data = r.get('git') or {}, r.get('data') or {}
        commit = (git.get('commit') or 'unknown')[:12] + (' (dirty)' if git.get('dirty')
                                                          else '')
        pair = r.get('pair') or {}
        nets = ' / '.join(str((pair.get(s) or {}).get('iters', '?'))
                          for s in ('cnn', 'transformer'))
        lam = sorted(set(r['lam'].values())) if isinstance(r['lam'], dict) else [r['lam']]
        iters = sorted(set(r['iters'].values()))
        density = ('G > {:g}'.format(r['threshold']) if r.get('density') is None
                   else _pct(r['density']))
        lines.append(
            f'| `{name}` | {r["seed"]} | {commit} | v{data.get("generator_version")}, '
            f'{(data.get("content_sha256") or "none")[:12]} | '
            f'{r["results"]["num_images"]} | {nets} | {"/".join(map(str, iters))} | '
            f'{"/".join(f"{v:g}" for v in lam)} | {density} |')
    ce = [r['results']['cross_eval'] for r in records]
    lines += ['', 'Cross-evaluation (means over the test images; "own" = the same network '
              'on the full image):', '', head, align]
    for label, _, mside in ROWS:
        metrics = [('AbsRel vs GT', 'abs_rel_gt'), ('RMSE vs GT (m)', 'rmse_gt')]
        if mside is not None:
            metrics += [('AbsRel vs own N(I)', 'abs_rel_self'),
                        ('RMSE vs own N(I) (m)', 'rmse_self')]
        for mname, key in metrics:
            lines.append(_row(f'{label} {mname}', [c[label][key] for c in ce], _f3))
    ml = [r['results']['mask_location'] for r in records]
    lines += ['', 'Where the kept pixels lie (pooled over the test images; ratio = share / '
              'chance, 1 = no preference):', '', head, align]
    lines.append(_row('top-10 % image-gradient chance', [m['transformer']['grad_chance']
                                                        for m in ml], _pct))
    for side, short in (('transformer', 'M_t'), ('cnn', 'M_c')):
        lines.append(_row(f'{short} on top-10 % image gradient',
                          [m[side]['grad_share'] for m in ml], _pct))
        lines.append(_row(f'{short} image-gradient ratio', [m[side]['grad_ratio'] for m in ml],
                          _f2))
    edge_tol = records[0].get('edge_tol', 1)
    lines.append(_row(f'GT depth-edge band (±{edge_tol} px) chance',
                      [m['transformer']['edge_chance'] for m in ml], _pct))
    for side, short in (('transformer', 'M_t'), ('cnn', 'M_c')):
        lines.append(_row(f'{short} on GT depth edges', [m[side]['edge_share'] for m in ml],
                          _pct))
        lines.append(_row(f'{short} depth-edge ratio', [m[side]['edge_ratio'] for m in ml],
                          _f2))
    lines += ['', 'Which way each run points:', '', head, align]

    def pick(a: float, b: float, names: Tuple[str, str]) -> str:
        return names[0] if a > b else names[1] if b > a else 'tie'

    lines.append(_choice_row(
        'mask more on image gradients',
        [pick(m['transformer']['grad_ratio'], m['cnn']['grad_ratio'], ('M_t', 'M_c'))
         for m in ml], ('M_t', 'M_c', 'tie')))
    lines.append(_choice_row(
        'mask more on depth edges',
        [pick(m['transformer']['edge_ratio'], m['cnn']['edge_ratio'], ('M_t', 'M_c'))
         for m in ml], ('M_t', 'M_c', 'tie')))
    lines.append(_choice_row(
        'closer to its own N(I) with its own mask (AbsRel)',
        [pick(-c['N_t(I·M_t)']['abs_rel_self'], -c['N_c(I·M_c)']['abs_rel_self'],
              ('N_t', 'N_c')) for c in ce], ('N_t', 'N_c', 'tie')))
    lines.append(_choice_row(
        'lower full-image AbsRel vs GT',
        [pick(-c['N_t(I)']['abs_rel_gt'], -c['N_c(I)']['abs_rel_gt'], ('N_t', 'N_c'))
         for c in ce], ('N_t', 'N_c', 'tie')))
    return '\n'.join(lines) + '\n'


def doc_blocks(text: str) -> List[Tuple[List[str], str, Tuple[int, int]]]:
    """``(record files, body, (start, end) of the body)`` of each marked block."""
    return [(m.group('files').split(), m.group('body'), m.span('body'))
            for m in BLOCK_RE.finditer(text)]


def render_doc(text: str, root: str = _REPO) -> str:
    """``text`` with every marked block replaced by what its records render.

    Raises:
        ValueError: ``text`` has no marked block.
    """
    blocks = doc_blocks(text)
    if not blocks:
        raise ValueError('probe report: no "<!-- probe-walkthrough-tables: FILES -->" block')
    out, last = [], 0
    for files, _, (start, end) in blocks:
        out += [text[last:start], render_tables(load_records(files, root), files)]
        last = end
    return ''.join(out + [text[last:]])


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog='sparse_pixel_probe.py render-doc',
                                description='Render the probe README tables from the '
                                'committed run records.')
    p.add_argument('--readme', default=README)
    p.add_argument('--check', action='store_true',
                   help='only compare; exit 1 when the README differs')
    args = p.parse_args(argv)
    with open(args.readme, encoding='utf-8') as f:
        text = f.read()
    new = render_doc(text)
    if args.check:
        if new != text:
            print(f'{args.readme}: the tables differ from what the records render; run '
                  'sparse_pixel_probe.py render-doc')
            raise SystemExit(1)
        print(f'{args.readme}: tables equal the records')
        return 0
    if new != text:
        with open(args.readme, 'w', encoding='utf-8') as f:
            f.write(new)
        print(f'{args.readme}: tables rewritten from the records')
    else:
        print(f'{args.readme}: already up to date')
    return 0
