"""Print the training recipe a config resolves to: ``python
tools/analysis_tools/recipe_card.py CONFIG [--train-list-len N] [--gpus G] [--json]``.

The card lists the encoder and its pretrained weights, the training crops and
augmentations, the loss and its GT mask, the optimiser with the hyper-parameters of each
parameter group *as mmengine builds them* (the model is built with pretrained weights
disabled, then ``build_optim_wrapper``), the learning rate (and Adam's beta1 / SGD
momentum) at iterations 0, 1, mid and last *as mmengine's schedulers produce them*
(built and stepped through every iteration), the length in iterations with its epoch
equivalent, the total batch and ``auto_scale_lr``, and the evaluation protocol, interval
and best-checkpoint rule.

``--gpus`` defaults to the ``<G>xb<B>`` part of the config name (mmseg naming), else 1.
The epoch equivalent needs the train list's length: ``--train-list-len N``, or the
list itself under the config's data root.
"""
import argparse
import copy
import inspect
import json
import math
import os.path as osp
import re
import sys
import warnings
from typing import Any, Dict, List, Optional

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmseg.registry import MODELS, PARAM_SCHEDULERS  # noqa: E402
from tqdm import tqdm  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401  (registers everything)
from mmdepth_dgr.apis import disable_pretrained_weights  # noqa: E402

ENCODER_KEYS = ('model_name', 'embed_dims', 'depths', 'num_heads', 'window_size',
                'pretrain_img_size', 'drop_path_rate', 'sync_bn', 'out_indices')
_SKIP_TRANSFORMS = ('LoadRGBFromFile', 'LoadDepthFromFile', 'PackDepthInputs')


