"""Tests of the procedural synthetic dataset generator (mmdepth_dgr.datasets.synthetic)."""
import filecmp
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmdepth_dgr.datasets.synthetic import (KITTI_INTRINSICS, MANIFEST_NAME, NYU_INTRINSICS, Box,
                                            Cylinder, Plane, Scene, Sphere, camera_rotation,
                                            generate_dataset, pixel_rays, read_depth_png,
                                            scale_intrinsics)
from mmdepth_dgr.datasets.synthetic.geometry import (intersect_box, intersect_cylinder,
                                                     intersect_plane, intersect_sphere)
from mmdepth_dgr.datasets.synthetic.lidar import hdl64_elevations_deg, simulate_lidar_scan
from mmdepth_dgr.datasets.synthetic.outdoor import (generate_drive, make_street,
                                                    render_street_frame, street_camera_pose)
from mmdepth_dgr.datasets.synthetic.writers import (KITTI_DEPTH_SCALE, NYU_DEPTH_SCALE,
                                                    depth_to_uint16, parse_split_line,
                                                    write_depth_png)

TINY_NYU = dict(kind='nyu', num_train=3, num_test=2, height=48, width=64, progress=False,
                num_workers=1, views_per_job=2)
TINY_KITTI = dict(kind='kitti', num_train=2, num_test=3, height=48, width=160, progress=False,
                  num_workers=1, views_per_job=3)


def _all_files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        out += [osp.relpath(osp.join(dirpath, n), root) for n in names]
    return sorted(out)


# ----------------------------------------------------------------------------- geometry
def test_fronto_parallel_wall_at_z3_has_depth_exactly_3():
    intr = scale_intrinsics(NYU_INTRINSICS, 48, 64)
    scene = Scene([Plane((0, 0, -1), -3.0)])  # world plane Z = 3
    hits = scene.raycast(np.zeros(3), pixel_rays(intr, camera_rotation()).reshape(-1, 3))
    assert np.all(hits.t == 3.0)


def test_floor_depth_equals_h_fy_over_v_minus_cy():
    intr = scale_intrinsics(NYU_INTRINSICS, 48, 64)
    h = 1.37
    scene = Scene([Plane((0, 1, 0), 0.0)])  # floor Y = 0, camera at height h, level
    t = scene.raycast(np.array([0.0, h, 0.0]),
                      pixel_rays(intr, camera_rotation()).reshape(-1, 3)).t.reshape(48, 64)
    v = np.arange(48, dtype=np.float64)
    below = v > intr.cy
    expected = h * intr.fy / (v[below] - intr.cy)
    np.testing.assert_allclose(t[below], np.repeat(expected[:, None], 64, 1), rtol=1e-12)
    assert np.all(np.isinf(t[~below]))  # rows at / above the horizon never meet the floor


def test_ray_parameter_is_z_depth_for_a_rotated_camera():
    intr = scale_intrinsics(NYU_INTRINSICS, 24, 32)
    rot = camera_rotation(23.0, -17.0, 4.0)
    origin = np.array([0.3, 1.2, -0.5])
    scene = Scene([Plane((0, 1, 0), 0.0), Box((0.5, 0.5, 3.0), (0.5, 0.5, 0.5), 30.0),
                   Sphere((-0.6, 0.4, 2.5), 0.4), Plane((0, 0, -1), -6.0)])
    hits = scene.raycast(origin, pixel_rays(intr, rot).reshape(-1, 3))
    ok = np.isfinite(hits.t)
    z_cam = ((hits.point - origin) @ rot)[:, 2]  # camera-frame z of each hit point
    np.testing.assert_allclose(z_cam[ok], hits.t[ok], rtol=1e-12)


