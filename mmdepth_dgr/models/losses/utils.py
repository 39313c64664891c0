"""Small helpers shared by the depth losses: input checks and the valid-pixel mask."""
from typing import Optional

import torch
from torch import Tensor


def check_depth_pair(pred: Tensor, target: Tensor, where: str) -> None:
    """Raise a ``ValueError`` naming ``where`` unless ``pred``/``target`` are ``(B, 1, H, W)``.

    Args:
        pred (Tensor): Predicted depth, expected ``(B, 1, H, W)``.
        target (Tensor): Ground-truth depth, expected ``(B, 1, H, W)``.
        where (str): Name of the caller used in the error message (e.g. ``'otdl_loss'``).
    """
    if pred.dim() != 4 or pred.shape[1] != 1:
        raise ValueError(f'{where}: pred must be (B, 1, H, W) depth in metres, '
                         f'got shape {tuple(pred.shape)}')
    if pred.shape != target.shape:
        raise ValueError(f'{where}: pred {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} must have the same shape (resize the '
                         'prediction to the ground truth in the decode head first)')


def depth_valid_mask(target: Tensor, valid_mask: Optional[Tensor] = None) -> Tensor:
    """Valid ground-truth pixels: ``(target > 0) & isfinite(target)`` [& ``valid_mask``].

    An explicit ``valid_mask`` (e.g. a max-depth or Garg/Eigen crop) is *intersected* with
    the target's own validity: a 0 (= missing) or non-finite target is never trusted.

    Args:
        target (Tensor): Ground-truth depth ``(B, 1, H, W)`` in metres, 0 = invalid.
        valid_mask (Tensor, optional): Bool or {0, 1} mask broadcastable to ``target``.
            Defaults to None.

    Returns:
        Tensor: Bool mask with the shape of ``target``.
    """
    mask = (target > 0) & torch.isfinite(target)
    if valid_mask is not None:
        if valid_mask.dim() == 3:
            valid_mask = valid_mask.unsqueeze(1)
        try:
            mask = mask & valid_mask.to(torch.bool).expand_as(target)
        except RuntimeError as err:
            raise ValueError(f'valid_mask of shape {tuple(valid_mask.shape)} cannot be '
                             f'broadcast to the target shape {tuple(target.shape)}') from err
    return mask
