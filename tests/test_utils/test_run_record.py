"""Run records (mmdepth_dgr/utils/run_record.py) and the exact pins in requirements/."""
import ast
import glob
import importlib.metadata as metadata
import json
import os
import os.path as osp
import re
import shlex
import sys

import pytest

from mmdepth_dgr.utils import run_record as rr
from tests.conftest import REPO_ROOT

TINY = dict(kind='nyu', num_train=2, num_test=1, height=24, width=32, progress=False,
            num_workers=1)


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('rr') / 'data')
    generate_dataset(root, seed=0, **TINY)
    return root


def test_record_has_commit_data_fingerprint_versions_device_and_a_quoted_command(tiny_data):
    record = rr.make_run_record(command=['python', 'tools/x.py', '--name', 'a b'],
                                data_root=tiny_data, extra=dict(results=dict(d1=0.5)))
    assert record['command'] == "python tools/x.py --name 'a b'"
    assert shlex.split(record['command'])[-1] == 'a b'
    assert re.fullmatch(r'[0-9a-f]{40}', record['git']['commit'])
    assert isinstance(record['git']['dirty'], bool)
    assert (record['git']['diff_sha256'] is None) == (not record['git']['dirty'])
    man = json.load(open(osp.join(tiny_data, 'synthetic_manifest.json')))
    assert record['data']['content_sha256'] == man['content_sha256']
    assert record['data']['generator_version'] == man['generator_version']
    assert record['data']['verified'] is True and record['data_root'] == tiny_data
    for key in ('python', 'mmdepth_dgr', *rr.LIBRARIES):
        assert record['versions'][key], key
    assert record['versions']['numpy'] == metadata.version('numpy')
    dev = record['device']
    assert dev['type'] in ('cpu', 'cuda') and dev['torch_threads'] >= 1
    assert dev['cpu_count'] >= 1 and dev['cpu_model']
    assert len(record['load_average']) == 3
    assert record['results'] == dict(d1=0.5)
    assert json.loads(json.dumps(record)) == record  # JSON-able as is


def test_default_command_is_argv_quoted_with_the_script_relative_to_the_repo(monkeypatch):
    script = osp.join(REPO_ROOT, 'tools', 'quickstart.py')
    monkeypatch.setattr(sys, 'argv', [script, '--work-dir', 'my dir', '--x=1'])
    assert rr.make_run_record()['command'] == "python tools/quickstart.py --work-dir 'my dir' --x=1"


def test_extra_may_not_replace_a_provenance_field():
    with pytest.raises(ValueError, match="'git'"):
        rr.make_run_record(command='c', extra=dict(git='mine'))


def test_non_generated_data_has_no_fingerprint(tmp_path):
    assert rr.data_fingerprint(str(tmp_path)) is None
    assert rr.data_fingerprint(str(tmp_path / 'absent')) is None
    assert rr.data_fingerprint(None) is None


def test_record_differences_name_code_data_and_version_fields_only(tiny_data):
    a = rr.make_run_record(command='a', data_root=tiny_data)
    b = json.loads(json.dumps(a))
    b['versions']['numpy'] = '0.0.1'
    b['data']['content_sha256'] = 'f' * 64
    b['device']['name'] = 'another machine'  # devices may differ
    b['command'] = 'b'
    diffs = rr.record_differences(a, b)
    assert [d.split(':')[0] for d in diffs] == ['data.content_sha256', 'versions.numpy']
    assert "'0.0.1'" in diffs[1]
    assert rr.record_differences(a, a) == []
    assert rr.record_differences(None, None) == []
    assert rr.record_differences(a, None) == ['record: present vs absent']


def test_summary_names_commit_data_and_device(tiny_data):
    record = rr.make_run_record(command='c', data_root=tiny_data)
    text = rr.summarize_record(record)
    assert record['git']['commit'][:12] in text
    assert record['data']['content_sha256'][:12] in text
    assert f'{record["device"]["torch_threads"]} torch threads' in text
    assert rr.summarize_record(None) == 'not recorded'


# ------------------------------------------------------------------------------- pins
def _requirement_lines(name):
    with open(osp.join(REPO_ROOT, 'requirements', name), encoding='utf-8') as f:
        return [ln.split('#', 1)[0].strip() for ln in f if ln.split('#', 1)[0].strip()]


@pytest.mark.parametrize('name', ['runtime.txt', 'tests.txt', 'optional.txt'])
def test_every_requirement_is_pinned_to_an_exact_version(name):
    loose = [ln for ln in _requirement_lines(name) if not re.fullmatch(r'[A-Za-z0-9._-]+==\S+', ln)]
    assert not loose, f'requirements/{name}: not pinned with ==: {loose}'