def test_scale_intrinsics_matches_resizing_pixel_centres():
    small = scale_intrinsics(NYU_INTRINSICS, 240, 320)
    assert small.fx == pytest.approx(NYU_INTRINSICS.fx / 2)
    assert small.fy == pytest.approx(NYU_INTRINSICS.fy / 2)
    p = np.array([0.7, -0.3, 2.5])  # project at full size, then map the pixel coordinate
    u_full = NYU_INTRINSICS.fx * p[0] / p[2] + NYU_INTRINSICS.cx
    v_full = NYU_INTRINSICS.fy * p[1] / p[2] + NYU_INTRINSICS.cy
    assert small.fx * p[0] / p[2] + small.cx == pytest.approx((u_full + 0.5) / 2 - 0.5)
    assert small.fy * p[1] / p[2] + small.cy == pytest.approx((v_full + 0.5) / 2 - 0.5)


def test_ray_box_hits_match_hand_computed_values():
    o = np.zeros(3)
    t, n = intersect_box(o, np.array([[0.1, 0.2, 1.0]]), (0, 0, 5), (1, 1, 1))
    assert t[0] == pytest.approx(4.0)  # front face z = 4
    np.testing.assert_allclose(n[0], [0, 0, -1])
    # A cube turned 45 deg about Y: its front edge is at z = 5 - sqrt(2); at x = 0.1 the
    # face z = 5 - sqrt(2) + x is hit, with normal (1, 0, -1) / sqrt(2).
    a = np.deg2rad(45)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    t, n = intersect_box(np.array([0.1, 0.0, 0.0]), np.array([[0.0, 0.0, 1.0]]), (0, 0, 5),
                         (1, 1, 1), rot)
    assert t[0] == pytest.approx(5 - np.sqrt(2) + 0.1)
    np.testing.assert_allclose(n[0], [np.sqrt(0.5), 0, -np.sqrt(0.5)], atol=1e-12)
    # Misses: pointing away, passing beside, starting inside.
    t, _ = intersect_box(o, np.array([[0, 0, -1.0], [0.5, 0, 1.0]]), (0, 0, 5), (1, 1, 1))
    assert np.all(np.isinf(t))
    t, _ = intersect_box(np.array([0, 0, 5.0]), np.array([[0, 0, 1.0]]), (0, 0, 5), (1, 1, 1))
    assert np.isinf(t[0])


def test_ray_sphere_hits_match_hand_computed_values():
    d = np.array([[0, 0, 1.0], [0, 0, 2.0]])
    t, n = intersect_sphere(np.zeros(3), d, (0, 0, 5), 1.0)
    np.testing.assert_allclose(t, [4.0, 2.0])  # t is in units of the (unnormalised) d
    np.testing.assert_allclose(n, [[0, 0, -1], [0, 0, -1]])
    # Offset ray x = 0.6: z = 5 - sqrt(1 - 0.36) = 4.2, normal (0.6, 0, -0.8).
    t, n = intersect_sphere(np.array([0.6, 0, 0]), np.array([[0, 0, 1.0]]), (0, 0, 5), 1.0)
    assert t[0] == pytest.approx(4.2)
    np.testing.assert_allclose(n[0], [0.6, 0, -0.8], atol=1e-12)
    t, _ = intersect_sphere(np.array([1.1, 0, 0]), np.array([[0, 0, 1.0]]), (0, 0, 5), 1.0)
    assert np.isinf(t[0])


def test_ray_cylinder_hits_side_and_cap():
    base, r, h = (0, 0, 5), 1.0, 2.0
    t, n = intersect_cylinder(np.array([0, 1.0, 0]), np.array([[0, 0, 1.0]]), base, r, h)
    assert t[0] == pytest.approx(4.0)
    np.testing.assert_allclose(n[0], [0, 0, -1], atol=1e-12)
    t, n = intersect_cylinder(np.array([0.3, 5.0, 5.2]), np.array([[0, -1.0, 0]]), base, r, h)
    assert t[0] == pytest.approx(3.0)  # top cap y = 2
    np.testing.assert_allclose(n[0], [0, 1, 0])
    t, _ = intersect_cylinder(np.array([0, 3.0, 0]), np.array([[0, 0, 1.0]]), base, r, h)
    assert np.isinf(t[0])


def test_plane_hit_from_behind_is_ignored():
    t, _ = intersect_plane(np.zeros(3), np.array([[0, 0, -1.0], [0, 0, 1.0]]), (0, 0, 1), 2.0)
    assert np.isinf(t[0]) and t[1] == pytest.approx(2.0)


