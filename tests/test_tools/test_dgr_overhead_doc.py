"""configs/dgr/README.md "Overhead": every table is what the committed run records render.

The records are ``docs/data/dgr_overhead/*.json``, written by
``tools/analysis_tools/dgr_overhead.py --record``; a missing record fails these tests.
"""
import glob
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README = osp.join(REPO, 'configs', 'dgr', 'README.md')
RECORDS = 'docs/data/dgr_overhead'
# The runs the README reports: the quickstart model with the lever sweep, the built-in
# Swin-T, and every host family's baseline NYU config (both placements each).
HOST_CONFIGS = (
    'configs/pixelformer/pixelformer_swin-l-w7_4xb4-25k_nyu-416x544.py',
    'configs/newcrfs/newcrfs_swin-l-w7_4xb4-25k_nyu-416x544.py',
    'configs/adabins/adabins_efficientnet-b5_4xb4-25k_nyu-416x544.py',
    'configs/dpt/dpt_r50-vit-b16_4xb4-25k_nyu-416x544.py',
    'configs/dpt/dpt_vit-l16_4xb4-25k_nyu-416x544.py',
    'configs/transdepth/transdepth_r50-vit-b16_4xb4-25k_nyu-416x544.py',
    'configs/depthformer/depthformer_mit-b4_4xb4-25k_nyu-416x544.py',
    'configs/swindepth/swindepth_swin-b_4xb4-25k_nyu-416x544.py',
)
QUICKSTART = f'{RECORDS}/quickstart_mit-b0_regression_240x320.json'
SWIN_T = f'{RECORDS}/swin-t_416x544.json'
# Latency records (timed runs, file names start with latency_): the quickstart model at
# both sizes of issue #18's targets, 2 threads, >= 15 paired rounds.
LATENCY_QUICKSTART = (f'{RECORDS}/latency_quickstart_240x320.json',
                      f'{RECORDS}/latency_quickstart_stage-levers_240x320.json',
                      f'{RECORDS}/latency_quickstart_480x640.json',
                      f'{RECORDS}/latency_quickstart_stage-levers_480x640.json')
# Issue #18's before/after of the exact speed-ups: the same command, alternating the
# previous commit (before) and the changed one (after), both placements each.
EXACT_SPEEDUP = tuple(f'{RECORDS}/exact_speedup/latency_quickstart_{run}.json' for run in (
    'before1_240x320', 'after1_240x320', 'before2_240x320', 'after2_240x320',
    'before1_480x640', 'after1_480x640'))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'dgr_overhead', osp.join(REPO, 'tools', 'analysis_tools', 'dgr_overhead.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _host_record(config):
    return f'{RECORDS}/{osp.splitext(osp.basename(config))[0]}.json'


def _blocks():
    with open(README, encoding='utf-8') as f:
        text = f.read()
    return text, _tool().doc_blocks(text, root=REPO)  # FileNotFoundError: record missing


def test_dgr_readme_overhead_tables_equal_what_their_records_render():
    text, blocks = _blocks()
    for placeholder in ('QUICKSTART_TABLE', 'SWINT_TABLE', 'HOSTS_TABLE'):
        assert placeholder not in text
    kinds = [(kind, paths) for kind, paths, _, _ in blocks]
    assert ('table', [QUICKSTART]) in kinds and ('table', [SWIN_T]) in kinds
    assert ('latency', list(LATENCY_QUICKSTART)) in kinds
    assert ('latency', list(EXACT_SPEEDUP)) in kinds
    assert ('hosts', [_host_record(c) for c in HOST_CONFIGS]) in kinds
    for kind, paths, body, rendered in blocks:
        assert body == rendered, (
            f'configs/dgr/README.md: the {kind} table of {paths} is not what the records '
            'render; run python tools/analysis_tools/dgr_overhead.py --update-doc '
            'configs/dgr/README.md')


def test_every_overhead_record_is_complete_cited_and_has_both_placements():
    tool = _tool()
    _, blocks = _blocks()
    cited = {p for _, paths, _, _ in blocks for p in paths}
    on_disk = {osp.relpath(p, REPO)
               for p in glob.glob(osp.join(REPO, RECORDS, '**', '*.json'), recursive=True)}
    expected = ({QUICKSTART, SWIN_T, *LATENCY_QUICKSTART, *EXACT_SPEEDUP}
                | {_host_record(c) for c in HOST_CONFIGS})
    assert expected <= on_disk, f'missing records: {sorted(expected - on_disk)}'
    assert on_disk == cited, f'records the README does not show: {sorted(on_disk - cited)}'
    timed = {p for p in on_disk if osp.basename(p).startswith('latency_')}
    for path in sorted(on_disk - timed):
        record = tool.load_record(osp.join(REPO, path))  # every field, or ValueError
        body = record['dgr_overhead']
        assert record['tool'] == 'dgr_overhead' and record['git']['commit']
        assert body['latency'] is None, f'{path}: docs take no latency from a shared machine'
        assert body['form'] == 'backbone' and body['placement'] == ['block', 'stage']
        block, stage = body['rows'][1:3]
        assert (block['placement'], stage['placement']) == ('block', 'stage'), path
        # one DGR block per host block vs one per stage
        assert block['dgr_blocks'] > stage['dgr_blocks'] > 0, path
        assert block['params'] > stage['params'] > body['rows'][0]['params'], path
        if path in {_host_record(c) for c in HOST_CONFIGS}:
            config = next(c for c in HOST_CONFIGS if _host_record(c) == path)
            assert body['host']['name'] == config and osp.isfile(osp.join(REPO, config))
    assert tool.load_record(osp.join(REPO, QUICKSTART))['dgr_overhead']['sweep']


def test_every_latency_record_is_a_clean_timed_run_of_both_placements():
    tool = _tool()
    on_disk = sorted(osp.relpath(p, REPO) for p in glob.glob(
        osp.join(REPO, RECORDS, '**', 'latency_*.json'), recursive=True))
    assert set(EXACT_SPEEDUP) <= set(on_disk)
    for path in on_disk:
        record = tool.load_record(osp.join(REPO, path), complexity=False)
        body = record['dgr_overhead']
        lat = body['latency']
        assert lat is not None and not lat['forced'], path
        assert lat['repeats'] >= 15 and lat['threads'] == 2, path
        assert not record['git']['dirty'], f'{path}: measured on a dirty tree'
        rows = body['rows']
        if 'stage-levers' in path:  # the levers with one DGR block per stage
            assert body['placement'] == ['stage'], path
            assert {r['placement'] for r in rows[1:]} == {'stage'}, path
        else:
            assert [r['placement'] for r in rows[1:3]] == ['block', 'stage'], path
        for row in rows:
            assert len(row['latency_ms']) == lat['repeats'], (path, row['label'])
        for row in rows[1:]:
            assert len(row['latency_ratio']) == lat['repeats'], (path, row['label'])
        # the table states the CPU, the threads and the load of its measurement
        table = tool.render_latency(record, path)
        assert body['cpu'] in table and f'{lat["threads"]} threads' in table
        assert 'load average' in table and f'{lat["repeats"]} paired' in table
        assert f'commit {record["git"]["commit"][:7]}' in table
    # before/after: the same command at the previous commit and at the changed one
    commits = [tool.load_record(osp.join(REPO, p), complexity=False)['git']['commit']
               for p in EXACT_SPEEDUP]
    assert len(set(commits[0::2])) == 1 and len(set(commits[1::2])) == 1
    assert commits[0] != commits[1]
