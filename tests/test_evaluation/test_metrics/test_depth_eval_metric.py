"""DepthEvalMetric through process/compute_metrics with SegDataSample-style dicts."""
import csv
import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from mmdepth_dgr.utils import OutputCollisionError


def make_sample(pred, gt=None, img_path='scene/rgb_0.jpg', **metainfo):
    ds = SegDataSample(metainfo=dict(img_path=img_path, **metainfo))
    ds.pred_depth_map = PixelData(data=torch.as_tensor(np.asarray(pred), dtype=torch.float32)[None])
    if gt is not None:
        ds.gt_depth_map = PixelData(data=torch.as_tensor(np.asarray(gt), dtype=torch.float32)[None])
    return ds.to_dict()


def build(**kw):
    cfg = dict(type='DepthEvalMetric', edge_metrics=False)
    cfg.update(kw)
    return METRICS.build(cfg)


def test_metric_is_registered_under_a_distinct_name():
    from mmdepth_dgr.evaluation import DepthEvalMetric
    assert METRICS.get('DepthEvalMetric') is DepthEvalMetric
    assert METRICS.get('DepthMetric') is not DepthEvalMetric


def test_process_and_compute_average_per_image_not_pooled():
    metric = build()
    # A: one pixel with abs_rel 1; B: three perfect pixels -> per-image mean 0.5 (pooled: 0.25)
    metric.process({}, [make_sample([[2.0]], [[1.0]], 'a.png'),
                        make_sample([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]], 'b.png')])
    res = metric.compute_metrics(metric.results)
    assert res['abs_rel'] == pytest.approx(0.5)
    assert res['d1'] == pytest.approx((0 + 1) / 2)
    assert res['num_images'] == 2 and res['num_skipped'] == 0
    assert set(res) == {'d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10',
                        'silog', 'num_images', 'num_skipped'}


def test_silog_conventions_through_the_class():
    pred, gt = [[2.0, 2.0], [2.0, 4.0]], [[1.0, 2.0], [4.0, 5.0]]
    d = [math.log(2), 0.0, -math.log(2), math.log(0.8)]
    m2, m = sum(x * x for x in d) / 4, sum(d) / 4
    for conv, expected in (('bts', 100 * math.sqrt(m2 - m * m)),
                           ('mmseg', math.sqrt(m2 - 0.5 * m * m))):
        metric = build(silog_convention=conv)
        metric.process({}, [make_sample(pred, gt)])
        assert metric.compute_metrics(metric.results)['silog'] == pytest.approx(expected)


def test_all_invalid_image_is_counted_as_skipped():
    metric = build()
    metric.process({}, [make_sample([[2.0]], [[1.0]], 'ok.png'),
                        make_sample([[2.0, 3.0]], [[0.0, 0.0]], 'holes.png'),
                        make_sample([[2.0]], [[50.0]], 'too_far.png'),
                        make_sample([[2.0]], None, 'no_gt.png')])
    res = metric.compute_metrics(metric.results)
    assert res['num_images'] == 1 and res['num_skipped'] == 3
    assert res['abs_rel'] == pytest.approx(1.0)
    assert [r['img_path'] for r in metric.results if r['skipped']] == [
        'holes.png', 'too_far.png', 'no_gt.png']


def test_no_evaluable_image_at_all_is_an_error():
    metric = build()
    metric.process({}, [make_sample([[2.0]], [[0.0]])])
    with pytest.raises(RuntimeError, match='units'):
        metric.compute_metrics(metric.results)


def test_nan_prediction_raises_naming_the_image_path():
    metric = build()
    with pytest.raises(ValueError, match='office/rgb_00042.jpg'):
        metric.process({}, [make_sample([[np.nan, 1.0]], [[1.0, 1.0]], 'office/rgb_00042.jpg')])


def test_size_mismatch_through_the_class_and_resize_pred():
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(4, 6\)'):
        build().process({}, [make_sample(np.ones((2, 3)), np.ones((4, 6)))])
    metric = build(resize_pred=True)
    metric.process({}, [make_sample(np.full((2, 3), 2.0), np.full((4, 6), 2.0))])
    assert metric.compute_metrics(metric.results)['abs_rel'] == pytest.approx(0.0, abs=1e-7)


