"""tools/analysis_tools: get_flops, benchmark, analyze_logs, print_config (in-process)."""
import importlib.util
import json
import os.path as osp
import shlex

import cv2
import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', 'analysis_tools', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_get_flops_counts_the_model_params_at_the_padded_shape(capsys):
    from mmdepth_dgr.apis import init_model
    out = _tool('get_flops').main([CONFIG, '--shape', '60', '80'])
    n_params = sum(p.numel() for p in init_model(CONFIG).parameters())
    assert out['params'] == n_params
    assert out['shape'] == (64, 96)  # rounded up to size_divisor 32
    assert out['flops'] > 0
    table = capsys.readouterr().out
    assert '| config | input | params | FLOPs |' in table and 'padded from 60x80' in table


def test_benchmark_reports_images_per_second(capsys):
    out = _tool('benchmark').main([CONFIG, '--num-iters', '2', '--warmup', '1',
                                   '--device', 'cpu', '--shape', '32', '48'])
    assert len(out['times']) == 2 and out['fps'] > 0
    assert out['fps'] == pytest.approx(1.0 / out['mean_s'])
    assert '| img/s |' in capsys.readouterr().out


def test_benchmark_defaults_to_the_configs_test_size(tmp_path, synthetic_nyu_root):
    """Without --shape: the first test sample's network input (64x96 generated frames
    here), not a fixed 480x640; without readable data: the dataset type's frame size."""
    tool = _tool('benchmark')
    opts = ['--num-iters', '1', '--warmup', '0', '--device', 'cpu', '--cfg-options',
            f'test_dataloader.dataset.data_root={synthetic_nyu_root}',
            'model.backbone.num_layers=[1,1,1,1]', 'model.backbone.embed_dims=16',
            'model.decode_head.in_channels=[16,32,80,128]']
    out = tool.main([CONFIG] + opts)
    assert out['shape'] == (64, 96) and out['shape_source'] == 'first test sample'
    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'absent')
    h, w, source = tool.config_test_shape(cfg)
    assert (h, w) == (480, 640) and 'NYUDepthDataset frame size' in source
    assert 'split file not found' in source
    kitti = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/kitti.py'))
    kitti.test_dataloader.dataset.data_root = str(tmp_path / 'absent')
    assert tool.config_test_shape(kitti)[:2] == (352, 1216)  # KB crop


def _fake_log(path):
    """Lines as mmengine's LoggerHook writes them: training lines carry ``iter``,
    validation lines only ``step`` -- and their own ``time``/``data_time`` (seconds per
    validation image)."""
    lines = [dict(lr=1e-3, loss=2.0, time=0.5, data_time=0.1, iter=10, step=10),
             dict(lr=9e-4, loss=1.5, time=0.7, data_time=0.1, iter=20, step=20),
             dict(d1=0.4, abs_rel=0.3, data_time=0.01, time=9.0, step=20),
             dict(lr=8e-4, loss=1.0, time=0.6, data_time=0.1, iter=30, step=30),
             dict(d1=0.6, abs_rel=0.2, data_time=0.01, time=8.0, step=30)]
    path.write_text('\n'.join(json.dumps(x) for x in lines) + '\n')
    return str(path)


def test_analyze_logs_reads_series_and_plots_train_and_val_keys(tmp_path):
    tool = _tool('analyze_logs')
    log = _fake_log(tmp_path / 'scalars.json')
    series = tool.load_scalars(log)
    assert series['loss'] == [(10, 2.0), (20, 1.5), (30, 1.0)]
    assert series['d1'] == [(20, 0.4), (30, 0.6)]
    out = str(tmp_path / 'fig.png')
    labels = tool.main(['plot_curve', log, '--keys', 'loss', 'd1', '--out', out])
    assert labels == ['loss', 'd1']
    assert cv2.imread(out) is not None
    stats = tool.main(['cal_train_time', log])
    # the validation lines' time (9 s, 8 s per val image) is not training time
    assert stats[0]['iters'] == 3
    assert stats[0]['mean_s'] == pytest.approx((0.5 + 0.7 + 0.6) / 3)
    assert tool.load_scalars(log, mode='val')['time'] == [(20, 9.0), (30, 8.0)]


