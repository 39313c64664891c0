"""Shared code of the official-equivalence fixtures (``tests/fixtures/official/``).

Used by the tests in this folder and by each fixture's ``make_fixture.py``. Module-level
imports are the standard library, NumPy, PIL and torch only: ``make_fixture.py`` imports
this file under the official code's own environment too. The fixture format is
described in ``tests/fixtures/official/README.md``.

A fixture pins: the project network (config + ``cfg_options``) with every weight set by
:func:`fill_deterministic` from a seed, mapped to the official key layout by the
converter's inverse and loaded strictly into the official network, which was run on
:func:`nyu_input`; ``official_output.npy`` is what the official network returned.
"""
import hashlib
import importlib.util
import json
import math
import os.path as osp
import zlib
from typing import Callable, Dict, Tuple

import numpy as np
import torch
from PIL import Image

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FIXTURES = osp.join(REPO_ROOT, 'tests', 'fixtures', 'official')
CONVERTERS = osp.join(REPO_ROOT, 'tools', 'model_converters')
FORMAT_VERSION = 1
# The official data loaders normalise RGB in [0, 1] with the ImageNet statistics.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_converter(name: str):
    """Import ``tools/model_converters/<name>.py`` (the tools folder is no package)."""
    path = osp.join(CONVERTERS, f'{name}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'converter {path} does not exist')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_dir(host: str) -> str:
    return osp.join(FIXTURES, host)


def load_fixture(host: str) -> Tuple[dict, np.ndarray]:
    """``fixture.json`` and the stored official output of ``host``.

    Raises:
        FileNotFoundError: When either file is missing (the test must fail, not skip).
    """
    folder = fixture_dir(host)
    meta_path = osp.join(folder, 'fixture.json')
    if not osp.isfile(meta_path):
        raise FileNotFoundError(f'{meta_path} is missing; regenerate it with '
                                f'{osp.join(folder, "make_fixture.py")} (README there)')
    with open(meta_path) as f:
        meta = json.load(f)
    if meta.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{meta_path}: format_version {meta.get("format_version")}, '
                         f'expected {FORMAT_VERSION}')
    out_path = osp.join(folder, meta['output']['file'])
    if not osp.isfile(out_path):
        raise FileNotFoundError(f'{out_path} is missing (named by {meta_path})')
    return meta, np.load(out_path)


# --------------------------------------------------------------------------------------
# Input.
# --------------------------------------------------------------------------------------
def nyu_input(samples_dir: str, spec: dict) -> Tuple[torch.Tensor, str]:
    """The network input of a fixture: a real NYU RGB frame, box-downscaled, normalised.

    The frame is read as uint8 RGB, averaged over ``area_downscale``² blocks in float64
    (exact, no resampling library involved), scaled to [0, 1], normalised with
    ``mean``/``std`` and rounded once to float32.

    Args:
        samples_dir (str): ``../shared/samples``.
        spec (dict): ``fixture.json['input']``: ``file`` (relative to ``samples_dir``),
            ``area_downscale`` (int), ``mean``, ``std``.

    Returns:
        tuple[Tensor, str]: (1, 3, H, W) float32 input and the SHA-256 of the decoded
        uint8 frame (the fixture records it, so a different frame is reported as such).
    """
    path = osp.join(samples_dir, spec['file'])
    rgb = np.asarray(Image.open(path).convert('RGB'), dtype=np.uint8)
    digest = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
    k = int(spec['area_downscale'])
    h, w = rgb.shape[0] // k, rgb.shape[1] // k
    x = rgb[:h * k, :w * k].astype(np.float64).reshape(h, k, w, k, 3).mean(axis=(1, 3))
    x = (x / 255.0 - np.asarray(spec['mean'])) / np.asarray(spec['std'])
    x = torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32).copy())
    return x, digest


def input_spec(file: str = 'open3d_rgbd/NYU_color.ppm', area_downscale: int = 5) -> dict:
    """The ``input`` entry of ``fixture.json`` (defaults: the lossless NYU frame, /5)."""
    return dict(file=file, area_downscale=area_downscale, mean=list(IMAGENET_MEAN),
                std=list(IMAGENET_STD))


# --------------------------------------------------------------------------------------
# Weights.
# --------------------------------------------------------------------------------------
def _value(name: str, shape: torch.Size, seed: int) -> torch.Tensor:
    """Deterministic float64 values of one tensor, from (seed, its name) only."""
    gen = torch.Generator().manual_seed((seed << 32) + zlib.crc32(name.encode()))
    u = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1   # U(-1, 1)
    leaf = name.rsplit('.', 1)[-1]
    if leaf == 'running_var':
        return 1 + 0.5 * u                     # BN variance in [0.5, 1.5]
    if leaf == 'running_mean':
        return 0.2 * u
    if len(shape) <= 1:
        # Norm scales around 1; biases and norm shifts around 0 (never the 1 / 0 of a
        # default init, which would hide a swapped pair).
        return 1 + 0.5 * u if leaf == 'weight' else 0.2 * u
    fan_in = math.prod(shape[1:])
    return u * math.sqrt(3.0 / fan_in)         # unit-variance gain for any layer