def test_installed_versions_equal_the_pins():
    bad = rr.pin_mismatches()
    assert bad is not None, 'requirements/ not found'
    assert not bad, 'installed versions differ from requirements/: ' + '; '.join(
        f'{n} pinned {p}, installed {i}' for n, p, i in bad)


def test_pin_check_names_the_distribution_that_differs(monkeypatch):
    pins = dict(rr.read_pins(), numpy='0.0.1', **{'not-installed-pkg': '1.0'})
    monkeypatch.setattr(rr, 'read_pins', lambda files=(): pins if 'runtime.txt' in files
                        else {})
    bad = {n: (p, i) for n, p, i in rr.pin_mismatches()}
    assert bad == {'numpy': ('0.0.1', metadata.version('numpy')),
                   'not-installed-pkg': ('1.0', None)}


def _imported_top_levels(patterns):
    names = set()
    for pattern in patterns:
        for path in glob.glob(osp.join(REPO_ROOT, pattern), recursive=True):
            tree = ast.parse(open(path, encoding='utf-8').read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names |= {a.name.split('.')[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split('.')[0])
    return names


@pytest.mark.parametrize('patterns,files', [
    (('mmdepth_dgr/**/*.py', 'tools/**/*.py', 'demo/**/*.py'), ('runtime.txt',)),
    (('tests/**/*.py',), ('runtime.txt', 'tests.txt'))])
def test_every_imported_distribution_is_pinned(patterns, files):
    """Each third-party module the code imports comes from a distribution in the pins
    (so the pin list cannot silently miss a direct dependency)."""
    provided = metadata.packages_distributions()
    pinned = set(rr.read_pins(files))
    optional = set(rr.read_pins(('optional.txt',)))
    missing = {}
    for name in sorted(_imported_top_levels(patterns)):
        if name in sys.stdlib_module_names or name not in provided:
            continue  # stdlib, the project itself, tools' local modules, absent extras
        dists = {rr._canonical(d) for d in provided[name]}
        if name == 'mmdepth_dgr' or dists & (pinned | optional):
            continue
        missing[name] = sorted(dists)
    assert not missing, f'imported but not pinned in {files}: {missing}'


def test_setup_env_installs_exactly_the_pinned_files():
    text = open(osp.join(REPO_ROOT, 'tools', 'setup_env.sh'), encoding='utf-8').read()
    listed = re.search(r'REQS=\(([^)]*)\)', text).group(1).split()
    assert listed == ['requirements/runtime.txt', 'requirements/tests.txt']
    assert 'pin_mismatches' in text  # the installation ends with the pin check
    assert sorted(os.listdir(osp.join(REPO_ROOT, 'requirements'))) == [
        'optional.txt', 'runtime.txt', 'tests.txt']


def test_record_doc_blocks_render_named_blocks_and_name_what_is_missing(tmp_path):
    import json

    from mmdepth_dgr.utils.run_record import (commit_label, load_tool_record, record_doc_blocks,
                                              update_record_doc)
    rec = dict(command='c', git=dict(commit='abcdef123', dirty=True), versions={},
               device={}, tool_x=dict(a=1))
    (tmp_path / 'r.json').write_text(json.dumps(rec))
    assert load_tool_record(str(tmp_path / 'r.json'), 'tool_x', 'x.py', ('a', )) == rec
    assert commit_label(rec) == 'abcdef1 (dirty tree)'
    with pytest.raises(ValueError, match=r'r.json: tool_x.b is missing'):
        load_tool_record(str(tmp_path / 'r.json'), 'tool_x', 'x.py', ('a', 'b'))
    with pytest.raises(ValueError, match=r"r.json: run record field 'tool_y' .*x.py"):
        load_tool_record(str(tmp_path / 'r.json'), 'tool_y', 'x.py')
    doc = tmp_path / 'd.md'
    doc.write_text('<!-- tool_x records=r.json -->\nold\n<!-- tool_x:end -->\n'
                   '<!-- other records=r.json -->\nkept\n<!-- other:end -->\n')
    assert update_record_doc(str(doc), 'tool_x', lambda p: f'new {p}\n') == 1
    text = doc.read_text()
    assert 'new r.json\n<!-- tool_x:end -->' in text and '\nkept\n' in text
    assert record_doc_blocks(text, 'tool_x', lambda p: 'x') == [('r.json', 'new r.json\n',
                                                                 'x')]
    with pytest.raises(ValueError, match='d.md: no "<!-- nope records=PATH -->"'):
        update_record_doc(str(doc), 'nope', lambda p: '')
