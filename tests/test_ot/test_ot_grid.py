"""mmdepth_dgr.ot.grid: coordinates, per-axis cost, the separable kernel's three paths."""
import ast
import glob
import math
import os.path as osp

import pytest
import torch

from mmdepth_dgr.ot import SeparableKernel, axis_cost, grid_axis_coords, log_mass
from _ot_helpers import F64, grid_cost_matrix, random_hist

OT_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                  'mmdepth_dgr', 'ot')


def test_ot_package_imports_no_openmmlab_or_project_module():
    files = sorted(glob.glob(osp.join(OT_DIR, '*.py')))
    assert osp.join(OT_DIR, '__init__.py') in files
    for path in files:
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                # relative imports stay inside the package
                names = [] if node.level else [node.module]
            else:
                continue
            for name in names:
                assert name.split('.')[0] in {'math', 'typing', 'torch'}, (path, name)


def test_axis_coordinates_are_cell_centres_over_the_normalising_length():
    # 3 cells of 4 px, normalised by 16 px: centres at 2, 6, 10 px
    got = grid_axis_coords(3, 4, 16, dtype=F64, device='cpu')
    torch.testing.assert_close(got, torch.tensor([2, 6, 10], dtype=F64) / 16)


def test_separable_cost_equals_the_dense_squared_distance():
    h, w = 4, 6
    cy, cx, dense = grid_cost_matrix(h, w)
    sep = axis_cost(cy)[:, None, :, None] + axis_cost(cx)[None, :, None, :]
    torch.testing.assert_close(sep.reshape(h * w, h * w), torch.from_numpy(dense),
                               rtol=0, atol=1e-15)


def test_log_mass_sends_empty_cells_to_minus_infinity():
    got = log_mass(torch.tensor([0.0, 0.5, 1.0], dtype=F64))
    assert got[0] == -math.inf
    torch.testing.assert_close(got[1:], torch.log(torch.tensor([0.5, 1.0], dtype=F64)))


@pytest.mark.parametrize('reg,path', [(0.05, 'fused'), (0.002, 'per-axis'),
                                      (0.0012, 'exact')])
def test_kernel_lse_paths_equal_a_dense_logsumexp(reg, path):
    """'auto' takes the one-shift kernel product (0.05), the per-axis shifted product
    (0.002: per axis max(C) / eps <= 500 but the sum is not) or exact log-sum-exps (0.0012);
    each equals the dense log-sum-exp against exp(-C / eps)."""
    h, w = 6, 8
    cy, cx, dense = grid_cost_matrix(h, w)
    kernel = SeparableKernel(axis_cost(cy), axis_cost(cx), reg, 'auto')
    assert (kernel.fused, kernel.kx is not None) == {'fused': (True, True),
                                                     'per-axis': (False, True),
                                                     'exact': (False, False)}[path]
    hval = torch.log(random_hist(2, h, w))
    want = torch.logsumexp(hval.flatten(1)[:, None, :] - torch.from_numpy(dense) / reg, -1)
    torch.testing.assert_close(kernel.lse(hval).flatten(1), want, rtol=1e-12, atol=1e-12)