@torch.no_grad()
def fill_deterministic(model: torch.nn.Module, seed: int) -> str:
    """Overwrite every floating-point parameter and buffer of ``model`` in place.

    Each tensor's values depend only on ``seed`` and its state-dict name (not on the
    construction order or the project's init code), so a refactor of ``__init__`` keeps
    the fixture valid while a renamed key is reported (its values change). Values: BN
    running var U(0.5, 1.5), running mean U(-0.2, 0.2), 1-d ``weight`` (norm scales)
    U(0.5, 1.5), other 1-d tensors U(-0.2, 0.2), every other tensor U(-a, a) with
    a = sqrt(3 / fan_in) (unit variance gain). Integer buffers are kept.

    Args:
        model (nn.Module): Network to fill.
        seed (int): Seed.

    Returns:
        str: SHA-256 over (name, float32 bytes) of the filled tensors in name order;
        ``fixture.json`` records it so that a different generator shows as such.
    """
    digest = hashlib.sha256()
    state = model.state_dict()
    for name in sorted(state):
        tensor = state[name]
        if not tensor.is_floating_point():
            continue
        tensor.copy_(_value(name, tensor.shape, seed))
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# The project network.
# --------------------------------------------------------------------------------------
def build_project_model(project: dict) -> torch.nn.Module:
    """Build ``fixture.json['project']``: ``config`` (repo-relative) + ``cfg_options``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmdepth_dgr  # noqa: F401
    init_default_scope('mmseg')
    path = osp.join(REPO_ROOT, project['config'])
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} (the fixture\'s project config) does not exist')
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(project.get('cfg_options', {}))
    return MODELS.build(cfg.model)


@torch.no_grad()
def project_depth(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The project network's raw depth output (no flip, no resize): what the official
    forward returns (``decode_head.forward(extract_feat(x))``)."""
    model.eval()
    return model.decode_head.forward(model.extract_feat(x))


_PLACEHOLDERS = {
    'int': lambda: 0,
    'optimizer': lambda: {'state': {}, 'param_groups': []},
    'tensor': lambda: torch.zeros(3),
    'numpy': lambda: np.zeros(9, dtype=np.int32),
}


def official_checkpoint(state_dict: Dict[str, torch.Tensor], layout: dict,
                        prefix: str = None) -> dict:
    """``state_dict`` (official keys) wrapped as an official train script saves it.

    Args:
        state_dict (dict[str, Tensor]): Official-layout weights, no prefix.
        layout (dict): ``fixture.json['official']['checkpoint']``: ``prefix`` (the
            DataParallel ``'module.'``) and ``extra``, the other top-level entries as
            ``{name: kind}`` with kind ``int`` / ``optimizer`` (an empty optimizer
            state dict) / ``tensor`` / ``numpy`` (an int32 array, as NeWCRFs'
            ``best_eval_steps``); their values are placeholders.
        prefix (str, optional): Overrides ``layout['prefix']``.

    Returns:
        dict: The checkpoint.
    """
    prefix = layout['prefix'] if prefix is None else prefix
    ckpt = {'model': {prefix + k: v for k, v in state_dict.items()}}
    for key, kind in layout['extra'].items():
        ckpt[key] = _PLACEHOLDERS[kind]()
    return ckpt


def max_abs_diff(a, b) -> float:
    a = torch.as_tensor(np.asarray(a), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(b), dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f'shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}')
    return float((a - b).abs().max())


def swapped(state_dict: Dict[str, torch.Tensor], key_a: str,
            key_b: str) -> Dict[str, torch.Tensor]:
    """A copy of ``state_dict`` with the values of two same-shape keys exchanged."""
    if state_dict[key_a].shape != state_dict[key_b].shape:
        raise ValueError(f'{key_a} {tuple(state_dict[key_a].shape)} and {key_b} '
                         f'{tuple(state_dict[key_b].shape)} differ in shape')
    out = dict(state_dict)
    out[key_a], out[key_b] = state_dict[key_b], state_dict[key_a]
    return out


def call_converter(meta: dict, direction: str) -> Callable:
    """``fixture.json['converter']``'s function: ``'to_official'`` or ``'from_official'``
    (the latter always returns a state dict)."""
    spec = meta['converter']
    module = load_converter(spec['module'])
    fn = getattr(module, spec[direction])
    if direction == 'from_official' and spec.get('returns_tuple'):
        return lambda sd: fn(sd)[0]
    return fn