def _random_scene(rng):
    scene = Scene([Plane((0, 1, 0), 0.0)])
    for _ in range(6):
        c = rng.uniform([-3, 0, 2], [3, 2, 8])
        scene.add(Box(tuple(c), tuple(rng.uniform(0.1, 0.8, 3)), float(rng.uniform(-60, 60))))
    scene.add_group([Sphere((0.5, 1.0, 4.0), 0.5), Cylinder((1.5, 0.0, 4.0), 0.3, 1.5),
                     Box((1.0, 1.7, 4.0), (1.0, 0.1, 0.4))])
    scene.add(Sphere((-1.0, 0.7, 3.0), 0.6))
    return scene


def test_culled_raycast_and_shadows_equal_brute_force():
    rng = np.random.default_rng(0)
    scene = _random_scene(rng)
    o = np.array([0.0, 1.5, 0.0])
    d = rng.normal(size=(4000, 3))
    d[:, 2] = np.abs(d[:, 2]) + 0.2
    hits = scene.raycast(o, d)
    ts = np.stack([p.intersect(o, d)[0] for p in scene.primitives])
    np.testing.assert_array_equal(hits.t, ts.min(0))
    ok = np.isfinite(hits.t)
    np.testing.assert_array_equal(hits.index[ok], ts.argmin(0)[ok])
    # Shadow rays: general (a point light) and shared-direction (the sun) culling.
    start = hits.point[ok] + 1e-4 * hits.normal[ok]
    light = np.array([0.3, 3.0, 4.0])
    for sd, t_max, shared in [(light - start, 1.0, False),
                              (np.broadcast_to([0.3, 1.0, -0.2], start.shape), np.inf, True)]:
        brute = np.zeros(len(start), dtype=bool)
        for p in scene.primitives:
            if p.casts_shadow:
                brute |= p.intersect(start, np.ascontiguousarray(sd))[0] < t_max
        np.testing.assert_array_equal(scene.occluded(start, sd, t_max, shared), brute)


# ----------------------------------------------------------------------------- LiDAR
def test_hdl64_beams_span_plus2_to_minus24_8_degrees():
    el = hdl64_elevations_deg()
    assert el.shape == (64,) and el[0] == pytest.approx(2.0) and el[-1] == pytest.approx(-24.8)
    assert np.all(np.diff(el) < 0)


def test_lidar_hits_on_a_wall_lie_on_it_at_the_analytic_range():
    scene = Scene([Plane((0, 0, -1), -10.0)])  # wall Z = 10 in front of the sensor
    origin = np.array([0.0, 1.73, 0.0])
    pts = simulate_lidar_scan(scene, origin, np.eye(3), azimuth_range_deg=(-20, 20),
                              azimuth_step_deg=1.0, min_range_m=0.0)
    assert len(pts) == 64 * 40
    np.testing.assert_allclose(pts[:, 2], 10.0)
    # range = 10 / (cos(el) cos(az)) >= 10, so every return is at least 10 m away
    assert np.all(np.linalg.norm(pts - origin, axis=1) >= 10.0 - 1e-9)


@pytest.fixture(scope='module')
def kitti_frame():
    """One street frame at the default KITTI-like size 192x640."""
    intr = scale_intrinsics(KITTI_INTRINSICS, 192, 640)
    rng = np.random.default_rng(3)
    street = make_street(rng)
    origin, rot, veh = street_camera_pose(rng, street, 5.0)
    rgb, sparse, dense = render_street_frame(street, origin, rot, veh, intr, rng)
    return intr, rgb, sparse, dense, (street, origin, rot, veh)


def test_kitti_sparse_gt_is_sparse_below_horizon_and_empty_in_the_sky(kitti_frame):
    intr, rgb, sparse, dense, _ = kitti_frame
    valid = sparse > 0
    lower = valid[int(np.ceil(intr.cy)):]
    assert 0.05 <= lower.mean() <= 0.3, lower.mean()
    assert valid.mean() < 0.25
    assert not valid[~np.isfinite(dense)].any()  # sky: no depth
    assert np.isinf(dense).any()
    # The top beam is +2 deg and the camera is level within 1 deg, so nothing shows more
    # than ~10 deg above the principal point.
    top = int(intr.cy - intr.fy * np.tan(np.deg2rad(10)))
    assert not valid[:top].any()
    assert sparse[valid].max() <= 80.0 and sparse[valid].min() > 2.0
    assert rgb.dtype == np.uint8 and rgb.shape == (192, 640, 3)


