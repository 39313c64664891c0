"""Checkpoint loading: hash-verified downloads, mmengine checkpoints under torch>=2.6,
errors that name the file, and strict loading through ``model.load_state_dict``.

Nothing here changes global state at import time. The two extensions of mmengine's
loading are installed for the duration of a ``with`` block by :func:`checkpoint_loading`
(the tools, :func:`mmdepth_dgr.apis.init_model` and
:class:`mmdepth_dgr.engine.DepthRunner` enter it; scripts that drive a plain mmengine
``Runner`` wrap ``runner.train()`` / ``runner.test()`` in it), or for good by
:func:`register_checkpoint_loaders`:

1. **Hash check.** mmengine's ``load_from_http`` calls torch.hub's ``load_url`` with
   ``check_hash=False``, so a truncated or wrong file is loaded silently. Inside the
   block the http(s) scheme of ``mmengine.runner.CheckpointLoader`` is
   :func:`load_from_http_verified`: when the file name follows the torch.hub naming
   convention ``<name>-<sha256 prefix>.<ext>`` (this project publishes
   ``<config>_YYYYMMDD-<first 8 hex chars of sha256>.pth``), the SHA-256 of the
   downloaded file -- and of a cached copy, which torch.hub never re-checks -- must
   start with that prefix, else :class:`CheckpointHashError` names the URL, the file
   and both hashes and the bad file is not kept in the cache. This also covers
   ``init_cfg=dict(type='Pretrained', checkpoint=URL)`` inside a Runner run.
2. **``weights_only``.** torch >= 2.6 loads with ``weights_only=True`` by default, and a
   Runner checkpoint holds more than tensors: the message hub's ``HistoryBuffer``
   objects (which pickle their statistics methods through ``getattr``) and numpy
   arrays/scalars/dtypes. Loading one fails with ``UnpicklingError``. Instead of
   falling back to an unrestricted ``weights_only=False`` we allow-list exactly those
   types (:func:`mmengine_checkpoint_safe_globals`), with a ``getattr`` that only
   resolves ``HistoryBuffer``'s statistics methods; anything else in a pickle is still
   refused by torch. mmengine's http loader used ``weights_only=False``; the verified
   loader uses ``weights_only=True`` with the same allow-list.

Reading (:func:`read_checkpoint`) turns every failure into a
:class:`CheckpointLoadError` that names the file and says what is wrong with it: missing,
empty, truncated, not a PyTorch checkpoint (with what it looks like instead), pickled
objects outside the allow-list, no state dict inside, or an HTTP error with its status.
Loading into a model (:func:`load_state_dict_checked`, :func:`load_checkpoint`) goes
through ``model.load_state_dict`` so that the modules' own state-dict hooks run (e.g. a
``-dgr`` model accepting its baseline's checkpoint); a mismatch is a
:class:`CheckpointMismatchError` with the counts of missing, unexpected and
shape-mismatched keys and the first few names of each, or (``strict=False``) a warning
with the same content.

Cache: ``<torch hub dir>/checkpoints`` (``$TORCH_HOME/hub/checkpoints``), as torch.hub.
"""
import contextlib
import hashlib
import os
import os.path as osp
import re
import sys
import tempfile
import threading
import urllib.error
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union
from urllib.parse import urlparse

import numpy as np
import torch

__all__ = [
    'CheckpointHashError', 'CheckpointLoadError', 'CheckpointMismatchError',
    'hash_prefix_from_filename', 'sha256_file', 'verify_file_hash',
    'download_checkpoint', 'load_from_http_verified', 'mmengine_checkpoint_safe_globals',
    'allow_mmengine_checkpoint_globals', 'register_checkpoint_loaders',
    'checkpoint_loading', 'read_checkpoint', 'extract_state_dict', 'LoadReport',
    'load_state_dict_checked', 'load_checkpoint'
]

#: ``<name>-<hex>.<ext>``: 8 to 64 lowercase hex characters right before the extension
#: (torch.hub's ``HASH_REGEX`` accepts any length, even one character, which would
#: mistake e.g. ``model-1.5.pth`` for a hash; 8 is the torch.hub convention).
HASH_SUFFIX_RE = re.compile(r'-([0-9a-f]{8,64})\.[A-Za-z0-9]+$')