# --------------------------------------------------------------------------------------
# Fixture generation (make_fixture.py); runs the official code in its own interpreter.
# --------------------------------------------------------------------------------------
def _versions() -> dict:
    import platform
    out = {'python': platform.python_version(), 'torch': torch.__version__,
           'numpy': np.__version__}
    for name in ('timm', 'mmcv', 'mmengine', 'mmseg'):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            pass
    return out


def _official_phase(host: dict, build_official: Callable, official_depth: Callable,
                    repo: str, work: str, encoder_repo: str = None) -> None:
    """Build the official network with its own constructor, load the checkpoint strictly
    as the official eval scripts do (through DataParallel when keys carry ``module.``),
    run it in float32 and float64."""
    import sys
    sys.path.insert(0, osp.join(repo, host['official']['package']))
    model = build_official(repo, host['official'], encoder_repo=encoder_repo)
    ckpt = torch.load(osp.join(work, 'official_checkpoint.pth'), map_location='cpu',
                      weights_only=False)
    net = (torch.nn.DataParallel(model)
           if host['official']['checkpoint']['prefix'] == 'module.' else model)
    net.load_state_dict(ckpt['model'], strict=True)
    model.eval()
    x = torch.from_numpy(np.load(osp.join(work, 'input.npy')))
    with torch.no_grad():
        y32 = official_depth(model(x))
        y64 = official_depth(model.double()(x.double()))
    np.save(osp.join(work, 'official_float32.npy'), y32.numpy())
    np.save(osp.join(work, 'official_float64.npy'), y64.numpy())
    with open(osp.join(work, 'official.json'), 'w') as f:
        json.dump({'num_parameters': sum(p.numel() for p in model.parameters()),
                   'num_state_keys': len(model.state_dict()),
                   'environment': _versions()}, f, indent=1)


def tolerance(official: np.ndarray, ulps: int) -> float:
    """``ulps`` float32 units in the last place of the largest |output| value."""
    return float(ulps * np.spacing(np.float32(np.abs(official).max())))