def test_kitti_pixel_gt_equals_exact_camera_depth(kitti_frame):
    _, _, sparse, dense, _ = kitti_frame
    valid = sparse > 0
    np.testing.assert_allclose(sparse[valid], dense[valid].astype(np.float32), rtol=0)


def test_kitti_lidar_gt_values_agree_with_camera_depth(kitti_frame):
    intr, _, _, dense, (street, origin, rot, veh) = kitti_frame
    _, sparse, _ = render_street_frame(street, origin, rot, veh, intr,
                                       np.random.default_rng(0), gt_values='lidar',
                                       shadows=False)
    valid = sparse > 0
    assert valid.mean() > 0.03
    rel = np.abs(sparse[valid] - dense[valid]) / dense[valid]
    assert rel.max() <= 0.05 + 1e-6 and np.median(rel) < 0.01


def test_drive_frames_advance_along_the_street():
    intr = scale_intrinsics(KITTI_INTRINSICS, 24, 80)
    _, frames = generate_drive(np.random.SeedSequence(1), intr, 2, shadows=False)
    assert len(frames) == 2 and not np.array_equal(frames[0][0], frames[1][0])


# ----------------------------------------------------------------------------- writers
@pytest.mark.parametrize('scale', [NYU_DEPTH_SCALE, KITTI_DEPTH_SCALE])
def test_depth_png_round_trips_within_quantisation(tmp_path, scale):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 80.0 if scale == KITTI_DEPTH_SCALE else 10.0, (16, 20))
    depth[0, :3] = [0.0, np.nan, -1.0]  # invalid -> 0
    path = str(tmp_path / 'd.png')
    write_depth_png(path, depth, scale)
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    back = read_depth_png(path, scale)
    assert np.all(back[0, :3] == 0)
    np.testing.assert_allclose(back[1:], depth[1:], atol=0.5 / scale + 1e-6)
    assert depth_to_uint16(np.array([1e9]), scale)[0] == 65535


def test_nyu_layout_split_files_and_focal(tmp_path):
    root = tmp_path / 'nyu'
    man = generate_dataset(str(root), seed=0, **TINY_NYU)
    fx = NYU_INTRINSICS.fx * 64 / 640
    assert man['intrinsics']['fx'] == pytest.approx(fx)
    for split, name, n in [('train', 'nyu_train.txt', 3), ('test', 'nyu_test.txt', 2)]:
        lines = (root / name).read_text().splitlines()
        assert len(lines) == n
        for line in lines:
            rgb_rel, depth_rel, focal = parse_split_line(line)
            assert focal == pytest.approx(fx, rel=1e-9)
            scene, fname = rgb_rel.split('/')
            assert fname.startswith('rgb_') and fname.endswith('.jpg') and len(fname) == 13
            assert depth_rel == f'{scene}/sync_depth_{fname[4:9]}.png'
            img = cv2.imread(str(root / split / rgb_rel))
            raw = cv2.imread(str(root / split / depth_rel), cv2.IMREAD_UNCHANGED)
            assert img.shape == (48, 64, 3) and raw.shape == (48, 64)
            assert raw.dtype == np.uint16
            depth = raw / 1000.0
            assert (raw > 0).mean() > 0.95
            assert depth[raw > 0].min() >= 0.1 and depth.max() <= 10.0
    assert json.loads((root / MANIFEST_NAME).read_text())['complete'] is True


