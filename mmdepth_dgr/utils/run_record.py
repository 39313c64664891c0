"""Run records: what a number in a doc was made from, so that it can be made again.

A tool that writes numbers meant for docs adds one call::

    from mmdepth_dgr.utils.run_record import make_run_record
    record = make_run_record(data_root=args.data_root, extra=dict(results=results))

and stores ``record`` (a JSON-able dict) next to its results. The record holds

* ``command``: the exact command line, quoted with :func:`shlex.join` so that it can be
  pasted back into a shell, and ``cwd`` (relative to the repository when inside it);
* ``git``: ``commit``, ``dirty`` (tracked files differ from the commit) and
  ``diff_sha256`` (a hash of ``git diff HEAD``, so two dirty runs can be told apart);
* ``data_root`` and ``data``: the fingerprint of generated data
  (:func:`data_fingerprint`: generator version, content hash, parameters, whether the
  files still match), None for data the generator did not write;
* ``versions``: the exact installed versions of python, mmdepth_dgr, torch (build string),
  torchvision, mmengine, mmcv / mmcv-lite, mmsegmentation, timm, POT, numpy,
  opencv-python, scipy; ``pins``: whether they equal the pins in ``requirements/``;
* ``device``: ``cpu`` or ``cuda`` with the GPU name and count, torch threads, CPU count
  and model, ``OMP_NUM_THREADS``; ``load_average`` (1, 5, 15 min) at record time;
* ``created_utc`` and ``schema``.

:func:`record_differences` names the fields in which two records disagree where it
matters for comparing numbers (code, data, library versions); ``--from-runs`` style
mergers refuse to merge such records.
"""
import datetime
import hashlib
import importlib.metadata as metadata
import json
import os
import os.path as osp
import platform
import re
import shlex
import subprocess
import sys
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = ['make_run_record', 'data_fingerprint', 'record_differences', 'summarize_record',
           'library_versions', 'git_state', 'read_pins', 'pin_mismatches', 'SCHEMA',
           'MERGE_FIELDS', 'load_tool_record', 'commit_label', 'record_doc_blocks',
           'update_record_doc']

SCHEMA = 'mmdepth_dgr.run_record/1'
#: The repository checkout this package is imported from (None-safe: may not be a git
#: checkout when installed as a wheel).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: key in ``versions`` -> distribution names that provide it (first installed wins).
LIBRARIES: Dict[str, Tuple[str, ...]] = {
    'torch': ('torch',),
    'torchvision': ('torchvision',),
    'mmengine': ('mmengine',),
    'mmcv': ('mmcv', 'mmcv-lite'),
    'mmsegmentation': ('mmsegmentation',),
    'timm': ('timm',),
    'pot': ('pot',),
    'numpy': ('numpy',),
    'opencv': ('opencv-python', 'opencv-python-headless', 'opencv-contrib-python'),
    'scipy': ('scipy',),
}
#: Fields that must agree for numbers of two runs to be comparable (prefixes of the
#: dotted field names of :func:`record_differences`). Devices, threads and load may
#: differ; they are listed by the tools instead.
MERGE_FIELDS = ('git.commit', 'git.diff_sha256', 'data.kind', 'data.generator_version',
                'data.content_sha256', 'data.params', 'versions')


