"""PixelFormerHead: skip window attention vs a loop reference, bin centres and the head's
errors (what every host shares, incl. the leaf configs: test_host_matrix.py)."""
from functools import partial

import pytest
import torch
import torch.nn.functional as F

from mmdepth_dgr.models.decode_heads import PixelFormerHead
from mmdepth_dgr.models.decode_heads.pixelformer_layers import (BinCentrePredictor,
                                                                bin_centres_from_logits,
                                                                depth_from_bins)
from mmdepth_dgr.models.utils import SkipWindowAttention, window_attention_2d
from _helpers import level_feats
from _hosts import tiny_head_cfg

TINY_HEAD = tiny_head_cfg('pixelformer')


# ----------------------------------------------------------------- loop reference
def _reference_skip_attention(x, e, q_lin, kv_lin, proj, table, w):
    """Plain-window attention written pixel-pair by pixel-pair: queries from ``x``,
    keys/values from ``e``; zero padding to window multiples."""
    B, H, W, C = x.shape
    pad_b, pad_r = (-H) % w, (-W) % w
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    e = F.pad(e, (0, 0, 0, pad_r, 0, pad_b))
    Hp, Wp = H + pad_b, W + pad_r
    nh = table.shape[1]
    d = C // nh
    q_all = q_lin(x)
    k_all, v_all = kv_lin(e).split(C, dim=-1)
    out = torch.zeros(B, Hp, Wp, C)
    for b in range(B):
        for wy in range(0, Hp, w):
            for wx in range(0, Wp, w):
                pos = [(wy + i, wx + j) for i in range(w) for j in range(w)]
                for h in range(nh):
                    sl = slice(h * d, (h + 1) * d)
                    for (yi, xi) in pos:
                        logits = torch.stack([
                            (q_all[b, yi, xi, sl] * k_all[b, yj, xj, sl]).sum() / d**0.5
                            + table[(yi - yj + w - 1) * (2 * w - 1) + (xi - xj + w - 1), h]
                            for (yj, xj) in pos])
                        a = torch.softmax(logits, 0)
                        vals = torch.stack([v_all[b, yj, xj, sl] for (yj, xj) in pos])
                        out[b, yi, xi, sl] = (a[:, None] * vals).sum(0)
    return proj(out)[:, :H, :W]


@pytest.mark.parametrize('hw', [(8, 8), (6, 7)])
def test_skip_window_attention_matches_loop_reference(hw):
    w, C = 4, 8
    attn = SkipWindowAttention(C, num_heads=2, window_size=w)
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.0)
    x, e = torch.randn(1, *hw, C), torch.randn(1, *hw, C)
    got = window_attention_2d(attn, x, e, w, 0)
    with torch.no_grad():
        ref = _reference_skip_attention(x, e, attn.q, attn.kv, attn.proj,
                                        attn.relative_position_bias_table, w)
    assert torch.allclose(got, ref, atol=1e-5)


# ----------------------------------------------------------------- bins
def test_uniform_logits_give_evenly_spaced_centres():
    # widths (8 - 0)/4 = 2 each -> edges 0, 2, 4, 6, 8 -> centres 1, 3, 5, 7 (by hand)
    c = bin_centres_from_logits(torch.zeros(1, 4), 0.0, 8.0)
    assert torch.allclose(c, torch.tensor([[1.0, 3.0, 5.0, 7.0]]))


def test_bin_centres_increase_inside_the_range():
    c = bin_centres_from_logits(torch.randn(3, 32) * 3, 0.1, 10.0)
    assert (c.diff(dim=1) > 0).all()
    assert (c > 0.1).all() and (c < 10.0).all()


def test_confident_bin_logits_select_that_centre():
    centres = torch.tensor([[1.0, 3.0, 5.0, 7.0]])
    logits = torch.full((1, 4, 2, 2), -50.0)
    logits[0, 2] = 50.0
    assert torch.allclose(depth_from_bins(logits, centres), torch.full((1, 1, 2, 2), 5.0))
    with pytest.raises(ValueError, match='disagree'):
        depth_from_bins(logits, centres[:, :3])


def test_bcp_pools_globally():
    bcp = BinCentrePredictor(8, 16, 4, 0.1, 10.0)
    x = torch.randn(2, 8, 5, 6)
    # a spatial permutation leaves the global mean, hence the centres, unchanged
    perm = x.flatten(2)[:, :, torch.randperm(30)].view(2, 8, 5, 6)
    assert torch.allclose(bcp(x), bcp(perm), atol=1e-6)


# ----------------------------------------------------------------- head
_feats = partial(level_feats, [16, 32, 64, 128])


def test_head_rejects_wrong_level_channels():
    head = PixelFormerHead(**TINY_HEAD)
    feats = _feats()
    feats[1] = torch.randn(2, 10, 8, 12)
    with pytest.raises(ValueError, match='in_channels'):
        head(feats)
    with pytest.raises(ValueError, match='one entry per level'):
        PixelFormerHead(**dict(TINY_HEAD, sam_num_heads=(1, 2, 2)))
