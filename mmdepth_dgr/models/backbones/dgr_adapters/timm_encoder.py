"""DGR host adapter for the project's ``TIMMEncoder`` around timm EfficientNet /
MobileNetV3 (AdaBins)."""
from typing import List

import torch
import torch.nn as nn

from ..timm_encoder import TIMMEncoder
from .base import DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn

__all__ = ['TIMMEncoderAdapter']

_WHERE = 'mmdepth_dgr/models/backbones/dgr_adapters/timm_encoder.py'


def _stem_blocks_classes() -> tuple:
    """timm classes whose ``forward_intermediates`` is the stem + ``blocks`` loop that
    :meth:`TIMMEncoderAdapter.forward` mirrors (checked against timm 1.0.31's source)."""
    try:
        from timm.models.efficientnet import EfficientNet
        from timm.models.mobilenetv3 import MobileNetV3
    except ImportError:  # pragma: no cover - timm is a declared dependency
        return ()
    return EfficientNet, MobileNetV3


def _block_width(block: nn.Module) -> int:
    """Output channels of a timm EfficientNet-family block: ``out_channels`` of its last
    convolution in registration order (``conv_pwl`` / ``conv_pw`` / ``conv``; the
    squeeze-excitation convs are registered before the projection)."""
    width = None
    for m in block.modules():
        if isinstance(getattr(m, 'out_channels', None), int):
            width = m.out_channels
    if width is None:
        raise TypeError(f'{_WHERE}: cannot tell the output width of timm block '
                        f'{type(block).__name__} (no convolution)')
    return width


@DGR_HOST_ADAPTERS.register_module()
class TIMMEncoderAdapter(DGRHostAdapter):
    """``TIMMEncoder`` around a timm ``EfficientNet`` or ``MobileNetV3``.

    The mirrored loop is timm 1.0's ``forward_intermediates`` (as
    ``timm_encoder_forward`` calls it): ``x = bn1(conv_stem(x))`` (loop position 0),
    then ``blocks[p - 1]`` at position ``p``; feature level ``i`` (``feature_info[i]``)
    ends at position ``stage_ends[i]``; ``conv_head`` (with ``with_head_conv``) reads
    the last level.

    * **Stages** are the feature levels: stage ``i`` is every position after level
      ``i - 1``'s end up to level ``i``'s end. Its stage point is the level's map,
      refined whether or not ``i`` is in ``out_indices`` (a stem level, e.g.
      MobileNetV3's level 0, is refined at the stem).
    * **Blocks** are timm's block units: the modules of each ``blocks[p]`` sequence
      (``DepthwiseSeparableConv``, ``InvertedResidual`` = MBConv, ``EdgeResidual``,
      ``ConvBnAct``, ...), the EfficientNet counterpart of a ResNet residual block. A
      level's blocks are those of every ``blocks[p]`` it spans (EfficientNet-B5's level
      3 spans timm stages 3 and 4: 14 blocks of 128 then 176 channels). The stem is not
      a block, so a stem level has no block points. Blocks after the last level (none
      in timm's EfficientNet/MobileNetV3) are run but not refined.

    With ``grad_checkpointing`` every block is checkpointed on its own, as timm's
    ``checkpoint_seq`` does with ``every=1`` (same values either way).
    """

    host_class = TIMMEncoder

    @classmethod
    def check_host(cls, host: nn.Module) -> None:
        classes = _stem_blocks_classes()
        model = host.timm_model
        for base in classes:
            if (isinstance(model, base)
                    and type(model).forward_intermediates is base.forward_intermediates):
                return
        raise TypeError(
            f'{_WHERE}: DGRBackbone supports TIMMEncoder only around timm '
            f'{" / ".join(c.__name__ for c in classes)} models (stem + blocks loop), got '
            f'{type(model).__name__!r}; use the neck form (DGRNeck)')

    @staticmethod
    def _stage_ends(host: nn.Module) -> List[int]:
        m = host.timm_model
        ends = getattr(m, 'stage_ends', None)
        return [int(e) for e in ends] if ends is not None else [
            int(f['stage']) for f in m.feature_info]

    def _level_positions(self, host: nn.Module) -> List[range]:
        """Loop positions ``p`` (``blocks[p - 1]``) that belong to each level."""
        ends = self._stage_ends(host)
        starts = [1] + [e + 1 for e in ends[:-1]]
        return [range(s, e + 1) for s, e in zip(starts, ends)]

    def stage_channels(self, host: nn.Module) -> List[int]:
        return [int(f['num_chs']) for f in host.timm_model.feature_info]

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        blocks = host.timm_model.blocks
        chans = [[_block_width(b) for p in positions for b in blocks[p - 1]]
                 for positions in self._level_positions(host)]
        for i, (level, c) in enumerate(zip(chans, self.stage_channels(host))):
            if level and level[-1] != c:
                raise TypeError(
                    f'{_WHERE}: the last block of feature level {i} of '
                    f'{type(host.timm_model).__name__} is {level[-1]} channels wide but '
                    f'feature_info says {c}; this timm model is not the EfficientNet '
                    'block layout DGRBackbone mirrors (use placement="stage" or DGRNeck)')
        return chans

    def out_channels(self, host: nn.Module) -> List[int]:
        return list(host.out_channels)

    def forward(self, host: nn.Module, x: torch.Tensor,
                refine: RefineFn) -> List[torch.Tensor]:
        m = host.timm_model
        # loop position p -> (its level, index within the level of blocks[p - 1][0])
        first = {}
        for i, positions in enumerate(self._level_positions(host)):
            j = 0
            for p in positions:
                first[p] = (i, j)
                j += len(m.blocks[p - 1])
        ends = {e: i for i, e in enumerate(self._stage_ends(host))}
        checkpointing = m.grad_checkpointing and not torch.jit.is_scripting()
        feats = {}
        x = m.bn1(m.conv_stem(x))
        if 0 in ends:
            x = refine(x, ends[0])
            feats[ends[0]] = x
        for pos, stage in enumerate(m.blocks, start=1):
            level, j0 = first.get(pos, (None, 0))
            for j, block in enumerate(stage, start=j0):
                if checkpointing:
                    from timm.models import checkpoint_seq  # as timm's own loop does
                    x = checkpoint_seq([block], x)
                else:
                    x = block(x)
                if level is not None:
                    x = refine(x, level, j)
            if pos in ends:
                x = refine(x, ends[pos])
                feats[ends[pos]] = x
        outs = [feats[i] for i in host.out_indices]
        if host.with_head_conv:
            outs.append(m.conv_head(feats[len(m.feature_info) - 1]))
        return outs
