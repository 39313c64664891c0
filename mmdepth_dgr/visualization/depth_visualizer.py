"""A registered visualizer that draws image | GT | prediction | error."""
from typing import Optional

import cv2
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample

from .depth_colour import colorize_depth, depth_range

__all__ = ['DepthLocalVisualizer']


def _to_numpy(pixel_data) -> np.ndarray:
    data = pixel_data.data
    data = data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)
    return data[0] if data.ndim == 3 else data


@VISUALIZERS.register_module()
class DepthLocalVisualizer(Visualizer):
    """Draws ``image | GT | prediction | |pred − GT|`` side by side.

    GT and prediction share one colour range (from the GT's valid pixels, else the
    prediction's); invalid GT is black; the error panel uses ``err_cmap`` scaled to
    ``err_max_m`` metres (default: the 95th percentile of the error). Used by
    mmseg's ``SegVisualizationHook`` (``tools/test.py --show-dir``) and during
    validation with any mmengine vis backend (local, TensorBoard).

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        cmap (str): Depth colormap. Defaults to 'magma_r'.
        err_cmap (str): Error colormap. Defaults to 'inferno'.
        err_max_m (float, optional): Error shown as full scale. Defaults to None.
        **kwargs: ``mmengine.visualization.Visualizer`` arguments (vis_backends,
            save_dir, ...).
    """

    def __init__(self, name: str = 'visualizer', cmap: str = 'magma_r',
                 err_cmap: str = 'inferno', err_max_m: Optional[float] = None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.cmap = cmap
        self.err_cmap = err_cmap
        self.err_max_m = err_max_m

    def draw_panels(self, image: np.ndarray,
                    data_sample: Optional[SegDataSample] = None,
                    draw_gt: bool = True, draw_pred: bool = True) -> np.ndarray:
        """Return the (H, k·W, 3) uint8 RGB canvas."""
        gt = pred = None
        if data_sample is not None:
            if draw_gt and 'gt_depth_map' in data_sample:
                gt = _to_numpy(data_sample.gt_depth_map)
            if draw_pred and 'pred_depth_map' in data_sample:
                pred = _to_numpy(data_sample.pred_depth_map)
        ref = pred if pred is not None else gt
        kb_crop = data_sample.metainfo.get('kb_crop') if data_sample is not None else None
        if ref is not None and kb_crop is not None and image.shape[:2] != ref.shape:
            # The hook reads the full-size file; show the region the model saw.
            top, left = int(kb_crop[0]), int(kb_crop[1])
            image = image[top:top + ref.shape[0], left:left + ref.shape[1]]
        if ref is not None and image.shape[:2] != ref.shape:
            image = cv2.resize(image, (ref.shape[1], ref.shape[0]),
                               interpolation=cv2.INTER_AREA)
        panels = [image.astype(np.uint8)]
        vmin, vmax = depth_range(gt) if gt is not None and (gt > 0).any() \
            else depth_range(pred) if pred is not None else (0.0, 1.0)
        if gt is not None:
            panels.append(colorize_depth(gt, vmin, vmax, self.cmap))
        if pred is not None:
            panels.append(colorize_depth(pred, vmin, vmax, self.cmap))
        if gt is not None and pred is not None and gt.shape == pred.shape:
            valid = (gt > 0) & np.isfinite(gt)
            err = np.where(valid, np.abs(pred - gt), 0.0)
            emax = self.err_max_m or (float(np.percentile(err[valid], 95))
                                      if valid.any() else 1.0)
            err_vis = colorize_depth(np.where(valid, err + 1e-6, 0.0), 0.0,
                                     max(emax, 1e-6), self.err_cmap)
            panels.append(err_vis)
        return np.concatenate(panels, axis=1)

    @master_only
    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True, draw_pred: bool = True,
                       show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None, step: int = 0,
                       with_labels: bool = True) -> None:
        """Draw and store (vis backends), show, or write ``out_file``."""
        drawn = self.draw_panels(image, data_sample, draw_gt, draw_pred)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            cv2.imwrite(out_file, cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        else:
            self.add_image(name, drawn, step)
