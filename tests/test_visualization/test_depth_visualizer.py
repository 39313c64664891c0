import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdepth_dgr.visualization import DepthLocalVisualizer, colorize_depth


def test_colorize_marks_invalid_pixels_and_orders_depth():
    d = np.array([[0.0, 1.0], [2.0, np.nan]], dtype=np.float32)
    rgb = colorize_depth(d, cmap='gray')
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 0).all() and (rgb[1, 1] == 0).all()
    assert rgb[1, 0].sum() > rgb[0, 1].sum()  # farther = brighter in gray


def test_visualizer_draws_four_panels_of_the_prediction_size(tmp_path):
    vis = DepthLocalVisualizer(name='t_vis', save_dir=str(tmp_path))
    gt = torch.rand(1, 12, 16) * 5 + 1
    gt[:, :3] = 0
    sample = SegDataSample(gt_depth_map=PixelData(data=gt),
                           pred_depth_map=PixelData(data=gt + 0.1))
    img = np.zeros((24, 32, 3), np.uint8)  # larger: resized to the depth size
    out = tmp_path / 'panel.png'
    vis.add_datasample('x', img, sample, out_file=str(out))
    import cv2
    drawn = cv2.imread(str(out))
    assert drawn.shape == (12, 16 * 4, 3)
