import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmseg.datasets.transforms import RandomFlip as MMSEG_RandomFlip
from mmseg.registry import TRANSFORMS

from mmdepth_dgr.datasets.transforms import (KBCrop, NYUBorderCrop, RandomCropDepth,
                                             RandomRotateDepth, ResizeDepth, kb_crop_offsets,
                                             rotate_depth_nearest)


def _coords(h, w):
    """Depth whose value encodes the pixel position (all values distinct, > 0)."""
    return (np.arange(h * w, dtype=np.float32).reshape(h, w) + 1.0)


def _sample(h, w, depth=None, **extra):
    """Image channels encode (row, col); depth = ``depth`` or the coordinate code."""
    rows, cols = np.mgrid[0:h, 0:w]
    img = np.stack([rows % 256, cols % 256, (rows * w + cols) % 251], -1).astype(np.uint8)
    depth = _coords(h, w) if depth is None else depth
    return dict(img=img, gt_depth_map=depth, seg_fields=['gt_depth_map'],
                img_shape=(h, w), ori_shape=(h, w), img_path='x.png', **extra)


# ------------------------------------------------------------------ KBCrop
@pytest.mark.parametrize('hw, top, left', [
    ((375, 1242), 23, 13),  # 375 - 352, (1242 - 1216) // 2
    ((370, 1224), 18, 4),
    ((376, 1241), 24, 12),  # odd margin: BTS int(25 / 2) = 12
    ((352, 1216), 0, 0),
])
def test_kb_crop_box_matches_hand_computation(hw, top, left):
    h, w = hw
    assert kb_crop_offsets(h, w) == (top, left)
    r = KBCrop()(_sample(h, w))
    assert r['img'].shape == (352, 1216, 3) and r['gt_depth_map'].shape == (352, 1216)
    np.testing.assert_array_equal(r['gt_depth_map'],
                                  _coords(h, w)[top:top + 352, left:left + 1216])
    assert r['kb_crop'] == (top, left, h, w)
    assert r['img_shape'] == (352, 1216)


def test_kb_crop_too_small_image_names_it():
    s = _sample(300, 1242)
    s['img_path'] = 'drive/0000000005.png'
    with pytest.raises(ValueError, match='drive/0000000005.png'):
        KBCrop()(s)


# ------------------------------------------------------------------ NYUBorderCrop
def test_nyu_border_crop_is_bts_box_rows_45_472_cols_43_608():
    r = NYUBorderCrop()(_sample(480, 640))
    assert r['gt_depth_map'].shape == (427, 565) and r['img'].shape == (427, 565, 3)
    np.testing.assert_array_equal(r['gt_depth_map'], _coords(480, 640)[45:472, 43:608])
    assert r['border_crop'] == (45, 43, 480, 640)


def test_nyu_border_mask_mode_zeroes_gt_outside_and_keeps_image():
    s = _sample(480, 640)
    img0 = s['img'].copy()
    r = NYUBorderCrop(mode='mask')(s)
    d, ref = r['gt_depth_map'], _coords(480, 640)
    assert d.shape == (480, 640)
    np.testing.assert_array_equal(r['img'], img0)
    np.testing.assert_array_equal(d[45:472, 43:608], ref[45:472, 43:608])
    inside = np.zeros_like(d, bool)
    inside[45:472, 43:608] = True
    assert (d[~inside] == 0).all()


def test_nyu_border_crop_rejects_non_nyu_size():
    with pytest.raises(ValueError, match='x.png'):
        NYUBorderCrop()(_sample(375, 1242))


# ------------------------------------------------------------------ RandomRotateDepth
def test_rotation_creates_no_new_depth_values():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 10, (40, 50)).astype(np.float32)
    depth[rng.random((40, 50)) < 0.3] = 0  # invalid holes
    for seed in range(5):
        np.random.seed(seed)
        r = RandomRotateDepth(degree=10)(_sample(40, 50, depth.copy()))
        assert r['rotate_angle'] != 0
        assert np.isin(r['gt_depth_map'], np.append(depth, 0)).all()


def test_rotation_pads_outside_with_invalid_zero():
    r = RandomRotateDepth(degree=(20, 20))(_sample(40, 50, np.full((40, 50), 3.0,
                                                                   np.float32)))
    d = r['gt_depth_map']
    assert d[0, 0] == 0 and d[-1, -1] == 0  # corners come from outside the image
    assert set(np.unique(d)) <= {0.0, 3.0}


def test_rotate_then_unrotate_restores_interior_up_to_one_pixel():
    rng = np.random.default_rng(1)
    blocks = rng.uniform(1, 10, (8, 10)).astype(np.float32)
    depth = np.kron(blocks, np.ones((8, 8), np.float32))  # 64 x 80, piecewise constant
    back = rotate_depth_nearest(rotate_depth_nearest(depth, 7.0), -7.0)
    inner = (slice(12, -12), slice(12, -12))
    same = back[inner] == depth[inner]
    assert same.mean() > 0.95
    # each changed pixel took the value of a neighbour (a one-pixel shift at a block
    # edge), never a new value
    ys, xs = np.nonzero(~same)
    for y, x in zip(ys + 12, xs + 12):
        assert back[y, x] in depth[y - 1:y + 2, x - 1:x + 2]


