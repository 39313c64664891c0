"""Model zoo consistency: model-index.yml ↔ configs/*/metafile.yaml ↔ configs/**/*.py.

Every config loads; one config per model family (the dataset variants of a family differ
only in data/depth range) is built with pretrained weights disabled. Families whose
backbone is a Swin-L or ViT-L (250-350 M parameters, several seconds each on 2 cores)
only get their component types resolved in the registry, unless
``MMDEPTH_BUILD_ALL_CONFIGS=1`` is set, which builds every config.
"""
import copy
import glob
import os
import os.path as osp
import re

import yaml
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.apis import disable_pretrained_weights
from mmdepth_dgr.utils import hash_prefix_from_filename

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
INDEX = osp.join(REPO, 'model-index.yml')
REQUIRED_MODEL_KEYS = ('Name', 'In Collection', 'Results', 'Config', 'Metadata')
REQUIRED_METADATA = ('Training Data', 'Batch Size', 'Architecture', 'Training Resources')
REQUIRED_COLLECTION_KEYS = ('Name', 'License', 'Metadata', 'Paper', 'README', 'Code')
LARGE_BACKBONE = re.compile(r'(swin-l|vit-l)', re.IGNORECASE)


def _rel(path):
    return osp.relpath(path, REPO).replace(os.sep, '/')


def _all_configs():
    return sorted(_rel(p) for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                             recursive=True)
                  if '_base_' not in _rel(p).split('/'))


def _all_metafiles():
    return sorted(_rel(p) for p in glob.glob(osp.join(REPO, 'configs', '*',
                                                      'metafile.yaml')))


def _load_yaml(rel_path):
    with open(osp.join(REPO, rel_path)) as f:
        return yaml.safe_load(f) or {}


def _models():
    out = []
    for meta in _all_metafiles():
        for model in _load_yaml(meta).get('Models') or []:
            out.append((meta, model))
    return out


def _results(model):
    res = model['Results']
    return res if isinstance(res, list) else [res]


def _family(config_rel):
    """Config name without its trailing ``_<dataset>-<size>`` part."""
    stem = osp.splitext(osp.basename(config_rel))[0]
    return osp.dirname(config_rel) + '/' + stem.rsplit('_', 1)[0]


def test_model_index_imports_exactly_the_metafiles():
    index = _load_yaml('model-index.yml')
    imports = index.get('Import') or []
    missing_files = [p for p in imports if not osp.isfile(osp.join(REPO, p))]
    assert not missing_files, f'model-index.yml imports missing files: {missing_files}'
    not_imported = sorted(set(_all_metafiles()) - set(imports))
    assert not not_imported, f'metafiles not imported by model-index.yml: {not_imported}'
    assert len(imports) == len(set(imports)), 'model-index.yml imports a file twice'


def test_every_config_folder_has_a_metafile():
    folders = sorted({c.split('/')[1] for c in _all_configs()})
    lacking = [f for f in folders
               if not osp.isfile(osp.join(REPO, 'configs', f, 'metafile.yaml'))]
    assert not lacking, f'config folders without metafile.yaml: {lacking}'


def test_every_config_has_exactly_one_metafile_entry():
    listed = [m['Config'] for _, m in _models()]
    unlisted = sorted(set(_all_configs()) - set(listed))
    assert not unlisted, f'configs with no metafile entry: {unlisted}'
    dup = sorted({c for c in listed if listed.count(c) > 1})
    assert not dup, f'configs listed twice: {dup}'


