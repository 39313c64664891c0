"""tools/analysis_tools/reproduce_claims.py at CI size: structure and finiteness only.

The values of a 2-iteration run mean nothing; these tests check that every variant row,
every metric column and every claim comparison is there, that the numbers are finite,
and that ``--out`` keeps a document's hand-written text around the generated block.
"""
import importlib.util
import json
import math
import os.path as osp
import re
import shlex

import pytest

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
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f'| {first_header} |'))
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
    runs = tmp_path / 'runs.json'
    text = tool.main(['--quick', '--tiny-model', '--threads', '1', '--out', str(out),
                      '--save-runs', str(runs)])

    header, rows = _table(text, 'variant')
    metric_cols = [f'{k} {"↑" if up else "↓"}' for k, up in tool.METRICS.items()]
    assert header == ['variant', 'loss', *metric_cols, 'wall s/run']
    for name in ('d1', 'abs_rel', 'rmse', 'silog', 'dbe_acc', 'dbe_comp', 'grad_err',
                 'curv_err'):
        assert any(h.startswith(name + ' ') for h in header), name
    assert [r[0] for r in rows] == list(tool.VARIANTS)
    assert len(tool.VARIANTS) == 17
    for row in rows:
        for cell in row[2:]:
            mean, spread = cell.split(' ± ')
            assert math.isfinite(float(mean)), row
            assert spread == '–'  # one seed: no spread, said so rather than 0

    header, rows = _table(text, 'claim')
    assert [r[0] for r in rows] == [c[0] for c in tool.COMPARISONS]
    for row, (_, _, _, kind) in zip(rows, tool.COMPARISONS):
        assert row[-1].split()[0] in (*tool.VERDICTS[kind], 'inconclusive'), row

    doc = out.read_text()
    assert doc.startswith('# Claims\n\nhand-written intro\n')
    assert doc.rstrip().endswith('hand-written discussion')
    assert 'stale' not in doc and text.strip() in doc

    # The saved runs rebuild the same tables without training.
    merged = tool.main(['--from-runs', str(runs)])
    assert _table(merged, 'variant') == _table(text, 'variant')
    assert _table(merged, 'claim') == _table(text, 'claim')

    # Every run carries its provenance; the report states it, the command is quoted.
    saved = json.loads(runs.read_text())
    prov = saved['runs'][0]['provenance']
    assert all(r['provenance'] == prov for r in saved['runs'])
    assert shlex.split(prov['command']) == [
        'python', 'tools/analysis_tools/reproduce_claims.py', '--quick', '--tiny-model',
        '--threads', '1', '--out', str(out), '--save-runs', str(runs)]
    assert prov['data']['verified'] is True and prov['data']['kind'] == 'nyu'
    assert prov['versions']['torch'] and prov['git']['commit']
    line = next(ln for ln in text.splitlines() if ln.startswith('Provenance: '))
    assert prov['git']['commit'][:12] in line and prov['data']['content_sha256'][:12] in line
    assert line in merged.splitlines()


def test_paired_verdict_follows_the_metric_directions():
    tool = _load_tool()
    good = {k: (1.0 if up else 0.0) for k, up in tool.METRICS.items()}
    bad = {k: (0.0 if up else 1.0) for k, up in tool.METRICS.items()}
    results = {'+DGR/block': [good, good], 'baseline': [bad, bad]}
    text = tool.paired_table(results, seeds=[0, 1])
    assert 'reproduced (8 better / 0 worse' in text
    text = tool.paired_table({'+DGR/block': [bad, bad], 'baseline': [good, good]},
                             seeds=[0, 1])
    assert 'contradicted (0 better / 8 worse' in text
    mixed = {'+DGR/block': [good, bad], 'baseline': [bad, good]}
    assert 'inconclusive' in tool.paired_table(mixed, seeds=[0, 1])
    # a row comparing two DGR readings says better/worse, not reproduced/contradicted
    text = tool.paired_table({'+DGR/block': [good, good], '+DGR/stage': [bad, bad]},
                             seeds=[0, 1])
    row = next(ln for ln in text.splitlines() if ln.startswith('| placement: '))
    assert row.endswith('| better (8 better / 0 worse on all seeds) |')
    text = tool.paired_table({'+DGR/block': [bad, bad], '+DGR/stage': [good, good]},
                             seeds=[0, 1])
    assert 'worse (0 better / 8 worse' in text and 'contradicted' not in text


