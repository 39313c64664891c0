"""tools/quickstart.py: the quickstart path end to end (2 iterations, tiny data) and the
README table made from the committed record."""
import importlib.util
import json
import os.path as osp
import re
import shlex
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'quickstart.py')
RECORD = osp.join(REPO_ROOT, 'docs', 'data', 'quickstart_cpu.json')
BEGIN, END = '<!-- quickstart:begin -->', '<!-- quickstart:end -->'


def _load_tool():
    tools = osp.join(REPO_ROOT, 'tools')
    if tools not in sys.path:
        sys.path.insert(0, tools)  # for `from _launch import ...`, as when run as a script
    spec = importlib.util.spec_from_file_location('quickstart_tool', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('quickstart')
    argv = ['--max-iters', '2', '--num-train', '8', '--num-test', '2', '--height', '64',
            '--width', '96', '--data-root', str(tmp / 'data'), '--work-dir',
            str(tmp / 'work'), '--record', str(tmp / 'record.json')]
    tool = _load_tool()
    threads = torch.get_num_threads()
    record = tool.main(argv)
    torch.set_num_threads(threads)  # quickstart pins 1 thread; the other tests keep theirs
    return tool, argv, record, tmp


def test_two_iterations_through_the_quickstart_write_a_full_record(quick_run, capsys):
    tool, argv, record, tmp = quick_run
    assert shlex.split(record['command']) == ['python', 'tools/quickstart.py', *argv]
    assert re.fullmatch(r'[0-9a-f]{40}', record['git']['commit'])
    assert isinstance(record['git']['dirty'], bool)
    man = json.load(open(tmp / 'data' / 'synthetic_manifest.json'))
    assert record['data']['content_sha256'] == man['content_sha256']
    assert record['data']['verified'] is True
    for key in ('torch', 'mmengine', 'mmcv', 'mmsegmentation', 'timm', 'pot', 'numpy',
                'opencv', 'scipy'):
        assert record['versions'][key], key
    assert record['device']['torch_threads'] >= 1 and record['device']['cpu_model']
    assert record['max_iters'] == 2 and record['seed'] == 0
    assert record['threads'] == record['device']['torch_threads'] == 1
    assert record['dataset'] == dict(num_train=8, num_test=2, height=64, width=96,
                                     status='generated')
    for which in ('model', 'constant_median'):
        metrics = record['results'][which]
        assert metrics['num_images'] == 2 and 0 <= metrics['d1'] <= 1
    assert [r['name'] for r in record['rows']] == [
        'MiT-B0 + regression head, 2 iterations',
        f'constant median ({record["median_m"]:.2f} m)']
    assert set(record['timing_s']) == {'generate', 'train', 'test', 'total'}
    # the same record in the work dir and at --record
    assert json.load(open(tmp / 'record.json')) == json.load(
        open(tmp / 'work' / 'quickstart_record.json'))


def test_quickstart_prints_the_comparison_table_once_and_no_config_dump(quick_run, capfd):
    tool, argv, record, tmp = quick_run
    # a second call: the data is reused (fingerprint matches), the table printed once
    threads = torch.get_num_threads()
    record2 = tool.main(argv)
    torch.set_num_threads(threads)
    out = capfd.readouterr().out
    assert record2['dataset']['status'] == 'already there, unchanged'
    assert out.count('| model |') == 1 and tool.results_table(record2) in out
    for phase in ('1/3 data', '2/3 train', '3/3 evaluate'):
        assert f'[quickstart] {phase}' in out
    assert 'train: 2/2 (100%)' in out and 'test: 2/2 (100%)' in out
    assert 'Config:' not in out and 'Hooks will be executed' not in out
    assert 'metrics:' not in out  # the progress hook leaves the results to the table
    assert record2['results'] == record['results']  # CPU runs are deterministic


def test_results_table_bolds_the_better_standard_metric():
    tool = _load_tool()
    good = dict(d1=0.6, abs_rel=0.2, rmse=0.5, rmse_log=0.2, silog=20.0, dbe_acc=3.0,
                dbe_comp=12.0, grad_err=0.01)
    bad = dict(d1=0.4, abs_rel=0.5, rmse=1.0, rmse_log=0.4, silog=30.0, dbe_acc=10.0,
               dbe_comp=10.0, grad_err=0.004)
    text = tool.results_table(dict(rows=[dict(name='m', metrics=good),
                                         dict(name='c', metrics=bad)]))
    lines = text.splitlines()
    assert lines[2] == ('| m | **0.600** | **0.200** | **0.500** | **0.200** | **20.00** | '
                        '3.00 | 12.00 | 0.010 |')
    assert lines[3] == '| c | 0.400 | 0.500 | 1.000 | 0.400 | 30.00 | 10.00 | 10.00 | 0.004 |'


def test_readme_quickstart_table_is_what_the_committed_record_makes():
    """The README's numbers come from docs/data/quickstart_cpu.json (made by the command
    it records, on data of the current generator version, from a clean commit)."""
    from mmdepth_dgr.datasets.synthetic import GENERATOR_VERSION
    tool = _load_tool()
    record = json.load(open(RECORD, encoding='utf-8'))
    readme = open(osp.join(REPO_ROOT, 'README.md'), encoding='utf-8').read()
    section = readme.split('### Quickstart result', 1)[1].split('\n#', 1)[0]
    assert BEGIN in section and END in section, 'README quickstart table markers missing'
    table = section.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == tool.results_table(record)
    assert f'`{record["command"]}`' in section  # the README states the command
    assert record['data']['generator_version'] == GENERATOR_VERSION
    assert record['data']['verified'] is True and record['git']['dirty'] is False
    assert record['dataset']['status'] in ('generated', 'already there, unchanged') or \
        record['dataset']['status'].startswith('regenerated')
    assert shlex.split(record['command'])[:2] == ['python', 'tools/quickstart.py']
    # the default quickstart: default data and schedule
    defaults = tool.parse_args([])
    assert record['dataset']['num_train'] == defaults.num_train
    assert record['dataset']['num_test'] == defaults.num_test
    assert record['config'] == defaults.config and record['max_iters'] == 600
    assert record['threads'] == defaults.threads == record['device']['torch_threads']
    assert tool.main(['--from-record', RECORD]) == record
