"""The sparse-pixel study (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1, Eq. 4, Fig. 2-3; after Hu
et al., ICCV 2019): which pixels do a CNN and a Transformer depth network need?

The command line is ``tools/analysis_tools/sparse_pixel_probe.py`` (a thin wrapper of
:func:`main`)::

    python tools/analysis_tools/sparse_pixel_probe.py CNN_CONFIG CNN_CKPT \
        TRANSFORMER_CONFIG TRANSFORMER_CKPT --work-dir work_dirs/probe \
        [--lam 1.0] [--iters 100] [--threshold 0.5 | --density 0.1] [--resume]

1. Trains a mask network G_c for the frozen CNN N_c and G_t for the frozen Transformer N_t
   (``SparseMaskProbe``, Eq. 4) through mmengine's Runner on the depth networks' own training
   split (the Transformer config's ``train_dataloader``), each in ``WORK_DIR/{cnn,transformer}``
   (``--resume`` continues from the latest checkpoint there; a finished run is not redone).
2. Binarises the masks on the test split: ``G > threshold`` (default 0.5) or, with
   ``--density``, the top fraction of pixels per image (same sparsity for both networks).
3. Cross-evaluates: ``N_t(I*M_t)``, ``N_t(I*M_c)``, ``N_c(I*M_c)``, ``N_c(I*M_t)`` and the
   full-image ``N_t(I)``, ``N_c(I)``: RMSE / AbsRel against the ground truth and against the
   network's own full-image prediction (mean over test images).
4. Where the masks lie: the share of kept pixels in the top decile of image-gradient
   magnitude (Sobel on the grey image; chance = the decile's actual share, ~10 %) and within
   ``--edge-tol`` pixels of a ground-truth depth edge (Canny on depth,
   :func:`mmdepth_dgr.evaluation.functional.detect_depth_edges`; chance = the band's share of
   the valid pixels). Counts are pooled over the test images.
5. Writes ``WORK_DIR/results.md`` (both markdown tables, also printed), ``results.json``,
   Figure-3-style PNG rows ``WORK_DIR/figures/probe_XXXX.png`` (RGB, |grad I|, M_t, M_c,
   N_t(I*M_t), N_c(I*M_c), GT) for the first ``--num-figures`` test images, and the run
   record ``WORK_DIR/probe_record.json`` (:func:`probe_record`; also to ``--record PATH``):
   commit + dirty flag, data fingerprint, library versions, device and threads, the exact
   command, the seed, λ, density / threshold and both tables' numbers.

The whole walkthrough of ``configs/probe/README.md`` (generate data, train the pair, run
the probe, write one record) is ``sparse_pixel_probe.py walkthrough --seed S``
(:mod:`.walkthrough`); ``sparse_pixel_probe.py render-doc`` rewrites the README's tables
from the committed records (:mod:`.report`).
"""
import argparse
import copy
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from tqdm import tqdm

from mmdepth_dgr.evaluation.functional import (NoValidDepthError, compute_depth_metrics,
                                               detect_depth_edges)
from mmdepth_dgr.utils.run_record import make_run_record
from mmdepth_dgr.visualization import colorize_depth, depth_range
from .masking import binarize_mask, image_region_mask

__all__ = ['ROWS', 'SIDES', 'parse_args', 'probe_runner_cfg', 'train_probe', 'evaluate',
           'markdown_tables', 'image_gradient_magnitude', 'top_decile', 'probe_record',
           'write_record', 'run_study', 'main', 'cli']

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_PROBE_CONFIG = osp.join(
    _REPO, 'configs/probe/sparse-mask-probe_masknet_1xb4-100iter_synnyu-240x320.py')
