"""tools/analysis_tools/dgr_gpu_bench.py on CPU with --tiny (the GPU run is the same code
with --device cuda)."""
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'dgr_gpu_bench', osp.join(REPO, 'tools', 'analysis_tools', 'dgr_gpu_bench.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dgr_gpu_bench_runs_tiny_on_cpu_and_compares_with_the_host(tmp_path, capsys):
    tool = _tool()
    out = tmp_path / 'bench.json'
    results = tool.main(['--device', 'cpu', '--tiny', '--iters', '1', '--warmup', '0',
                         '--exec', 'eager', '--models', 'quickstart', '--modes',
                         'train-fp32', 'infer', '--variants', 'host', 'dgr-cp',
                         '--in-process', '--threads', '1', '--out', str(out)])
    assert [(r['mode'], r['variant']) for r in results] == [
        ('train-fp32', 'host'), ('train-fp32', 'dgr-cp'), ('infer', 'host'),
        ('infer', 'dgr-cp')]
    assert all(r['img_per_s'] > 0 and r['batch'] == 1 and tuple(r['shape']) == (64, 64)
               for r in results)
    assert results[1]['params'] > results[0]['params']  # DGR adds parameters
    table = capsys.readouterr().out
    assert '| quickstart | train-fp32 | eager | dgr-cp | 1 x 64 x 64 |' in table
    assert 'not reported: --in-process on CPU' in table
    assert len(json.loads(out.read_text())) == 4


def test_dgr_gpu_bench_variants_set_the_dgr_options():
    tool = _tool()
    args = tool.parse_args(['--device', 'cpu', '--models', 'pixelformer', '--variants',
                            'host', 'dgr', 'dgr-cp', '--dgr', '{"preset": "authors"}',
                            '--placement', 'stage', '--modes', 'infer', '--exec',
                            'eager', 'compile'])
    todo = tool.settings(args)
    assert len(todo) == 2 * 3 and {s['exec'] for s in todo} == {'eager', 'compile'}
    assert todo[0]['shape'] == (416, 544) and todo[0]['batch'] == 4
    opts = {s['variant']: tool._cfg_options(s) for s in todo[:3]}
    assert opts['host'] == {}
    assert opts['dgr'] == {'model.backbone.dgr': {'preset': 'authors'},
                           'model.backbone.placement': 'stage'}
    assert opts['dgr-cp']['model.backbone.dgr'] == {'preset': 'authors', 'with_cp': True}


def test_dgr_gpu_bench_worker_process_reports_its_peak_rss():
    tool = _tool()
    s = tool.settings(tool.parse_args(['--device', 'cpu', '--tiny', '--iters', '1',
                                       '--warmup', '0', '--models', 'quickstart',
                                       '--modes', 'infer', '--exec', 'eager',
                                       '--variants', 'dgr', '--threads', '1']))[0]
    r = tool._run_worker(s)
    assert r['peak_kind'] == 'process peak RSS' and r['peak_bytes'] > 50 * 2**20
    assert r['img_per_s'] > 0 and r['variant'] == 'dgr'


def test_dgr_gpu_bench_record_renders_the_printed_table_into_a_doc(tmp_path, capsys):
    import shlex

    import pytest
    tool = _tool()
    path = tmp_path / 'bench.json'
    argv = ['--device', 'cpu', '--tiny', '--iters', '1', '--warmup', '0', '--exec', 'eager',
            '--models', 'quickstart', '--modes', 'infer', '--variants', 'host', 'dgr',
            '--in-process', '--threads', '1', '--record', str(path)]
    results = tool.main(argv)
    printed = capsys.readouterr().out
    record = tool.load_record(str(path))
    assert shlex.split(record['command']) == [
        'python', 'tools/analysis_tools/dgr_gpu_bench.py', *argv]
    body = record['dgr_gpu_bench']
    assert body['results'] == json.loads(json.dumps(results))
    assert body['load_start'] is not None and body['load_end'] is not None
    rendered = tool.render_record(record, 'bench.json')
    table = rendered.split('\n\n', 1)[1].rstrip('\n')
    assert table in printed  # the run printed what its record renders
    assert f'load average {body["load_start"]:.2f} at start, {body["load_end"]:.2f} at end' \
        in rendered and f'`{record["command"]}`' in rendered
    doc = tmp_path / 'README.md'
    doc.write_text('a\n<!-- dgr_gpu_bench records=bench.json -->\nstale\n'
                   '<!-- dgr_gpu_bench:end -->\nb\n')
    assert tool.update_doc(str(doc), root=str(tmp_path)) == 1
    text = doc.read_text()
    assert rendered in text and '\nstale\n' not in text and text.endswith('end -->\nb\n')
    assert all(b == r for _, b, r in tool.doc_blocks(text, root=str(tmp_path)))
    del record['dgr_gpu_bench']['torch']
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match='bench.json: dgr_gpu_bench.torch'):
        tool.load_record(str(path))


def test_dgr_readme_checkpointing_table_is_what_its_record_renders():
    """configs/dgr/README.md "Activation checkpointing": the PixelFormer Swin-L memory/time
    table equals what the committed record renders."""
    tool = _tool()
    with open(osp.join(REPO, 'configs', 'dgr', 'README.md'), encoding='utf-8') as f:
        text = f.read()
    blocks = tool.doc_blocks(text, root=REPO)  # FileNotFoundError: record missing
    assert [p for p, _, _ in blocks] == ['docs/data/dgr_cp_pixelformer_cpu.json']
    for path, body, rendered in blocks:
        assert body == rendered, (
            f'configs/dgr/README.md: the block of {path} is not what its record renders; run '
            'python tools/analysis_tools/dgr_gpu_bench.py --update-doc configs/dgr/README.md')
        record = tool.load_record(osp.join(REPO, path))
        assert not record['git']['dirty'], f'{path}: measured on a dirty tree'
        results = record['dgr_gpu_bench']['results']
        assert [(r['model'], r['mode'], r['variant']) for r in results] == [
            ('pixelformer', 'train-fp32', v) for v in ('host', 'dgr', 'dgr-cp')]
        assert not record['dgr_gpu_bench']['in_process']  # one process each: real peaks
        assert all(not r['tiny'] and r['peak_bytes'] > 2**30 for r in results)
