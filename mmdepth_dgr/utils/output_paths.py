"""Collision-free output names derived from input paths.

Depth datasets repeat base names: the KITTI Eigen test list's 652 evaluated frames have
350 distinct base names (``0000000000.png`` 22 times, one per drive). Every tool that
writes one file per input (``tools/test.py --out`` / ``--show-dir``, the demo's folder
mode) therefore names its outputs by the input's path *relative to a root* (the dataset's
image folder, the demo's input folder), keeping the sub-folders::

    <root>/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png
    -> <out>/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png

Distinct inputs under one root give distinct relative paths; the only collision left is
two inputs that differ only by extension (``x.jpg`` and ``x.png`` -> ``x.png``), which
:class:`OutputNames` turns into an error (or :func:`distinct_stems` resolves, when the
whole list is known in advance).
"""
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, Iterable, Optional

__all__ = ['OutputCollisionError', 'output_relpath', 'OutputNames', 'distinct_stems']

_SCHEME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')


class OutputCollisionError(RuntimeError):
    """Two different inputs would be written to the same output file."""


def output_relpath(path: str, root: Optional[str] = None) -> str:
    """The path of ``path`` to mirror under an output folder.

    Args:
        path (str): Input file (absolute, relative to the current directory, or a
            ``scheme://`` URI of a file backend).
        root (str, optional): Folder the inputs live under (e.g. the dataset's image
            folder). Defaults to None.

    Returns:
        str: ``path`` relative to ``root`` when it lies under it; else relative to the
        current directory when it lies under that; else the absolute path (or the URI
        without its scheme) without the leading separator. Always relative, never
        containing ``..``; distinct inputs give distinct results.
    """
    path = str(path)
    if _SCHEME_RE.match(path):
        return _SCHEME_RE.sub('', path).lstrip('/')
    full = osp.normpath(osp.abspath(path))
    for base in ([root] if root else []) + [os.getcwd()]:
        base = osp.normpath(osp.abspath(str(base)))
        if full.startswith(base.rstrip(os.sep) + os.sep):
            return osp.relpath(full, base)
    return osp.splitdrive(full)[1].lstrip(os.sep)


def distinct_stems(rel_paths: Iterable[str]) -> Dict[str, str]:
    """Output stems for a known list of inputs, distinct even for equal stems.

    Args:
        rel_paths (Iterable[str]): Relative input paths (e.g. from
            :func:`output_relpath`).

    Returns:
        dict[str, str]: input -> stem without extension (``a/x.jpg`` -> ``a/x``); inputs
        that share a stem with another input keep their extension as a suffix instead
        (``a/x.jpg`` -> ``a/x_jpg``, ``a/x.png`` -> ``a/x_png``).
    """
    rel_paths = list(rel_paths)
    counts = Counter(osp.splitext(r)[0] for r in rel_paths)
    out = {}
    for rel in rel_paths:
        stem, ext = osp.splitext(rel)
        out[rel] = stem if counts[stem] == 1 else f'{stem}_{ext.lstrip(".")}'
    return out


class OutputNames:
    """Remembers which input each output file was written for; refuses a second one.

    Args:
        what (str): What is being written, for the message (e.g. 'prediction').
    """

    def __init__(self, what: str = 'output') -> None:
        self.what = what
        self._sources: Dict[str, str] = {}

    def claim(self, out_path: str, source: str) -> str:
        """Register ``out_path`` as written for ``source``.

        Args:
            out_path (str): The output file.
            source (str): The input it is derived from.

        Returns:
            str: ``out_path``.

        Raises:
            OutputCollisionError: ``out_path`` was already claimed for another input.
        """
        key = osp.normpath(osp.abspath(out_path))
        earlier = self._sources.setdefault(key, str(source))
        if earlier != str(source):
            raise OutputCollisionError(
                f'{self.what} file {out_path} would be written for two inputs, {earlier} '
                f'and {source} (they differ only in their extension); rename one of '
                'them, nothing is overwritten')
        return out_path

    def __len__(self) -> int:
        return len(self._sources)
