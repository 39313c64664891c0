"""Evaluation crops: NYU Eigen box, KITTI Garg/Eigen boxes in both conventions."""
import numpy as np
import pytest

from mmdepth_dgr.evaluation.functional import (EVAL_CROPS, crop_box, crop_box_in_kb_frame,
                                               crop_mask, prepare_depth_eval)

# KB crop of a 375x1242 KITTI frame: top = 375 - 352 = 23, left = int((1242 - 1216) / 2) = 13.
KB_375 = (23, 13, 375, 1242)


def test_nyu_eigen_crop_marks_exactly_rows_45_471_cols_41_601():
    mask = crop_mask((480, 640), 'nyu_eigen')
    expected = np.zeros((480, 640), bool)
    for r in range(45, 471):
        for c in range(41, 601):
            expected[r, c] = True
    assert np.array_equal(mask, expected)
    assert mask.sum() == (471 - 45) * (601 - 41)
    assert not mask[44].any() and mask[45, 41] and mask[470, 600] and not mask[471].any()
    assert not mask[:, 40].any() and not mask[:, 601].any()


def test_nyu_eigen_crop_on_another_size_raises_naming_the_shape():
    with pytest.raises(ValueError, match='352x1216'):
        crop_box('nyu_eigen', 352, 1216)


# Boxes by hand: int() of the fraction times the size (products written out).
@pytest.mark.parametrize('crop,h,w,expected', [
    # 0.40810811*352=143.654 0.99189189*352=349.146 0.03594771*1216=43.712 0.96405229*1216=1172.288
    ('garg', 352, 1216, (143, 349, 43, 1172)),
    # 0.40810811*375=153.041 0.99189189*375=371.959 0.03594771*1242=44.647 0.96405229*1242=1197.353
    ('garg', 375, 1242, (153, 371, 44, 1197)),
    # 0.3324324*352=117.016  0.91351351*352=321.557 0.0359477*1216=43.712  0.96405229*1216=1172.288
    ('eigen', 352, 1216, (117, 321, 43, 1172)),
    # 0.3324324*375=124.662  0.91351351*375=342.568 0.0359477*1242=44.647  0.96405229*1242=1197.353
    ('eigen', 375, 1242, (124, 342, 44, 1197)),
    ('none', 7, 9, (0, 7, 0, 9)),
])
def test_kitti_crop_boxes_match_hand_computed_integer_boxes(crop, h, w, expected):
    assert crop_box(crop, h, w) == expected
    mask = crop_mask((h, w), crop)
    r0, r1, c0, c1 = expected
    assert mask.sum() == (r1 - r0) * (c1 - c0) and mask[r0, c0] and mask[r1 - 1, c1 - 1]


@pytest.mark.parametrize('crop,expected', [
    ('garg', (153 - 23, 371 - 23, 44 - 13, 1197 - 13)),   # (130, 348, 31, 1184)
    ('eigen', (124 - 23, 342 - 23, 44 - 13, 1197 - 13)),  # (101, 319, 31, 1184)
])
def test_full_size_box_translated_into_the_kb_frame(crop, expected):
    assert crop_box_in_kb_frame(crop, KB_375, (352, 1216)) == expected


@pytest.mark.parametrize('crop,box_kb,box_full', [
    ('garg', (143, 349, 43, 1172), (130, 348, 31, 1184)),
    ('eigen', (117, 321, 43, 1172), (101, 319, 31, 1184)),
])
def test_both_conventions_on_a_kb_cropped_gt_evaluate_the_expected_pixels(crop, box_kb, box_full):
    gt = np.full((352, 1216), 5.0)
    pred = np.full((352, 1216), 5.0)
    for convention, box in (('kb_cropped', box_kb), ('full_size', box_full)):
        frame = prepare_depth_eval(pred, gt, max_depth=80.0, crop=crop,
                                   crop_convention=convention, kb_crop=KB_375)
        expected = np.zeros((352, 1216), bool)
        expected[box[0]:box[1], box[2]:box[3]] = True
        assert np.array_equal(frame.valid_mask, expected), convention


def test_full_size_gt_with_kb_cropped_pred_in_both_conventions():
    gt = np.full((375, 1242), 5.0)
    pred = np.full((352, 1216), 5.0)
    # kb_cropped: GT cut to the KB window, then the 352x1216 Garg box.
    frame = prepare_depth_eval(pred, gt, max_depth=80.0, crop='garg', kb_crop=KB_375)
    assert frame.gt_depth_m.shape == (352, 1216)
    assert frame.valid_mask.sum() == (349 - 143) * (1172 - 43)
    # full_size: prediction pasted into a zero canvas (zeros -> min_depth), 375x1242 box.
    frame = prepare_depth_eval(pred, gt, max_depth=80.0, crop='garg',
                               crop_convention='full_size', kb_crop=KB_375)
    assert frame.pred_depth_m.shape == (375, 1242)
    assert frame.pred_depth_m[0, 0] == pytest.approx(1e-3)
    assert frame.pred_depth_m[23, 13] == 5.0
    assert np.array_equal(np.argwhere(frame.valid_mask)[[0, -1]], [[153, 44], [370, 1196]])


def test_full_size_convention_without_kb_crop_raises_clear_error():
    gt = np.full((352, 1216), 5.0)
    with pytest.raises(ValueError, match='kb_crop'):
        prepare_depth_eval(gt, gt, max_depth=80.0, crop='garg', crop_convention='full_size')


def test_unknown_crop_name_raises_listing_valid_ones():
    with pytest.raises(ValueError) as err:
        crop_box('eigen_nyu', 480, 640)
    for name in EVAL_CROPS:
        assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match='garg'):
        prepare_depth_eval(np.ones((2, 2)), np.ones((2, 2)), crop='kitti')


def test_unknown_crop_convention_raises():
    with pytest.raises(ValueError, match='kb_cropped'):
        prepare_depth_eval(np.ones((2, 2)), np.ones((2, 2)), crop_convention='benchmark')
