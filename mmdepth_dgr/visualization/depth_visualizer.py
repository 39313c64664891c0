"""A registered visualizer that draws image | GT | prediction | error, titled, with
colour bars in metres."""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import master_only
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import Visualizer
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample

from ..utils.output_paths import OutputNames, output_relpath
from .colorbar import colorbar_strip, hstack_panels, labelled_panel, upscale_nearest
from .depth_colour import INVALID_COLOR, colorize_depth, depth_range

__all__ = ['DepthLocalVisualizer', 'colorize_error']


def _to_numpy(pixel_data) -> np.ndarray:
    data = pixel_data.data
    data = data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)
    return data[0] if data.ndim == 3 else data


def colorize_error(err_m: np.ndarray, valid: np.ndarray, err_max_m: float,
                   cmap: str = 'inferno',
                   invalid_color: Sequence[int] = INVALID_COLOR) -> np.ndarray:
    """Colour-map an absolute error on a fixed ``[0, err_max_m]`` scale.

    Zero error gets the colormap's first colour (black for inferno), errors at or above
    ``err_max_m`` its last; pixels outside ``valid`` get ``invalid_color``.

    Args:
        err_m (np.ndarray): (H, W) error in metres.
        valid (np.ndarray): (H, W) bool, where the error is defined.
        err_max_m (float): Error shown at full scale (> 0).
        cmap (str): Matplotlib colormap. Defaults to 'inferno'.
        invalid_color (Sequence[int]): RGB outside ``valid``. Defaults to grey.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    import matplotlib
    norm = np.clip(np.nan_to_num(err_m) / max(float(err_max_m), 1e-9), 0, 1)
    rgb = (matplotlib.colormaps[cmap](norm)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = np.asarray(invalid_color, np.uint8)
    return rgb


@VISUALIZERS.register_module()
class DepthLocalVisualizer(Visualizer):
    """Draws ``image | GT | prediction | |pred - GT|``, titled, with colour bars.

    * GT and prediction share one colour range in metres (the GT's valid range in this
      image, else the prediction's), shown on a colour bar under each panel.
    * The error panel uses **one scale for the whole run**, written on its bar:
      ``err_max_m`` when given, else ``err_scale_ratio`` times the dataset's
      ``max_depth`` (``dataset_meta``, set by mmengine's val/test loops: 1 m for NYU's
      10 m, 8 m for KITTI's 80 m), else ``err_scale_ratio`` times the largest valid GT
      depth of the first image drawn. Errors beyond it saturate. Panels of different
      images are therefore comparable.
    * Pixels without valid GT are ``invalid_color`` (grey, not in the colormaps) in the
      GT and error panels, so "no GT" never looks like a far depth or zero error.
    * Panels narrower than ``min_panel_width`` are enlarged by an integer factor
      (nearest neighbour) so the titles and tick labels stay legible.

    With ``out_dir`` (``tools/test.py --show-dir`` sets it, with ``out_root`` = the
    test set's image folder) each drawing is written to
    ``<out_dir>/<img_path relative to out_root, extension .png>``: equal base names in
    different folders do not collide, two inputs that would still share a file are an
    error. Without it the drawing goes to the vis backends (local files, TensorBoard) as
    ``add_image(<name without the image extension>, ...)``.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        cmap (str): Depth colormap. Defaults to 'magma_r' (near = bright).
        err_cmap (str): Error colormap. Defaults to 'inferno'.
        err_max_m (float, optional): Error at full scale, metres. Defaults to None
            (derived once per run, see above).
        err_scale_ratio (float): Full-scale error as a fraction of the maximum depth
            when ``err_max_m`` is None. Defaults to 0.1.
        invalid_color (Sequence[int]): RGB of pixels without valid GT. Defaults to
            (128, 128, 128).
        min_panel_width (int): Smaller panels are enlarged. Defaults to 256.
        out_dir (str, optional): Write drawings here instead of the vis backends.
            Defaults to None.
        out_root (str, optional): Folder the image paths are made relative to under
            ``out_dir`` (see :func:`~mmdepth_dgr.utils.output_relpath`). Defaults to
            None.
        **kwargs: ``mmengine.visualization.Visualizer`` arguments (vis_backends,
            save_dir, ...).
    """

    def __init__(self, name: str = 'visualizer', cmap: str = 'magma_r',
                 err_cmap: str = 'inferno', err_max_m: Optional[float] = None,
                 err_scale_ratio: float = 0.1,
                 invalid_color: Sequence[int] = INVALID_COLOR,
                 min_panel_width: int = 256, out_dir: Optional[str] = None,
                 out_root: Optional[str] = None, **kwargs):
        super().__init__(name=name, **kwargs)
        if err_max_m is not None and not err_max_m > 0:
            raise ValueError(f'DepthLocalVisualizer: err_max_m must be > 0, got {err_max_m}')
        if not err_scale_ratio > 0:
            raise ValueError('DepthLocalVisualizer: err_scale_ratio must be > 0, got '
                             f'{err_scale_ratio}')
        self.cmap = cmap
        self.err_cmap = err_cmap
        self.err_max_m = err_max_m
        self.err_scale_ratio = float(err_scale_ratio)
        self.invalid_color = tuple(int(c) for c in invalid_color)
        self.min_panel_width = int(min_panel_width)
        self.out_dir = out_dir
        self.out_root = out_root
        self._run_err_max: Optional[float] = None
        self._run_err_source = ''
        self._out_names = OutputNames('--show-dir panel')

    def error_scale(self, gt: Optional[np.ndarray] = None):
        """The run's full-scale error in metres and where it comes from.

        Fixed at the first call (explicit ``err_max_m``, the dataset's ``max_depth``,
        or the first GT's maximum) and returned unchanged afterwards.

        Args:
            gt (np.ndarray, optional): The first image's GT, used only when neither
                ``err_max_m`` nor ``dataset_meta['max_depth']`` is known.

        Returns:
            tuple[float, str]: (metres, short description of the source).
        """
        if self._run_err_max is None:
            meta = self.dataset_meta if isinstance(self.dataset_meta, dict) else {}
            meta_max = meta.get('max_depth')
            if self.err_max_m is not None:
                value, source = float(self.err_max_m), 'err_max_m'
            elif meta_max:
                value = self.err_scale_ratio * float(meta_max)
                source = f'{self.err_scale_ratio:g} x max depth'
            else:
                valid = gt[(gt > 0) & np.isfinite(gt)] if gt is not None else np.empty(0)
                top = float(valid.max()) if valid.size else 10.0
                value = self.err_scale_ratio * top
                source = f'{self.err_scale_ratio:g} x first GT max'
            self._run_err_max, self._run_err_source = value, source
        return self._run_err_max, self._run_err_source

    def draw_panels(self, image: np.ndarray,
                    data_sample: Optional[SegDataSample] = None,
                    draw_gt: bool = True, draw_pred: bool = True) -> np.ndarray:
        """Return the titled panels with colour bars as one uint8 RGB canvas.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB (resized / KB-cropped to the depth
                size when it differs).
            data_sample (SegDataSample, optional): With ``gt_depth_map`` and/or
                ``pred_depth_map`` (metres).
            draw_gt (bool): Draw the GT panel. Defaults to True.
            draw_pred (bool): Draw the prediction panel. Defaults to True.

        Returns:
            np.ndarray: (22 + h + 52, k * w + gaps, 3) uint8 RGB, where (h, w) is the
            depth size (enlarged to ``min_panel_width``) and k the number of panels.
        """
        gt = pred = None
        if data_sample is not None:
            if draw_gt and 'gt_depth_map' in data_sample:
                gt = _to_numpy(data_sample.gt_depth_map).astype(np.float32)
            if draw_pred and 'pred_depth_map' in data_sample:
                pred = _to_numpy(data_sample.pred_depth_map).astype(np.float32)
        ref = pred if pred is not None else gt
        kb_crop = data_sample.metainfo.get('kb_crop') if data_sample is not None else None
        if ref is not None and kb_crop is not None and image.shape[:2] != ref.shape:
            # The hook reads the full-size file; show the region the model saw.
            top, left = int(kb_crop[0]), int(kb_crop[1])
            image = image[top:top + ref.shape[0], left:left + ref.shape[1]]
        if ref is not None and image.shape[:2] != ref.shape:
            image = cv2.resize(image, (ref.shape[1], ref.shape[0]),
                               interpolation=cv2.INTER_AREA)
        image = np.ascontiguousarray(image.astype(np.uint8))

        def big(x):
            return upscale_nearest(x, self.min_panel_width)

        width = big(image).shape[1]
        name = data_sample.metainfo.get('img_path') if data_sample is not None else None
        panels = [labelled_panel(big(image), 'image',
                                 caption=osp.basename(name) if name else None)]
        valid_gt = None if gt is None else (gt > 0) & np.isfinite(gt)
        if valid_gt is not None and valid_gt.any():
            vmin, vmax = depth_range(gt)
        elif pred is not None:
            vmin, vmax = depth_range(pred)
        else:
            vmin, vmax = 0.0, 1.0
        if gt is not None:
            panels.append(labelled_panel(
                big(colorize_depth(gt, vmin, vmax, self.cmap, self.invalid_color)),
                'ground truth', colorbar_strip(width, vmin, vmax, self.cmap, 'depth (m)',
                                               invalid_color=self.invalid_color)))
        if pred is not None:
            panels.append(labelled_panel(
                big(colorize_depth(pred, vmin, vmax, self.cmap, self.invalid_color)),
                'prediction', colorbar_strip(width, vmin, vmax, self.cmap, 'depth (m)')))
        if gt is not None and pred is not None and gt.shape == pred.shape:
            emax, source = self.error_scale(gt)
            err = np.where(valid_gt, np.abs(pred - gt), 0.0)
            panels.append(labelled_panel(
                big(colorize_error(err, valid_gt, emax, self.err_cmap, self.invalid_color)),
                'abs error |pred - GT|',
                colorbar_strip(width, 0.0, emax, self.err_cmap,
                               f'error (m), one scale for the run: {source}',
                               invalid_color=self.invalid_color)))
        return hstack_panels(panels)

    def panel_path(self, img_path: str) -> str:
        """Where :meth:`add_datasample` writes the drawing of ``img_path`` (needs
        ``out_dir``).

        Args:
            img_path (str): The sample's image path.

        Returns:
            str: ``<out_dir>/<relative path with extension .png>``.
        """
        rel = osp.splitext(output_relpath(img_path, self.out_root))[0] + '.png'
        return osp.join(self.out_dir, rel)

    @master_only
    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True, draw_pred: bool = True,
                       show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None, step: int = 0,
                       with_labels: bool = True) -> None:
        """Draw, then show, write ``out_file`` / the ``out_dir`` file, or store in the
        vis backends."""
        drawn = self.draw_panels(image, data_sample, draw_gt, draw_pred)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        img_path = data_sample.metainfo.get('img_path') if data_sample is not None else None
        if out_file is None and self.out_dir is not None:
            source = img_path or name
            out_file = self._out_names.claim(self.panel_path(source), source)
        if out_file is not None:
            mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
            if not cv2.imwrite(out_file, cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                raise OSError(f'DepthLocalVisualizer: cannot write {out_file}')
        else:
            stem, ext = osp.splitext(name)
            image_ext = ext.lower() in ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff',
                                        '.webp')
            self.add_image(stem if image_ext else name, drawn, step)