def test_analyze_logs_unknown_key_names_it_and_the_available_ones(tmp_path):
    tool = _tool('analyze_logs')
    log = _fake_log(tmp_path / 'scalars.json')
    with pytest.raises(KeyError, match='rmse.*abs_rel'):
        tool.main(['plot_curve', log, '--keys', 'rmse', '--out', str(tmp_path / 'x.png')])


def test_print_config_applies_cfg_options_and_saves(tmp_path, capsys):
    save = str(tmp_path / 'merged.py')
    text = _tool('print_config').main([CONFIG, '--cfg-options',
                                       'model.decode_head.max_depth=80',
                                       '--save-path', save])
    assert 'max_depth=80' in text
    assert Config.fromfile(save).model.decode_head.max_depth == 80
    with pytest.raises(FileNotFoundError, match='nope.py'):
        _tool('print_config').main([str(tmp_path / 'nope.py')])


# ------------------------------------------------------------------ dgr_overhead.py
_TINY = ['--host', 'mit-b0', '--shape', '32', '32', '--warmup', '0', '--no-complexity',
         '--stages', '3']


def test_dgr_overhead_refuses_latency_when_the_load_exceeds_the_cores(monkeypatch, capsys):
    tool = _tool('dgr_overhead')
    monkeypatch.setattr(tool.os, 'cpu_count', lambda: 2)
    monkeypatch.setattr(tool.os, 'getloadavg', lambda: (2.5, 1.0, 1.0))
    with pytest.raises(SystemExit) as exc:
        tool.main(_TINY + ['--repeats', '2'])
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert 'refusing to report latency' in err and '2.50' in err and '2 cores' in err


def test_dgr_overhead_end_check_subtracts_its_own_threads_from_the_load(monkeypatch,
                                                                      capsys):
    # After a timing run the 1-minute load includes the tool's own busy threads: 2.9 on
    # 2 cores with 1 own thread is 1.9 from others (reported); 3.5 is 2.5 (refused).
    tool = _tool('dgr_overhead')
    monkeypatch.setattr(tool.os, 'cpu_count', lambda: 2)
    for end, refused in ((2.9, False), (3.5, True)):
        loads = iter([(0.5, 0.5, 0.5), (end, 1.0, 1.0)])
        monkeypatch.setattr(tool.os, 'getloadavg', lambda: next(loads))
        if refused:
            with pytest.raises(SystemExit) as exc:
                tool.main(_TINY + ['--repeats', '2', '--threads', '1'])
            assert exc.value.code == 3
            err = capsys.readouterr().err
            assert 'at end is 3.50 (1 of it this tool\'s threads)' in err
        else:
            tool.main(_TINY + ['--repeats', '2', '--threads', '1'])
            out = capsys.readouterr().out
            assert f'load average at end: {end:.2f} 1.00 1.00 (2 cores; this tool\'s 1 ' \
                'threads included)' in out and 'FORCED' not in out


def test_dgr_overhead_force_reports_under_load_and_marks_the_output(monkeypatch, capsys):
    tool = _tool('dgr_overhead')
    monkeypatch.setattr(tool.os, 'cpu_count', lambda: 2)
    monkeypatch.setattr(tool.os, 'getloadavg', lambda: (7.0, 6.0, 5.0))
    tool.main(_TINY + ['--repeats', '2', '--force'])
    out = capsys.readouterr().out
    assert out.count('FORCED') >= 3  # both load lines and the closing note
    assert '| host |' in out and 'DGR defaults stages=[3]' in out


def test_dgr_overhead_prints_cpu_threads_load_rounds_median_and_range(monkeypatch, capsys):
    tool = _tool('dgr_overhead')
    monkeypatch.setattr(tool.os, 'cpu_count', lambda: 64)
    monkeypatch.setattr(tool.os, 'getloadavg', lambda: (0.5, 0.4, 0.3))
    tool.main(_TINY + ['--repeats', '3', '--threads', '1'])
    out = capsys.readouterr().out
    assert tool.cpu_model() in out and '1 threads' in out
    assert 'load average at start: 0.50' in out and 'load average at end: 0.50' in out
    assert 'FORCED' not in out and '3 paired interleaved rounds' in out
    rounds = out.split('Rounds')[1].strip().splitlines()[1:]
    assert rounds[0].startswith('host: ') and len(rounds[0].split()) == 1 + 3
    assert len(rounds[1].split(': ')[1].split()) == 3  # three per-round ratios
    row = [line for line in out.splitlines() if line.startswith('| DGR')][0]
    assert ' … ' in row.split('|')[-2]  # the range column


