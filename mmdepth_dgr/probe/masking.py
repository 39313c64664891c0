"""The masking arithmetic of the sparse-pixel study (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1,
Eq. 4): where the image is, ``I * M`` in pixel or normalised space, binarisation, and the two
terms of Eq. 4. Pure torch functions; :class:`~.SparseMaskProbe` and the study
(:mod:`.study`) call them.
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from torch import Tensor

from .mask_net import mask_density

__all__ = ['MASK_SPACES', 'apply_mask', 'binarize_mask', 'image_region_mask',
           'sparse_mask_loss']

#: Where ``I * G(I)`` is computed, see the module docstring.
MASK_SPACES = ('pixel', 'normalized')


def image_region_mask(batch_img_metas: Sequence[dict], shape: Sequence[int],
                      device: Union[str, torch.device] = 'cpu') -> Tensor:
    """``(B, 1, H, W)`` bool: True on image pixels, False on the preprocessor's padding.

    The data preprocessor pads on the right and bottom; ``img_shape`` in each meta is the
    image size before padding.

    Args:
        batch_img_metas (Sequence[dict]): Metas with ``img_shape`` (missing = no padding).
        shape (Sequence[int]): ``(B, C, H, W)`` shape of the padded input.
        device (str | torch.device): Device of the result. Defaults to 'cpu'.

    Returns:
        Tensor: The image-region mask.
    """
    B, _, H, W = shape
    region = torch.zeros(B, 1, H, W, dtype=torch.bool, device=device)
    for i in range(B):
        meta = batch_img_metas[i] if i < len(batch_img_metas) else {}
        h, w = meta.get('img_shape', (H, W))[:2]
        region[i, :, :min(int(h), H), :min(int(w), W)] = True
    return region


def apply_mask(inputs: Tensor,
               mask: Tensor,
               mean: Optional[Tensor] = None,
               std: Optional[Tensor] = None,
               space: str = 'pixel',
               valid: Optional[Tensor] = None) -> Tensor:
    """``I * M`` on the normalised network input (Eq. 4), in pixel or normalised space.

    ``'pixel'``: ``x' = x * M + (M - 1) * mean / std`` (= normalise(``I_rgb * M``): removed
    pixels are black). ``'normalized'``: ``x' = x * M`` (removed pixels are the mean colour).
    Outside ``valid`` (padding) ``M`` is taken as 1.

    Args:
        inputs (Tensor): ``(B, C, H, W)`` normalised input ``(I_rgb - mean) / std``.
        mask (Tensor): ``(B, 1, H, W)`` mask in [0, 1] (soft or binary).
        mean (Tensor, optional): Per-channel mean, broadcastable to ``(1, C, 1, 1)``.
            Defaults to None (0: the input is not normalised).
        std (Tensor, optional): Per-channel std. Defaults to None (1).
        space (str): ``'pixel'`` or ``'normalized'``. Defaults to 'pixel'.
        valid (Tensor, optional): ``(B, 1, H, W)`` bool image region. Defaults to None.

    Returns:
        Tensor: ``(B, C, H, W)`` masked normalised input.
    """
    if space not in MASK_SPACES:
        raise ValueError(f'apply_mask: space must be one of {MASK_SPACES}, got {space!r}')
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[-2:] != inputs.shape[-2:] \
            or mask.shape[0] != inputs.shape[0]:
        raise ValueError(f'apply_mask: mask must be (B, 1, H, W) matching the input '
                         f'{tuple(inputs.shape)}, got {tuple(mask.shape)}')
    mask = mask.to(inputs.dtype)
    if valid is not None:
        mask = torch.where(valid.to(torch.bool), mask, torch.ones_like(mask))
    if space == 'normalized' or mean is None:
        return inputs * mask
    C = inputs.shape[1]
    mean = mean.to(inputs).reshape(1, C, 1, 1)
    std = (torch.ones_like(mean) if std is None else std.to(inputs).reshape(1, C, 1, 1))
    return inputs * mask + (mask - 1.0) * (mean / std)


def binarize_mask(mask: Tensor,
                  threshold: Optional[float] = 0.5,
                  density: Optional[float] = None,
                  valid: Optional[Tensor] = None) -> Tensor:
    """Binarise a soft mask: ``M > threshold``, or the top ``density`` fraction per image.

    With ``density``, each image keeps its ``k = max(1, round(density * n_valid))`` largest
    mask values over its valid pixels (ties broken by ``torch.topk``), so masks of different
    networks can be compared at the same sparsity.

    Args:
        mask (Tensor): ``(B, 1, H, W)`` soft mask.
        threshold (float, optional): Used when ``density`` is None. Defaults to 0.5.
        density (float, optional): Target fraction of kept pixels in (0, 1]. Defaults to None.
        valid (Tensor, optional): ``(B, 1, H, W)`` bool; pixels outside are never kept.
            Defaults to None (all pixels).

    Returns:
        Tensor: ``(B, 1, H, W)`` float {0, 1} mask.
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f'binarize_mask: mask must be (B, 1, H, W), got {tuple(mask.shape)}')
    valid = (torch.ones_like(mask, dtype=torch.bool) if valid is None
             else valid.to(torch.bool).expand_as(mask))
    if density is None:
        if threshold is None:
            raise ValueError('binarize_mask: give threshold or density')
        return ((mask > threshold) & valid).to(mask.dtype)
    if not 0 < density <= 1:
        raise ValueError(f'binarize_mask: density must be in (0, 1], got {density}')
    out = torch.zeros_like(mask)
    flat_out = out.flatten(1)
    scores = torch.where(valid, mask, torch.full_like(mask, -float('inf'))).flatten(1)
    for i in range(mask.shape[0]):
        n_valid = int(valid[i].sum())
        k = min(n_valid, max(1, int(round(density * n_valid))))
        if k > 0:
            flat_out[i, torch.topk(scores[i], k).indices] = 1.0
    return out


def sparse_mask_loss(depth_masked_m: Tensor,
                     depth_full_m: Tensor,
                     mask: Tensor,
                     lam: float,
                     dif_loss: nn.Module,
                     valid: Optional[Tensor] = None) -> Dict[str, Tensor]:
    """Eq. 4: ``L_dif(N(I), N(I * M)) + lambda * mean(M)``, the two terms separately.

    Args:
        depth_masked_m (Tensor): ``(B, 1, H, W)`` ``N(I * M)`` in metres.
        depth_full_m (Tensor): ``(B, 1, H, W)`` ``N(I)`` in metres; used as the target and
            detached here.
        mask (Tensor): ``(B, 1, H, W)`` soft mask ``M = G(I)``.
        lam (float): lambda, weight of the sparsity term.
        dif_loss (nn.Module): ``L_dif(pred, target, valid_mask)``, e.g. ``HuDepthLoss``.
        valid (Tensor, optional): ``(B, 1, H, W)`` bool image region (padding excluded).
            Defaults to None.

    Returns:
        dict[str, Tensor]: ``loss_dif`` and ``loss_sparse`` (scalars).
    """
    target = depth_full_m.detach()
    loss_dif = dif_loss(depth_masked_m, target, valid)
    loss_sparse = lam * mask_density(mask, valid).mean()
    return dict(loss_dif=loss_dif, loss_sparse=loss_sparse)
