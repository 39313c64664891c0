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
