"""DGR as an mmseg neck: one DGR block per backbone output level (Yao, Wu, Zhang, 2024).

The neck form refines the backbone *outputs* (what the decode head sees) and leaves the
backbone untouched, so it works with any backbone; the in-backbone form
(:class:`~mmdepth_dgr.models.backbones.DGRBackbone`) also feeds the refined maps to the
next stage.
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule, ModuleDict
from mmseg.registry import MODELS

__all__ = ['DGRNeck']

_WHERE = 'mmdepth_dgr/models/necks/dgr_neck.py'


@MODELS.register_module()
class DGRNeck(BaseModule):
    """Apply :class:`~mmdepth_dgr.models.layers.DGRBlock` (Eq. 5-10) to chosen levels.

    Args:
        in_channels (int | Sequence[int]): Channels of each input level.
        levels (Sequence[int], optional): Levels to refine; others pass through
            unchanged (same tensor object). ``None`` refines all. Defaults to None.
        dgr (dict): Keyword arguments of every ``DGRBlock`` (``in_channels`` is filled
            per level; ``type`` defaults to 'DGRBlock'). Defaults to ``dict()``.
        init_cfg (dict | list[dict], optional): mmengine init config. Defaults to None.

    Attributes:
        out_channels (List[int]): Equal to ``in_channels`` (DGR keeps the width).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 levels: Optional[Sequence[int]] = None,
                 dgr: dict = dict(),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, int):
            in_channels = [in_channels]
        self.in_channels = list(in_channels)
        self.out_channels = list(self.in_channels)
        n = len(self.in_channels)
        levels = list(range(n)) if levels is None else sorted(set(int(i) for i in levels))
        bad = [i for i in levels if not 0 <= i < n]
        if bad:
            raise ValueError(f'{_WHERE}: DGRNeck levels {bad} out of range for '
                             f'{n} in_channels {self.in_channels}')
        self.levels = levels
        # mmengine ModuleDict (not nn.ModuleDict): BaseModule.init_weights recurses into it.
        self.dgr = ModuleDict()
        for i in levels:
            cfg = dict(type='DGRBlock', **copy.deepcopy(dgr))
            cfg['in_channels'] = self.in_channels[i]
            self.dgr[str(i)] = MODELS.build(cfg)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Refine the selected levels of ``inputs`` (tuple/list of ``(B, C_i, H_i, W_i)``)."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'{_WHERE}: DGRNeck was built for {len(self.in_channels)} '
                             f'levels (in_channels={self.in_channels}) but got '
                             f'{len(inputs)} inputs')
        outs = []
        for i, x in enumerate(inputs):
            if x.shape[1] != self.in_channels[i]:
                raise ValueError(f'{_WHERE}: DGRNeck input {i} has {x.shape[1]} channels, '
                                 f'in_channels says {self.in_channels[i]}')
            outs.append(self.dgr[str(i)](x) if str(i) in self.dgr else x)
        return tuple(outs)