def test_kitti_layout_split_files_and_none_lines(tmp_path):
    root = tmp_path / 'kitti'
    man = generate_dataset(str(root), seed=0, **TINY_KITTI)
    fx = KITTI_INTRINSICS.fx * 160 / 1242
    train = (root / 'kitti_eigen_train.txt').read_text().splitlines()
    test = (root / 'kitti_eigen_test.txt').read_text().splitlines()
    assert len(train) == 2 and len(test) == 3
    assert sum(parse_split_line(ln)[1] == 'None' for ln in test) == 1
    assert man['counts']['test_without_gt'] == 1
    for line in train + test:
        img_rel, gt_rel, focal = parse_split_line(line)
        assert focal == pytest.approx(fx, rel=1e-9)
        date, drive, cam, data, frame = img_rel.split('/')
        assert drive.startswith(date + '_drive_') and drive.endswith('_sync')
        assert (cam, data, len(frame)) == ('image_02', 'data', 14)
        assert cv2.imread(str(root / img_rel)).shape == (48, 160, 3)
        if gt_rel == 'None':
            continue
        assert gt_rel == f'{drive}/proj_depth/groundtruth/image_02/{frame}'
        raw = cv2.imread(str(root / gt_rel), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.shape == (48, 160)
        assert 0 < (raw > 0).mean() < 1 and raw.max() / 256.0 <= 80.0
        assert not (raw[:5] > 0).any()  # top rows are sky / above the top beam


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    a = generate_dataset(str(tmp_path / 'a'), seed=7, **TINY_NYU)
    b = generate_dataset(str(tmp_path / 'b'), seed=7, **dict(TINY_NYU, num_workers=2))
    c = generate_dataset(str(tmp_path / 'c'), seed=8, **TINY_NYU)
    assert not (a['skipped'] or b['skipped'] or c['skipped'])
    files = _all_files(tmp_path / 'a')
    assert files == _all_files(tmp_path / 'b') and len(files) == 3 + 2 * 5
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)
    assert mismatch == [] and errors == []
    depth_a = sorted(f for f in files if 'sync_depth' in f)
    depth_c = sorted(f for f in _all_files(tmp_path / 'c') if 'sync_depth' in f)
    assert any((tmp_path / 'a' / f).read_bytes() != (tmp_path / 'c' / g).read_bytes()
               for f, g in zip(depth_a, depth_c))


def test_generation_is_idempotent_and_guards_other_parameters(tmp_path):
    root = tmp_path / 'd'
    generate_dataset(str(root), seed=0, **TINY_NYU)
    stamp = {f: os.stat(root / f).st_mtime_ns for f in _all_files(root)}
    again = generate_dataset(str(root), seed=0, **TINY_NYU)
    assert again['skipped'] is True
    assert stamp == {f: os.stat(root / f).st_mtime_ns for f in _all_files(root)}
    with pytest.raises(FileExistsError, match='other parameters'):
        generate_dataset(str(root), seed=1, **TINY_NYU)
    fewer = dict(TINY_NYU, num_train=1, num_test=1)
    man = generate_dataset(str(root), seed=1, overwrite=True, **fewer)
    assert man['skipped'] is False
    assert len(_all_files(root)) == 3 + 2 * 2  # manifest, 2 split files, no stale files
    # A missing file makes the dataset incomplete, so it is generated again.
    victim = next(f for f in _all_files(root) if f.endswith('.jpg'))
    os.remove(root / victim)
    assert generate_dataset(str(root), seed=1, **fewer)['skipped'] is False
    assert (root / victim).is_file()


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown kind 'foo'"):
        generate_dataset(str(tmp_path / 'x'), kind='foo')
    with pytest.raises(ValueError, match='num_train'):
        generate_dataset(str(tmp_path / 'x'), num_train=-1, progress=False)
    (tmp_path / 'junk').mkdir()
    (tmp_path / 'junk' / 'a.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not empty'):
        generate_dataset(str(tmp_path / 'junk'), **TINY_NYU)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(OSError, match='file'):
        generate_dataset(str(tmp_path / 'file' / 'sub'), **TINY_NYU)


