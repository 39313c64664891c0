"""Shared inputs of the tests of mmdepth_dgr.ot: random histograms and POT's dense cost."""
import torch

from mmdepth_dgr.ot import grid_axis_coords

F64 = torch.float64


def random_hist(b, h, w, power=3.0):
    """``(b, h, w)`` positive histograms with a wide dynamic range, each summing to 1."""
    x = torch.rand(b, h, w, dtype=F64) ** power + 1e-3
    return x / x.sum(dim=(-1, -2), keepdim=True)


def grid_cost_matrix(h, w):
    """Row/column coordinates and the dense ``(h w) x (h w)`` squared-distance cost."""
    size = max(h, w)
    cy = grid_axis_coords(h, 1, size, dtype=F64, device='cpu')
    cx = grid_axis_coords(w, 1, size, dtype=F64, device='cpu')
    yy, xx = torch.meshgrid(cy, cx, indexing='ij')
    pts = torch.stack([yy.flatten(), xx.flatten()], 1)
    return cy, cx, (torch.cdist(pts, pts) ** 2).numpy()
