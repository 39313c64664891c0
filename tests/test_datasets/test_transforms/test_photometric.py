import numpy as np
import pytest

from mmdepth_dgr.datasets.transforms import RandomGammaBrightnessColor, gamma_brightness_color


def _sample(seed=0):
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0, 10, (12, 16)).astype(np.float32)
    depth[0] = 0
    img = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return dict(img=img, gt_depth_map=depth, seg_fields=['gt_depth_map'])


def test_formula_by_hand():
    img = np.array([[[255 * 0.25, 255 * 0.5, 255.0]]], np.float32)
    # gamma 0.5: 0.25 -> 0.5, 0.5 -> 0.7071, 1 -> 1; brightness 1.2; colours 1, 1, 0.9
    out = gamma_brightness_color(img, 0.5, 1.2, (1.0, 1.0, 0.9))
    expect = np.array([0.5 * 1.2, min(0.5**0.5 * 1.2, 1.0), 1.2 * 0.9]) * 255
    np.testing.assert_allclose(out[0, 0], np.clip(expect, 0, 255), rtol=1e-6)
    assert out.dtype == np.float32 and out.max() <= 255.0


def test_photometric_leaves_depth_untouched_and_changes_image():
    s = _sample()
    d0, i0 = s['gt_depth_map'].copy(), s['img'].copy()
    r = RandomGammaBrightnessColor(prob=1.0)(s)
    np.testing.assert_array_equal(r['gt_depth_map'], d0)
    assert r['seg_fields'] == ['gt_depth_map']
    assert r['img'].dtype == np.float32 and r['img'].shape == i0.shape
    assert not np.allclose(r['img'], i0)
    assert 0 <= r['img'].min() and r['img'].max() <= 255


def test_prob_zero_only_casts_to_float32():
    s = _sample()
    i0 = s['img'].copy()
    r = RandomGammaBrightnessColor(prob=0.0)(s)
    np.testing.assert_array_equal(r['img'], i0.astype(np.float32))


def test_factors_stay_in_bts_ranges():
    t = RandomGammaBrightnessColor(prob=1.0, brightness_range=(0.9, 1.1))
    for seed in range(50):
        np.random.seed(seed)
        _, gamma, brightness, colors = t._draw(3)
        assert 0.9 <= gamma <= 1.1 and 0.9 <= brightness <= 1.1
        assert colors.shape == (3, ) and ((0.9 <= colors) & (colors <= 1.1)).all()


def test_bad_range_is_rejected():
    with pytest.raises(ValueError, match='gamma_range'):
        RandomGammaBrightnessColor(gamma_range=(1.1, 0.9))
