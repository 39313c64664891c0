"""Depth colouring and the image | GT | prediction | error panels."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdepth_dgr.utils import OutputCollisionError
from mmdepth_dgr.visualization import (INVALID_COLOR, DepthLocalVisualizer, colorbar_strip,
                                       colorize_depth, colorize_error, nice_ticks,
                                       vertical_colorbar)

TITLE_H, BAR_H = 22, 52  # title strip above, colour-bar strip below each panel


def _sample(gt, pred, img_path='/data/scene/rgb_00001.jpg'):
    s = SegDataSample(gt_depth_map=PixelData(data=torch.as_tensor(gt)[None].float()),
                      pred_depth_map=PixelData(data=torch.as_tensor(pred)[None].float()))
    s.set_metainfo(dict(img_path=img_path))
    return s


def _panels(canvas, n, width, gap=6):
    """Split a canvas into its n panel images (without title and bar strips)."""
    return [canvas[TITLE_H:-BAR_H, i * (width + gap):i * (width + gap) + width]
            for i in range(n)]


def test_colorize_marks_invalid_pixels_grey_and_orders_depth():
    d = np.array([[0.0, 1.0], [2.0, np.nan]], dtype=np.float32)
    rgb = colorize_depth(d, cmap='gray')
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == INVALID_COLOR).all() and (rgb[1, 1] == INVALID_COLOR).all()
    assert rgb[1, 0].sum() > rgb[0, 1].sum()  # farther = brighter in gray


def test_invalid_gt_and_zero_error_look_different():
    err = np.zeros((2, 2))
    valid = np.array([[True, False], [True, True]])
    rgb = colorize_error(err, valid, 1.0)
    assert (rgb[0, 1] == INVALID_COLOR).all()
    assert not (rgb[0, 0] == INVALID_COLOR).all()
    assert (rgb[0, 0] == rgb[1, 1]).all()


def test_panels_are_titled_with_colour_bars_and_keep_the_depth_size(tmp_path):
    vis = DepthLocalVisualizer(name='t_vis1', min_panel_width=0)
    gt = torch.rand(60, 300) * 5 + 1
    gt[:, :3] = 0
    canvas = vis.draw_panels(np.zeros((120, 600, 3), np.uint8), _sample(gt, gt + 0.1))
    assert canvas.shape == (TITLE_H + 60 + BAR_H, 4 * 300 + 3 * 6, 3)
    for i in range(4):
        x0 = i * 306
        title = canvas[:TITLE_H, x0:x0 + 300]
        assert (title < 128).any(), f'panel {i} has no title text'
    # GT / prediction / error panels carry a colour bar (coloured pixels) under them
    for i in (1, 2, 3):
        bar = canvas[TITLE_H + 60:, i * 306:i * 306 + 300].astype(int)
        saturation = bar.max(axis=2) - bar.min(axis=2)
        assert (saturation > 60).sum() > 300, f'panel {i} has no colour bar'


def test_error_scale_is_one_for_the_whole_run_from_the_dataset_max_depth():
    """The same error has the same colour in every image, whatever each image's errors;
    the scale is err_scale_ratio x the dataset's max_depth (10 m -> 1 m)."""
    vis = DepthLocalVisualizer(name='t_vis2', min_panel_width=0)
    vis.dataset_meta = dict(max_depth=10.0)
    gt = np.full((8, 20), 3.0, np.float32)
    small = gt.copy()
    small[:, :10] += 0.5          # error 0.5 m on the left
    big = gt.copy()
    big[:, :10] += 0.5
    big[:, 10:] += 4.0            # and 4 m on the right (beyond the 1 m scale)
    err_a = _panels(vis.draw_panels(np.zeros((8, 20, 3), np.uint8), _sample(gt, small)),
                    4, 20)[3]
    err_b = _panels(vis.draw_panels(np.zeros((8, 20, 3), np.uint8), _sample(gt, big)),
                    4, 20)[3]
    assert (err_a[:, :10] == err_b[:, :10]).all()
    assert vis.error_scale() == (pytest.approx(1.0), '0.1 x max depth')
    # 0.5 m is mid-scale and 4 m saturates: colours of 0.5 and 1.0 of the colormap
    np.testing.assert_array_equal(err_a[0, 0], colorize_error(
        np.array([[0.5]]), np.ones((1, 1), bool), 1.0)[0, 0])
    np.testing.assert_array_equal(err_b[0, 15], colorize_error(
        np.array([[1.0]]), np.ones((1, 1), bool), 1.0)[0, 0])


