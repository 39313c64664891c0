"""Base class of every depth decode head in mmdepth_dgr.

mmseg's ``BaseDecodeHead`` is built around class logits (``num_classes``, ``conv_seg``,
pixel samplers, thresholds); depth heads need none of that, so the shared behaviour is
written here once: input selection from the backbone/neck levels, the bounded depth output
range, the loss loop over ``loss_decode`` (mmseg style: same-name losses are summed) and
prediction resized to the padded input size (what mmseg's estimators expect).
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig, SampleList
from torch import Tensor

__all__ = ['DepthBaseHead', 'stack_gt_depth', 'bounded_depth', 'add_loss']


def stack_gt_depth(batch_data_samples: SampleList) -> Tensor:
    """Stack the ``gt_depth_map`` of a batch of ``SegDataSample``.

    Args:
        batch_data_samples (list[SegDataSample]): Samples holding ``gt_depth_map``.

    Returns:
        Tensor: Ground truth depth of shape (B, 1, H, W) in metres, 0 = invalid.
    """
    missing = [i for i, s in enumerate(batch_data_samples) if 'gt_depth_map' not in s]
    if missing:
        raise KeyError(
            f'gt_depth_map is missing from data samples {missing} of the batch: '
            'does the train pipeline load depth (LoadDepthFromFile) and pack it '
            '(PackDepthInputs)?')
    return torch.stack([s.gt_depth_map.data for s in batch_data_samples], dim=0)


def add_loss(losses: Dict[str, Tensor], name: str, value: Tensor) -> None:
    """Add ``value`` under ``name``, summing losses that share a name (mmseg style)."""
    losses[name] = losses[name] + value if name in losses else value


def bounded_depth(logits: Tensor, min_depth: float, max_depth: float,
                  activation: str = 'sigmoid') -> Tensor:
    """Map unbounded logits to metric depth in ``(min_depth, max_depth)``.

    Args:
        logits (Tensor): (B, 1, H, W) raw head output.
        min_depth (float): Lower bound of the output in metres.
        max_depth (float): Upper bound of the output in metres.
        activation (str): ``'sigmoid'`` (min + sigmoid·(max − min), as NeWCRFs'
            sigmoid·max_depth with an offset) or ``'relu'`` (min + ReLU, no upper
            bound, as BTS-style heads). Defaults to ``'sigmoid'``.

    Returns:
        Tensor: (B, 1, H, W) depth in metres.
    """
    if activation == 'sigmoid':
        return min_depth + torch.sigmoid(logits) * (max_depth - min_depth)
    if activation == 'relu':
        return min_depth + F.relu(logits)
    raise ValueError(f'Unknown depth activation "{activation}"; '
                     'expected "sigmoid" or "relu".')


class DepthBaseHead(BaseModule, metaclass=ABCMeta):
    """Shared machinery of depth heads.

    Subclasses implement :meth:`forward` returning depth in metres, shape
    (B, 1, h, w) at any resolution; the base class resizes it (bilinear) to the
    ground truth for the loss and to the padded input size for prediction.

    Args:
        in_channels (int | Sequence[int]): Channels of each selected input level.
        channels (int): Width of the head's hidden layers.
        in_index (int | Sequence[int]): Which backbone/neck levels the head reads.
            Defaults to (0, 1, 2, 3).
        min_depth (float): Lower bound of predictions in metres. Defaults to 1e-3.
        max_depth (float): Upper bound of predictions in metres. Defaults to 10.0.
        loss_decode (dict | list[dict]): Loss configs; each loss is called as
            ``loss(pred, gt, valid_mask)`` and losses sharing a ``loss_name`` are
            summed. Defaults to SILog (BTS preset).
        gt_valid_min (float): GT pixels at or below this depth (metres) are
            invalid in training. Defaults to 1e-3.
        align_corners (bool): ``align_corners`` of every bilinear resize.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 channels: int,
                 in_index: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 loss_decode: Union[ConfigType, List[ConfigType]] = dict(
                     type='SILogDepthLoss', loss_weight=1.0),
                 gt_valid_min: float = 1e-3,
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_index, int):
            in_index = [in_index]
        if isinstance(in_channels, int):
            in_channels = [in_channels]
        in_index, in_channels = list(in_index), list(in_channels)
        if len(in_index) != len(in_channels):
            raise ValueError(
                f'{type(self).__name__}: in_index {in_index} and in_channels '
                f'{in_channels} must have the same length.')
        if not 0 <= min_depth < max_depth:
            raise ValueError(f'{type(self).__name__}: need 0 <= min_depth < '
                             f'max_depth, got {min_depth} and {max_depth}.')
        self.in_index = in_index
        self.in_channels = in_channels
        self.channels = channels
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.gt_valid_min = float(gt_valid_min)
        self.align_corners = align_corners
        # mmseg's EncoderDecoder reads these two attributes.
        self.num_classes = 1
        self.out_channels = 1
        if isinstance(loss_decode, dict):
            loss_decode = [loss_decode]
        if not isinstance(loss_decode, (list, tuple)) or not loss_decode:
            raise TypeError('loss_decode must be a dict or a non-empty list of '
                            f'dicts, got {loss_decode!r}.')
        self.loss_decode = nn.ModuleList(MODELS.build(c) for c in loss_decode)

    def _select_inputs(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        """Pick the levels named by ``in_index`` and check their channels."""
        if isinstance(inputs, Tensor):
            inputs = [inputs]
        feats = []
        for idx, ch in zip(self.in_index, self.in_channels):
            if idx >= len(inputs):
                raise IndexError(
                    f'{type(self).__name__}: in_index {idx} but the backbone/neck '
                    f'returned {len(inputs)} levels.')
            x = inputs[idx]
            if x.shape[1] != ch:
                raise ValueError(
                    f'{type(self).__name__}: level {idx} has {x.shape[1]} channels '
                    f'but in_channels says {ch}; fix decode_head.in_channels.')
            feats.append(x)
        return feats

    @abstractmethod
    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Return depth in metres, shape (B, 1, h, w)."""

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward and compute the losses against ``gt_depth_map``."""
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def loss_by_feat(self, pred_depth: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of a predicted depth map.

        Args:
            pred_depth (Tensor): (B, 1, h, w) depth in metres.
            batch_data_samples (list[SegDataSample]): Samples with ``gt_depth_map``.

        Returns:
            dict[str, Tensor]: One entry per distinct ``loss_name``.
        """
        gt, valid = self.gt_and_valid(batch_data_samples, pred_depth)
        pred = self.resize_to(pred_depth, gt.shape[2:])
        losses = {}
        for loss_fn in self.loss_decode:
            add_loss(losses, loss_fn.loss_name, loss_fn(pred, gt, valid_mask=valid))
        return losses

    def gt_and_valid(self, batch_data_samples: SampleList,
                     like: Tensor) -> Tuple[Tensor, Tensor]:
        """The batch's GT (B, 1, H, W) on ``like``'s device/dtype, invalid pixels set to
        0, and its validity mask ``(gt > gt_valid_min) & isfinite(gt)``."""
        gt = stack_gt_depth(batch_data_samples).to(like)
        valid = (gt > self.gt_valid_min) & torch.isfinite(gt)
        return torch.where(valid, gt, torch.zeros_like(gt)), valid

    def predict(self, inputs: Sequence[Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Tensor:
        """Depth resized to the (padded) network input size, (B, 1, H, W)."""
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    def predict_by_feat(self, pred_depth: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        meta = batch_img_metas[0]
        size = meta.get('pad_shape', meta['img_shape'])[:2]
        return self.resize_to(pred_depth, size)

    def resize_to(self, x: Tensor, size: Tuple[int, int]) -> Tensor:
        """Bilinear resize to ``size`` (no-op when already that size)."""
        size = tuple(int(s) for s in size)
        if tuple(x.shape[2:]) == size:
            return x
        return F.interpolate(x, size=size, mode='bilinear',
                             align_corners=self.align_corners)