def test_bad_options_raise_at_construction():
    with pytest.raises(ValueError, match='nyu_eigen'):
        build(crop='nyu')
    with pytest.raises(ValueError, match='silog_convention'):
        build(silog_convention='eigen')
    with pytest.raises(ValueError, match='crop_convention'):
        build(crop_convention='benchmark')
    with pytest.raises(ValueError, match='output_dir'):
        build(format_only=True)


def test_kb_crop_metainfo_drives_the_full_size_convention():
    gt = np.full((352, 1216), 10.0)
    pred = gt.copy()
    pred[130:348, 31:1184] = 20.0  # wrong exactly inside the full-size Garg box (KB frame)
    kb = dict(kb_crop=(23, 13, 375, 1242))
    full = build(crop='garg', crop_convention='full_size', max_depth=80.0)
    full.process({}, [make_sample(pred, gt, **kb)])
    assert full.compute_metrics(full.results)['abs_rel'] == pytest.approx(1.0)
    kbc = build(crop='garg', max_depth=80.0)  # default: kb_cropped, box 143:349, 43:1172
    kbc.process({}, [make_sample(pred, gt, **kb)])
    inside = (348 - 143) * (1172 - 43)        # rows 143..347 and cols 43..1171 are wrong
    total = (349 - 143) * (1172 - 43)
    assert kbc.compute_metrics(kbc.results)['abs_rel'] == pytest.approx(inside / total)
    no_kb = build(crop='garg', crop_convention='full_size', max_depth=80.0)
    with pytest.raises(ValueError, match='kb_crop'):
        no_kb.process({}, [make_sample(pred, gt)])


def test_median_scaling_option():
    gt = np.array([[1.0, 2.0], [3.0, 6.0]])
    metric = build(median_scaling=True)
    metric.process({}, [make_sample(0.25 * gt, gt)])
    res = metric.compute_metrics(metric.results)
    assert res['abs_rel'] == pytest.approx(0.0, abs=1e-6) and res['d1'] == 1.0


def test_edge_metrics_reported_beside_standard_ones():
    gt = np.full((64, 64), 4.0)
    gt[:, 32:] = 2.0
    shifted = np.full((64, 64), 4.0)
    shifted[:, 34:] = 2.0
    metric = build(edge_metrics=True)
    metric.process({}, [make_sample(gt, gt, 'perfect.png'), make_sample(shifted, gt, 's.png')])
    per_image = {r['img_path']: r for r in metric.results}
    assert per_image['perfect.png']['dbe_acc'] == 0.0
    assert per_image['perfect.png']['grad_err'] == 0.0
    assert per_image['s.png']['dbe_acc'] == pytest.approx(2.0)
    assert per_image['s.png']['dbe_comp'] == pytest.approx(2.0)
    res = metric.compute_metrics(metric.results)
    assert res['dbe_acc'] == pytest.approx(1.0) and res['dbe_comp'] == pytest.approx(1.0)
    assert res['num_dbe_images'] == 2 and res['num_continuity_images'] == 2
    assert {'grad_err', 'curv_err'} <= set(res)


def test_evaluate_applies_prefix():
    metric = build(prefix='nyu')
    metric.process({}, [make_sample([[2.0]], [[1.0]])])
    res = metric.evaluate(1)
    assert res['nyu/abs_rel'] == pytest.approx(1.0) and res['nyu/num_images'] == 1