_HISTORY_BUFFER_STATS = ('min', 'max', 'mean', 'current')

#: How many key names an error message lists per category.
MAX_KEYS_SHOWN = 5


class CheckpointHashError(RuntimeError):
    """A checkpoint's SHA-256 does not start with the prefix its file name declares."""


class CheckpointLoadError(RuntimeError):
    """A checkpoint cannot be read; the message names the file and what is wrong."""


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model (missing / unexpected / shapes)."""


def hash_prefix_from_filename(filename: str) -> Optional[str]:
    """The SHA-256 prefix declared by a checkpoint file name, if any.

    Args:
        filename (str): File name, path or URL (only the base name is read).

    Returns:
        str | None: The lowercase hex prefix (8-64 chars), or None when the name does
        not follow ``<name>-<sha256 prefix>.<ext>``.
    """
    base = osp.basename(urlparse(filename).path) if '://' in filename \
        else osp.basename(filename)
    m = HASH_SUFFIX_RE.search(base)
    return m.group(1) if m else None


def sha256_file(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file.

    Args:
        path (str): File path.
        chunk_size (int): Read size in bytes. Defaults to 1 MiB.

    Returns:
        str: 64 lowercase hex characters.
    """
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk_size), b''):
            h.update(block)
    return h.hexdigest()


def verify_file_hash(path: str, expected_prefix: str, source: Optional[str] = None) -> str:
    """Check that ``sha256(path)`` starts with ``expected_prefix``.

    Args:
        path (str): File to hash.
        expected_prefix (str): Expected leading hex characters of the SHA-256.
        source (str, optional): Where the file came from (URL), for the message.

    Returns:
        str: The full hex digest.

    Raises:
        CheckpointHashError: On mismatch; the message names the file (and source),
            the expected prefix and the actual digest.
    """
    digest = sha256_file(path)
    if not digest.startswith(expected_prefix.lower()):
        origin = f' downloaded from {source}' if source else ''
        raise CheckpointHashError(
            f'checkpoint {osp.basename(path)}{origin} failed the SHA-256 check: its '
            f'name declares a hash starting with "{expected_prefix}" but the file '
            f'hashes to "{digest}" (actual prefix "{digest[:len(expected_prefix)]}"). '
            'The download is corrupt or the file was renamed; it was not loaded.')
    return digest


def download_checkpoint(url: str, model_dir: Optional[str] = None,
                        progress: bool = False, check_hash: bool = True) -> str:
    """Download ``url`` into the torch.hub cache (once) and verify its hash.

    The file goes to a temporary name, is verified, then moved into place, so a bad
    download never becomes a cache entry. A cached file is re-verified on every call
    (torch.hub trusts it blindly); a cached file that fails is removed.

    Args:
        url (str): http(s) URL of the file.
        model_dir (str, optional): Cache folder. Defaults to
            ``<torch.hub.get_dir()>/checkpoints``.
        progress (bool): Show a download progress bar. Defaults to False.
        check_hash (bool): Verify the ``-<sha256 prefix>`` of the file name when it
            has one. Defaults to True.

    Returns:
        str: Local path of the verified file.

    Raises:
        CheckpointLoadError: The download failed (HTTP status or network error named).
        CheckpointHashError: The file does not match the hash its name declares.
    """
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    filename = osp.basename(urlparse(url).path)
    if not filename:
        raise ValueError(f'cannot take a file name from checkpoint URL {url!r}')
    cached = osp.join(model_dir, filename)
    prefix = hash_prefix_from_filename(filename) if check_hash else None
    if osp.exists(cached):
        if prefix is not None:
            try:
                verify_file_hash(cached, prefix, source=f'{url} (cached)')
            except CheckpointHashError:
                os.remove(cached)
                raise
        return cached
    sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
    fd, tmp = tempfile.mkstemp(prefix=filename + '.', suffix='.partial', dir=model_dir)
    os.close(fd)
    try:
        try:
            torch.hub.download_url_to_file(url, tmp, hash_prefix=None, progress=progress)
        except urllib.error.HTTPError as e:
            raise CheckpointLoadError(
                f'cannot download checkpoint {url}: the server answered HTTP {e.code} '
                f'{e.reason} (check the URL; nothing was cached)') from None
        except urllib.error.URLError as e:
            raise CheckpointLoadError(
                f'cannot download checkpoint {url}: {e.reason} (no network, or a '
                'wrong host name?)') from None
        if prefix is not None:
            verify_file_hash(tmp, prefix, source=url)
        os.replace(tmp, cached)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return cached


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    A Runner checkpoint pickles ``HistoryBuffer._statistics_methods`` as
    ``getattr(HistoryBuffer, 'mean')`` etc.; a free ``getattr`` would let a pickle
    reach arbitrary attributes, so only those names on that class are resolved.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = set(_HISTORY_BUFFER_STATS) | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed and not name.startswith('_'):
        return getattr(obj, name)
    raise RuntimeError(f'checkpoint unpickling refused getattr({obj!r}, {name!r}): '
                       'only HistoryBuffer statistics methods are allowed')