SIDES = ('cnn', 'transformer')
SHORT = {'cnn': 'c', 'transformer': 't'}
#: Cross-evaluation rows: (row label, network side, mask side or None for the full image).
ROWS = [('N_t(I)', 'transformer', None), ('N_c(I)', 'cnn', None),
        ('N_t(I·M_t)', 'transformer', 'transformer'), ('N_t(I·M_c)', 'transformer', 'cnn'),
        ('N_c(I·M_c)', 'cnn', 'cnn'), ('N_c(I·M_t)', 'cnn', 'transformer')]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('cnn_config')
    p.add_argument('cnn_checkpoint')
    p.add_argument('transformer_config')
    p.add_argument('transformer_checkpoint')
    p.add_argument('--work-dir', default='work_dirs/sparse_pixel_probe')
    p.add_argument('--probe-config', default=DEFAULT_PROBE_CONFIG,
                   help='SparseMaskProbe config (G, lambda, optimiser, schedule, hooks)')
    p.add_argument('--lam', type=float, default=None,
                   help='lambda of Eq. 4 (default: the probe config\'s model.lam)')
    p.add_argument('--iters', type=int, default=None,
                   help='G training iterations per network (default: the probe config\'s)')
    p.add_argument('--batch-size', type=int, default=None,
                   help='G training batch size (default: the probe config\'s)')
    p.add_argument('--mask-space', choices=['pixel', 'normalized'], default=None,
                   help='mask black pixels (pixel) or set them to the mean colour '
                   '(normalized); default: the probe config\'s')
    g = p.add_mutually_exclusive_group()
    g.add_argument('--threshold', type=float, default=None,
                   help='binarise G > threshold (default 0.5)')
    g.add_argument('--density', type=float, default=None,
                   help='binarise to the top fraction of pixels per image instead')
    p.add_argument('--data-root', default=None,
                   help='override data_root of the train and test dataloaders')
    p.add_argument('--num-test', type=int, default=None, help='first N test images only')
    p.add_argument('--num-figures', type=int, default=4)
    p.add_argument('--edge-tol', type=int, default=1,
                   help='depth-edge band half-width in pixels (0 = the 1-px Canny edges)')
    p.add_argument('--resume', action='store_true',
                   help='continue G training from the latest checkpoint in each sub-dir')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--record', default=None, metavar='JSON',
                   help='also write the run record here (it is always written to '
                   'WORK_DIR/probe_record.json), e.g. docs/data/probe/my_run.json')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides of the probe config, e.g. model.mask_net.widths=[8,16]')
    args = p.parse_args(argv)
    if args.threshold is None and args.density is None:
        args.threshold = 0.5
    if args.density is not None and not 0 < args.density <= 1:
        p.error(f'--density must be in (0, 1], got {args.density}')
    for name in ('cnn_config', 'cnn_checkpoint', 'transformer_config',
                 'transformer_checkpoint', 'probe_config'):
        path = getattr(args, name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'sparse_pixel_probe: {name} not found: {path}')
    return args


# ----------------------------------------------------------------------------- training
def _set_data_root(dl_cfg, root: Optional[str]):
    if root is not None:
        dl_cfg.dataset.data_root = root
    return dl_cfg


