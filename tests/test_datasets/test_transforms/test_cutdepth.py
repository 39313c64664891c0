"""CutDepth: the paper geometry, PixelFormer's swapped indexing, and the paste."""
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

from mmdepth_dgr.datasets.transforms import CutDepth, cut_depth_box, paste_depth_patch

H, W = 480, 640


def test_box_by_hand_for_both_index_orders():
    # a=0.5, b=0.25, c=0.5, d=1.0 on 480x640, p=0.75:
    # l = int(0.5*640) = 320, u = int(0.25*480) = 120,
    # w = int((640-320)*0.5*0.75) = 120, h = int((480-120)*1.0*0.75) = 270.
    assert cut_depth_box(H, W, 0.5, 0.25, 0.5, 1.0, 0.75, 'paper') == (120, 390, 320, 440)
    # PixelFormer: rows l:l+h = 320:590 clipped to 480, columns u:u+w = 120:240.
    assert cut_depth_box(H, W, 0.5, 0.25, 0.5, 1.0, 0.75,
                         'pixelformer') == (320, 480, 120, 240)


def test_paper_box_is_never_empty_and_inside_the_frame():
    rng = np.random.default_rng(0)
    for a, b, c, d in rng.uniform(0, 1, size=(500, 4)):
        top, bottom, left, right = cut_depth_box(H, W, a, b, c, d)
        assert 0 <= top < bottom <= H and 0 <= left < right <= W


def test_pixelformer_box_is_empty_exactly_when_row_start_passes_the_height():
    # Rows start at int(a*W): on a 480x640 frame the patch vanishes for a >= 0.75.
    a_grid = (np.arange(4000) + 0.5) / 4000
    empty = np.array([cut_depth_box(H, W, a, 0.3, 0.6, 0.6, 0.75, 'pixelformer')[0]
                      == cut_depth_box(H, W, a, 0.3, 0.6, 0.6, 0.75, 'pixelformer')[1]
                      for a in a_grid])
    np.testing.assert_array_equal(empty, (a_grid * W).astype(int) >= H)
    assert abs((~empty).mean() - H / W) < 1e-3  # effective probability 0.75


def _reference(img, depth, a, b, c, d, p, swapped):
    """The patch built from the CutDepth formulas with a 0/1 mask (independent path)."""
    h_img, w_img = depth.shape
    left, u = int(a * w_img), int(b * h_img)
    w = int(max((w_img - a * w_img) * c * p, 1))
    h = int(max((h_img - b * h_img) * d * p, 1))
    keep = np.ones(depth.shape, dtype=np.float64)
    if swapped:
        keep[left:left + h, u:u + w] = 0
    else:
        keep[u:u + h, left:left + w] = 0
    keep = keep[..., None]
    return keep * img + (1 - keep) * (255.0 * depth[..., None])


@pytest.mark.parametrize('order', ['paper', 'pixelformer'])
def test_paste_equals_the_masked_blend_of_the_formulas(order):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)
    depth = rng.uniform(0, 10, (48, 64)).astype(np.float32)
    for a, b, c, d in rng.uniform(0, 1, size=(100, 4)):
        box = cut_depth_box(48, 64, a, b, c, d, 0.75, order)
        got = paste_depth_patch(img, depth, box)
        ref = _reference(img.astype(np.float64), depth.astype(np.float64), a, b, c, d,
                         0.75, order == 'pixelformer')
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-4)


def test_transform_pastes_drawn_box_and_keeps_depth():
    t = TRANSFORMS.build(dict(type='CutDepth', index_order='pixelformer'))
    assert isinstance(t, CutDepth)
    t._draw = lambda: (True, 0.5, 0.25, 0.5, 1.0)
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    depth = rng.uniform(0.5, 9.0, (H, W)).astype(np.float32)
    out = t(dict(img=img.copy(), gt_depth_map=depth.copy(), seg_fields=['gt_depth_map']))
    assert out['cutdepth_box'] == (320, 480, 120, 240)
    assert out['img'].dtype == np.float32
    np.testing.assert_array_equal(out['gt_depth_map'], depth)
    patch = out['img'][320:480, 120:240]
    np.testing.assert_allclose(patch, np.repeat(depth[320:480, 120:240, None] * 255, 3, 2),
                               rtol=1e-6)
    outside = np.ones((H, W), bool)
    outside[320:480, 120:240] = False
    np.testing.assert_array_equal(out['img'][outside], img[outside].astype(np.float32))


def test_prob_zero_leaves_the_image_values():
    t = CutDepth(prob=0.0)
    img = np.full((8, 8, 3), 7, np.uint8)
    out = t(dict(img=img, gt_depth_map=np.ones((8, 8), np.float32)))
    assert out['cutdepth_box'] is None
    np.testing.assert_array_equal(out['img'], img.astype(np.float32))


def test_missing_depth_error_names_the_image():
    with pytest.raises(KeyError, match='x.jpg'):
        CutDepth()(dict(img=np.zeros((4, 4, 3), np.uint8), img_path='x.jpg'))


@pytest.mark.parametrize('kwargs', [dict(prob=1.5), dict(size_ratio=0.0),
                                    dict(index_order='swapped')])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match='CutDepth'):
        CutDepth(**kwargs)