def test_explicit_error_scale_wins_and_invalid_gt_is_grey_in_gt_and_error_panels():
    vis = DepthLocalVisualizer(name='t_vis3', err_max_m=2.0, min_panel_width=0)
    vis.dataset_meta = dict(max_depth=80.0)
    gt = np.full((6, 10), 4.0, np.float32)
    gt[:, :2] = 0
    panels = _panels(vis.draw_panels(np.zeros((6, 10, 3), np.uint8), _sample(gt, gt)),
                     4, 10)
    assert vis.error_scale()[0] == 2.0
    for i in (1, 3):
        assert (panels[i][:, :2] == INVALID_COLOR).all()
        assert not (panels[i][:, 2:] == INVALID_COLOR).all(axis=-1).any()


def test_small_panels_are_enlarged_to_stay_readable():
    vis = DepthLocalVisualizer(name='t_vis4', min_panel_width=256)
    gt = torch.rand(12, 16) * 5 + 1
    canvas = vis.draw_panels(np.zeros((12, 16, 3), np.uint8), _sample(gt, gt))
    assert canvas.shape == (TITLE_H + 12 * 16 + BAR_H, 4 * 256 + 3 * 6, 3)


def test_out_dir_files_keep_the_relative_path_without_double_extensions(tmp_path):
    vis = DepthLocalVisualizer(name='t_vis5', out_dir=str(tmp_path / 'show'),
                               out_root='/data/raw', min_panel_width=0)
    gt = torch.rand(6, 8) + 1
    for drive in ('drive_0001', 'drive_0002'):
        vis.add_datasample('test_0000000005.png', np.zeros((6, 8, 3), np.uint8),
                           _sample(gt, gt, f'/data/raw/{drive}/0000000005.png'))
    for drive in ('drive_0001', 'drive_0002'):
        path = tmp_path / 'show' / drive / '0000000005.png'
        assert cv2.imread(str(path)) is not None
    with pytest.raises(OutputCollisionError):
        vis.add_datasample('x', np.zeros((6, 8, 3), np.uint8),
                           _sample(gt, gt, '/data/raw/drive_0001/0000000005.jpg'))


def test_vis_backend_name_has_no_image_extension(tmp_path):
    vis = DepthLocalVisualizer(name='t_vis6', save_dir=str(tmp_path),
                               vis_backends=[dict(type='LocalVisBackend')],
                               min_panel_width=0)
    gt = torch.rand(6, 8) + 1
    vis.add_datasample('val_rgb_00001.jpg', np.zeros((6, 8, 3), np.uint8),
                       _sample(gt, gt), step=4)
    files = list((tmp_path / 'vis_data' / 'vis_image').iterdir())
    assert [f.name for f in files] == ['val_rgb_00001_4.png']


def test_colour_bars_have_round_ticks_and_span_the_range():
    assert nice_ticks(0.0, 1.0) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(1.3, 7.9)[0] >= 1.3 and nice_ticks(1.3, 7.9)[-1] <= 7.9
    strip = colorbar_strip(200, 0.0, 10.0, 'magma_r', 'depth (m)')
    assert strip.shape == (BAR_H, 200, 3)
    bar = vertical_colorbar(300, 0.0, 10.0, 'magma_r', 'depth (m)')
    assert bar.shape[0] == 300 and 40 < bar.shape[1] < 120
    # high values at the top: the top of the gradient is magma_r's far (dark) end
    assert bar[8, 8].sum() < bar[290, 8].sum()
