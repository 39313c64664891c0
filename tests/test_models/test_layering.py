"""The model layer imports nothing above it: no ``mmdepth_dgr.apis``, ``mmdepth_dgr.probe`` or
``tools`` import anywhere under ``mmdepth_dgr/models`` (the sparse-pixel study, which loads
configs and checkpoints, lives in ``mmdepth_dgr/probe`` and is handed built models)."""
import ast
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS_DIR = osp.join(REPO, 'mmdepth_dgr', 'models')
UPPER = ('mmdepth_dgr.apis', 'mmdepth_dgr.probe', 'tools')


def imported_modules(source: str, package: str):
    """Absolute names of every module ``source`` (a file of ``package``) imports."""
    parts = package.split('.')
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the file's package
                base = parts[:len(parts) - node.level + 1]
                yield '.'.join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def _upper_imports(source: str, package: str):
    return [n for n in imported_modules(source, package)
            if any(n == u or n.startswith(u + '.') for u in UPPER)]


def test_model_layer_never_imports_apis_probe_or_tools():
    files = [osp.join(d, f) for d, _, fs in os.walk(MODELS_DIR) for f in fs
             if f.endswith('.py')]
    assert len(files) > 20  # the walk found the package
    bad = []
    for path in files:
        package = osp.relpath(osp.dirname(path), REPO).replace(os.sep, '.')
        with open(path, encoding='utf-8') as f:
            bad += [(osp.relpath(path, REPO), n) for n in _upper_imports(f.read(), package)]
    assert not bad, f'model-layer files import upper layers: {bad}'


def test_the_check_catches_absolute_relative_and_lazy_upper_imports():
    pkg = 'mmdepth_dgr.models.estimators'
    assert _upper_imports('from ...apis import init_model\n', pkg) == ['mmdepth_dgr.apis']
    assert _upper_imports('import mmdepth_dgr.probe.study\n', pkg) == [
        'mmdepth_dgr.probe.study']
    lazy = 'def f():\n    from mmdepth_dgr.apis import init_model\n'
    assert _upper_imports(lazy, pkg) == ['mmdepth_dgr.apis']
    assert _upper_imports('from ..losses import SILogDepthLoss\n', pkg) == []
