"""The tree is clean under the project's style check, the counterpart of mmseg's pre-commit:
ruff with flake8's rules (ruff.toml) and isort with mmseg's settings (setup.cfg [isort]).
Fix with ``ruff check .`` (``--fix`` for the automatic ones) and ``isort .``."""
import os.path as osp
import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT


def _tool(name):
    exe = osp.join(osp.dirname(sys.executable), name)
    exe = exe if osp.isfile(exe) else shutil.which(name)
    assert exe, (f'{name} is not installed: it is pinned in requirements/tests.txt '
                 '(bash tools/setup_env.sh installs it)')
    return exe


def _ruff(*args, cwd=REPO_ROOT):
    return subprocess.run([_tool('ruff'), 'check', '--no-cache', *args], cwd=cwd,
                          capture_output=True, text=True)


def _isort(*args, cwd=REPO_ROOT):
    return subprocess.run([_tool('isort'), '--check-only', '--settings-path',
                           osp.join(REPO_ROOT, 'setup.cfg'), *args], cwd=cwd,
                          capture_output=True, text=True)


def test_ruff_reports_nothing_on_the_tree():
    proc = _ruff('--output-format', 'concise', '.')
    assert proc.returncode == 0, 'ruff found style problems:\n' + proc.stdout[-6000:] + \
        proc.stderr[-2000:]


def test_imports_are_in_isort_order():
    proc = _isort('.')
    assert proc.returncode == 0, 'imports out of order (run `isort .`):\n' + \
        proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_checks_are_live(tmp_path):
    """An unused import and a misordered import block are reported."""
    bad = tmp_path / 'bad.py'
    bad.write_text('import sys\nimport os\n\nprint(os.sep)\n')
    proc = _ruff('--config', osp.join(REPO_ROOT, 'ruff.toml'), str(bad), cwd=tmp_path)
    assert proc.returncode == 1 and 'F401' in proc.stdout
    proc = _isort(str(bad), cwd=tmp_path)
    assert proc.returncode == 1 and 'incorrectly sorted' in proc.stderr + proc.stdout
