"""mmdepth_dgr.probe.report: the walkthrough tables of configs/probe/README.md are what the
committed run records under docs/data/probe/ render (per seed, mean, min–max)."""
import copy
import json
import os.path as osp

import pytest

from mmdepth_dgr.probe import report
from mmdepth_dgr.probe.study import ROWS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README = osp.join(REPO, 'configs/probe/README.md')


def test_readme_tables_equal_what_the_committed_records_render():
    with open(README, encoding='utf-8') as f:
        text = f.read()
    blocks = report.doc_blocks(text)
    assert blocks, 'configs/probe/README.md has no probe-walkthrough-tables block'
    for files, body, _ in blocks:
        records = report.load_records(files)  # a missing record raises, naming it
        assert body == report.render_tables(records, files), (
            f'README block of {files} differs from its records; run '
            'tools/analysis_tools/sparse_pixel_probe.py render-doc')
    # The walkthrough block reports the three seeds, each from a clean commit.
    walk = report.load_records(blocks[0][0])
    assert sorted(r['seed'] for r in walk) == [0, 1, 2]
    for name, rec in zip(blocks[0][0], walk):
        assert rec['git']['dirty'] is False, f'{name} was made from uncommitted code'
        assert rec['tool'] == 'sparse_pixel_walkthrough'
        assert rec['data']['params']['seed'] == rec['seed']


def _record(seed, grad_t, grad_c, abs_rel_t):
    row = dict(rmse_gt=1.0, abs_rel_gt=0.3, rmse_self=0.2, abs_rel_self=0.1, density=0.1)
    cross = {label: dict(row) for label, _, _ in ROWS}
    cross['N_t(I·M_t)']['abs_rel_gt'] = abs_rel_t
    loc = dict(density=0.1, grad_share=0.1, grad_chance=0.1, grad_ratio=1.0,
               edge_share=0.05, edge_chance=0.05, edge_ratio=1.0)
    return dict(tool='sparse_pixel_walkthrough', seed=seed, lam=dict(cnn=5.0, transformer=5.0),
                iters=dict(cnn=40, transformer=40), density=0.1, threshold=None, edge_tol=1,
                git=dict(commit='a' * 40, dirty=False),
                data=dict(generator_version=2, content_sha256=f'{seed}' * 64),
                pair=dict(cnn=dict(iters=120), transformer=dict(iters=120)),
                results=dict(num_images=60, cross_eval=cross, mask_location=dict(
                    transformer=dict(loc, grad_ratio=grad_t),
                    cnn=dict(loc, grad_ratio=grad_c))))


def test_render_reports_each_seed_the_mean_and_the_range_and_flags_a_flip():
    recs = [_record(0, 2.0, 0.5, 0.1), _record(1, 0.8, 1.6, 0.2), _record(2, 1.4, 1.1, 0.6)]
    text = report.render_tables(recs, ['a.json', 'b.json', 'c.json'])
    # mean of 0.1, 0.2, 0.6 = 0.3; range 0.1..0.6
    assert '| N_t(I·M_t) AbsRel vs GT | 0.100 | 0.200 | 0.600 | 0.300 | 0.100–0.600 |' in text
    # mean of 2.0, 0.8, 1.4 = 1.4
    assert '| M_t image-gradient ratio | 2.00 | 0.80 | 1.40 | 1.40 | 0.80–2.00 |' in text
    assert ('| mask more on image gradients | M_t | M_c | M_t | M_t in 2 of 3, M_c in 1 of 3 '
            '|  |') in text
    assert '| `b.json` | 1 | aaaaaaaaaaaa |' in text
    assert '| | seed 0 | seed 1 | seed 2 | mean | min–max |' in text


def test_render_doc_replaces_only_the_marked_block_and_names_a_missing_record(tmp_path):
    rec = _record(0, 2.0, 0.5, 0.1)
    (tmp_path / 'r0.json').write_text(json.dumps(rec))
    doc = ('before\n<!-- probe-walkthrough-tables: r0.json -->\nstale\n'
           '<!-- /probe-walkthrough-tables -->\nafter\n')
    new = report.render_doc(doc, root=str(tmp_path))
    assert new.startswith('before\n<!-- probe-walkthrough-tables: r0.json -->\n| record |')
    assert new.endswith('<!-- /probe-walkthrough-tables -->\nafter\n')
    assert 'stale' not in new
    assert report.render_doc(new, root=str(tmp_path)) == new
    with pytest.raises(FileNotFoundError, match='missing.json'):
        report.render_doc(doc.replace('r0.json', 'missing.json'), root=str(tmp_path))
    other = copy.deepcopy(rec)
    other['tool'] = 'quickstart'
    (tmp_path / 'q.json').write_text(json.dumps(other))
    with pytest.raises(ValueError, match='q.json is not a sparse-pixel run record'):
        report.render_doc(doc.replace('r0.json', 'q.json'), root=str(tmp_path))
    with pytest.raises(ValueError, match='no .*block'):
        report.render_doc('no markers here')
