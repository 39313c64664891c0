"""Small file writers shared by the dataset / transform tests."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest


def _write(path, arr):
    os.makedirs(osp.dirname(str(path)) or '.', exist_ok=True)
    assert cv2.imwrite(str(path), arr), path
    return str(path)


@pytest.fixture
def write_depth():
    """``write_depth(path, depth_m, scale)`` -> path of a uint16 PNG of round(depth*scale)."""

    def fn(path, depth_m, scale=1000.0):
        raw = np.round(np.asarray(depth_m, dtype=np.float64) * scale).astype(np.uint16)
        return _write(path, raw)

    return fn


@pytest.fixture
def write_rgb():
    """``write_rgb(path, h, w, seed=0)`` -> path of a random uint8 colour image."""

    def fn(path, h, w, seed=0):
        rng = np.random.default_rng(seed)
        return _write(path, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))

    return fn


@pytest.fixture
def write_text():

    def fn(path, text):
        os.makedirs(osp.dirname(str(path)) or '.', exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
        return str(path)

    return fn
