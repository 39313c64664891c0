"""``DepthEvalMetric``: the community depth-evaluation protocol plus edge/continuity metrics."""
import csv
import logging
import math
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.utils import mkdir_or_exist
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ...utils.output_paths import OutputNames, output_relpath
from ..functional.depth_metrics import (DEPTH_METRIC_NAMES, SILOG_CONVENTIONS, NoValidDepthError,
                                        depth_errors, prepare_depth_eval, to_depth_map)
from ..functional.edge_metrics import EDGE_METRIC_NAMES, edge_continuity_metrics
from ..functional.eval_crops import CROP_CONVENTIONS, check_crop_name

__all__ = ['DepthEvalMetric']


@METRICS.register_module()
class DepthEvalMetric(BaseMetric):
    """Monocular-depth evaluation: standard metrics (+ edge and continuity metrics).

    Standard metrics (:func:`~mmdepth_dgr.evaluation.functional.depth_errors`): ``d1``,
    ``d2``, ``d3``, ``abs_rel``, ``sq_rel``, ``rmse``, ``rmse_log``, ``log10``, ``silog``,
    computed per image under the BTS-family protocol (caps, crops, see
    :func:`~mmdepth_dgr.evaluation.functional.prepare_depth_eval`) and averaged over images.
    ``silog`` follows the BTS / KITTI-benchmark convention by default
    (``100 * sqrt(mean(d^2) - mean(d)^2)``, as in the NeWCRFs / PixelFormer tables);
    ``silog_convention='mmseg'`` gives mmseg ``DepthMetric``'s value.

    Edge and continuity metrics (one class with an option rather than a second metric, so
    the crops, caps and median scaling are shared and cannot drift apart):
    ``dbe_acc``/``dbe_comp`` (iBims-1 depth-boundary errors, pixels) and ``grad_err``/
    ``curv_err`` (derivative errors in the GT's smooth regions), see
    :mod:`~mmdepth_dgr.evaluation.functional.edge_metrics`. They are computed inside the
    crop box on the same capped prediction, need a dense GT (NYU, synthetic) and are
    averaged over the images where they are defined (``dbe_*``: images with GT edges,
    counted in ``num_dbe_images``; ``grad_err``/``curv_err``: images with smooth pixels,
    ``num_continuity_images``). Set ``edge_metrics=False`` for sparse GT (KITTI); a warning
    is logged when the valid GT fraction in the crop is below ``dense_gt_min_fraction``.

    Images without ground truth, or without any valid GT pixel after crop and caps, are
    skipped with a warning and counted in ``num_skipped`` (if no image at all is left,
    :meth:`compute_metrics` raises); ``num_images`` counts the evaluated ones. A NaN prediction is
    an error naming the image. The counts are returned as (integral) floats: mmengine's JSON
    log keeps Python floats but drops the NumPy integers its message hub turns ints into.

    Saved predictions (``output_dir``) keep the input's path relative to ``output_root``
    (``tools/test.py --out`` sets it to the test set's image folder), so frames with equal
    base names from different folders (every KITTI drive has a ``0000000005.png``) are
    all kept; two inputs that would still share an output file (``x.jpg`` and ``x.png``
    in one folder) are an error, never an overwrite.

    Config examples::

        # NYU-Depth-v2 (NeWCRFs / PixelFormer protocol)
        val_evaluator = dict(type='DepthEvalMetric', crop='nyu_eigen',
                             min_depth=1e-3, max_depth=10.0)
        # KITTI Eigen split (Garg crop on the 352x1216 KB crop, as their tables)
        val_evaluator = dict(type='DepthEvalMetric', crop='garg', min_depth=1e-3,
                             max_depth=80.0, edge_metrics=False)

    Args:
        crop (str | None): ``'none'``, ``'nyu_eigen'``, ``'garg'`` or ``'eigen'``.
            Defaults to 'none'.
        crop_convention (str): ``'kb_cropped'`` (KITTI fractions of the 352x1216 KB-cropped
            GT, NeWCRFs/PixelFormer online eval, their published tables) or ``'full_size'``
            (fractions of the original frame, BTS ``bts_eval.py``/DPT; needs the sample
            metainfo ``kb_crop=(top, left, ori_h, ori_w)``). Defaults to 'kb_cropped'.
        min_depth (float): Prediction lower cap and GT threshold (exclusive), metres.
            Defaults to 1e-3.
        max_depth (float): Prediction upper cap and GT threshold (exclusive), metres.
            Defaults to 10.0 (NYU; 80.0 for KITTI).
        silog_convention (str): ``'bts'`` or ``'mmseg'``. Defaults to 'bts'.
        median_scaling (bool): Per-image ``pred *= median(gt) / median(pred)`` over the
            evaluated pixels, for relative-depth models. Defaults to False.
        resize_pred (bool): Resize a prediction of another size to the GT bilinearly
            (``align_corners=False``) instead of raising. Defaults to False.
        edge_metrics (bool): Also report ``dbe_acc``, ``dbe_comp``, ``grad_err``,
            ``curv_err``. Defaults to True.
        edge_max_dist_px (float): DBE neighbourhood ``theta`` (iBims: 10). Defaults to 10.0.
        edge_margin_px (float): Continuity distance to GT edges ``r``. Defaults to 3.0.
        max_rel_laplacian (float): Continuity smoothness threshold ``tau``. Defaults to 0.01.
        dense_gt_min_fraction (float): Warn (once) when edge metrics run on an image whose
            valid GT fraction inside the crop is below this. Defaults to 0.5.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to 'cpu'.
        output_dir (str, optional): Save every prediction as a uint16 PNG
            (``round(depth_m * depth_scale_factor)``) at
            ``<output_dir>/<img_path relative to output_root, extension .png>`` and, at
            the end, ``per_image_metrics.csv`` (one row per image, with that relative
            ``name``). Defaults to None.
        output_root (str, optional): Folder the ``img_path`` s are made relative to;
            an image outside it (or no root) keeps its path relative to the current
            directory, else its absolute path without the leading ``/``. See
            :func:`~mmdepth_dgr.utils.output_relpath`. Defaults to None.
        format_only (bool): Only save predictions (needs ``output_dir``), compute nothing.
            Defaults to False.
        depth_scale_factor (float): PNG units per metre (256 = KITTI benchmark format,
            1000 = NYU millimetres). Defaults to 256.0.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 crop: Optional[str] = 'none',
                 crop_convention: str = 'kb_cropped',
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 silog_convention: str = 'bts',
                 median_scaling: bool = False,
                 resize_pred: bool = False,
                 edge_metrics: bool = True,
                 edge_max_dist_px: float = 10.0,
                 edge_margin_px: float = 3.0,
                 max_rel_laplacian: float = 0.01,
                 dense_gt_min_fraction: float = 0.5,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 output_root: Optional[str] = None,
                 format_only: bool = False,
                 depth_scale_factor: float = 256.0,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.crop = check_crop_name(crop)
        if crop_convention not in CROP_CONVENTIONS:
            raise ValueError(f'DepthEvalMetric: unknown crop_convention {crop_convention!r}; '
                             f'valid: {list(CROP_CONVENTIONS)}.')
        if silog_convention not in SILOG_CONVENTIONS:
            raise ValueError(f'DepthEvalMetric: unknown silog_convention '
                             f'{silog_convention!r}; valid: {list(SILOG_CONVENTIONS)}.')
        if not 0 < min_depth < max_depth:
            raise ValueError('DepthEvalMetric: need 0 < min_depth < max_depth; got '
                             f'min_depth={min_depth}, max_depth={max_depth}.')
        if format_only and output_dir is None:
            raise ValueError('DepthEvalMetric: format_only=True needs output_dir.')
        self.crop_convention = crop_convention
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.silog_convention = silog_convention
        self.median_scaling = bool(median_scaling)
        self.resize_pred = bool(resize_pred)
        self.edge_metrics = bool(edge_metrics)
        self.edge_max_dist_px = float(edge_max_dist_px)
        self.edge_margin_px = float(edge_margin_px)
        self.max_rel_laplacian = float(max_rel_laplacian)
        self.dense_gt_min_fraction = float(dense_gt_min_fraction)
        self.output_dir = output_dir
        self.output_root = output_root
        self._output_names = OutputNames('prediction')
        self.format_only = bool(format_only)
        self.depth_scale_factor = float(depth_scale_factor)
        self._warned_sparse = False
        if self.output_dir and is_main_process():
            mkdir_or_exist(self.output_dir)

    # ------------------------------------------------------------------ process
    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Evaluate every sample of a batch and store one result dict per image.

        Args:
            data_batch (dict): The data batch (unused).
            data_samples (Sequence[dict]): ``SegDataSample.to_dict()`` outputs with
                ``pred_depth_map.data`` and ``gt_depth_map.data`` (``(1, H, W)``, metres) and
                the metainfo (``img_path``, optionally ``kb_crop``) at top level.
        """
        for i, sample in enumerate(data_samples):
            name = str(sample.get('img_path', f'<sample {len(self.results) + i}>'))
            try:
                pred = to_depth_map(sample['pred_depth_map']['data'],
                                    f'{name}: pred_depth_map')
            except KeyError as e:
                raise KeyError(f'DepthEvalMetric: sample {name} has no '
                               "pred_depth_map['data']") from e
            if self.output_dir is not None:
                self._save_prediction(pred, name)
            if self.format_only:
                continue
            gt = sample.get('gt_depth_map', {}).get('data')
            if gt is None:
                # e.g. the 45 KITTI Eigen-test frames without GT, which BTS-family scripts
                # skip (``has_valid_depth``): counted, never silently averaged.
                print_log(f'DepthEvalMetric: skipping {name} (counted in num_skipped): no '
                          "gt_depth_map['data'] (use format_only=True for test sets without"
                          ' ground truth)', logger='current', level=logging.WARNING)
                self.results.append({'img_path': name, 'skipped': True})
                continue
            self.results.append(self._evaluate_one(pred, gt, sample.get('kb_crop'), name))

    def _evaluate_one(self, pred: np.ndarray, gt, kb_crop, name: str) -> dict:
        if kb_crop is not None:
            kb_crop = [int(v) for v in np.asarray(kb_crop).ravel()]
        try:
            frame = prepare_depth_eval(
                pred, gt, min_depth=self.min_depth, max_depth=self.max_depth,
                crop=self.crop, crop_convention=self.crop_convention, kb_crop=kb_crop,
                median_scaling=self.median_scaling, resize_pred=self.resize_pred, name=name)
        except NoValidDepthError as e:
            print_log(f'DepthEvalMetric: skipping {name} (counted in num_skipped): {e}',
                      logger='current', level=logging.WARNING)
            return {'img_path': name, 'skipped': True}
        valid = frame.valid_mask
        result = {'img_path': name, 'skipped': False, 'scale': frame.scale}
        result.update(depth_errors(frame.gt_depth_m[valid], frame.pred_depth_m[valid],
                                   self.silog_convention))
        if self.edge_metrics:
            r0, r1, c0, c1 = frame.box
            v = valid[r0:r1, c0:c1]
            if not self._warned_sparse and v.mean() < self.dense_gt_min_fraction:
                self._warned_sparse = True
                print_log(
                    f'DepthEvalMetric: {name} has only {100 * v.mean():.1f}% valid GT in the '
                    'crop; edge/continuity metrics need dense GT (set edge_metrics=False '
                    'for sparse GT such as KITTI). Warned once.',
                    logger='current', level=logging.WARNING)
            result.update(edge_continuity_metrics(
                frame.pred_depth_m[r0:r1, c0:c1], frame.gt_depth_m[r0:r1, c0:c1], v,
                max_dist_px=self.edge_max_dist_px, edge_margin_px=self.edge_margin_px,
                max_rel_laplacian=self.max_rel_laplacian))
        return result

    def output_name(self, img_path: str) -> str:
        """The relative path (``.png``) under ``output_dir`` of ``img_path``'s prediction.

        Args:
            img_path (str): The sample's image path.

        Returns:
            str: See ``output_root``.
        """
        return osp.splitext(output_relpath(img_path, self.output_root))[0] + '.png'

    def _save_prediction(self, pred: np.ndarray, name: str) -> None:
        out = osp.join(self.output_dir, self.output_name(name))
        self._output_names.claim(out, name)
        mkdir_or_exist(osp.dirname(out))
        png = np.clip(np.nan_to_num(pred) * self.depth_scale_factor, 0, 65535)
        if not cv2.imwrite(out, np.round(png).astype(np.uint16),
                           [cv2.IMWRITE_PNG_COMPRESSION, 0]):
            raise OSError(f'DepthEvalMetric: cannot write prediction {out}')

    # ---------------------------------------------------------- compute_metrics
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-image results over the images and log a table.

        Args:
            results (list[dict]): Per-image dicts from :meth:`process` (all ranks).

        Returns:
            dict[str, float]: The mean standard metrics, the edge metrics when enabled, and
            the counts ``num_images``, ``num_skipped`` (and ``num_dbe_images``,
            ``num_continuity_images`` with edge metrics) as integral floats.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            print_log(f'DepthEvalMetric: predictions saved to {self.output_dir}', logger)
            return OrderedDict()
        done = [r for r in results if not r['skipped']]
        skipped = len(results) - len(done)
        if not done:
            raise RuntimeError(
                f'DepthEvalMetric: none of the {len(results)} images had a valid GT pixel in '
                f'({self.min_depth}, {self.max_depth}) m inside crop {self.crop!r}; check '
                'the depth units (metres), min_depth/max_depth and the crop.')
        metrics: Dict[str, float] = OrderedDict()
        for key in DEPTH_METRIC_NAMES:
            metrics[key] = float(np.mean([r[key] for r in done]))
        if self.edge_metrics:
            for key in EDGE_METRIC_NAMES:
                vals = [r[key] for r in done if math.isfinite(r[key])]
                metrics[key] = float(np.mean(vals)) if vals else float('nan')
        counts = OrderedDict(num_images=len(done), num_skipped=skipped)
        if self.edge_metrics:
            counts['num_dbe_images'] = sum(math.isfinite(r['dbe_acc']) for r in done)
            counts['num_continuity_images'] = sum(
                math.isfinite(r['grad_err']) for r in done)

        table = PrettyTable()
        for key, val in metrics.items():
            table.add_column(key, [round(val, 5)])
        for key, val in counts.items():
            table.add_column(key, [val])
            metrics[key] = float(val)
        print_log(f'DepthEvalMetric (crop={self.crop!r}, convention={self.crop_convention!r}'
                  f', silog={self.silog_convention!r}, median_scaling='
                  f'{self.median_scaling}):\n' + table.get_string(), logger)
        if self.output_dir is not None:
            self._save_per_image(results)
        return metrics

    def _save_per_image(self, results: List[dict]) -> None:
        keys = ['name', 'img_path', 'skipped', 'scale', *DEPTH_METRIC_NAMES]
        if self.edge_metrics:
            keys += [*EDGE_METRIC_NAMES, 'num_smooth_px']
        path = osp.join(self.output_dir, 'per_image_metrics.csv')
        with open(path, 'w', newline='', encoding='utf-8') as f:
            writer = csv.DictWriter(f, fieldnames=keys, restval='')
            writer.writeheader()
            for r in results:
                row = {k: r.get(k, '') for k in keys}
                row['name'] = self.output_name(r['img_path'])
                writer.writerow(row)
        print_log(f'DepthEvalMetric: per-image metrics saved to {path}', 'current')
