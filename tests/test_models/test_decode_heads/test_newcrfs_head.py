"""NeWCRFsHead: window FC-CRF attention vs a loop reference, the sigmoid depth output and
the head's errors (what every host shares, incl. the leaf configs: test_host_matrix.py)."""
from functools import partial

import pytest
import torch
import torch.nn.functional as F

from mmdepth_dgr.models.decode_heads import NeWCRFsHead
from mmdepth_dgr.models.utils import CRFWindowAttention, shifted_window_mask, window_attention_2d
from _helpers import level_feats
from _hosts import tiny_head_cfg

TINY_HEAD = tiny_head_cfg('newcrfs')


# ----------------------------------------------------------------- loop reference
def _reference_window_attention(x, v, qk, proj, table, w, shift):
    """Attention written pixel-pair by pixel-pair from the NeWCRFs paper's definition.

    Regions for the shifted case: after rolling by -shift, a token is "wrapped" along an
    axis iff it came from the first ``shift`` rows/cols; two tokens of a window may talk
    iff they agree on both wrap flags (else −100, the hosts' value).
    """
    B, H, W, C = x.shape
    pad_b, pad_r = (-H) % w, (-W) % w
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    v = F.pad(v, (0, 0, 0, pad_r, 0, pad_b))
    Hp, Wp = H + pad_b, W + pad_r
    if shift:
        x = torch.roll(x, (-shift, -shift), (1, 2))
        v = torch.roll(v, (-shift, -shift), (1, 2))
    nh = table.shape[1]
    d = C // nh
    q_all, k_all = qk(x).split(C, dim=-1)
    out = torch.zeros(B, Hp, Wp, C)
    for b in range(B):
        for wy in range(0, Hp, w):
            for wx in range(0, Wp, w):
                pos = [(wy + i, wx + j) for i in range(w) for j in range(w)]
                for h in range(nh):
                    sl = slice(h * d, (h + 1) * d)
                    for (yi, xi) in pos:
                        logits = []
                        for (yj, xj) in pos:
                            s = (q_all[b, yi, xi, sl] * k_all[b, yj, xj, sl]).sum() / d**0.5
                            idx = (yi - yj + w - 1) * (2 * w - 1) + (xi - xj + w - 1)
                            s = s + table[idx, h]
                            if shift:
                                same = ((yi >= Hp - shift) == (yj >= Hp - shift)) and \
                                       ((xi >= Wp - shift) == (xj >= Wp - shift))
                                s = s + (0.0 if same else -100.0)
                            logits.append(s)
                        a = torch.softmax(torch.stack(logits), 0)
                        vals = torch.stack([v[b, yj, xj, sl] for (yj, xj) in pos])
                        out[b, yi, xi, sl] = (a[:, None] * vals).sum(0)
    out = proj(out)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    return out[:, :H, :W]


@pytest.mark.parametrize('hw,shift', [((8, 8), 0), ((8, 8), 2), ((6, 7), 0), ((6, 7), 2)])
def test_crf_window_attention_matches_loop_reference(hw, shift):
    w, C = 4, 8
    attn = CRFWindowAttention(C, num_heads=2, window_size=w)
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.0)
    x, v = torch.randn(1, *hw, C), torch.randn(1, *hw, C)
    got = window_attention_2d(attn, x, v, w, shift)
    with torch.no_grad():
        ref = _reference_window_attention(x, v, attn.qk, attn.proj,
                                          attn.relative_position_bias_table, w, shift)
    assert torch.allclose(got, ref, atol=1e-5)


def test_shifted_window_mask_blocks_only_wrapped_pairs():
    m = shifted_window_mask(8, 8, 4, 2)
    assert m.shape == (4, 16, 16)
    assert (m[0] == 0).all()  # the top-left window never contains wrapped tokens
    assert (m[3] != 0).any()  # the bottom-right one mixes four regions
    with pytest.raises(ValueError, match='multiple of window_size'):
        shifted_window_mask(9, 8, 4, 2)


# ----------------------------------------------------------------- head
_feats = partial(level_feats, [16, 32, 64, 128])


def test_zero_min_depth_is_sigmoid_times_max_depth():
    head = NeWCRFsHead(max_depth=10.0, min_depth=0.0, **TINY_HEAD).eval()
    feats = _feats(b=1)
    captured = {}
    head.depth_conv.register_forward_hook(lambda m, i, o: captured.update(logit=o))
    depth = head(feats)
    expect = F.interpolate(torch.sigmoid(captured['logit']) * 10.0, scale_factor=4,
                           mode='bilinear', align_corners=False)
    assert torch.allclose(depth, expect, atol=1e-6)


def test_head_rejects_wrong_level_channels():
    head = NeWCRFsHead(**TINY_HEAD)
    feats = _feats()
    feats[2] = torch.randn(2, 10, 4, 6)
    with pytest.raises(ValueError, match='in_channels'):
        head(feats)
    with pytest.raises(ValueError, match='num_groups'):
        NeWCRFsHead(**dict(TINY_HEAD, ppm_norm_cfg=dict(type='GN', num_groups=7)))