def generate(variants: Dict[str, Tuple[dict, Callable]], official_depth: Callable = None,
             argv=None) -> None:
    """The ``make_fixture.py`` command line (``--help``).

    Run under the project's Python: builds and fills the project network, writes the
    official-layout checkpoint and the input to ``--work-dir``, runs this script again
    under ``--official-python`` (``--phase official``) to get the official output, then
    compares and writes ``official_output.npy`` + ``fixture.json`` to ``--out``.

    Args:
        variants (dict): ``{name: (host, build_official)}``; the first one is the
            committed fixture, others (e.g. the official constructor's own sizes) are
            for checks in a scratch ``--out``.
        official_depth (callable, optional): Official forward output -> depth tensor.
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).
    """
    import argparse
    import datetime
    import shlex
    import subprocess
    import sys
    official_depth = official_depth or (lambda y: y)
    names = list(variants)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--variant', choices=names, default=names[0])
    host, build_official = variants[pre.parse_known_args(argv)[0].variant]
    parser = argparse.ArgumentParser(description=f'Regenerate the official {host["name"]} '
                                     'equivalence fixture (tests/fixtures/official/README.md).')
    parser.add_argument('--official-repo', required=True,
                        help=f'checkout of {host["official"]["repo"]}')
    parser.add_argument('--encoder-repo', default=None,
                        help='checkout of the encoder repository the official code loads '
                        'with torch.hub (AdaBins: rwightman/gen-efficientnet-pytorch)')
    parser.add_argument('--official-python', default=sys.executable,
                        help='Python of an environment where the official code runs')
    parser.add_argument('--work-dir', required=True, help='scratch folder')
    parser.add_argument('--samples', default=osp.join(osp.dirname(REPO_ROOT), 'shared',
                                                      'samples'))
    parser.add_argument('--variant', choices=names, default=names[0],
                        help=f'network sizes (default {names[0]}: the committed fixture)')
    parser.add_argument('--out', default=None,
                        help=f'output folder (default {fixture_dir(host["name"])}; '
                        'required for another --variant)')
    parser.add_argument('--phase', choices=('project', 'official'), default='project',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out is None:
        if args.variant != names[0]:
            raise SystemExit(f'--variant {args.variant} needs --out (the committed fixture '
                             f'is variant {names[0]})')
        args.out = fixture_dir(host['name'])
    work = osp.abspath(args.work_dir)
    if args.phase == 'official':
        _official_phase(host, build_official, official_depth, args.official_repo, work,
                        args.encoder_repo)
        return

    import os
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    to_official = call_converter(host, 'to_official')
    model = build_project_model(host['project'])
    weights_sha = fill_deterministic(model, host['seed'])
    x, frame_sha = nyu_input(args.samples, host['input'])
    y32 = project_depth(model, x)
    torch.save(official_checkpoint(to_official(model.state_dict()),
                                   host['official']['checkpoint']),
               osp.join(work, 'official_checkpoint.pth'))
    np.save(osp.join(work, 'input.npy'), x.numpy())
    y64 = project_depth(model.double(), x.double())
    n_params = sum(p.numel() for p in model.parameters())
    del model

    script = osp.abspath(sys.argv[0])
    cmd = [args.official_python, script, '--phase', 'official', '--official-repo',
           args.official_repo, '--work-dir', work, '--variant', args.variant]
    if args.encoder_repo:
        cmd += ['--encoder-repo', args.encoder_repo]
    subprocess.run(cmd, check=True)
    off32 = np.load(osp.join(work, 'official_float32.npy'))
    off64 = np.load(osp.join(work, 'official_float64.npy'))
    with open(osp.join(work, 'official.json')) as f:
        off_meta = json.load(f)
    err32, err64 = max_abs_diff(y32, off32), max_abs_diff(y64, off64)
    atol = tolerance(off32, host['tolerance_ulps'])
    if not err32 <= atol:
        raise SystemExit(f'float32 difference {err32:.3g} exceeds the tolerance {atol:.3g}')
    def git_head(path):
        return subprocess.run(['git', '-C', path, 'rev-parse', 'HEAD'], capture_output=True,
                              text=True, check=True).stdout.strip()

    commit = git_head(args.official_repo)
    project_commit = subprocess.run(['git', '-C', REPO_ROOT, 'rev-parse', 'HEAD'],
                                    capture_output=True, text=True).stdout.strip()
    np.save(osp.join(args.out, 'official_output.npy'), off32.astype(np.float32))
    official = dict(host['official'], commit=commit, **off_meta)
    if args.encoder_repo:
        official['encoder'] = dict(official['encoder'], commit=git_head(args.encoder_repo))
    meta = {
        'format_version': FORMAT_VERSION,
        'host': host['name'],
        'variant': args.variant,
        'official': official,
        'project': dict(host['project'], num_parameters=n_params),
        'converter': host['converter'],
        'seed': host['seed'],
        'weights_sha256': weights_sha,
        'input': dict(host['input'], frame_sha256=frame_sha, shape=list(x.shape)),
        'output': {'file': 'official_output.npy', 'shape': list(off32.shape),
                   'dtype': 'float32', 'min': float(off32.min()), 'max': float(off32.max()),
                   'std': float(off32.std())},
        'tolerance': {'atol': atol, 'ulps': host['tolerance_ulps'],
                      'rule': 'max |project - official| <= ulps float32 spacings of '
                              'max |official|'},
        'measured': {'float32_max_abs_diff': err32, 'float64_max_abs_diff': err64},
        'generated': {'command': shlex.join([os.path.relpath(script, REPO_ROOT)] +
                                            (argv or sys.argv[1:])),
                      'date': datetime.date.today().isoformat(),
                      'project_commit': project_commit,
                      'project_environment': _versions()},
    }
    with open(osp.join(args.out, 'fixture.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f'{host["name"]}: float32 max |diff| {err32:.3g} (atol {atol:.3g}), float64 '
          f'{err64:.3g}; output {off32.shape} in [{off32.min():.4g}, {off32.max():.4g}]; '
          f'project {n_params} / official {off_meta["num_parameters"]} parameters')


# --------------------------------------------------------------------------------------
# The checks the test files run (one module-scoped case per host).
# --------------------------------------------------------------------------------------
class Case:
    """A host's fixture with the project network rebuilt and filled from its seed."""

    def __init__(self, host: str):
        self.meta, self.official = load_fixture(host)
        self.atol = float(self.meta['tolerance']['atol'])
        self.model = build_project_model(self.meta['project']).eval()
        self.weights_sha256 = fill_deterministic(self.model, self.meta['seed'])
        self.state = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.to_official = call_converter(self.meta, 'to_official')
        self.from_official = call_converter(self.meta, 'from_official')

    def input(self, samples_dir: str) -> torch.Tensor:
        x, frame_sha = nyu_input(samples_dir, self.meta['input'])
        assert frame_sha == self.meta['input']['frame_sha256'], (
            f'{self.meta["input"]["file"]} decodes to other pixels than when the fixture '
            'was made')
        return x

    def error(self, x: torch.Tensor, state_dict: Dict[str, torch.Tensor] = None) -> float:
        """max |project - official| with ``state_dict`` loaded (default: the filled one)."""
        self.model.load_state_dict(self.state if state_dict is None else state_dict,
                                   strict=True)
        try:
            return max_abs_diff(project_depth(self.model, x), self.official)
        finally:
            self.model.load_state_dict(self.state, strict=True)

    def official_state(self) -> Dict[str, torch.Tensor]:
        """The filled weights in the official layout (no ``module.``)."""
        return self.to_official(self.state)
