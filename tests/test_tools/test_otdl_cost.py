"""tools/analysis_tools/otdl_cost.py: its building blocks on tiny grids (in-process)."""
import importlib.util
import os.path as osp

import torch

from mmdepth_dgr.ot import axis_cost

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'otdl_cost', osp.join(REPO, 'tools', 'analysis_tools', 'otdl_cost.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_otdl_cost_dense_cost_is_the_separable_grid_cost():
    tool = _tool()
    cy, cx, dense = tool._dense_cost(3, 5, torch.float64)
    sep = axis_cost(cy)[:, None, :, None] + axis_cost(cx)[None, :, None, :]
    torch.testing.assert_close(dense, sep.reshape(15, 15), rtol=0, atol=1e-15)


def test_otdl_cost_benchmarks_run_on_tiny_grids():
    tool = _tool()
    (size, t_dense, t_ours, t_ours_d), = tool.bench_vs_dense([(6, 8)], 0.05, 1)
    assert size == '6x8' and min(t_dense, t_ours, t_ours_d) > 0
    t_large, dense_gb = tool.bench_large(6, 8, 0.05, 1)
    assert t_large > 0 and dense_gb == (6 * 8) ** 2 * 4 / 1e9


def test_otdl_cost_record_holds_the_measurements_and_renders_the_printed_tables(
        tmp_path, capsys):
    import json
    tool = _tool()
    path = tmp_path / 'otdl_cost.json'
    argv = ['--skip', 'a', 'c', '--sizes', '6', '--large', '6', '8', '--repeats', '1',
            '--threads', '1', '--record', str(path)]
    res = tool.main(argv)
    printed = capsys.readouterr().out
    record = json.loads(path.read_text())
    assert record['tool'] == 'otdl_cost' and record['schema'].startswith('mmdepth_dgr.')
    assert record['command'].endswith(' '.join(argv))
    for key in ('git', 'versions', 'device', 'load_average'):
        assert key in record
    body = record['otdl_cost']
    assert body == json.loads(json.dumps(res))
    assert body['training_step'] is None and body['agreement'] is None
    (row, ) = body['vs_dense']['rows']
    assert row['grid'] == '6x6' and min(row['pot_dense_s'], row['ours_s']) > 0
    assert body['vs_dense']['large']['dense_cost_gb'] == (6 * 8) ** 2 * 4 / 1e9
    # the tables printed by the run are the ones its record renders
    tool.main(['--from-record', str(path)])
    rendered = capsys.readouterr().out
    assert '| 6x6 |' in rendered and '| 6x8 | not run' in rendered
    assert tool.render(body) in rendered and tool.render(body) in printed
    assert f'Record `{path}`: `{record["command"]}`' in rendered
    # a doc block is rewritten from the record, and only the block
    doc = tmp_path / 'README.md'
    doc.write_text(f'intro\n<!-- otdl_cost records={path.name} -->\nold\n'
                   '<!-- otdl_cost:end -->\nafter\n')
    assert tool.update_doc(str(doc), root=str(tmp_path)) == 1
    text = doc.read_text()
    assert text.startswith('intro\n') and text.endswith('<!-- otdl_cost:end -->\nafter\n')
    assert '\nold\n' not in text and tool.render(body) in text
    assert all(b == r for _, b, r in tool.doc_blocks(text, root=str(tmp_path)))
    assert tool.update_doc(str(doc), root=str(tmp_path)) == 0


def test_otdl_cost_from_record_refuses_a_file_of_another_tool(tmp_path):
    import json

    import pytest
    tool = _tool()
    path = tmp_path / 'other.json'
    path.write_text(json.dumps(dict(tool='quickstart')))
    with pytest.raises(ValueError, match='other.json.*otdl_cost'):
        tool.main(['--from-record', str(path)])


def test_otdl_readme_cost_tables_are_what_the_committed_record_renders():
    """configs/otdl/README.md "Cost and accuracy" equals its committed run record."""
    import json
    tool = _tool()
    readme = osp.join(REPO, 'configs', 'otdl', 'README.md')
    with open(readme, encoding='utf-8') as f:
        text = f.read()
    blocks = tool.doc_blocks(text, root=REPO)  # FileNotFoundError: record missing
    assert [p for p, _, _ in blocks] == ['docs/data/otdl_cost_cpu.json']
    for path, body, rendered in blocks:
        assert body == rendered, (
            f'configs/otdl/README.md: the block of {path} is not what the record renders; '
            'run python tools/analysis_tools/otdl_cost.py --update-doc configs/otdl/README.md')
        with open(osp.join(REPO, path), encoding='utf-8') as f:
            record = json.load(f)
        assert not record['git']['dirty'], f'{path}: measured on a dirty tree'
        res = record['otdl_cost']
        assert res['training_step'] and res['vs_dense'] and res['agreement'], path
        assert res['threads'] == 2 and res['repeats'] >= 5, path