def _run_git(*args: str) -> Optional[str]:
    try:
        out = subprocess.run(['git', '-C', REPO_ROOT, *args], capture_output=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode('utf-8', 'replace')


def git_state() -> Dict[str, Optional[Union[str, bool]]]:
    """``commit``, ``dirty`` and ``diff_sha256`` of the checkout (None outside git).

    ``dirty`` looks at tracked files only (generated data and work dirs are ignored
    files); ``diff_sha256`` hashes ``git diff HEAD`` and is None when clean.
    """
    commit = _run_git('rev-parse', 'HEAD')
    if commit is None:
        return dict(commit=None, dirty=None, diff_sha256=None)
    diff = _run_git('diff', 'HEAD', '--no-ext-diff', '--binary') or ''
    return dict(commit=commit.strip(), dirty=bool(diff),
                diff_sha256=hashlib.sha256(diff.encode('utf-8')).hexdigest() if diff
                else None)


def _dist_version(names: Iterable[str]) -> Tuple[Optional[str], Optional[str]]:
    for name in names:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None, None


def library_versions() -> Dict[str, Optional[str]]:
    """Exact versions: ``python``, ``mmdepth_dgr``, then :data:`LIBRARIES` (as pip
    reports them; ``mmcv`` says ``'2.1.0 (mmcv-lite)'`` for the lite build, ``torch``
    carries its build string, e.g. ``'2.14.1+cu130'``). None = not installed."""
    out = {'python': platform.python_version()}
    try:
        from mmdepth_dgr.version import __version__
        out['mmdepth_dgr'] = __version__
    except ImportError:  # pragma: no cover - the package is importable wherever this is
        out['mmdepth_dgr'] = None
    for key, names in LIBRARIES.items():
        dist, version = _dist_version(names)
        if key == 'torch' and 'torch' in sys.modules:
            version = sys.modules['torch'].__version__  # includes the build (+cu130)
        if key == 'mmcv' and dist == 'mmcv-lite':
            version = f'{version} (mmcv-lite)'
        out[key] = version
    return out


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device() -> Dict:
    import torch
    info = dict(torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
                cpu_model=_cpu_model(), omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    if torch.cuda.is_available():
        info.update(type='cuda', name=torch.cuda.get_device_name(0),
                    count=torch.cuda.device_count(), cuda=torch.version.cuda)
    else:
        info.update(type='cpu', name=info['cpu_model'], count=0, cuda=None)
    return info


def _command(command: Optional[Union[str, Sequence[str]]]) -> str:
    if isinstance(command, str):
        return command
    if command is not None:
        return shlex.join([str(c) for c in command])
    argv = list(sys.argv)
    if argv and argv[0] and argv[0] not in ('-c', '-m') and osp.isfile(argv[0]):
        script = osp.abspath(argv[0])
        if script.startswith(REPO_ROOT + os.sep):
            script = osp.relpath(script, REPO_ROOT)
        return shlex.join(['python', script, *argv[1:]])
    return shlex.join(argv)


def _cwd() -> str:
    cwd = os.getcwd()
    if cwd == REPO_ROOT or cwd.startswith(REPO_ROOT + os.sep):
        return osp.relpath(cwd, REPO_ROOT)
    return cwd


def data_fingerprint(root: Optional[str]) -> Optional[Dict]:
    """Fingerprint of the data under ``root``.

    For a folder written by the procedural generator: its manifest's ``kind``,
    ``generator_version``, ``content_sha256``, ``num_files`` and ``params``, plus
    ``verified`` (the files were hashed again now and still match). See
    :func:`mmdepth_dgr.datasets.synthetic.read_fingerprint`.

    Args:
        root (str, optional): Dataset root (relative to the current directory).

    Returns:
        dict | None: None when ``root`` is None, not a folder, or not generated data
        (real datasets are not hashed: tens of GB).
    """
    if not root or not osp.isdir(root):
        return None
    from mmdepth_dgr.datasets.synthetic.generate import read_fingerprint
    return read_fingerprint(root, verify=True)


def make_run_record(command: Optional[Union[str, Sequence[str]]] = None,
                    data_root: Optional[str] = None,
                    extra: Optional[Dict] = None) -> Dict:
    """A provenance record of the current run (see the module docstring for fields).

    Args:
        command (str | Sequence[str], optional): The command; a sequence is quoted with
            :func:`shlex.join`, a string is kept. None = ``python <script> <args>`` from
            ``sys.argv`` (the script relative to the repository when inside it).
        data_root (str, optional): The data the run reads; fingerprinted with
            :func:`data_fingerprint`. Defaults to None.
        extra (dict, optional): More top-level fields (results, setup, timings). Must not
            reuse a provenance field name. Defaults to None.

    Returns:
        dict: the JSON-able record.

    Raises:
        ValueError: ``extra`` reuses a provenance field name.
    """
    mismatches = pin_mismatches()
    record = dict(
        schema=SCHEMA,
        created_utc=datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ'),
        command=_command(command),
        cwd=_cwd(),
        git=git_state(),
        data_root=data_root,
        data=data_fingerprint(data_root),
        versions=library_versions(),
        pins=None if mismatches is None else dict(
            match=not mismatches,
            mismatches=[dict(name=n, pinned=p, installed=i) for n, p, i in mismatches]),
        device=_device(),
        load_average=list(os.getloadavg()) if hasattr(os, 'getloadavg') else None,
        platform=platform.platform(),
    )
    for key, value in (extra or {}).items():
        if key in record:
            raise ValueError(f'make_run_record: extra field {key!r} would replace the '
                             'provenance field of that name; choose another name')
        record[key] = value
    return record


def _flatten(value, prefix: str = '') -> Dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            out.update(_flatten(sub, f'{prefix}.{key}' if prefix else str(key)))
        return out
    return {prefix: value}


def record_differences(a: Optional[Dict], b: Optional[Dict],
                       fields: Sequence[str] = MERGE_FIELDS) -> List[str]:
    """The fields (dotted names) in which two records differ, restricted to ``fields``.

    Args:
        a (dict | None): A record (None = no record: matches only another None).
        b (dict | None): Another record.
        fields (Sequence[str]): Field names or prefixes to compare. Defaults to
            :data:`MERGE_FIELDS` (code, diff, data fingerprint, library versions).

    Returns:
        list[str]: ``'<field>: <a value> vs <b value>'`` per differing field, in name
        order; ``'record: absent vs present'`` when only one of them exists.
    """
    if a is None or b is None:
        if a is None and b is None:
            return []
        return [f'record: {"absent" if a is None else "present"} vs '
                f'{"absent" if b is None else "present"}']

    def pick(flat):
        return {k: v for k, v in flat.items()
                if any(k == f or k.startswith(f + '.') for f in fields)}

    fa, fb = pick(_flatten(a)), pick(_flatten(b))
    return [f'{k}: {fa.get(k)!r} vs {fb.get(k)!r}' for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k)]


def summarize_record(record: Optional[Dict], device: bool = True) -> str:
    """One line: commit (dirty?), data fingerprint, main library versions, device.

    Args:
        record (dict | None): A run record.
        device (bool): Include the device and thread count. Defaults to True.
    """
    if not record:
        return 'not recorded'
    git = record.get('git') or {}
    commit = (git.get('commit') or 'unknown')[:12]
    if git.get('dirty'):
        commit += f' + uncommitted changes (diff sha256 {(git.get("diff_sha256") or "")[:12]})'
    data = record.get('data')
    if data:
        data_txt = (f'{data.get("kind")} generator v{data.get("generator_version")}, '
                    f'content sha256 {(data.get("content_sha256") or "none")[:12]}')
        if data.get('verified') is False:
            data_txt += ' (files changed since generation)'
    else:
        data_txt = f'{record.get("data_root") or "none"} (no fingerprint)'
    v = record.get('versions') or {}
    libs = ', '.join(f'{k} {v.get(k)}' for k in ('torch', 'mmengine', 'mmcv',
                                                   'mmsegmentation', 'numpy', 'opencv')
                     if v.get(k))
    dev = record.get('device') or {}
    dev_txt = (f'{dev.get("name")}' + (f' x{dev.get("count")}' if dev.get('count', 0) > 1
                                       else '') + f', {dev.get("torch_threads")} torch threads')
    pins = record.get('pins') or {}
    pin_txt = '' if pins.get('match', True) else '; installed versions differ from the pins'
    return f'commit {commit}; data {data_txt}; {libs}' + (f'; {dev_txt}' if device else '') \
        + pin_txt


# ------------------------------------------------------------------------------- pins
_PIN_RE = re.compile(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)')


def _canonical(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def read_pins(files: Sequence[str] = ('runtime.txt', 'tests.txt')) -> Optional[Dict[str, str]]:
    """``{distribution: version}`` from the ``name==version`` lines of ``requirements/``.

    Args:
        files (Sequence[str]): Files under ``<repo>/requirements``. Defaults to
            ``('runtime.txt', 'tests.txt')``.

    Returns:
        dict | None: canonical names (lower case, ``-``) to pinned versions; None when
        the requirements folder is not there (installed from a wheel).
    """
    folder = osp.join(REPO_ROOT, 'requirements')
    if not osp.isdir(folder):
        return None
    pins = {}
    for name in files:
        with open(osp.join(folder, name), encoding='utf-8') as f:
            for line in f:
                m = _PIN_RE.match(line)
                if m:
                    pins[_canonical(m.group(1))] = m.group(2)
    return pins


def pin_mismatches(files: Sequence[str] = ('runtime.txt', 'tests.txt'),
                   optional: Sequence[str] = ('optional.txt',)
                   ) -> Optional[List[Tuple[str, str, Optional[str]]]]:
    """Installed distributions whose version is not the pinned one.

    A full mmcv build (``setup_env.sh --full-mmcv``) satisfies the ``mmcv-lite`` pin
    when its version is the same. Pins in ``optional`` files are checked only for
    installed distributions.

    Args:
        files (Sequence[str]): Pinned requirement files that must be installed.
        optional (Sequence[str]): Pinned files of optional extras.

    Returns:
        list[tuple[str, str, str | None]] | None: ``(name, pinned, installed or None)``
        per mismatch, in name order; None when ``requirements/`` is absent.
    """
    pins = read_pins(files)
    if pins is None:
        return None
    extra = read_pins(optional) or {}
    out = []
    for name, pinned in sorted({**extra, **pins}.items()):
        names = [name, 'mmcv'] if name == 'mmcv-lite' else [name]
        installed = _dist_version(names)[1]
        if installed is None and name in extra and name not in pins:
            continue
        if installed != pinned:
            out.append((name, pinned, installed))
    return out


# ------------------------------------------------- docs rendered from committed records
def load_tool_record(path: str, field: str, tool: str,
                     body_keys: Sequence[str] = ()) -> Dict:
    """A tool's ``--record`` file, checked for the provenance fields, the tool's ``field``
    and the ``body_keys`` inside it.

    Args:
        path (str): The record file.
        field (str): The tool's field of the record (e.g. ``'otdl_cost'``).
        tool (str): The tool's path, named in the error message.
        body_keys (Sequence[str]): Keys ``record[field]`` must have. Defaults to ().

    Returns:
        dict: The record.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a field is missing (the message names the file and the field).
    """
    with open(path, encoding='utf-8') as f:
        record = json.load(f)
    for key in ('command', 'git', 'versions', 'device', field):
        if key not in record:
            raise ValueError(f'{path}: run record field {key!r} is missing; expected a '
                             f'file written by {tool} --record')
    for key in body_keys:
        if key not in record[field]:
            raise ValueError(f'{path}: {field}.{key} is missing')
    return record


def commit_label(record: Dict) -> str:
    """The record's short commit, marked when the tree was dirty."""
    git = record['git']
    return (git.get('commit') or '?')[:7] + (' (dirty tree)' if git.get('dirty') else '')


def _block_marker(name: str):
    return re.compile(rf'<!-- {re.escape(name)} records=(?P<path>\S+) -->\n(?P<body>.*?)'
                      rf'<!-- {re.escape(name)}:end -->', re.S)


def record_doc_blocks(text: str, name: str,
                      render: Callable[[str], str]) -> List[Tuple[str, str, str]]:
    """Every ``<!-- NAME records=PATH -->`` ... ``<!-- NAME:end -->`` block of a markdown
    text as ``(PATH, current body, render(PATH))``.

    Args:
        text (str): The markdown.
        name (str): The block name (the tool's).
        render (Callable[[str], str]): Body of the block for a record path.
    """
    return [(m['path'], m['body'], render(m['path']))
            for m in _block_marker(name).finditer(text)]


def update_record_doc(path: str, name: str, render: Callable[[str], str]) -> int:
    """Rewrite the ``NAME`` blocks of the markdown file ``path`` with ``render(PATH)``;
    returns how many changed.

    Raises:
        ValueError: the file has no such block.
    """
    with open(path, encoding='utf-8') as f:
        text = f.read()
    marker = _block_marker(name)
    if not marker.search(text):
        raise ValueError(f'{path}: no "<!-- {name} records=PATH -->" ... '
                         f'"<!-- {name}:end -->" block to update')
    changed = 0

    def sub(m):
        nonlocal changed
        body = render(m['path'])
        changed += body != m['body']
        return f'<!-- {name} records={m["path"]} -->\n{body}<!-- {name}:end -->'

    new = marker.sub(sub, text)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(new)
    return changed