def test_rotation_moves_image_and_depth_by_the_same_angle():
    # a smooth ramp stored both as the image and as the depth: after rotation, the
    # bilinear image and the nearest depth must agree to within one pixel step.
    h, w = 60, 80
    ramp = np.add.outer(np.arange(h), np.arange(w)).astype(np.float32) + 1
    s = _sample(h, w, ramp.copy())
    s['img'] = np.repeat(ramp[..., None], 3, -1)
    np.random.seed(3)
    r = RandomRotateDepth(degree=8)(s)
    inner = (slice(10, -10), slice(10, -10))
    diff = np.abs(r['img'][..., 0][inner] - r['gt_depth_map'][inner])
    assert diff.max() <= 2.0  # |d ramp| per pixel is <= 2 (1 per axis)


def test_rotation_with_prob_zero_is_identity():
    s = _sample(20, 30)
    d0, i0 = s['gt_depth_map'].copy(), s['img'].copy()
    r = RandomRotateDepth(degree=10, prob=0.0)(s)
    np.testing.assert_array_equal(r['gt_depth_map'], d0)
    np.testing.assert_array_equal(r['img'], i0)


# ------------------------------------------------------------------ RandomCropDepth
def test_random_crop_keeps_values_at_the_cropped_location():
    h, w = 50, 70
    for seed in range(5):
        np.random.seed(seed)
        r = RandomCropDepth(crop_size=[16, 24])(_sample(h, w))
        y1, y2, x1, x2 = r['crop_bbox']
        assert (y2 - y1, x2 - x1) == (16, 24)
        np.testing.assert_array_equal(r['gt_depth_map'], _coords(h, w)[y1:y2, x1:x2])
        # the image was cut at the same place (its channels encode row / col)
        rows, cols = np.mgrid[y1:y2, x1:x2]
        np.testing.assert_array_equal(r['img'][..., 0], rows % 256)
        np.testing.assert_array_equal(r['img'][..., 1], cols % 256)
        assert r['img_shape'] == (16, 24)


def test_random_crop_larger_than_image_names_it():
    with pytest.raises(ValueError, match='x.png'):
        RandomCropDepth(crop_size=(416, 544))(_sample(400, 600))


# ------------------------------------------------------------------ RandomFlip (mmseg)
def test_mmseg_random_flip_flips_depth_and_twice_is_identity():
    # configs run with default_scope='mmseg': 'RandomFlip' is mmseg's, which walks
    # seg_fields (mmcv's flips gt_seg_map only)
    with DefaultScope.overwrite_default_scope('mmseg'):
        flip = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0))
    assert type(flip) is MMSEG_RandomFlip
    s = _sample(10, 12)
    d0, i0 = s['gt_depth_map'].copy(), s['img'].copy()
    once = flip(s)
    np.testing.assert_array_equal(once['gt_depth_map'], d0[:, ::-1])
    np.testing.assert_array_equal(once['img'], i0[:, ::-1])
    twice = flip(once)
    np.testing.assert_array_equal(twice['gt_depth_map'], d0)
    np.testing.assert_array_equal(twice['img'], i0)


# ------------------------------------------------------------------ ResizeDepth
def test_resize_upsample_is_exact_nearest_replication_and_scales_focal():
    d = np.array([[0, 1.5, 2.0], [3.25, 0, 7.0]], np.float32)
    s = _sample(2, 3, d.copy(), focal=500.0)
    r = ResizeDepth(scale=(6, 4), keep_ratio=False)(s)  # mmcv scale is (w, h)
    np.testing.assert_array_equal(r['gt_depth_map'], np.kron(d, np.ones((2, 2))))
    assert r['img'].shape == (4, 6, 3)
    assert r['focal'] == pytest.approx(1000.0) and r['ori_focal'] == 500.0


def test_resize_downsample_keeps_depth_values_and_mask():
    rng = np.random.default_rng(0)
    d = rng.uniform(1, 80, (60, 80)).astype(np.float32)
    d[rng.random((60, 80)) < 0.8] = 0  # KITTI-like sparse GT
    s = _sample(60, 80, d.copy(), focal=721.5377)
    r = ResizeDepth(scale_factor=0.5, keep_ratio=True)(s)
    out = r['gt_depth_map']
    assert out.shape == (30, 40)
    assert np.isin(out, d).all()  # nearest: no new (blended) depth values
    assert (out == 0).mean() == pytest.approx((d == 0).mean(), abs=0.05)
    assert r['focal'] == pytest.approx(721.5377 * 0.5)
    assert out.max() <= d.max() and out[out > 0].min() >= d[d > 0].min()


def test_rotation_range_arguments():
    assert RandomRotateDepth(degree=2.5).degree == (-2.5, 2.5)
    assert RandomRotateDepth(max_degree=1.0).degree == (-1.0, 1.0)  # alias
    assert RandomRotateDepth(degree=(-1, 3)).degree == (-1.0, 3.0)
    with pytest.raises(TypeError, match='exactly one'):
        RandomRotateDepth()
    with pytest.raises(TypeError, match='exactly one'):
        RandomRotateDepth(degree=1.0, max_degree=1.0)
    with pytest.raises(ValueError, match='degree'):
        RandomRotateDepth(degree=(3, -3))