def _plain(obj: Any) -> Any:
    """Config objects -> plain Python (for JSON and printing)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def gpus_from_name(config_path: str) -> Optional[int]:
    """``G`` of an mmseg-style ``..._<G>xb<B>-...`` config name, or None."""
    m = re.search(r'_(\d+)xb(\d+)', osp.basename(config_path))
    return int(m.group(1)) if m else None


def _default_arg(type_name: str, arg: str) -> Any:
    cls = MODELS.get(type_name)
    if cls is None:
        return None
    for klass in inspect.getmro(cls):
        params = inspect.signature(klass.__init__).parameters
        if arg in params and params[arg].default is not inspect.Parameter.empty:
            return params[arg].default
    return None


def _encoder(model_cfg: dict) -> Dict[str, Any]:
    bb = _plain(model_cfg['backbone'])
    dgr = bb.get('type') == 'DGRBackbone'
    if dgr:
        host = bb.get('backbone') or dict(bb, type=bb.get('host_type'))
    else:
        host = bb
    init = host.get('init_cfg') or {}
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        weights = init.get('checkpoint')
    elif host.get('pretrained') is True:
        weights = f"timm pretrained weights of {host.get('model_name')}"
    else:
        weights = host.get('pretrained') or 'none (random initialisation)'
    out = dict(type=host.get('type'), weights=weights, dgr=dgr)
    out.update({k: host[k] for k in ENCODER_KEYS if k in host})
    if dgr:
        out['dgr_cfg'] = bb.get('dgr', {})
    return out


def _head(model_cfg: dict) -> Dict[str, Any]:
    head = _plain(model_cfg['decode_head'])
    gt_min = head.get('gt_valid_min', _default_arg(head['type'], 'gt_valid_min'))
    losses = head.get('loss_decode')
    losses = losses if isinstance(losses, list) else [losses]
    test_cfg = _plain(model_cfg.get('test_cfg') or {})
    return dict(
        type=head['type'],
        min_depth=head.get('min_depth', _default_arg(head['type'], 'min_depth')),
        max_depth=head.get('max_depth', _default_arg(head['type'], 'max_depth')),
        norm_cfg=head.get('norm_cfg'),
        losses=losses,
        loss_mask=f'GT > {gt_min} m (and finite)',
        gt_valid_min=gt_min,
        flip=bool(test_cfg.get('flip', False)),
        flip_fusion=test_cfg.get('flip_fusion', 'mean') if test_cfg.get('flip') else None)


def _count_lines(path: str) -> Optional[int]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def _data(cfg: Config, train_list_len: Optional[int]) -> Dict[str, Any]:
    ds = _plain(cfg.train_dataloader.dataset)
    split = ds.get('split_file', '')
    path = split if osp.isabs(split) else osp.join(ds.get('data_root', ''), split)
    n = train_list_len if train_list_len is not None else _count_lines(path)
    steps = [dict(t) for t in ds.get('pipeline', [])
             if t.get('type') not in _SKIP_TRANSFORMS]
    crops = [t.get('crop_size') for t in steps if 'crop_size' in t]
    return dict(dataset=ds.get('type'), split_file=split, train_list_len=n,
                train_list_len_source=('--train-list-len' if train_list_len is not None
                                       else (path if n is not None else None)),
                augmentations=steps, crop=crops[-1] if crops else 'full frame')


def _param_groups(model, wrapper) -> List[Dict[str, Any]]:
    names = {id(p): n for n, p in model.named_parameters()}
    groups = []
    for g in wrapper.optimizer.param_groups:
        prefixes = sorted({names.get(id(p), '?').split('.')[0] for p in g['params']})
        entry = dict(parts=prefixes, tensors=len(g['params']),
                     params=int(sum(p.numel() for p in g['params'])))
        for k in ('lr', 'weight_decay', 'betas', 'eps', 'momentum', 'amsgrad'):
            if k in g:
                entry[k] = list(g[k]) if isinstance(g[k], tuple) else g[k]
        groups.append(entry)
    # mmengine's paramwise options make one group per tensor: merge equal hyper-params.
    merged: Dict[tuple, Dict[str, Any]] = {}
    for e in groups:
        key = tuple((k, json.dumps(e.get(k))) for k in
                    ('lr', 'weight_decay', 'betas', 'eps', 'momentum'))
        if key in merged:
            m = merged[key]
            m['tensors'] += e['tensors']
            m['params'] += e['params']
            m['parts'] = sorted(set(m['parts']) | set(e['parts']))
        else:
            merged[key] = dict(e)
    return list(merged.values())


def _sample_schedule(cfg: Config, wrapper, max_iters: int,
                     progress: bool) -> Dict[str, Any]:
    """Build the schedulers on ``wrapper`` and step them as ParamSchedulerHook does."""
    sched_cfgs = cfg.get('param_scheduler') or []
    sched_cfgs = sched_cfgs if isinstance(sched_cfgs, list) else [sched_cfgs]
    if any(s.get('by_epoch', True) for s in sched_cfgs):
        return dict(schedulers=_plain(sched_cfgs),
                    note='epoch-based scheduler: values not sampled')
    schedulers = [PARAM_SCHEDULERS.build(dict(copy.deepcopy(s), optimizer=wrapper))
                  for s in sched_cfgs]
    wanted = sorted({0, min(1, max_iters - 1), max_iters // 2, max_iters - 1})
    samples = {}
    groups = wrapper.optimizer.param_groups
    with warnings.catch_warnings():
        # Only the schedule is sampled: no optimiser step is taken (torch warns).
        warnings.filterwarnings('ignore', message=re.escape('Detected call of `'))
        for it in tqdm(range(max_iters), desc='stepping the schedulers',
                       disable=not progress, leave=False):
            if it in wanted:
                samples[it] = dict(lr=[g['lr'] for g in groups])
                if 'betas' in groups[0]:
                    samples[it]['beta1'] = [g['betas'][0] for g in groups]
                elif 'momentum' in groups[0]:
                    samples[it]['momentum'] = [g['momentum'] for g in groups]
                if it == wanted[-1]:
                    break
            for s in schedulers:
                s.step()
    return dict(schedulers=_plain(sched_cfgs), samples=samples)


def resolve_recipe(cfg: Config,
                   config_path: str = '',
                   train_list_len: Optional[int] = None,
                   gpus: Optional[int] = None,
                   progress: bool = False,
                   model=None) -> Dict[str, Any]:
    """The resolved recipe of ``cfg`` as a dict (what the card prints).

    Args:
        cfg (Config): the loaded config.
        config_path (str): its path (for the name-derived GPU count). Defaults to ''.
        train_list_len (int, optional): training samples per epoch; else counted from
            the split list when it exists.
        gpus (int, optional): GPU count; else from the config name, else 1.
        progress (bool): progress bar while stepping the schedulers. Defaults to False.
        model (nn.Module, optional): the built model to take the parameter groups
            from (saves building it again); None builds ``cfg.model`` with pretrained
            weights disabled. Defaults to None.

    Returns:
        dict: ``encoder``, ``head``, ``data``, ``batch``, ``optimizer``,
        ``schedule``, ``length`` and ``evaluation`` sections.
    """
    gpus = gpus or gpus_from_name(config_path) or 1
    per_gpu = int(cfg.train_dataloader.batch_size)
    total = gpus * per_gpu
    auto = _plain(cfg.get('auto_scale_lr') or {})
    ratio = (total / auto['base_batch_size']
             if auto.get('enable') and auto.get('base_batch_size') else 1.0)
    recipe = dict(config=config_path, encoder=_encoder(cfg.model), head=_head(cfg.model),
                  data=_data(cfg, train_list_len))
    recipe['batch'] = dict(gpus=gpus, per_gpu=per_gpu, total=total,
                           auto_scale_lr=auto or None, lr_scale=ratio)

    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmseg')):
        if model is None:
            model = MODELS.build(disable_pretrained_weights(copy.deepcopy(cfg.model)))
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        for g in wrapper.optimizer.param_groups:  # Runner.scale_lr, before schedulers
            g['lr'] = g['lr'] * ratio
        ow = _plain(cfg.optim_wrapper)
        recipe['optimizer'] = dict(
            type=ow['optimizer']['type'], wrapper=ow.get('type', 'OptimWrapper'),
            clip_grad=ow.get('clip_grad'), paramwise_cfg=ow.get('paramwise_cfg'),
            groups=_param_groups(model, wrapper))
        train_cfg = _plain(cfg.train_cfg)
        max_iters = int(train_cfg.get('max_iters', 0))
        recipe['schedule'] = _sample_schedule(cfg, wrapper, max_iters, progress)
    del model, wrapper

    n = recipe['data']['train_list_len']
    ipe = math.ceil(n / total) if n else None
    recipe['length'] = dict(
        loop=train_cfg.get('type'), max_iters=max_iters, samples=max_iters * total,
        iters_per_epoch=ipe, epochs=(max_iters / ipe) if ipe else None)
    hooks = _plain(cfg.get('default_hooks') or {})
    ckpt = hooks.get('checkpoint', {})
    recipe['evaluation'] = dict(
        interval=train_cfg.get('val_interval'),
        split_file=_plain(cfg.val_dataloader.dataset).get('split_file'),
        evaluator=_plain(cfg.val_evaluator),
        flip=recipe['head']['flip'], flip_fusion=recipe['head']['flip_fusion'],
        save_best=ckpt.get('save_best'), rule=ckpt.get('rule'),
        checkpoint_interval=ckpt.get('interval'))
    return recipe


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f'{v:.6g}'
    if isinstance(v, list) and v and all(isinstance(x, float) for x in v):
        return '[' + ', '.join(f'{x:.6g}' for x in v) + ']'
    return str(v)


def format_card(r: Dict[str, Any]) -> str:
    """The recipe dict as the printed card."""
    e, h, d, b, o, s, n, ev = (r[k] for k in ('encoder', 'head', 'data', 'batch',
                                                'optimizer', 'schedule', 'length',
                                                'evaluation'))
    lines = [f'Recipe card: {r["config"]}']

    def row(key, value):
        lines.append(f'  {key:<22} {value}')

    lines.append('encoder')
    row('type', e['type'] + ('  + DGR after every stage (DGRBackbone)' if e['dgr'] else ''))
    row('weights', e['weights'])
    for k in ENCODER_KEYS:
        if k in e:
            row(k, e[k])
    lines.append('head and loss')
    row('head', f"{h['type']} (depth {h['min_depth']}..{h['max_depth']} m)")
    if h.get('norm_cfg'):
        row('norm', h['norm_cfg'])
    for loss in h['losses']:
        row('loss', loss)
    row('loss mask', h['loss_mask'])
    lines.append('training data')
    row('dataset', f"{d['dataset']}, list {d['split_file']} "
        f"({d['train_list_len'] if d['train_list_len'] else 'length unknown'} lines)")
    row('crop', d['crop'])
    for t in d['augmentations']:
        row('transform', t)
    lines.append('batch')
    row('total', f"{b['total']} = {b['gpus']} GPUs x {b['per_gpu']}")
    row('auto_scale_lr', f"{b['auto_scale_lr']} (lr x {_fmt(b['lr_scale'])})")
    lines.append('optimiser (as mmengine builds it)')
    row('type', f"{o['type']} in {o['wrapper']}, clip_grad={o['clip_grad']}")
    if o.get('paramwise_cfg'):
        row('paramwise_cfg', o['paramwise_cfg'])
    for i, g in enumerate(o['groups']):
        hp = ', '.join(f'{k}={_fmt(g[k])}' for k in
                       ('lr', 'weight_decay', 'betas', 'eps', 'momentum') if k in g)
        row(f'group {i}', f"{'+'.join(g['parts'])}: {g['tensors']} tensors, "
            f"{g['params'] / 1e6:.2f} M params; {hp}")
    lines.append('schedule (mmengine schedulers, stepped)')
    for sch in s['schedulers']:
        row('scheduler', sch)
    for it, vals in s.get('samples', {}).items():
        row(f'iteration {it}', ', '.join(f'{k}={_fmt(v)}' for k, v in vals.items()))
    if s.get('note'):
        row('note', s['note'])
    lines.append('length')
    row('iterations', f"{n['max_iters']:,} ({n['loop']}), {n['samples']:,} samples")
    if n['iters_per_epoch']:
        row('epochs', f"{n['epochs']:.3f} (ceil({d['train_list_len']:,} / {b['total']}) "
            f"= {n['iters_per_epoch']:,} iterations per epoch)")
    else:
        row('epochs', 'unknown: pass --train-list-len N')
    lines.append('evaluation')
    row('interval', f"every {ev['interval']} iterations on {ev['split_file']}")
    row('evaluator', ev['evaluator'])
    row('flip test', f"{ev['flip']}" + (f" ({ev['flip_fusion']})" if ev['flip'] else ''))
    row('best checkpoint', f"{ev['save_best']} (rule {ev['rule']})")
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the resolved training recipe')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--train-list-len', type=int,
                        help='training samples per epoch (default: count the list)')
    parser.add_argument('--gpus', type=int,
                        help='GPU count (default: <G> of the <G>xb<B> name part, else 1)')
    parser.add_argument('--json', action='store_true', help='print JSON instead')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings first')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    recipe = resolve_recipe(cfg, args.config, args.train_list_len, args.gpus,
                            progress=sys.stderr.isatty())
    print(json.dumps(recipe, indent=1, default=str) if args.json else format_card(recipe))
    return recipe


if __name__ == '__main__':
    main()