def test_output_dir_saves_predictions_and_per_image_csv(tmp_path):
    out = tmp_path / 'out'
    metric = build(output_dir=str(out), output_root=str(tmp_path / 'data'),
                   depth_scale_factor=1000.0)
    metric.process({}, [make_sample([[2.5, 1.0]], [[1.0, 1.0]],
                                    str(tmp_path / 'data/x/img_3.jpg')),
                        make_sample([[1.0]], [[0.0]], str(tmp_path / 'data/x/img_4.jpg'))])
    metric.compute_metrics(metric.results)
    png = cv2.imread(str(out / 'x' / 'img_3.png'), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.tolist() == [[2500, 1000]]
    with open(out / 'per_image_metrics.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == ['x/img_3.png', 'x/img_4.png']
    assert [r['img_path'] for r in rows] == [str(tmp_path / 'data/x/img_3.jpg'),
                                             str(tmp_path / 'data/x/img_4.jpg')]
    assert float(rows[0]['abs_rel']) == pytest.approx((1.5 + 0) / 2)
    assert rows[1]['skipped'] == 'True'


def test_format_only_saves_without_gt_and_computes_nothing(tmp_path):
    metric = build(output_dir=str(tmp_path / 'out'), output_root=str(tmp_path),
                   format_only=True)
    metric.process({}, [make_sample([[1.0]], None, str(tmp_path / 'test/img_9.png'))])
    assert metric.compute_metrics(metric.results) == {}
    assert osp.isfile(tmp_path / 'out' / 'test' / 'img_9.png')


def test_equal_basenames_from_the_real_eigen_list_are_all_saved(tmp_path, samples_dir):
    """652 evaluated KITTI Eigen test frames, 350 distinct base names: 652 files, and
    one CSV row per frame naming its own file."""
    root = str(tmp_path / 'raw')
    with open(osp.join(samples_dir, 'splits', 'kitti_eigen_test.txt')) as f:
        rels = [ln.split()[0] for ln in f.read().splitlines()
                if ln.strip() and ln.split()[1] != 'None']
    out = tmp_path / 'out'
    metric = build(output_dir=str(out), output_root=root, depth_scale_factor=256.0)
    for i, rel in enumerate(rels):
        depth = 1.0 + i / 256.0  # a value per frame, to tell the files apart
        metric.process({}, [make_sample([[depth]], [[1.0]], osp.join(root, rel))])
    metric.compute_metrics(metric.results)
    written = [osp.join(d, f) for d, _, fs in os.walk(out) for f in fs
               if f.endswith('.png')]
    assert len(written) == len(rels) == 652
    for i in (0, 100, 651):  # the file of frame i holds frame i's prediction
        png = cv2.imread(str(out / (osp.splitext(rels[i])[0] + '.png')),
                         cv2.IMREAD_UNCHANGED)
        assert int(png[0, 0]) == 256 + i
    with open(out / 'per_image_metrics.csv', newline='') as f:
        names = [r['name'] for r in csv.DictReader(f)]
    assert len(set(names)) == 652


def test_two_inputs_for_one_output_file_are_an_error_not_an_overwrite(tmp_path):
    metric = build(output_dir=str(tmp_path / 'out'), output_root=str(tmp_path))
    metric.process({}, [make_sample([[2.0]], [[1.0]], str(tmp_path / 'a/x.jpg'))])
    with pytest.raises(OutputCollisionError, match='x.jpg.*x.png'):
        metric.process({}, [make_sample([[3.0]], [[1.0]], str(tmp_path / 'a/x.png'))])
    png = cv2.imread(str(tmp_path / 'out/a/x.png'), cv2.IMREAD_UNCHANGED)
    assert int(png[0, 0]) == 512  # the first prediction, not overwritten


def test_counts_survive_mmengines_json_log(tmp_path):
    """The counts go through mmengine's message hub and LoggerHook's JSON conversion
    (which drops NumPy integers) and arrive as numbers, not null."""
    from mmengine.hooks import LoggerHook
    from mmengine.logging import HistoryBuffer
    metric = build(edge_metrics=True)
    gt = np.tile(np.linspace(1, 3, 16), (16, 1))
    metric.process({}, [make_sample(gt * 1.1, gt, 'a.png'),
                        make_sample(gt, np.zeros_like(gt), 'b.png')])
    res = metric.compute_metrics(metric.results)
    # what RuntimeInfoHook + LogProcessor do: store as a scalar, read back current()
    logged = {k: HistoryBuffer([v], [1]).current() for k, v in res.items()}
    tags = LoggerHook._process_tags(logged)
    for key, expected in (('num_images', 1), ('num_skipped', 1), ('num_dbe_images', 1),
                          ('num_continuity_images', 1)):
        assert tags[key] == expected, (key, tags[key])


def test_real_nyu_sample_against_itself(samples_dir):
    path = f'{samples_dir}/nyu_metric3d/depth/sync_depth_00000.png'
    gt = cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    metric = build(crop='nyu_eigen', max_depth=10.0, edge_metrics=True)
    metric.process({}, [make_sample(gt, gt, path)])
    res = metric.compute_metrics(metric.results)
    assert res['d1'] == 1.0 and res['abs_rel'] == 0.0
    assert res['dbe_acc'] == 0.0 and res['grad_err'] == 0.0
