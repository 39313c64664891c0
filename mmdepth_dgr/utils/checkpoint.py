"""Checkpoint loading: hash-verified downloads and mmengine checkpoints under torch>=2.6.

Two gaps of mmengine 0.10.7 are closed here; both are installed when ``mmdepth_dgr`` is
imported (configs do it through ``custom_imports``), so ``tools/test.py CONFIG URL``,
``load_from='https://...'``, ``resume`` and :func:`mmdepth_dgr.apis.init_model` all
benefit:

1. **Hash check.** mmengine's ``load_from_http`` calls torch.hub's ``load_url`` with
   ``check_hash=False``, so a truncated or wrong file is loaded silently. The http(s)
   scheme of ``mmengine.runner.CheckpointLoader`` is re-registered with
   :func:`load_from_http_verified`: when the file name follows the torch.hub naming
   convention ``<name>-<sha256 prefix>.<ext>`` (this project publishes
   ``<config>_YYYYMMDD-<first 8 hex chars of sha256>.pth``), the SHA-256 of the
   downloaded file -- and of a cached copy, which torch.hub never re-checks -- must
   start with that prefix, else :class:`CheckpointHashError` names the URL, the file
   and both hashes and the bad file is not kept in the cache.
2. **``weights_only``.** torch >= 2.6 loads with ``weights_only=True`` by default, and a
   Runner checkpoint holds more than tensors: the message hub's ``HistoryBuffer``
   objects (which pickle their statistics methods through ``getattr``) and numpy
   arrays/scalars/dtypes. Loading one fails with ``UnpicklingError``. Instead of
   falling back to an unrestricted ``weights_only=False`` we allow-list exactly those
   types (:func:`allow_mmengine_checkpoint_globals`), with a ``getattr`` that only
   resolves ``HistoryBuffer``'s statistics methods; anything else in a pickle is still
   refused by torch. mmengine's http loader used ``weights_only=False``; the verified
   loader uses ``weights_only=True`` with the same allow-list.

Cache: ``<torch hub dir>/checkpoints`` (``$TORCH_HOME/hub/checkpoints``), as torch.hub.
"""
import hashlib
import os
import os.path as osp
import re
import sys
import tempfile
from typing import Callable, List, Optional, Tuple, Union
from urllib.parse import urlparse

import numpy as np
import torch

__all__ = [
    'CheckpointHashError', 'hash_prefix_from_filename', 'sha256_file',
    'verify_file_hash', 'download_checkpoint', 'load_from_http_verified',
    'mmengine_checkpoint_safe_globals', 'allow_mmengine_checkpoint_globals',
    'register_checkpoint_loaders'
]

#: ``<name>-<hex>.<ext>``: 8 to 64 lowercase hex characters right before the extension
#: (torch.hub's ``HASH_REGEX`` accepts any length, even one character, which would
#: mistake e.g. ``model-1.5.pth`` for a hash; 8 is the torch.hub convention).
HASH_SUFFIX_RE = re.compile(r'-([0-9a-f]{8,64})\.[A-Za-z0-9]+$')

_HISTORY_BUFFER_STATS = ('min', 'max', 'mean', 'current')


class CheckpointHashError(RuntimeError):
    """A checkpoint's SHA-256 does not start with the prefix its file name declares."""


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
        torch.hub.download_url_to_file(url, tmp, hash_prefix=None, progress=progress)
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
    """Allow-list :func:`mmengine_checkpoint_safe_globals` for ``torch.load``.

    No-op on torch versions without ``torch.serialization.add_safe_globals``.
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
    allow_mmengine_checkpoint_globals()
    return torch.load(path, map_location=map_location, weights_only=True)


def register_checkpoint_loaders() -> None:
    """Install the allow-list and the verified http(s) scheme (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    allow_mmengine_checkpoint_globals()
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'),
                                     loader=load_from_http_verified, force=True)


register_checkpoint_loaders()
