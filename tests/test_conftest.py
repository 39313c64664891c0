"""The real-sample guard of tests/conftest.py: CI fails without the samples, checksums
are verified."""
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT, samples_problem


def _write_samples(folder, files):
    os.makedirs(folder, exist_ok=True)
    lines = []
    for rel, data in files.items():
        path = osp.join(folder, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
        lines.append(f'{hashlib.sha256(data).hexdigest()}  {rel}\n')
    with open(osp.join(folder, 'SHA256SUMS'), 'w') as f:
        f.writelines(lines)


def test_matching_samples_pass_and_a_changed_or_missing_file_is_named(tmp_path):
    folder = str(tmp_path / 'samples')
    _write_samples(folder, {'a/x.png': b'x', 'b.txt': b'y'})
    assert samples_problem(folder) is None
    with open(osp.join(folder, 'a', 'x.png'), 'wb') as f:
        f.write(b'changed')
    os.remove(osp.join(folder, 'b.txt'))
    problem = samples_problem(folder)
    assert '2 of the 2 files' in problem
    assert 'a/x.png (sha256' in problem and 'b.txt (missing)' in problem
    os.remove(osp.join(folder, 'SHA256SUMS'))
    assert samples_problem(folder) == f'{folder}/SHA256SUMS is missing'
    assert 'is missing' in samples_problem(str(tmp_path / 'absent'))


def test_ci_run_without_the_samples_fails_naming_the_folder(tmp_path):
    """A clone without ../shared beside it: CI=true fails at start-up, locally the sample
    tests skip."""
    clone = tmp_path / 'clone'
    (clone / 'tests').mkdir(parents=True)
    for name in ('conftest.py', '__init__.py'):
        shutil.copy(osp.join(REPO_ROOT, 'tests', name), clone / 'tests' / name)
    (clone / 'tests' / 'test_uses_samples.py').write_text(
        'def test_needs_samples(samples_dir):\n    assert samples_dir\n')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, HF_HUB_OFFLINE='1')

    def pytest_run(ci):
        env['CI'] = ci
        return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                               '-rs', 'tests'], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=300)

    missing = str(tmp_path / 'shared' / 'samples')
    ci = pytest_run('true')
    assert ci.returncode != 0
    assert f'CI=true: the real samples folder {missing} is missing' in ci.stdout + ci.stderr
    local = pytest_run('')
    assert local.returncode == 0, local.stdout[-2000:]
    assert '1 skipped' in local.stdout and missing in local.stdout