def test_dgr_overhead_no_latency_runs_on_a_loaded_machine(monkeypatch, capsys):
    tool = _tool('dgr_overhead')
    monkeypatch.setattr(tool.os, 'cpu_count', lambda: 1)
    monkeypatch.setattr(tool.os, 'getloadavg', lambda: (50.0, 50.0, 50.0))
    tool.main(['--host', 'mit-b0', '--shape', '32', '32', '--no-latency', '--stages', '3'])
    out = capsys.readouterr().out
    assert 'load average' not in out and '| host |' in out and '%' in out


def test_dgr_overhead_defaults_to_fifteen_rounds_and_takes_a_placement():
    tool = _tool('dgr_overhead')
    args = tool.parse_args([])
    assert args.repeats >= 15 and args.placement is None and args.form == 'backbone'
    assert tool.parse_args(['--placement', 'stage']).placement == ['stage']
    assert tool.parse_args(['--placement', 'block', 'stage']).placement == ['block', 'stage']
    with pytest.raises(SystemExit):
        tool.parse_args(['--placement', 'block', '--form', 'neck'])
    with pytest.raises(SystemExit):
        tool.parse_args(['--placement', 'everywhere'])


def test_dgr_overhead_placement_reaches_the_dgr_backbone_config():
    # Config plumbing only: DGRBackbone(placement=...) itself is tested with the backbone.
    tool = _tool('dgr_overhead')
    host = dict(type='EncoderDecoder', backbone=dict(type='MixVisionTransformer'))
    for placement in ('block', 'stage'):
        cfg = tool._variant_cfg(host, True, 'backbone', {}, None, [32], placement)
        assert cfg['backbone']['type'] == 'DGRBackbone'
        assert cfg['backbone']['placement'] == placement
        assert cfg['backbone']['backbone'] == host['backbone']
        bare = tool._variant_cfg(host['backbone'], False, 'backbone', {}, None, [32],
                                 placement)
        assert bare['placement'] == placement
    assert 'placement' not in tool._variant_cfg(host, True, 'backbone', {}, None, [32])[
        'backbone']


def test_dgr_overhead_strips_dgr_and_its_placement_from_a_dgr_config(tmp_path):
    tool = _tool('dgr_overhead')
    cfg = tmp_path / 'x-dgr.py'
    cfg.write_text(f"_base_ = '{CONFIG}'\nmodel = dict(backbone=dict(type='DGRBackbone', "
                   "host_type='MixVisionTransformer', placement='stage', "
                   "dgr=dict(preset='authors')))\n")
    host = tool._host_model_cfg(tool.parse_args(['--config', str(cfg)]))
    assert host['backbone']['type'] == 'MixVisionTransformer'
    assert not {'placement', 'dgr', 'host_type'} & set(host['backbone'])


def test_dgr_overhead_flops_include_the_stencil_taps_flop_counters_skip():
    from mmengine.analysis import get_model_complexity_info

    from mmdepth_dgr.models.layers import DGRBlock
    tool = _tool('dgr_overhead')
    model = DGRBlock(8).eval()
    x = torch.randn(2, 8, 6, 5)
    params, flops = tool._complexity(model, x)
    plain = get_model_complexity_info(model, inputs=(x, ), show_table=False,
                                      show_arch=False)['flops']
    # 5-point Laplacian (5 taps) + (∂x, ∂y) of it (2 taps each), per channel and pixel
    assert flops - plain == 2 * 6 * 5 * 8 * (5 + 2 + 2)
    assert params == sum(p.numel() for p in model.parameters())