# ----------------------------------------------------------------------------- CLI
def _load_cli(repo_root):
    path = osp.join(repo_root, 'tools', 'dataset_converters', 'generate_synthetic.py')
    spec = importlib.util.spec_from_file_location('generate_synthetic_cli', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_writes_then_skips_and_rejects_bad_input(repo_root, tmp_path, capsys):
    cli = _load_cli(repo_root)
    args = ['--kind', 'nyu', '--out', str(tmp_path / 'o'), '--num-train', '2', '--num-test',
            '1', '--height', '24', '--width', '32', '--workers', '1', '--no-progress']
    assert cli.main(args) == 0
    assert 'Wrote synthetic nyu dataset' in capsys.readouterr().out
    assert cli.main(args) == 0
    assert 'nothing to do' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(['--kind', 'mars'])
    assert exc.value.code == 2
    assert "invalid choice: 'mars'" in capsys.readouterr().err
    (tmp_path / 'f').write_text('x')
    assert cli.main(['--out', str(tmp_path / 'f' / 'o'), '--no-progress']) == 2
    assert str(tmp_path / 'f') in capsys.readouterr().err


# ----------------------------------------------------------------------------- fingerprint
def test_manifest_records_version_and_a_content_hash_of_every_written_file(tmp_path):
    import hashlib

    from mmdepth_dgr.datasets.synthetic import GENERATOR_VERSION
    root = tmp_path / 'd'
    man = generate_dataset(str(root), seed=0, **TINY_NYU)
    files = [f for f in _all_files(root) if f != MANIFEST_NAME]
    # the sha256sum text of every file but the manifest, in path order, hashed again
    text = ''.join(f'{hashlib.sha256((root / f).read_bytes()).hexdigest()}  {f}\n'
                   for f in sorted(f.replace(os.sep, '/') for f in files))
    assert man['content_sha256'] == hashlib.sha256(text.encode()).hexdigest()
    assert man['num_files'] == len(files) == 2 + 2 * 5
    on_disk = json.loads((root / MANIFEST_NAME).read_text())
    assert on_disk['generator_version'] == GENERATOR_VERSION
    assert on_disk['content_sha256'] == man['content_sha256']


def test_other_generator_version_is_regenerated_not_reused(tmp_path, monkeypatch):
    from mmdepth_dgr.datasets.synthetic import generate as gen
    root = tmp_path / 'd'
    first = generate_dataset(str(root), seed=0, **TINY_NYU)
    monkeypatch.setattr(gen, 'GENERATOR_VERSION', gen.GENERATOR_VERSION + 1)
    again = generate_dataset(str(root), seed=0, **TINY_NYU)
    assert again['skipped'] is False
    assert f'generator version {first["generator_version"]}' in again['regenerated']
    assert json.loads((root / MANIFEST_NAME).read_text())['generator_version'] == \
        first['generator_version'] + 1
    # now current: reused
    assert generate_dataset(str(root), seed=0, **TINY_NYU)['skipped'] is True


def test_no_overwrite_refuses_a_stale_folder_naming_it_and_the_mismatch(tmp_path,
                                                                        monkeypatch):
    from mmdepth_dgr.datasets.synthetic import StaleDatasetError
    from mmdepth_dgr.datasets.synthetic import generate as gen
    root = tmp_path / 'd'
    generate_dataset(str(root), seed=0, **TINY_NYU)
    stamp = {f: (root / f).read_bytes() for f in _all_files(root)}
    monkeypatch.setattr(gen, 'GENERATOR_VERSION', gen.GENERATOR_VERSION + 1)
    with pytest.raises(StaleDatasetError) as exc:
        generate_dataset(str(root), seed=0, regenerate_stale=False, **TINY_NYU)
    msg = str(exc.value)
    assert str(root) in msg
    assert f'version {gen.GENERATOR_VERSION - 1}' in msg
    assert f'writes version {gen.GENERATOR_VERSION}' in msg
    assert stamp == {f: (root / f).read_bytes() for f in _all_files(root)}  # untouched


def test_an_edited_file_fails_the_content_hash_and_is_regenerated(tmp_path):
    from mmdepth_dgr.datasets.synthetic import read_fingerprint, stale_reason
    root = tmp_path / 'd'
    generate_dataset(str(root), seed=0, **TINY_NYU)
    victim = root / sorted(f for f in _all_files(root) if 'sync_depth' in f)[-1]
    original = victim.read_bytes()
    assert read_fingerprint(str(root))['verified'] is True
    depth = cv2.imread(str(victim), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(victim), depth + 1)
    assert read_fingerprint(str(root))['verified'] is False
    assert 'changed after generation' in stale_reason(str(root))
    again = generate_dataset(str(root), seed=0, **TINY_NYU)
    assert again['skipped'] is False and 'changed after generation' in again['regenerated']
    assert victim.read_bytes() == original


def test_a_renderer_change_without_version_bump_is_caught_by_the_spot_check(tmp_path,
                                                                           monkeypatch):
    from mmdepth_dgr.datasets.synthetic import generate as gen
    root = tmp_path / 'd'
    generate_dataset(str(root), seed=0, **TINY_NYU)
    original = gen.write_rgb
    # the "new code" encodes its JPEGs at another quality, GENERATOR_VERSION unchanged
    monkeypatch.setattr(gen, 'write_rgb', lambda path, rgb: original(path, rgb, 80))
    again = generate_dataset(str(root), seed=0, **TINY_NYU)
    assert again['skipped'] is False
    assert 'renders' in again['regenerated'] and '.jpg' in again['regenerated']


def test_a_version_1_folder_without_content_hash_is_stale(tmp_path):
    root = tmp_path / 'd'
    generate_dataset(str(root), seed=0, **TINY_NYU)
    man = json.loads((root / MANIFEST_NAME).read_text())
    # the layout written before fingerprints: version among the params, no hash
    man['params']['generator_version'] = 1
    for key in ('generator_version', 'content_sha256', 'num_files'):
        man.pop(key)
    (root / MANIFEST_NAME).write_text(json.dumps(man))
    again = generate_dataset(str(root), seed=0, **TINY_NYU)
    assert again['skipped'] is False and 'generator version 1' in again['regenerated']


def test_kitti_spot_check_accepts_its_own_output(tmp_path):
    from mmdepth_dgr.datasets.synthetic import stale_reason
    root = tmp_path / 'k'
    generate_dataset(str(root), seed=0, **TINY_KITTI)
    assert stale_reason(str(root)) is None
    assert generate_dataset(str(root), seed=0, **TINY_KITTI)['skipped'] is True


def test_dataset_class_reports_the_fingerprint_of_generated_data(tmp_path):
    from mmdepth_dgr.datasets import NYUDepthDataset
    root = tmp_path / 'd'
    man = generate_dataset(str(root), seed=0, **TINY_NYU)
    ds = NYUDepthDataset(data_root=str(root), split_file='nyu_test.txt',
                         data_prefix=dict(img_path='test', depth_map_path='test'),
                         depth_scale=1000.0, pipeline=[])
    fp = ds.data_fingerprint(verify=True)
    assert fp['content_sha256'] == man['content_sha256'] and fp['verified'] is True
    assert fp['generator_version'] == man['generator_version'] and fp['kind'] == 'nyu'
    other = tmp_path / 'plain'
    other.mkdir()
    (other / 'list.txt').write_text('a.jpg b.png 500\n')
    plain = NYUDepthDataset(data_root=str(other), split_file='list.txt', lazy_init=True,
                            pipeline=[])
    assert plain.data_fingerprint() is None


def test_cli_no_overwrite_exits_2_naming_the_folder(repo_root, tmp_path, capsys,
                                                    monkeypatch):
    from mmdepth_dgr.datasets.synthetic import generate as gen
    cli = _load_cli(repo_root)
    args = ['--kind', 'nyu', '--out', str(tmp_path / 'o'), '--num-train', '2', '--num-test',
            '1', '--height', '24', '--width', '32', '--workers', '1', '--no-progress']
    assert cli.main(args) == 0
    monkeypatch.setattr(gen, 'GENERATOR_VERSION', gen.GENERATOR_VERSION + 1)
    capsys.readouterr()
    assert cli.main(args + ['--no-overwrite']) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / 'o') in err and 'generator version' in err
    assert cli.main(args) == 0
    assert 'Regenerated' in capsys.readouterr().out