def mmengine_checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals (beyond torch's defaults) a Runner checkpoint needs.

    Returns:
        list: Items for ``torch.serialization.add_safe_globals``: mmengine's
        ``HistoryBuffer``, numpy's array/scalar reconstruction and dtype classes, and
        the restricted ``getattr`` registered under ``builtins.getattr``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    np_core = getattr(np, '_core', None) or np.core  # numpy 2 / numpy 1
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')] \
        if hasattr(np, 'dtypes') else []
    return [HistoryBuffer, np.ndarray, np.dtype, np_core.multiarray.scalar,
            np_core.multiarray._reconstruct, (_history_buffer_getattr, 'builtins.getattr')
            ] + dtypes


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list :func:`mmengine_checkpoint_safe_globals` for ``torch.load``, for good.

    A process-wide change; prefer the scoped :func:`checkpoint_loading`. No-op on
    torch versions without ``torch.serialization.add_safe_globals``.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_checkpoint_safe_globals())


def load_from_http_verified(filename: str, map_location=None,
                            model_dir: Optional[str] = None,
                            progress: bool = os.isatty(0)) -> dict:
    """mmengine ``CheckpointLoader`` scheme for http(s) with the SHA-256 check.

    Same signature and distributed behaviour as mmengine's ``load_from_http`` (local
    rank 0 downloads first, the others read the cache after a barrier).

    Args:
        filename (str): The URL.
        map_location (str, optional): As ``torch.load``.
        model_dir (str, optional): Cache folder; see :func:`download_checkpoint`.
        progress (bool): Progress bar. Defaults to ``os.isatty(0)``.

    Returns:
        dict: The loaded checkpoint.
    """
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    path = None
    if rank == 0:
        path = download_checkpoint(filename, model_dir=model_dir, progress=progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = download_checkpoint(filename, model_dir=model_dir, progress=False)
    with checkpoint_loading():
        return _torch_load(path, map_location, source=filename)


def register_checkpoint_loaders() -> None:
    """Install the allow-list and the verified http(s) scheme for good (idempotent).

    A process-wide change (mmengine's http(s) loader is replaced, torch's safe globals
    widened); the package never calls it. Prefer :func:`checkpoint_loading`.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    allow_mmengine_checkpoint_globals()
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'),
                                     loader=load_from_http_verified, force=True)


_scope_lock = threading.RLock()
_scope_depth = 0
_scope_saved: Dict[str, Any] = {}


@contextlib.contextmanager
def checkpoint_loading() -> Iterator[None]:
    """Scope in which checkpoints load the mmdepth_dgr way; restored on exit.

    Inside the block mmengine's ``CheckpointLoader`` serves http(s) with
    :func:`load_from_http_verified` (hash check) and ``torch.load`` accepts the types of
    :func:`mmengine_checkpoint_safe_globals` under ``weights_only=True``. On exit the
    previous http(s) loaders and exactly the safe globals that were not allowed before
    are restored / removed. Re-entrant and nestable (only the outermost block installs
    and restores).

    Example::

        with checkpoint_loading():
            runner.train()   # load_from=URL, resume, init_cfg Pretrained URLs
    """
    global _scope_depth
    from mmengine.runner.checkpoint import CheckpointLoader
    with _scope_lock:
        if _scope_depth == 0:
            _scope_saved['schemes'] = CheckpointLoader._schemes.copy()
            stack = contextlib.ExitStack()
            scoped = getattr(torch.serialization, 'safe_globals', None)
            if scoped is not None:
                # Only the globals not allowed already, so that exiting removes exactly
                # what this block added (safe_globals' exit removes its whole list).
                present = set(torch.serialization.get_safe_globals())
                stack.enter_context(scoped(
                    [g for g in mmengine_checkpoint_safe_globals() if g not in present]))
            _scope_saved['globals'] = stack
            CheckpointLoader.register_scheme(prefixes=('http://', 'https://'),
                                             loader=load_from_http_verified, force=True)
        _scope_depth += 1
    try:
        yield
    finally:
        with _scope_lock:
            _scope_depth -= 1
            if _scope_depth == 0:
                CheckpointLoader._schemes = _scope_saved.pop('schemes')
                _scope_saved.pop('globals').close()


# --------------------------------------------------------------------------- reading
#: First bytes of files people mistake for checkpoints -> what they are.
_KNOWN_MAGIC = (
    (b'\x93NUMPY', 'a NumPy .npy array (np.save), not a torch.save file'),
    (b'\x89PNG', 'a PNG image'),
    (b'\xff\xd8\xff', 'a JPEG image'),
    (b'\x89HDF', 'an HDF5 file (Keras/h5py weights?)'),
    (b'<', 'an HTML/XML page (a web page saved instead of the file?)'),
    (b'{', 'a JSON/text file'),
    (b'\x1f\x8b', 'a gzip archive (unpack it first)'),
    (b'ONNX', 'an ONNX model'),
)


def _describe_bytes(head: bytes) -> str:
    for magic, what in _KNOWN_MAGIC:
        if head.startswith(magic):
            return what
    if len(head) >= 10 and head[8:10] == b'{"':
        return 'a safetensors file (load it with safetensors, then save a state dict)'
    return f'its first bytes are {head[:16]!r}'


def _first_line_with(text: str, needles: Sequence[str]) -> str:
    for line in text.splitlines():
        if any(n in line for n in needles):
            return line.strip()
    return text.strip().splitlines()[0] if text.strip() else ''


def _torch_load(path: str, map_location=None, source: Optional[str] = None) -> Any:
    """``torch.load(path, weights_only=True)`` with a named, diagnosed failure.

    Args:
        path (str): Local file.
        map_location: As ``torch.load``.
        source (str, optional): What the user gave (URL or path), for messages.

    Returns:
        The unpickled object.

    Raises:
        CheckpointLoadError: Empty, truncated, not a torch.save file, or refused by
            weights-only unpickling; the message names ``source`` (and ``path``).
    """
    where = source if source in (None, path) else f'{source} (cached as {path})'
    where = where or path
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointLoadError(f'checkpoint {where} is empty (0 bytes): the save or the '
                                  'copy/download did not finish; copy it again')
    with open(path, 'rb') as f:
        head = f.read(64)
    is_zip, is_pickle = head.startswith(b'PK\x03\x04'), head[:1] == b'\x80'
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001  (every failure is re-raised with the file named)
        msg = str(e)
        if not (is_zip or is_pickle):
            raise CheckpointLoadError(
                f'checkpoint {where} is not a PyTorch checkpoint: {_describe_bytes(head)} '
                "(files written by torch.save start with a zip header 'PK' or a pickle "
                "header 0x80)") from None
        if 'Weights only load failed' in msg or 'Unsupported global' in msg:
            detail = _first_line_with(msg, ('Unsupported global', 'WeightsUnpickler'))
            raise CheckpointLoadError(
                f'checkpoint {where} holds pickled objects that weights-only loading '
                f'refuses ({detail}). Runner checkpoints of this project load; for a '
                'file from elsewhere that you trust, re-save its state dict with '
                'torch.save(torch.load(f, weights_only=False)["state_dict"], g).') from None
        if is_zip and ('zip archive' in msg or 'PytorchStreamReader' in msg
                       or 'central directory' in msg):
            first = msg.splitlines()[0].split('. ')[0]
            raise CheckpointLoadError(
                f'checkpoint {where} is truncated or corrupt ({size} bytes; a torch.save '
                f'zip archive whose end cannot be read: {first}); copy or download it '
                'again') from None
        if is_pickle and isinstance(e, (EOFError, RuntimeError)) and (
                isinstance(e, EOFError) or 'EOF' in msg or 'truncated' in msg):
            raise CheckpointLoadError(
                f'checkpoint {where} is truncated ({size} bytes; {msg or type(e).__name__}'
                '); copy or download it again') from None
        raise CheckpointLoadError(
            f'checkpoint {where} cannot be read: {type(e).__name__}: '
            f'{msg.splitlines()[0] if msg else ""}') from e


def _is_url(filename: str) -> bool:
    return filename.startswith(('http://', 'https://'))


def read_checkpoint(filename: str, map_location='cpu') -> Any:
    """Read a checkpoint (local path, http(s) URL or another mmengine scheme).

    Local files and URLs are read with ``torch.load(weights_only=True)`` and the
    allow-list of :func:`mmengine_checkpoint_safe_globals`; URLs are downloaded and
    hash-checked by :func:`download_checkpoint`; other prefixes (``open-mmlab://``,
    ``torchvision://``, ``s3://``, ...) go to mmengine's ``CheckpointLoader``.

    Args:
        filename (str): Path or URL.
        map_location: As ``torch.load``. Defaults to 'cpu'.

    Returns:
        The loaded object (normally a dict).

    Raises:
        FileNotFoundError: A local file that does not exist (absolute path and current
            directory named).
        CheckpointLoadError: See :func:`_torch_load`; download failures.
        CheckpointHashError: A URL whose file fails its declared SHA-256 prefix.
    """
    filename = str(filename)
    with checkpoint_loading():
        if _is_url(filename):
            from mmengine.dist import get_dist_info
            rank, world_size = get_dist_info()
            path = download_checkpoint(filename, progress=os.isatty(0)) if rank == 0 \
                else None
            if world_size > 1:
                torch.distributed.barrier()
                if rank > 0:
                    path = download_checkpoint(filename)
            return _torch_load(path, map_location, source=filename)
        if re.match(r'^[A-Za-z][A-Za-z0-9+.-]*://', filename):
            from mmengine.runner.checkpoint import CheckpointLoader
            try:
                return CheckpointLoader.load_checkpoint(filename, map_location)
            except Exception as e:  # noqa: BLE001
                raise CheckpointLoadError(
                    f'checkpoint {filename} cannot be read: {type(e).__name__}: {e}') from e
        path = osp.expanduser(filename)
        if not osp.isfile(path):
            kind = 'is a folder, not a file' if osp.isdir(path) else 'not found'
            raise FileNotFoundError(
                f'checkpoint {kind}: {filename} (absolute path {osp.abspath(path)}; '
                f'relative paths are resolved against the current directory '
                f'{os.getcwd()})')
        return _torch_load(path, map_location, source=filename)


def extract_state_dict(checkpoint: Any, source: str = '<checkpoint>') -> 'OrderedDict':
    """The model weights inside a loaded checkpoint.

    ``checkpoint['state_dict']`` (mmengine), else ``checkpoint['model']`` (many official
    training scripts), else the checkpoint itself when it is a mapping of tensors.

    Args:
        checkpoint: What :func:`read_checkpoint` returned.
        source (str): File name for messages.

    Returns:
        OrderedDict: name -> tensor (the checkpoint's own object when possible, with its
        ``_metadata``).

    Raises:
        CheckpointLoadError: Not a mapping, or no tensors under any of those keys.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointLoadError(
            f'checkpoint {source} is not a model checkpoint: it holds a '
            f'{type(checkpoint).__name__}, expected a dict with "state_dict" (or a '
            'state dict of tensors)')
    for key in ('state_dict', 'model'):
        sd = checkpoint.get(key)
        if isinstance(sd, dict) and any(torch.is_tensor(v) for v in sd.values()):
            return sd
    if checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        return checkpoint
    keys = ', '.join(map(str, list(checkpoint)[:8])) or 'none'
    raise CheckpointLoadError(
        f'checkpoint {source} holds no model weights: expected a "state_dict" (mmengine) '
        f'or "model" entry of tensors, or a state dict itself; its top-level keys are: '
        f'{keys}')


def _revise_keys(state_dict: dict, revise_keys: Sequence[Tuple[str, str]]) -> dict:
    if not revise_keys:
        return state_dict
    metadata = getattr(state_dict, '_metadata', OrderedDict())
    for pattern, repl in revise_keys:
        state_dict = OrderedDict((re.sub(pattern, repl, k), v)
                                 for k, v in state_dict.items())
        metadata = OrderedDict((re.sub(pattern, repl, k), v) for k, v in metadata.items())
    state_dict._metadata = metadata
    return state_dict


class LoadReport(NamedTuple):
    """What :func:`load_state_dict_checked` found.

    Attributes:
        missing (list[str]): Model keys the checkpoint does not provide.
        unexpected (list[str]): Checkpoint keys the model does not have.
        shape_mismatch (list[tuple[str, tuple, tuple]]): ``(key, checkpoint shape,
            model shape)``; those weights were not loaded.
    """
    missing: List[str]
    unexpected: List[str]
    shape_mismatch: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]]

    @property
    def ok(self) -> bool:
        """True when every key matched."""
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def describe(self, keep: int = MAX_KEYS_SHOWN) -> str:
        """Counts and the first ``keep`` names per category, one category per line."""
        def names(keys):
            shown = ', '.join(keys[:keep])
            return shown + (f', ... ({len(keys) - keep} more)' if len(keys) > keep else '')
        lines = []
        if self.missing:
            lines.append(f'{len(self.missing)} missing keys (in the model, not in the '
                         f'checkpoint): {names(self.missing)}')
        if self.unexpected:
            lines.append(f'{len(self.unexpected)} unexpected keys (in the checkpoint, not '
                         f'in the model): {names(self.unexpected)}')
        if self.shape_mismatch:
            items = [f'{k} (checkpoint {tuple(a)} vs model {tuple(b)})'
                     for k, a, b in self.shape_mismatch]
            lines.append(f'{len(items)} shape mismatches (not loaded): {names(items)}')
        return '\n'.join(lines)