def test_dgr_overhead_record_holds_every_row_and_renders_the_measured_numbers(
        tmp_path, capsys):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmdepth_dgr.models.backbones import DGRBackbone
    tool = _tool('dgr_overhead')
    path = tmp_path / 'run.json'
    argv = ['--host', 'mit-b0', '--shape', '32', '32', '--no-latency', '--stages', '3',
            '--placement', 'block', 'stage', '--sweep', '--only', r'^lever: blocks=\[-1\]',
            '--record', str(path)]
    tool.main(argv)
    capsys.readouterr()
    record = tool.load_record(str(path))  # raises when a field is missing
    assert record['tool'] == 'dgr_overhead'
    assert shlex.split(record['command']) == [
        'python', 'tools/analysis_tools/dgr_overhead.py', *argv]  # pasteable as written
    body = record['dgr_overhead']
    assert body['shape'] == [32, 32] and body['placement'] == ['block', 'stage']
    assert body['host'] == dict(source='builtin', name='mit-b0', model=None,
                                backbone='MixVisionTransformer', inner=None)
    host, block, stage, last = body['rows']
    # params counted here independently of the tool
    init_default_scope('mmseg')
    n_host = sum(p.numel() for p in MODELS.build(dict(tool.HOSTS['mit-b0'])).parameters())
    assert host['params'] == n_host and host['dgr_blocks'] == 0
    for row, placement, kwargs, n_blocks in (
            (block, 'block', dict(stages=[3]), 2),  # MiT-B0 stage 3 has 2 blocks
            (stage, 'stage', dict(stages=[3]), 1),
            (last, 'block', dict(blocks=[-1]), 4)):  # one per stage
        wrapped = DGRBackbone(backbone=dict(tool.HOSTS['mit-b0']), placement=placement,
                              **kwargs)
        assert row['params'] == sum(p.numel() for p in wrapped.parameters())
        assert row['placement'] == placement and row['dgr_blocks'] == n_blocks
        assert row['params_pct'] == pytest.approx(100 * (row['params'] / n_host - 1))
        assert row['flops'] > host['flops']
    assert last['wrapper'] == dict(blocks=[-1])
    table = tool.render_table(record)
    assert f'{block["params_pct"]:+.2f} %' in table and f'{stage["flops_pct"]:+.2f} %' in table
    assert len(table.strip().splitlines()) == 2 + 4
    tool.main(['--from-record', str(path)])
    assert table in capsys.readouterr().out
    hosts = tool.render_hosts([record])
    assert '| built-in `mit-b0` backbone | 1x3x32x32 |' in hosts
    assert f'| 2 | {block["params_pct"]:+.2f} % | {block["flops_pct"]:+.2f} % |' in hosts
    assert f'| 1 | {stage["params_pct"]:+.2f} % | {stage["flops_pct"]:+.2f} % |' in hosts
    del record['dgr_overhead']['rows'][2]['flops_pct']
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r'run.json: dgr_overhead.rows\[2\].flops_pct'):
        tool.load_record(str(path))


def test_dgr_overhead_update_doc_rewrites_only_the_marked_tables(tmp_path):
    tool = _tool('dgr_overhead')
    rows = [dict(label='host', params=1000, flops=2_000_000, dgr_blocks=0)]
    for placement, params, flops in (('block', 1050, 2_060_000), ('stage', 1010, 2_010_000)):
        rows.append(dict(label=f'DGR defaults [backbone, placement={placement}]',
                         form='backbone', dgr={}, stages=None, placement=placement,
                         wrapper={}, dgr_blocks=4 if placement == 'block' else 2,
                         params=params, flops=flops, params_pct=100 * (params / 1000 - 1),
                         flops_pct=100 * (flops / 2e6 - 1)))
    record = dict(schema='s', command='c', git={}, versions={}, device={},
                  dgr_overhead=dict(host=dict(source='config', name='x/y.py'),
                                    shape=[8, 8], batch=1, form='backbone',
                                    placement=['block', 'stage'], rows=rows))
    (tmp_path / 'r.json').write_text(json.dumps(record))
    doc = tmp_path / 'README.md'
    doc.write_text('intro\n<!-- dgr_overhead:hosts records=r.json -->\nold\n'
                   '<!-- dgr_overhead:end -->\nmiddle\n'
                   '<!-- dgr_overhead:table records=r.json -->\n<!-- dgr_overhead:end -->\n')
    assert tool.update_doc(str(doc), root=str(tmp_path)) == 2
    text = doc.read_text()
    assert text.startswith('intro\n') and '\nmiddle\n' in text and 'old' not in text
    assert '| `y.py` | 1x3x8x8 | 1.000 k | 2.000 M | 4 | +5.00 % | +3.00 % | no | 2 | ' \
        '+1.00 % | +0.50 % | yes |' in text  # +5 % params is over the +3 % budget
    assert '| DGR defaults [backbone, placement=stage] | 2 | 1.010 k | +1.00 % | 2.010 M ' \
        '| +0.50 % | yes |' in text
    assert all(body == rendered for _, _, body, rendered in
               tool.doc_blocks(text, root=str(tmp_path)))
    assert tool.update_doc(str(doc), root=str(tmp_path)) == 0
    (tmp_path / 'r.json').unlink()
    with pytest.raises(FileNotFoundError, match='r.json'):
        tool.doc_blocks(text, root=str(tmp_path))


