"""Procedural synthetic depth datasets: the embedded default data of mmdepth_dgr.

Indoor rooms in the NYU-Depth-V2 (BTS) layout and streets with sparse simulated-LiDAR
ground truth in the KITTI (Eigen split) layout, ray-cast exactly against analytic
primitives. Entry point: :func:`generate_dataset` (CLI:
``tools/dataset_converters/generate_synthetic.py``); layouts are described in
:mod:`.writers`. Every generated folder carries a fingerprint (generator version + content
hash, :func:`read_fingerprint`) and is reused only while it is what the current code
writes (:func:`stale_reason`).
"""
from . import camera, generate, geometry, indoor, lidar, outdoor, render, textures, writers
from .camera import (KITTI_INTRINSICS, NYU_INTRINSICS, CameraIntrinsics, camera_rotation,
                     pixel_rays, scale_intrinsics)
from .generate import (DATASET_DEFAULTS, GENERATOR_VERSION, MANIFEST_NAME, StaleDatasetError,
                       content_hash, dataset_is_complete, generate_dataset, read_fingerprint,
                       stale_reason)
from .geometry import Box, Cylinder, Plane, Scene, Sphere
from .writers import read_depth_png

__all__ = ['camera', 'generate', 'geometry', 'indoor', 'lidar', 'outdoor', 'render',
           'textures', 'writers', 'CameraIntrinsics', 'NYU_INTRINSICS', 'KITTI_INTRINSICS',
           'scale_intrinsics', 'camera_rotation', 'pixel_rays', 'Scene', 'Plane', 'Box',
           'Sphere', 'Cylinder', 'generate_dataset', 'dataset_is_complete',
           'DATASET_DEFAULTS', 'MANIFEST_NAME', 'GENERATOR_VERSION', 'StaleDatasetError',
           'content_hash', 'stale_reason', 'read_fingerprint', 'read_depth_png']