def load_state_dict_checked(model: torch.nn.Module, state_dict: dict,
                            source: str = '<checkpoint>', strict: bool = True,
                            revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), ),
                            logger=None) -> LoadReport:
    """``model.load_state_dict`` with the mismatch counted, named, and explained.

    The load goes through ``model.load_state_dict(state_dict, strict=strict)``, so the
    modules' state-dict pre/post hooks run (with ``strict`` as given). Weights whose shape
    differs from the model's are taken out before they reach torch (torch would raise
    even with ``strict=False``) and reported; with ``strict=False`` everything else that
    matches is loaded, as mmengine does.

    Args:
        model (nn.Module): Target (an mmengine model wrapper is unwrapped).
        state_dict (dict): Weights (e.g. from :func:`extract_state_dict`).
        source (str): File name for messages.
        strict (bool): Any missing, unexpected or shape-mismatched key is an error.
            Defaults to True.
        revise_keys (Sequence[tuple[str, str]]): ``re.sub`` (pattern, replacement) pairs
            applied to the keys first. Defaults to stripping a DDP ``module.`` prefix.
        logger: mmengine logger for the ``strict=False`` warning. Defaults to the
            current one.

    Returns:
        LoadReport: What did not match (empty lists when everything did).

    Raises:
        CheckpointMismatchError: ``strict`` and something did not match; the message
            names ``source`` and the model and lists counts and names.
    """
    from mmengine.model import is_model_wrapper
    if is_model_wrapper(model):
        model = model.module
    state_dict = _revise_keys(state_dict, revise_keys)
    shape_mismatch: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = []
    captured: Dict[str, List[str]] = {}

    def drop_wrong_shapes(module, sd, prefix, local_metadata, strict_, missing,
                          unexpected, error_msgs):
        # Runs after the module's own pre-hooks (registered later), on its direct
        # parameters and persistent buffers only, exactly the keys torch checks here.
        persistent = {k: v for k, v in module._buffers.items()
                      if k not in module._non_persistent_buffers_set}
        for name, tensor in list(module._parameters.items()) + list(persistent.items()):
            key = prefix + name
            value = sd.get(key)
            if tensor is None or not torch.is_tensor(value) or \
                    isinstance(tensor, torch.nn.parameter.UninitializedParameter):
                continue
            if tuple(value.shape) != tuple(tensor.shape) and not (
                    tensor.dim() == 0 and tuple(value.shape) == (1, )):
                shape_mismatch.append((key, tuple(value.shape), tuple(tensor.shape)))
                del sd[key]

    def capture(module, incompatible):
        captured['missing'] = list(incompatible.missing_keys)
        captured['unexpected'] = list(incompatible.unexpected_keys)

    handles = [m.register_load_state_dict_pre_hook(drop_wrong_shapes)
               for m in model.modules()]
    handles.append(model.register_load_state_dict_post_hook(capture))
    error = None
    try:
        model.load_state_dict(state_dict, strict=strict)
    except RuntimeError as e:
        error = e
    finally:
        for h in handles:
            h.remove()
    if error is not None and 'missing' not in captured:
        raise CheckpointLoadError(
            f'loading checkpoint {source} into {type(model).__name__} failed: '
            f'{error}') from error
    dropped = {k for k, _, _ in shape_mismatch}
    report = LoadReport([k for k in captured.get('missing', []) if k not in dropped],
                        captured.get('unexpected', []), shape_mismatch)
    if report.ok and error is not None:
        raise CheckpointLoadError(
            f'loading checkpoint {source} into {type(model).__name__} failed: '
            f'{error}') from error
    if not report.ok:
        if strict:
            raise CheckpointMismatchError(
                f'checkpoint {source} does not match the model ({type(model).__name__}):\n'
                f'{report.describe()}\nIt belongs to another model or config. To load '
                'it anyway (the unmatched weights keep their initialisation), pass '
                '--non-strict (tools/test.py, demo/image_demo.py) or strict=False '
                '(init_model).')
        from mmengine.logging import print_log
        print_log(f'checkpoint {source} does not match the model '
                  f'({type(model).__name__}) exactly; loaded the matching weights, the '
                  f'others keep their initialisation:\n{report.describe()}',
                  logger=logger or 'current', level=30)
    return report