def _runs_file(path, tool, seed, shift, iters=200, variants=('+DGR/block', 'baseline')):
    runs = []
    for name in variants:
        metrics = {k: (0.5 + shift if name.startswith('+DGR') else 0.5)
                   for k in tool.METRICS}
        runs.append(dict(variant=name, seed=seed, metrics=dict(metrics, wall_s=10.0)))
    setup = dict(iters=iters, batch_size=4, height=240, width=320, num_train=300,
                 num_test=60, threads=2, torch='x', device='CPU (test)')
    path.write_text(json.dumps(dict(setup=setup, total_s=20.0, command='c', runs=runs)))
    return str(path)


def test_from_runs_merges_files_per_seed_in_seed_order(tmp_path):
    tool = _load_tool()
    # seed 1 first on the command line: the merge orders by seed, pairs stay per seed.
    f1 = _runs_file(tmp_path / 's1.json', tool, seed=1, shift=0.25)
    f0 = _runs_file(tmp_path / 's0.json', tool, seed=0, shift=-0.25)
    setup, seeds, results, total, runs, sources = tool.merge_runs([f1, f0])
    assert seeds == [0, 1] and total == 40.0 and setup['iters'] == 200
    assert sources == 2 and len(runs) == 4
    assert list(results) == ['baseline', '+DGR/block']  # the script's variant order
    assert [r['d1'] for r in results['+DGR/block']] == [0.25, 0.75]
    text = tool.main(['--from-runs', f1, f0])
    # d1 higher is better: better on seed 1 only; abs_rel lower is better: seed 0 only.
    row = next(line for line in text.splitlines()
               if line.startswith('| C1 DGR per block (SILog)'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[2] == '+0.000 (1/2)' and cells[3] == '+0.000 (1/2)'
    assert 'seeds [0, 1]' in text and 'total 0.7 min (sum over the 2 processes' in text

    # Merged runs saved as one file give the same report, and still count 2 processes.
    both = str(tmp_path / 'both.json')
    tool.main(['--from-runs', f1, f0, '--save-runs', both])
    assert tool.main(['--from-runs', both]).split('\n', 1)[1] == text.split('\n', 1)[1]


def test_from_runs_names_the_file_at_fault(tmp_path):
    tool = _load_tool()
    f0 = _runs_file(tmp_path / 's0.json', tool, seed=0, shift=0.1)
    other = _runs_file(tmp_path / 'long.json', tool, seed=1, shift=0.1, iters=600)
    with pytest.raises(ValueError, match=r'long\.json.*\[\'iters\'\]'):
        tool.merge_runs([f0, other])
    dup = _runs_file(tmp_path / 'dup.json', tool, seed=0, shift=0.1)
    with pytest.raises(ValueError, match=r'seed 0 is also in .*s0\.json'):
        tool.merge_runs([f0, dup])
    partial = _runs_file(tmp_path / 'partial.json', tool, seed=1, shift=0.1,
                         variants=('baseline',))
    with pytest.raises(ValueError, match=r'no run of \+DGR/block for seed\(s\) \[1\]'):
        tool.merge_runs([f0, partial])


def _with_provenance(path, **changes):
    """Give every run of a --save-runs file the same run record, with dotted
    ``changes`` applied; returns the record."""
    data = json.loads(open(path).read())
    prov = dict(command='c', git=dict(commit='a' * 40, dirty=False, diff_sha256=None),
                data=dict(kind='nyu', generator_version=2, content_sha256='d' * 64,
                          params=dict(num_train=300), verified=True),
                versions=dict(torch='2.14.1', numpy='2.4.6'),
                device=dict(type='cpu', name='CPU', count=0, torch_threads=2))
    for key, value in changes.items():
        *parents, last = key.split('.')
        node = prov
        for part in parents:
            node = node[part]
        node[last] = value
    for r in data['runs']:
        r['provenance'] = prov
    open(path, 'w').write(json.dumps(data))
    return prov


def test_from_runs_refuses_runs_of_other_data_code_or_libraries_naming_the_field(tmp_path):
    tool = _load_tool()
    f0 = _runs_file(tmp_path / 's0.json', tool, seed=0, shift=0.1)
    f1 = _runs_file(tmp_path / 's1.json', tool, seed=1, shift=0.1)
    _with_provenance(f0)
    _with_provenance(f1, **{'device.name': 'GPU', 'command': 'other'})  # may differ
    assert tool.merge_runs([f0, f1])[1] == [0, 1]
    for field, value in (('data.content_sha256', 'e' * 64), ('data.generator_version', 1),
                         ('git.commit', 'b' * 40), ('versions.numpy', '2.4.5')):
        _with_provenance(f1, **{field: value})
        with pytest.raises(ValueError, match=rf's1\.json: .*seed 1 was made with other '
                           rf'.*s0\.json: {re.escape(field)}: '):
            tool.merge_runs([f0, f1])
    legacy = _runs_file(tmp_path / 'legacy.json', tool, seed=1, shift=0.1)  # no record
    with pytest.raises(ValueError, match=r'legacy\.json: .*record: present vs absent'):
        tool.merge_runs([f0, legacy])


@pytest.mark.parametrize('runs_file,section', [
    ('claims_cpu_200iter.json', '## Measured: default size'),
    ('claims_cpu_200iter_levers.json', '## Levers: default size'),
    ('claims_cpu_200iter_earlier_data.json', '## Earlier run'),
    ('claims_h100_600iter.json', '## Supplement')])
def test_docs_tables_come_from_the_committed_runs(runs_file, section):
    """docs/claims.md's tables are what --from-runs makes of the JSON files beside it (so
    the page cannot drift from its data)."""
    tool = _load_tool()
    runs = osp.join(REPO_ROOT, 'docs', 'data', runs_file)
    text = tool.main(['--from-runs', runs])
    doc = open(osp.join(REPO_ROOT, 'docs', 'claims.md'), encoding='utf-8').read()
    supplement = doc.split(section, 1)[1].split('\n## ', 1)[0]
    # the variants in the file (old names under their per-stage names), in script order
    saved = {r['variant'] for r in json.load(open(runs, encoding='utf-8'))['runs']}
    shown = {tool.LEGACY_NAMES.get(n, n) for n in saved}
    variants = [n for n in tool.VARIANTS if n in shown]
    claims = [c[0] for c in tool.COMPARISONS if c[1] in shown and c[2] in shown]
    assert len(variants) == len(saved) >= 2 and claims
    for first, names in (('variant', variants), ('claim', claims)):
        header, rows = _table(text, first)
        assert [r[0] for r in rows] == names
        doc_header, doc_rows = _table(supplement, first)
        assert (doc_header, doc_rows) == (header, rows)
    # ... and so are the provenance line (commit, data fingerprint, libraries) and, for
    # runs saved under the old names ('+DGR', ...: per-stage then), the line saying so
    old = sorted(saved & set(tool.LEGACY_NAMES))
    for start in ('Provenance: ', 'Variant names: '):
        line = [ln for ln in text.splitlines() if ln.startswith(start)]
        assert len(line) == (0 if start == 'Variant names: ' and not old else 1)
        assert all(ln in supplement.splitlines() for ln in line)
    for name in old:
        assert f"'{name}' as '{tool.LEGACY_NAMES[name]}'" in text


def test_docs_list_every_variant_with_its_config():
    """docs/claims.md's variant table names every variant of the script (first cell) with
    its config (last cell), in the script's order."""
    tool = _load_tool()
    doc = open(osp.join(REPO_ROOT, 'docs', 'claims.md'), encoding='utf-8').read()
    header, rows = _table(doc, 'variant')
    assert header[0] == 'variant' and header[-1] == 'config'
    assert [(r[0].strip('`'), r[-1].strip('`')) for r in rows] == list(tool.VARIANTS.items())


def test_from_runs_rejects_bad_files_and_training_options(tmp_path, capsys):
    tool = _load_tool()
    f0 = _runs_file(tmp_path / 's0.json', tool, seed=0, shift=0.1)
    broken = tmp_path / 'broken.json'
    broken.write_text('{"setup": ')
    with pytest.raises(ValueError, match=r'broken\.json: not a --save-runs file'):
        tool.merge_runs([f0, str(broken)])
    no_runs = tmp_path / 'no_runs.json'
    no_runs.write_text(json.dumps({'setup': {}, 'total_s': 1.0, 'command': 'c'}))
    with pytest.raises(ValueError, match=r"no_runs\.json: not a --save-runs file.*'runs'"):
        tool.merge_runs([str(no_runs)])
    renamed = json.loads(open(f0).read())
    renamed['runs'][0]['variant'] = '+DGR v2'
    (tmp_path / 'renamed.json').write_text(json.dumps(renamed))
    with pytest.raises(ValueError, match=r"renamed\.json: unknown variant\(s\) \['\+DGR v2'\]"):
        tool.merge_runs([str(tmp_path / 'renamed.json')])
    with pytest.raises(SystemExit):
        tool.main(['--from-runs', f0, '--seeds', '0', '--iters', '5'])
    assert '--iters, --seeds cannot be combined' in capsys.readouterr().err


def test_from_runs_lists_differing_devices(tmp_path):
    tool = _load_tool()
    f0 = _runs_file(tmp_path / 's0.json', tool, seed=0, shift=0.1)
    other = json.loads(open(_runs_file(tmp_path / 's1.json', tool, seed=1, shift=0.1)).read())
    other['setup']['device'] = 'NVIDIA H100'
    (tmp_path / 's1.json').write_text(json.dumps(other))
    setup = tool.merge_runs([f0, str(tmp_path / 's1.json')])[0]
    assert setup['device'] == 'CPU (test) / NVIDIA H100' and setup['threads'] == 2


def test_from_runs_shows_runs_saved_with_the_old_dgr_names_as_per_stage(tmp_path):
    """Runs saved before per-block placement (no run record) named their per-stage DGR
    variants '+DGR'...; they are shown under the per-stage names, and the report says so.
    With a run record the old name is ambiguous and refused."""
    tool = _load_tool()
    old = _runs_file(tmp_path / 'old.json', tool, seed=0, shift=0.1,
                     variants=('+DGR', '+DGR, MSE', 'baseline', 'MSE'))
    setup, seeds, results, total, runs, sources = tool.merge_runs([old])
    assert list(results) == ['baseline', '+DGR/stage', 'MSE', '+DGR/stage, MSE']
    assert {r['saved_as'] for r in runs if 'saved_as' in r} == {'+DGR', '+DGR, MSE'}
    text = tool.main(['--from-runs', old])
    rows = [r[0] for r in _table(text, 'claim')[1]]
    assert rows == ['C1 DGR per stage (SILog)', 'C1 DGR per stage (MSE)']
    line = next(ln for ln in text.splitlines() if ln.startswith('Variant names: '))
    assert "'+DGR' as '+DGR/stage', '+DGR, MSE' as '+DGR/stage, MSE'" in line
    # saved again (merged), the runs keep their new names and the note
    again = str(tmp_path / 'again.json')
    tool.main(['--from-runs', old, '--save-runs', again])
    assert line in tool.main(['--from-runs', again]).splitlines()
    # a run record without the placement cannot tell which '+DGR' it was
    _with_provenance(old)
    with pytest.raises(ValueError, match=r"old\.json: \+DGR seed 0 has a run record .*"
                       r"placement cannot be told"):
        tool.merge_runs([old])
    # a new-style run names its config; one trained with another config is refused
    moved = json.loads(open(_runs_file(tmp_path / 'm.json', tool, seed=0, shift=0.1)).read())
    moved['runs'][0]['config'] = tool.VARIANTS['+DGR/stage']
    (tmp_path / 'm.json').write_text(json.dumps(moved))
    with pytest.raises(ValueError, match=r'm\.json: \+DGR/block seed 0 was trained with '
                       r'configs/claims/mit-b0-dgr-stage_'):
        tool.merge_runs([str(tmp_path / 'm.json')])


def _flat(cfg, prefix=''):
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(_flat(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def _config(tool, name):
    from mmengine.config import Config
    return Config.fromfile(osp.join(REPO_ROOT, tool.VARIANTS[name])).to_dict()


# variant -> (the variant it is compared with, {flattened config key: its value there})
_ONE_OPTION = {
    '+DGR/stage': ('+DGR/block', {'model.backbone.placement': 'stage'}),
    '+DGR/authors': ('+DGR/block', {'model.backbone.dgr.preset': 'authors'}),
    '+DGR/stencil8': ('+DGR/block', {'model.backbone.dgr.stencil_channels': 8}),
    '+DGR/k1': ('+DGR/block', {'model.backbone.dgr.spatial_kernel_size': 1}),
    '+DGR/stencil8-k1': ('+DGR/stencil8', {'model.backbone.dgr.spatial_kernel_size': 1}),
    '+DGR/sharedSE': ('+DGR/block', {'model.backbone.share_se': 'stage'}),
    '+DGR/lastblock': ('+DGR/block', {'model.backbone.blocks': [-1]}),
    '+DGR/stencil8-k1-lastblock': ('+DGR/stencil8-k1', {'model.backbone.blocks': [-1]}),
    '+DGR/stage, MSE': ('+DGR/block, MSE', {'model.backbone.placement': 'stage'}),
    '+DGR/stage, MSE+OTDL': ('+DGR/block, MSE+OTDL', {'model.backbone.placement': 'stage'}),
}


@pytest.mark.parametrize('name', list(_ONE_OPTION))
def test_dgr_variant_configs_differ_from_their_reference_only_in_the_stated_option(name):
    tool = _load_tool()
    ref, option = _ONE_OPTION[name]
    cfg, base = _flat(_config(tool, name)), _flat(_config(tool, ref))
    changed = {k: v for k, v in cfg.items() if base.get(k, object()) != v}
    assert changed == option and set(base) <= set(cfg)


def test_variant_losses_are_the_configs_losses():
    tool = _load_tool()
    losses = {'SILog': ['SILogDepthLoss'], 'MSE': ['MaskedMSELoss'], '100·OTDL': ['OTDLoss'],
              'MSE + 100·OTDL': ['MaskedMSELoss', 'OTDLoss']}
    for name in tool.VARIANTS:
        head = _config(tool, name)['model']['decode_head']
        decode = head['loss_decode']
        decode = decode if isinstance(decode, list) else [decode]
        assert [d['type'] for d in decode] == losses[tool.VARIANT_LOSS[name]], name
        if 'OTDL' in tool.VARIANT_LOSS[name]:
            assert next(d for d in decode if d['type'] == 'OTDLoss')['loss_weight'] == 100


def test_dgr_variant_models_build_with_the_stated_dgr_layout():
    """Built from the configs (MiT-B0, 2 transformer blocks in each of 4 stages)."""
    from mmseg.registry import MODELS
    tool = _load_tool()
    built = {name: MODELS.build(_config(tool, name)['model']['backbone'])
             for name in tool.VARIANTS if name.startswith('+DGR/') and ', ' not in name}
    every_block = [(s, b) for s in range(4) for b in range(2)]
    block = built['+DGR/block']
    assert block.placement == 'block' and block.points == every_block
    assert built['+DGR/stage'].points == [(s, None) for s in range(4)]
    assert built['+DGR/lastblock'].points == [(s, 1) for s in range(4)]
    assert built['+DGR/stencil8-k1-lastblock'].points == [(s, 1) for s in range(4)]
    for name in ('+DGR/authors', '+DGR/stencil8', '+DGR/k1', '+DGR/stencil8-k1',
                 '+DGR/sharedSE'):
        assert built[name].points == every_block, name

    def blocks(name):
        return list(built[name].dgr.values())

    assert {m.preset for m in blocks('+DGR/block')} == {'default'}
    assert {m.preset for m in blocks('+DGR/authors')} == {'authors'}
    assert all(m.stencil_proj is None for m in blocks('+DGR/block'))
    assert {m.stencil_proj.out_channels for m in blocks('+DGR/stencil8')} == {8}
    assert {m.spatial_conv.conv.kernel_size for m in blocks('+DGR/block')} == {(3, 3)}
    assert {m.spatial_conv.conv.kernel_size for m in blocks('+DGR/k1')} == {(1, 1)}
    both = blocks('+DGR/stencil8-k1')
    assert {(m.stencil_proj.out_channels, m.spatial_conv.conv.kernel_size) for m in both} \
        == {(8, (1, 1))}
    lean = blocks('+DGR/stencil8-k1-lastblock')
    assert len(lean) == 4 and {(m.stencil_proj.out_channels,
                                m.spatial_conv.conv.kernel_size) for m in lean} == {(8, (1, 1))}
    # one SE per stage (its two blocks share it), four in all; own SE per block otherwise
    shared = built['+DGR/sharedSE']
    se = {key: id(m.channel_attention) for key, m in shared.dgr.items()}
    assert all(se[f'{s}_0'] == se[f'{s}_1'] for s in range(4))
    assert len(set(se.values())) == 4 and len(shared.shared_se) == 4
    assert len({id(m.channel_attention) for m in blocks('+DGR/block')}) == 8
    # and the host is the same everywhere: identical host parameter shapes
    host = {k: v.shape for k, v in block.backbone.state_dict().items()}
    for name, model in built.items():
        assert {k: v.shape for k, v in model.backbone.state_dict().items()} == host, name


def test_comparisons_reference_existing_variants_and_cover_every_variant():
    tool = _load_tool()
    labels = [c[0] for c in tool.COMPARISONS]
    assert len(labels) == len(set(labels))
    for label, cand, ref, kind in tool.COMPARISONS:
        assert cand in tool.VARIANTS and ref in tool.VARIANTS and cand != ref, label
        assert kind in tool.VERDICTS, label
    compared = {c[1] for c in tool.COMPARISONS} | {c[2] for c in tool.COMPARISONS}
    assert compared == set(tool.VARIANTS)
    # the names of old runs map onto variants that exist
    assert set(tool.LEGACY_NAMES.values()) <= set(tool.VARIANTS)
    assert not set(tool.LEGACY_NAMES) & set(tool.VARIANTS)
    for path in tool.VARIANTS.values():
        assert osp.isfile(osp.join(REPO_ROOT, path)), path


def test_variants_option_selects_the_named_variants(capsys):
    tool = _load_tool()
    args = tool.parse_args(['--variants', '+DGR/stage', '+DGR/block, MSE+OTDL'])
    assert args.variants == ['+DGR/stage', '+DGR/block, MSE+OTDL']
    with pytest.raises(SystemExit):
        tool.parse_args(['--variants', '+DGR'])  # the old name is not a variant to train
    assert "invalid choice: '+DGR'" in capsys.readouterr().err


def test_quick_run_trains_one_named_variant_end_to_end(tmp_path):
    tool = _load_tool()
    runs = tmp_path / 'runs.json'
    text = tool.main(['--quick', '--tiny-model', '--threads', '1', '--variants',
                      '+DGR/sharedSE', '--save-runs', str(runs)])
    header, rows = _table(text, 'variant')
    assert [r[0] for r in rows] == ['+DGR/sharedSE']
    assert all(math.isfinite(float(c.split(' ± ')[0])) for c in rows[0][2:])
    assert _table(text, 'claim')[1] == []  # its references were not run
    saved = json.loads(runs.read_text())['runs']
    assert [(r['variant'], r['config']) for r in saved] == [
        ('+DGR/sharedSE', tool.VARIANTS['+DGR/sharedSE'])]
