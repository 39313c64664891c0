"""tools/analysis_tools/otdl_cost.py: its building blocks on tiny grids (in-process)."""
import importlib.util
import os.path as osp

import torch

from mmdepth_dgr.ot import axis_cost

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'otdl_cost', osp.join(REPO, 'tools', 'analysis_tools', 'otdl_cost.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_otdl_cost_dense_cost_is_the_separable_grid_cost():
    tool = _tool()
    cy, cx, dense = tool._dense_cost(3, 5, torch.float64)
    sep = axis_cost(cy)[:, None, :, None] + axis_cost(cx)[None, :, None, :]
    torch.testing.assert_close(dense, sep.reshape(15, 15), rtol=0, atol=1e-15)


def test_otdl_cost_benchmarks_run_on_tiny_grids():
    tool = _tool()
    (size, t_dense, t_ours, t_ours_d), = tool.bench_vs_dense([(6, 8)], 0.05, 1)
    assert size == '6x8' and min(t_dense, t_ours, t_ours_d) > 0
    t_large, dense_gb = tool.bench_large(6, 8, 0.05, 1)
    assert t_large > 0 and dense_gb == (6 * 8) ** 2 * 4 / 1e9