def test_dgr_overhead_latency_table_states_cpu_threads_load_and_the_targets(tmp_path):
    tool = _tool('dgr_overhead')
    host = [100.0, 110.0, 90.0]
    rows = [dict(label='host', params=None, flops=None, dgr_blocks=0, latency_ms=host)]
    for placement, ratios in (('block', [1.08, 1.12, 1.09]), ('stage', [1.06, 1.04, 1.07])):
        rows.append(dict(label=f'DGR defaults [backbone, placement={placement}]',
                         form='backbone', dgr={}, stages=None, placement=placement,
                         wrapper={}, dgr_blocks=8 if placement == 'block' else 4,
                         params=None, flops=None, params_pct=None, flops_pct=None,
                         latency_ms=[h * r for h, r in zip(host, ratios)],
                         latency_ratio=ratios))
    latency = dict(threads=2, warmup=3, repeats=3, forced=False,
                   load_start='load average at start: 0.42 0.50 0.61 (2 cores)',
                   load_end='load average at end: 0.97 0.70 0.66 (2 cores)')
    record = dict(schema='s', command='c', git={}, versions={}, device={},
                  dgr_overhead=dict(host=dict(source='config', name='x/y.py'), shape=[8, 8],
                                    batch=1, form='backbone', placement=['block', 'stage'],
                                    rows=rows, cpu='Some CPU', latency=latency))
    (tmp_path / 'r.json').write_text(json.dumps(record))
    with pytest.raises(ValueError, match='params/FLOPs'):
        tool.load_record(str(tmp_path / 'r.json'))  # a timed-only record has no complexity
    loaded = tool.load_record(str(tmp_path / 'r.json'), complexity=False)
    table = tool.render_latency(loaded, 'r.json')
    assert 'Some CPU, 2 threads; 3 paired interleaved rounds after 3 warm-up' in table
    assert ('load average 0.42 0.50 0.61 at start, 0.97 0.70 0.66 at end (its own 2 '
            'threads included)') in table
    assert '| host | 0 | 100.0 | — | — | — | — |' in table
    # medians of the paired ratios: +9 % (block, target 10 %), +6 % (stage, target 5 %)
    assert '| 8 | 108.0 | +9.0 % | +8.0 … +12.0 % | ≤ +10 % | yes |' in table
    assert '| 4 | 106.0 | +6.0 % | +4.0 … +7.0 % | ≤ +5 % | no |' in table
    doc = tmp_path / 'README.md'
    doc.write_text('<!-- dgr_overhead:latency records=r.json -->\n<!-- dgr_overhead:end -->\n')
    assert tool.update_doc(str(doc), root=str(tmp_path)) == 1
    assert table in doc.read_text()
    for broken in (dict(latency=None), dict(latency=dict(latency, forced=True))):
        bad = dict(record, dgr_overhead=dict(record['dgr_overhead'], **broken))
        with pytest.raises(ValueError, match='r.json: '):
            tool.render_latency(bad, 'r.json')


def test_dgr_overhead_inner_wraps_the_named_sub_backbone_only():
    tool = _tool('dgr_overhead')
    host = dict(type='EncoderDecoder', backbone=dict(
        type='CNNViTHybrid', cnn=dict(type='ResNet'), vit=dict(type='VisionTransformer')))
    cfg = tool._variant_cfg(host, True, 'backbone', {}, None, [768], 'block', inner='vit')
    assert cfg['backbone']['type'] == 'CNNViTHybrid' and cfg['backbone']['cnn'] == \
        dict(type='ResNet')
    assert cfg['backbone']['vit'] == dict(type='DGRBackbone', dgr={}, stages=None,
                                          placement='block',
                                          backbone=dict(type='VisionTransformer'))
    with pytest.raises(ValueError, match="--inner head.*CNNViTHybrid"):
        tool._variant_cfg(host, True, 'backbone', {}, None, [768], 'block', inner='head')