def load_checkpoint(model: torch.nn.Module, filename: str, map_location='cpu',
                    strict: bool = True, logger=None,
                    revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
                    ) -> dict:
    """Read ``filename`` and load its weights into ``model`` (strict by default).

    The counterpart of mmengine's ``load_checkpoint`` (which is non-strict by default
    and does not run the modules' ``load_state_dict`` hooks): :func:`read_checkpoint`,
    :func:`extract_state_dict`, :func:`load_state_dict_checked`.

    Args:
        model (nn.Module): Target model.
        filename (str): Local path or URL.
        map_location: As ``torch.load``. Defaults to 'cpu'.
        strict (bool): See :func:`load_state_dict_checked`. Defaults to True.
        logger: mmengine logger for the ``strict=False`` warning.
        revise_keys (Sequence[tuple[str, str]]): Key rewrites. Defaults to stripping a
            DDP ``module.`` prefix.

    Returns:
        dict: The checkpoint (for ``meta``); a bare state dict is returned as
        ``{'state_dict': ...}``.
    """
    checkpoint = read_checkpoint(filename, map_location)
    state_dict = extract_state_dict(checkpoint, filename)
    load_state_dict_checked(model, state_dict, filename, strict=strict,
                            revise_keys=revise_keys, logger=logger)
    return checkpoint if state_dict is not checkpoint else {'state_dict': checkpoint}
