"""tools/analysis_tools/reproduce_claims.py at CI size: structure and finiteness only.

The values of a 2-iteration run mean nothing; these tests check that every variant row,
every metric column and every claim comparison is there, that the numbers are finite,
and that ``--out`` keeps a document's hand-written text around the generated block.
"""
import importlib.util
import math
import os.path as osp

from tests.conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'reproduce_claims.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('reproduce_claims', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table(text, first_header):
    """Rows (lists of cells) of the markdown table whose header starts with
    ``first_header``."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(f'| {first_header} |'))
    rows = []
    for line in lines[start:]:
        if not line.startswith('|'):
            break
        rows.append([c.strip() for c in line.strip('|').split('|')])
    return rows[0], rows[2:]


def test_quick_run_writes_every_row_column_and_claim_with_finite_values(tmp_path):
    tool = _load_tool()
    out = tmp_path / 'claims.md'
    out.write_text('# Claims\n\nhand-written intro\n\n<!-- claims:begin -->\nstale\n'
                   '<!-- claims:end -->\n\nhand-written discussion\n')
    text = tool.main(['--quick', '--tiny-model', '--threads', '1', '--out', str(out)])

    header, rows = _table(text, 'variant')
    metric_cols = [f'{k} {"↑" if up else "↓"}' for k, up in tool.METRICS.items()]
    assert header == ['variant', 'loss', *metric_cols, 'wall s/run']
    for name in ('d1', 'abs_rel', 'rmse', 'silog', 'dbe_acc', 'dbe_comp', 'grad_err',
                 'curv_err'):
        assert any(h.startswith(name + ' ') for h in header), name
    assert [r[0] for r in rows] == list(tool.VARIANTS)
    assert len(tool.VARIANTS) == 7
    for row in rows:
        for cell in row[2:]:
            mean, spread = cell.split(' ± ')
            assert math.isfinite(float(mean)), row
            assert spread == '–'  # one seed: no spread, said so rather than 0

    header, rows = _table(text, 'claim')
    assert [r[0] for r in rows] == [c[0] for c in tool.COMPARISONS]
    for row in rows:
        assert row[-1].split()[0] in ('reproduced', 'contradicted', 'inconclusive'), row

    doc = out.read_text()
    assert doc.startswith('# Claims\n\nhand-written intro\n')
    assert doc.rstrip().endswith('hand-written discussion')
    assert 'stale' not in doc and text.strip() in doc


def test_paired_verdict_follows_the_metric_directions():
    tool = _load_tool()
    good = {k: (1.0 if up else 0.0) for k, up in tool.METRICS.items()}
    bad = {k: (0.0 if up else 1.0) for k, up in tool.METRICS.items()}
    results = {'+DGR': [good, good], 'baseline': [bad, bad]}
    text = tool.paired_table(results, seeds=[0, 1])
    assert 'reproduced (8 better / 0 worse' in text
    text = tool.paired_table({'+DGR': [bad, bad], 'baseline': [good, good]}, seeds=[0, 1])
    assert 'contradicted (0 better / 8 worse' in text
    mixed = {'+DGR': [good, bad], 'baseline': [bad, good]}
    assert 'inconclusive' in tool.paired_table(mixed, seeds=[0, 1])