def test_metafile_entries_are_complete_and_consistent():
    problems = []
    names = []
    for meta in _all_metafiles():
        data = _load_yaml(meta)
        collections = {c.get('Name') for c in data.get('Collections') or []}
        for c in data.get('Collections') or []:
            for key in REQUIRED_COLLECTION_KEYS:
                if key not in c:
                    problems.append(f'{meta}: collection {c.get("Name")} lacks {key}')
            readme = c.get('README')
            if readme and not osp.isfile(osp.join(REPO, readme)):
                problems.append(f'{meta}: README {readme} does not exist')
        for m in data.get('Models') or []:
            name = m.get('Name')
            names.append(name)
            for key in REQUIRED_MODEL_KEYS:
                if key not in m:
                    problems.append(f'{meta}: model {name} lacks {key}')
            if m.get('In Collection') not in collections:
                problems.append(f'{meta}: model {name} is in unknown collection '
                                f'{m.get("In Collection")!r}')
            cfg = m.get('Config', '')
            if not osp.isfile(osp.join(REPO, cfg)):
                problems.append(f'{meta}: model {name}: config {cfg} does not exist')
            elif name != osp.splitext(osp.basename(cfg))[0]:
                problems.append(f'{meta}: model name {name} != config name {cfg}')
            for key in REQUIRED_METADATA:
                if key not in (m.get('Metadata') or {}):
                    problems.append(f'{meta}: model {name} Metadata lacks {key}')
            for r in _results(m) if 'Results' in m else []:
                if r.get('Task') != 'Depth Estimation':
                    problems.append(f'{meta}: {name}: Task is {r.get("Task")!r}')
                if not r.get('Dataset'):
                    problems.append(f'{meta}: {name}: Results without Dataset')
                metrics = r.get('Metrics')
                if not isinstance(metrics, dict):
                    problems.append(f'{meta}: {name}: Metrics must be a mapping')
                    continue
                bad = {k: v for k, v in metrics.items()
                       if v is not None and not isinstance(v, (int, float))}
                if bad:
                    problems.append(f'{meta}: {name}: non-numeric metrics {bad}')
            weights = m.get('Weights')
            if weights:
                if not str(weights).startswith(('http://', 'https://')):
                    problems.append(f'{meta}: {name}: Weights must be a URL')
                elif hash_prefix_from_filename(weights) is None:
                    problems.append(f'{meta}: {name}: Weights file name must end in '
                                    f'-<sha256 prefix>.pth, got {weights}')
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f'model names used twice: {dup}')
    assert not problems, '\n'.join(problems)


def _component_types(model_cfg):
    """Registry types of the estimator and its direct components and losses."""
    types = [model_cfg['type']]
    for key in ('backbone', 'neck', 'decode_head', 'auxiliary_head',
                'data_preprocessor'):
        part = model_cfg.get(key)
        parts = part if isinstance(part, list) else [part]
        for p in parts:
            if isinstance(p, dict) and 'type' in p:
                types.append(p['type'])
                host = p.get('backbone') or p.get('host')
                if isinstance(host, dict) and 'type' in host:
                    types.append(host['type'])
                losses = p.get('loss_decode')
                losses = losses if isinstance(losses, list) else [losses]
                types += [loss['type'] for loss in losses if isinstance(loss, dict)]
    return types


def test_every_config_loads_and_one_per_family_builds():
    build_all = os.environ.get('MMDEPTH_BUILD_ALL_CONFIGS') == '1'
    seen_families = set()
    failures = []
    for rel in _all_configs():
        try:
            cfg = Config.fromfile(osp.join(REPO, rel))
        except Exception as e:  # report every broken config at once
            failures.append(f'{rel}: Config.fromfile failed: {type(e).__name__}: {e}')
            continue
        if 'model' not in cfg:
            failures.append(f'{rel}: no model')
            continue
        model_cfg = disable_pretrained_weights(copy.deepcopy(cfg.model))
        unknown = [t for t in _component_types(model_cfg)
                   if isinstance(t, str) and MODELS.get(t) is None]
        if unknown:
            failures.append(f'{rel}: unregistered types {unknown}')
            continue
        family = _family(rel)
        if not build_all and (family in seen_families or LARGE_BACKBONE.search(rel)):
            continue
        seen_families.add(family)
        try:
            model = MODELS.build(model_cfg)
        except Exception as e:
            failures.append(f'{rel}: MODELS.build failed: {type(e).__name__}: {e}')
            continue
        if not hasattr(model, 'decode_head'):
            failures.append(f'{rel}: built model has no decode_head')
        del model
    assert not failures, '\n'.join(failures)


_CONFIG_REF = re.compile(r'(?<![\w/.-])configs/(?:[\w+-][\w.+-]*/)*[\w+-][\w.+-]*?\.py\b')


def test_every_config_named_in_docs_tools_and_tests_exists():
    """A config deleted together with its metafile entry still fails a test: every
    ``configs/....py`` path written in the READMEs, docs, model index, tools and tests
    must exist (tests that load a named config fail rather than skip when it is gone)."""
    sources = [INDEX, osp.join(REPO, 'README.md')]
    for pattern in ('configs/**/*.md', 'docs/**/*.md', 'tools/**/*.py', 'tools/**/*.sh',
                    'tests/**/*.py', 'configs/**/*.yaml', 'demo/**/*.py'):
        sources += glob.glob(osp.join(REPO, pattern), recursive=True)
    missing, seen = [], 0
    for path in sorted(set(sources)):
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                for ref in _CONFIG_REF.findall(line):
                    seen += 1
                    if not osp.isfile(osp.join(REPO, ref)):
                        missing.append(f'{_rel(path)}:{lineno}: {ref}')
    assert seen > 20, f'only {seen} config references found; is the pattern broken?'
    assert not missing, 'named configs that do not exist:\n' + '\n'.join(missing)