def probe_runner_cfg(args, side: str, data_cfg: Config, stamp: str) -> Config:
    """The Runner config that trains G for one side (see the module docstring)."""
    cfg = Config.fromfile(args.probe_config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    config = getattr(args, f'{side}_config')
    ckpt = getattr(args, f'{side}_checkpoint')
    cfg.model.depth_net = dict(config=osp.abspath(config), checkpoint=osp.abspath(ckpt))
    if args.lam is not None:
        cfg.model.lam = args.lam
    if args.mask_space is not None:
        cfg.model.mask_space = args.mask_space
    train_dl = copy.deepcopy(data_cfg.train_dataloader)
    _set_data_root(train_dl, args.data_root)
    if args.batch_size is not None:
        train_dl.batch_size = args.batch_size
    cfg.train_dataloader = train_dl
    if args.iters is not None:
        cfg.train_cfg.max_iters = args.iters
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    ckpt_hook = cfg.default_hooks.get('checkpoint')
    if ckpt_hook is not None:
        ckpt_hook.interval = min(ckpt_hook.get('interval', cfg.train_cfg.max_iters),
                                 cfg.train_cfg.max_iters)
    cfg.work_dir = osp.join(args.work_dir, side)
    cfg.randomness = dict(seed=args.seed)
    # Distinct names: two Runners in one process must not share a logger / visualizer.
    cfg.experiment_name = f'sparse_probe_{side}_{stamp}'
    if cfg.get('visualizer') is not None:
        cfg.visualizer.name = f'sparse_probe_vis_{side}_{stamp}'
    cfg.resume = bool(args.resume)
    cfg.load_from = None
    return cfg


def train_probe(cfg: Config) -> torch.nn.Module:
    """Train G through the project's Runner (:class:`~mmdepth_dgr.engine.DepthRunner`:
    mmengine's Runner whose ``resume`` reads the Runner's own checkpoint types under
    torch's weights-only loading); returns the trained probe in eval mode."""
    from mmdepth_dgr.engine import build_runner
    runner = build_runner(cfg)
    runner.train()
    model = runner.model
    model = getattr(model, 'module', model)
    model.eval()
    return model


# ----------------------------------------------------------------------------- evaluation
def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def image_gradient_magnitude(img_bgr: np.ndarray) -> np.ndarray:
    """``(H, W)`` Sobel gradient magnitude of the grey image of an ``(H, W, 3)`` BGR image."""
    grey = cv2.cvtColor(img_bgr.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def top_decile(values: np.ndarray) -> np.ndarray:
    """Pixels at or above the 90th percentile (ties can make it more than 10 %)."""
    return values >= np.percentile(values, 90.0)


class _Counts:
    """Pooled counts for the where-do-masks-lie table."""

    def __init__(self):
        self.kept = self.pixels = 0
        self.kept_grad = self.grad = 0
        self.kept_edge = self.kept_valid = self.edge = self.valid = 0

    def add(self, mask: np.ndarray, grad_top: np.ndarray, edge: np.ndarray,
            valid: np.ndarray) -> None:
        self.kept += int(mask.sum())
        self.pixels += mask.size
        self.kept_grad += int((mask & grad_top).sum())
        self.grad += int(grad_top.sum())
        self.kept_edge += int((mask & edge & valid).sum())
        self.kept_valid += int((mask & valid).sum())
        self.edge += int((edge & valid).sum())
        self.valid += int(valid.sum())

    def result(self) -> Dict[str, float]:
        def div(a, b):
            return float(a) / b if b else float('nan')
        share_g, chance_g = div(self.kept_grad, self.kept), div(self.grad, self.pixels)
        share_e, chance_e = div(self.kept_edge, self.kept_valid), div(self.edge, self.valid)
        return dict(density=div(self.kept, self.pixels), grad_share=share_g,
                    grad_chance=chance_g, grad_ratio=div(share_g, chance_g),
                    edge_share=share_e, edge_chance=chance_e,
                    edge_ratio=div(share_e, chance_e))


def _label(img: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((14, img.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([strip, img], axis=0)


def figure_row(img_bgr: np.ndarray, grad: np.ndarray, mask_t: np.ndarray, mask_c: np.ndarray,
               depth_t: np.ndarray, depth_c: np.ndarray, gt: np.ndarray,
               dens: Dict[str, float]) -> np.ndarray:
    """One Figure-3-style row, ``(h + 14, 7 * w, 3)`` BGR uint8."""
    vmin, vmax = depth_range(gt, depth_t, depth_c)
    g = np.clip(grad / max(float(np.percentile(grad, 99)), 1e-6), 0, 1)
    panels = [
        (img_bgr.astype(np.uint8), 'RGB'),
        (cv2.cvtColor((g * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR), '|grad I|'),
        (cv2.cvtColor((mask_t * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR),
         f"M_t {100 * dens['t']:.0f}%"),
        (cv2.cvtColor((mask_c * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR),
         f"M_c {100 * dens['c']:.0f}%"),
        (colorize_depth(depth_t, vmin, vmax)[..., ::-1], 'N_t(I*M_t)'),
        (colorize_depth(depth_c, vmin, vmax)[..., ::-1], 'N_c(I*M_c)'),
        (colorize_depth(gt, vmin, vmax)[..., ::-1], 'GT'),
    ]
    return np.concatenate([_label(np.ascontiguousarray(p), t) for p, t in panels], axis=1)


def _fit(depth: torch.Tensor, size) -> torch.Tensor:
    if tuple(depth.shape[-2:]) != tuple(size):
        depth = F.interpolate(depth, size=tuple(size), mode='bilinear', align_corners=False)
    return depth


@torch.no_grad()
def evaluate(probes: Dict[str, torch.nn.Module], test_dl_cfg, evaluator_cfg: dict, args,
             fig_dir: Optional[str] = None) -> dict:
    """Cross-evaluation and mask-location statistics on the test split (see module doc)."""
    loader = Runner.build_dataloader(test_dl_cfg, seed=args.seed)
    eval_kw = dict(min_depth=evaluator_cfg.get('min_depth', 1e-3),
                   max_depth=evaluator_cfg.get('max_depth', 10.0),
                   crop=evaluator_cfg.get('crop', 'none'))
    metrics = {label: {k: [] for k in ('rmse_gt', 'abs_rel_gt', 'rmse_self', 'abs_rel_self')}
               for label, _, _ in ROWS}
    densities = {side: [] for side in SIDES}
    counts = {side: _Counts() for side in SIDES}
    figures: List[str] = []
    total = len(loader.dataset) if args.num_test is None else min(args.num_test,
                                                                     len(loader.dataset))
    for idx, data in enumerate(tqdm(loader, total=total, desc='probe test', leave=False)):
        if idx >= total:
            break
        if len(data['inputs']) != 1:
            raise ValueError('sparse_pixel_probe: the test dataloader must have batch_size 1')
        sample = data['data_samples'][0]
        gt = sample.gt_depth_map.data[0].float().cpu().numpy()
        x, metas, valid, soft, binm, img_hw = {}, {}, {}, {}, {}, None
        for side, probe in probes.items():
            out = probe.data_preprocessor(copy.deepcopy(data), False)
            x[side] = out['inputs']
            metas[side] = [s.metainfo for s in out['data_samples']]
            valid[side] = image_region_mask(metas[side], x[side].shape, x[side].device)
            img_hw = tuple(metas[side][0].get('img_shape', x[side].shape[-2:])[:2])
            soft[side] = probe.mask(x[side])
            binm[side] = binarize_mask(soft[side], args.threshold, args.density, valid[side])
        h, w = img_hw
        mask_img = {s: binm[s][:, :, :h, :w] for s in SIDES}
        full, preds = {}, {}
        for label, net, mside in ROWS:
            probe = probes[net]
            if mside is None:
                inp = x[net]
            else:
                m = torch.ones_like(x[net][:, :1])
                m[:, :, :h, :w] = mask_img[mside].to(m)
                inp = probe.masked_inputs(x[net], m, valid[net])
            d = _fit(probe.depth(inp, metas[net])[:, :, :h, :w], gt.shape)[0, 0].cpu().numpy()
            preds[label] = d
            if mside is None:
                full[net] = d
            for ref_name, ref in (('gt', gt), ('self', full[net])):
                try:
                    m_ = compute_depth_metrics(d, ref, name=f'test image {idx}', **eval_kw)
                except NoValidDepthError:
                    continue
                metrics[label][f'rmse_{ref_name}'].append(m_['rmse'])
                metrics[label][f'abs_rel_{ref_name}'].append(m_['abs_rel'])
        # Pipeline images are BGR uint8 (LoadRGBFromFile's default channel_order='bgr').
        img_bgr = data['inputs'][0].permute(1, 2, 0).cpu().numpy()[:h, :w]
        grad = image_gradient_magnitude(img_bgr)
        grad_top = top_decile(grad)
        gt_valid = (gt > 0) & np.isfinite(gt)
        edge = _dilate(detect_depth_edges(gt, gt_valid), args.edge_tol)
        edge = _fit(torch.from_numpy(edge[None, None].astype(np.float32)), (h, w))[0, 0]
        edge = edge.numpy() > 0.5
        v_img = _fit(torch.from_numpy(gt_valid[None, None].astype(np.float32)), (h, w))
        v_img = v_img[0, 0].numpy() > 0.5
        for side in SIDES:
            mnp = mask_img[side][0, 0].cpu().numpy() > 0.5
            densities[side].append(float(mnp.mean()))
            counts[side].add(mnp, grad_top, edge, v_img)
        if fig_dir is not None and idx < args.num_figures:
            os.makedirs(fig_dir, exist_ok=True)
            gt_img = _fit(torch.from_numpy(gt[None, None]), (h, w))[0, 0].numpy()
            row = figure_row(
                img_bgr, grad, mask_img['transformer'][0, 0].cpu().numpy(),
                mask_img['cnn'][0, 0].cpu().numpy(),
                _fit(torch.from_numpy(preds['N_t(I·M_t)'][None, None]), (h, w))[0, 0].numpy(),
                _fit(torch.from_numpy(preds['N_c(I·M_c)'][None, None]), (h, w))[0, 0].numpy(),
                gt_img, dict(t=densities['transformer'][-1], c=densities['cnn'][-1]))
            path = osp.join(fig_dir, f'probe_{idx:04d}.png')
            cv2.imwrite(path, row)
            figures.append(path)
    table = {label: {k: float(np.mean(v)) if v else float('nan') for k, v in vals.items()}
             for label, vals in metrics.items()}
    for label, net, mside in ROWS:
        table[label]['density'] = (1.0 if mside is None else
                                   float(np.mean(densities[mside])))
    where = {side: counts[side].result() for side in SIDES}
    return dict(cross_eval=table, mask_location=where, figures=figures, num_images=total)


def markdown_tables(res: dict, args) -> str:
    """Both result tables as markdown."""
    binar = (f'top {100 * args.density:g} % per image' if args.density is not None
             else f'G > {args.threshold:g}')
    lines = [f'Cross-evaluation on {res["num_images"]} test images (masks binarised: '
             f'{binar}; M_t from G_t trained on N_t, M_c from G_c on N_c). '
             'Errors are means over images; "own" = the same network on the full image.', '',
             '| input | mask density | RMSE vs GT (m) | AbsRel vs GT | RMSE vs own N(I) (m) '
             '| AbsRel vs own N(I) |',
             '| :-- | :-: | :-: | :-: | :-: | :-: |']
    for label, _, _ in ROWS:
        r = res['cross_eval'][label]
        lines.append(f"| {label} | {100 * r['density']:.1f} % | {r['rmse_gt']:.3f} | "
                     f"{r['abs_rel_gt']:.3f} | {r['rmse_self']:.3f} | {r['abs_rel_self']:.3f} |")
    lines += ['', 'Where the kept pixels lie (pooled over the test images; ratio = share / '
              'chance, 1 = no preference).', '',
              '| mask | density | on top-10 % image gradient | chance | ratio | '
              f'on GT depth edges (±{args.edge_tol} px) | chance | ratio |',
              '| :-- | :-: | :-: | :-: | :-: | :-: | :-: | :-: |']
    for side in ('transformer', 'cnn'):
        r = res['mask_location'][side]
        lines.append(f"| M_{SHORT[side]} | {100 * r['density']:.1f} % | "
                     f"{100 * r['grad_share']:.1f} % | {100 * r['grad_chance']:.1f} % | "
                     f"{r['grad_ratio']:.2f} | {100 * r['edge_share']:.1f} % | "
                     f"{100 * r['edge_chance']:.1f} % | {r['edge_ratio']:.2f} |")
    return '\n'.join(lines) + '\n'


def probe_record(res: dict, args, command=None, extra: Optional[dict] = None) -> dict:
    """The run record of a study (:func:`mmdepth_dgr.utils.run_record.make_run_record`).

    Provenance (commit + dirty flag, data fingerprint of ``--data-root``, versions, device,
    threads, the exact command) plus ``tool``, ``seed``, ``lam`` (per side), ``density``,
    ``threshold``, ``iters``, ``mask_space``, ``edge_tol``, the four networks' files,
    ``results`` (``cross_eval``, ``mask_location``, ``num_images``) and ``timing_s``.

    Args:
        res (dict): What :func:`run_study` returns.
        args (argparse.Namespace): The parsed options of :func:`parse_args`.
        command (str | Sequence[str], optional): The command line; None = ``sys.argv``.
        extra (dict, optional): More top-level fields (the walkthrough adds its setup).

    Returns:
        dict: the JSON-able record.
    """
    fields = dict(
        tool='sparse_pixel_probe', seed=args.seed, lam=res['lam'], density=args.density,
        threshold=args.threshold, iters=res['iters'], mask_space=res['mask_space'],
        edge_tol=args.edge_tol, probe_config=_repo_rel(args.probe_config),
        networks={side: dict(config=_repo_rel(getattr(args, f'{side}_config')),
                             checkpoint=getattr(args, f'{side}_checkpoint'))
                  for side in SIDES},
        results=dict(cross_eval=res['cross_eval'], mask_location=res['mask_location'],
                     num_images=res['num_images']),
        timing_s=dict(train_cnn=res['train_s']['cnn'],
                      train_transformer=res['train_s']['transformer'],
                      evaluate=res['eval_s'], total=res['total_s']))
    fields.update(extra or {})
    return make_run_record(command=command, data_root=args.data_root, extra=fields)


def write_record(record: dict, paths) -> List[str]:
    """Write ``record`` as indented JSON to each of ``paths`` (folders are created)."""
    out = []
    for path in paths:
        if not path:
            continue
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1, ensure_ascii=False)
            f.write('\n')
        out.append(path)
    return out


def _repo_rel(path: str) -> str:
    path = osp.abspath(path)
    return osp.relpath(path, _REPO) if path.startswith(_REPO + os.sep) else path


def run_study(args) -> dict:
    """Train G_c and G_t, evaluate, write ``results.md``, ``results.json`` and figures.

    Args:
        args (argparse.Namespace): The options of :func:`parse_args`.

    Returns:
        dict: ``cross_eval``, ``mask_location``, ``figures``, ``num_images``, ``train_s``,
        ``eval_s``, ``total_s``, ``lam``, ``iters``, ``mask_space``, ``threshold``,
        ``density``.
    """
    init_default_scope('mmseg')
    t0 = time.time()
    os.makedirs(args.work_dir, exist_ok=True)
    data_cfg = Config.fromfile(args.transformer_config)
    stamp = time.strftime('%Y%m%d_%H%M%S')
    probes, train_s, iters = {}, {}, {}
    for side in SIDES:
        print(f'[sparse_pixel_probe] training G_{SHORT[side]} for the {side} '
              f'({getattr(args, side + "_config")})', flush=True)
        t = time.time()
        cfg = probe_runner_cfg(args, side, data_cfg, stamp)
        iters[side] = cfg.train_cfg.max_iters
        probes[side] = train_probe(cfg)
        train_s[side] = time.time() - t
    init_default_scope('mmseg')
    test_dl = copy.deepcopy(data_cfg.test_dataloader)
    _set_data_root(test_dl, args.data_root)
    test_dl.update(batch_size=1, num_workers=0, persistent_workers=False)
    test_dl.sampler = dict(type='DefaultSampler', shuffle=False)
    evaluator = data_cfg.get('test_evaluator') or {}
    evaluator = evaluator[0] if isinstance(evaluator, (list, tuple)) else evaluator
    t = time.time()
    res = evaluate(probes, test_dl, dict(evaluator), args,
                   fig_dir=osp.join(args.work_dir, 'figures'))
    res.update(train_s=train_s, eval_s=time.time() - t, total_s=time.time() - t0,
               lam={s: probes[s].lam for s in SIDES}, iters=iters,
               mask_space=probes['transformer'].mask_space,
               threshold=args.threshold, density=args.density)
    text = markdown_tables(res, args)
    print(text)
    print(f'[sparse_pixel_probe] G training {train_s["cnn"]:.0f} s (cnn) + '
          f'{train_s["transformer"]:.0f} s (transformer), evaluation {res["eval_s"]:.0f} s; '
          f'results in {args.work_dir}', flush=True)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(res, f, indent=2)
    return res


def main(argv=None) -> dict:
    """The study (see the module docstring); returns :func:`run_study`'s result plus
    ``record`` (the run record) and ``record_paths`` (where it was written)."""
    args = parse_args(argv)
    res = run_study(args)
    command = None if argv is None else [
        'python', 'tools/analysis_tools/sparse_pixel_probe.py', *argv]
    record = probe_record(res, args, command=command)
    paths = write_record(record, [osp.join(args.work_dir, 'probe_record.json'), args.record])
    print(f'[sparse_pixel_probe] run record: {" and ".join(paths)}', flush=True)
    res.update(record=record, record_paths=paths)
    return res


def cli(argv=None):
    """``sparse_pixel_probe.py``: the study (:func:`main`), or ``walkthrough ...``
    (:func:`mmdepth_dgr.probe.walkthrough.main`), or ``render-doc ...``
    (:func:`mmdepth_dgr.probe.report.main`)."""
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == 'walkthrough':
        from .walkthrough import main as walkthrough_main
        return walkthrough_main(argv[1:])
    if argv and argv[0] == 'render-doc':
        from .report import main as report_main
        return report_main(argv[1:])
    return main(argv if argv else None)
