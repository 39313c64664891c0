"""In-backbone DGR: refine a host backbone's features inside its forward.

The paper places the DGR module "after each encoder block in the Transformer" (Yao, Wu,
Zhang, BMVC 2024, Sec. 3.2), so that it acts on the discontinuities each block's
self-attention and feed-forward network introduce; :class:`DGRBackbone` does that by
default (``placement='block'``): a :class:`~mmdepth_dgr.models.layers.DGRBlock` after
every transformer block of Swin, MiT and ViT hosts and after every residual block of
CNN hosts (ResNet; the MBConv-type blocks of timm EfficientNet/MobileNetV3).
``placement='stage'`` puts one block at the end of every stage instead (this project's
earlier reading, fewer blocks).

The wrapper re-runs the host's own forward with the host's own submodules through a
*host adapter* (:mod:`.dgr_adapters`, one file per host family, looked up by host
class), which calls back at every refinement point; no backbone code is copied, so the
host's weights, pretrained ``init_cfg``, ``train()``/frozen stages and ``norm_eval`` stay
the host's. The refined map feeds the next block/stage.

Identity at initialisation: every DGR block's last conv is zero-initialised, so the
wrapper's outputs equal the host's ``forward`` bit for bit (also with DGR disabled,
``stages=[]`` or ``dgr=None``). A checkpoint of the bare host model loads into the
wrapper (its keys are moved under ``backbone.``, the DGR tensors it lacks keep their
initialisation): that is how DGR is added to a trained model (``load_from``).
"""
import copy
import difflib
import inspect
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleDict
from mmseg.registry import MODELS

from .dgr_adapters import find_dgr_adapter, refine_tokens

__all__ = ['DGRBackbone', 'PLACEMENTS', 'SHARE_SE']

_WHERE = 'mmdepth_dgr/models/backbones/dgr_backbone.py'
PLACEMENTS = ('block', 'stage')
SHARE_SE = ('stage', 'all')
# DGRBackbone's own keyword options (anything else goes to the host in the flat form).
_OPTIONS = ('backbone', 'dgr', 'stages', 'placement', 'blocks', 'share_se', 'host_type',
            'init_cfg', 'pretrained')

Point = Tuple[int, Optional[int]]


def _host_arguments(host_cls: Any) -> Tuple[set, bool]:
    """(named ``__init__`` arguments, whether unknown keywords are accepted) of a host
    class, following ``**kwargs`` that are handed to a base class's ``__init__``
    (``ResNetV1c(**kwargs)`` -> ``ResNet``)."""
    if not inspect.isclass(host_cls):
        return set(), True
    named = set()
    for cls in host_cls.__mro__:
        if '__init__' not in vars(cls) or cls is object:
            continue
        params = inspect.signature(vars(cls)['__init__']).parameters.values()
        named |= {p.name for p in params
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return named - {'self'}, False
    return named - {'self'}, True


def _check_host_kwargs(host_type: Any, host_kwargs: dict, nested: bool) -> None:
    """Catch misspelt DGRBackbone options among the flat-form host arguments.

    In the flat form every keyword that is not a DGRBackbone option is a host argument,
    so ``stage=[1]`` (for ``stages=``) would reach the host and fail there as the host's
    unexpected argument. A key that the host does not take is reported with the closest
    DGRBackbone option (or host argument) it probably meant.
    """
    host_cls = MODELS.get(host_type) if isinstance(host_type, str) else host_type
    named, var_kw = _host_arguments(host_cls)
    host_name = getattr(host_cls, '__name__', str(host_type))
    for key in host_kwargs:
        if not nested and key in named:
            continue
        candidates = list(_OPTIONS) if nested else list(_OPTIONS) + sorted(named)
        guess = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        if guess and guess[0] in _OPTIONS:
            where = ('next to backbone=dict(...)' if nested else
                     f'and the host {host_name} has no argument {key!r} either (in the '
                     'flat form, keywords that are not DGRBackbone options go to the host)')
            raise ValueError(f'{_WHERE}: DGRBackbone has no option {key!r}; did you mean '
                             f'{guess[0]!r}? ({key!r} was given {where})')
        if not nested and not var_kw:
            hint = f'; did you mean the host argument {guess[0]!r}?' if guess else ''
            raise ValueError(f'{_WHERE}: {key!r} is neither a DGRBackbone option '
                             f'({", ".join(_OPTIONS)}) nor an argument of the host '
                             f'{host_name}{hint}')


def _host_checkpoint_pre_hook(module: 'DGRBackbone', state_dict: dict, prefix: str,
                              local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
    """Load-state-dict pre-hook: accept a checkpoint of the *bare host* (a baseline).

    When no key under ``prefix`` is one of the wrapper's own keys and some are host keys
    (``prefix + <host key>``, the layout of the baseline model without DGR), the host
    keys are moved to ``prefix + 'backbone.' + <host key>`` and every DGR tensor the
    checkpoint lacks is filled with the wrapper's current value (its initialisation:
    the identity). A strict load then succeeds and the model computes the baseline's
    function. Checkpoints in the wrapper's own layout are left untouched (a missing DGR
    key there stays an error under strict loading). Keys under ``prefix`` that are
    neither are left in place and reported as unexpected by the loader.

    Version metadata of the host's submodules is not carried over (only BatchNorm
    reads it, for checkpoints written before torch 0.4.1).
    """
    ours = [k for k in state_dict if k.startswith(prefix)]
    if not ours:
        return
    own = module.state_dict(prefix=prefix, keep_vars=True)
    if any(k in own for k in ours):
        return
    host_keys = {prefix + k for k in module.backbone.state_dict(keep_vars=True)}
    moved = [k for k in ours if k in host_keys]
    if not moved:
        return
    for key in moved:
        state_dict[prefix + 'backbone.' + key[len(prefix):]] = state_dict.pop(key)
    kept = 0
    host_prefix = prefix + 'backbone.'
    for key, value in own.items():
        if not key.startswith(host_prefix):
            state_dict[key] = value.detach()
            kept += 1
    print_log(f'DGRBackbone ({prefix or "root"}): loading a checkpoint of the bare host '
              f'{type(module.backbone).__name__}: {len(moved)} host tensors moved under '
              f'"{host_prefix}"; {kept} DGR tensors absent from it kept at their '
              'initialisation (identity at init)', logger='current', level=logging.INFO)


@MODELS.register_module()
class DGRBackbone(BaseModule):
    """Wrap an mmseg backbone and apply DGR inside it, after every block or stage.

    Two equivalent ways to give the host:

    * nested: ``DGRBackbone(backbone=dict(type='MixVisionTransformer', ...))``;
    * flat (the one-line config change): ``DGRBackbone(host_type='MixVisionTransformer',
      **host_kwargs)``; with mmengine's dict merge, a leaf config that only says
      ``model = dict(backbone=dict(type='DGRBackbone', host_type='MixVisionTransformer'))``
      keeps every other key of the base backbone and they arrive here as ``host_kwargs``.
      A keyword close to a DGRBackbone option (``stage=`` for ``stages=``) that the host
      does not take is reported as a misspelt option.

    Supported hosts are those with a registered adapter (:mod:`.dgr_adapters`):
    ``MixVisionTransformer``, ``SwinTransformer``, ``VisionTransformer``, ``ResNet``
    (and subclasses that keep its ``forward``: ``ResNetV1c``, ``ResNetV1d``, ``ResNeXt``)
    and ``TIMMEncoder`` around timm ``EfficientNet``/``MobileNetV3``. Each adapter's
    docstring says what its stages and blocks are and where the refinement happens.

    Args:
        backbone (dict, optional): Config of the host backbone. Defaults to None.
        dgr (dict, optional): Keyword arguments of every
            :class:`~mmdepth_dgr.models.layers.DGRBlock` (``in_channels`` is filled per
            point; ``type`` may be given and defaults to 'DGRBlock'). ``None`` disables
            DGR (the wrapper is then the host). Defaults to ``dict()``.
        stages (Sequence[int], optional): Stages that get DGR (ViT: layer indices;
            TIMMEncoder: feature levels). With ``placement='block'`` every selected
            block of these stages gets one. ``None``: every stage, except ViT with
            ``placement='stage'``: its ``out_indices``. Defaults to None.
        placement (str): ``'block'``: after every block (transformer block / residual
            block) of the selected stages, the paper's placement (Sec. 3.2);
            ``'stage'``: once at the end of every selected stage. Defaults to 'block'.
        blocks (Sequence[int] | dict, optional): With ``placement='block'`` only: the
            blocks, by index within their stage, that get DGR. A sequence applies to
            every selected stage (negative indices count from the stage's end:
            ``[-1]`` is each stage's last block); a dict ``{stage: indices}`` sets them
            per stage (stages it does not name keep every block). ``None``: every
            block. Defaults to None.
        share_se (str, optional): Share one channel-attention (SE, Eq. 8) module among
            DGR blocks of the same width: ``'stage'`` within each stage, ``'all'``
            across the whole backbone; ``None``: every block has its own. The shared
            module is stored once (``shared_se.<name>``; each block's
            ``channel_attention`` refers to it), so optimizers and checkpoints see each
            parameter once. Defaults to None.
        host_type (str, optional): Host type for the flat form. Defaults to None.
        init_cfg (dict | list[dict], optional): Forwarded to the *host* (so a
            ``Pretrained`` checkpoint of the host loads into the host). Defaults to None.
        pretrained (str | bool, optional): Forwarded to the host (mmseg's
            ``EncoderDecoder`` sets ``backbone.pretrained``; ``TIMMEncoder`` takes a
            bool). Defaults to None.
        **host_kwargs: Host arguments in the flat form.

    Attributes:
        adapter (DGRHostAdapter): The host's adapter.
        stage_channels (List[int]): Channels at each stage point of the host.
        block_channels (List[List[int]] | None): Channels after each block, per stage
            (None with ``placement='stage'``).
        out_channels (List[int]): Channels of each returned map (heads can read it).
        points (List[tuple]): ``(stage, block)`` of each DGR block, in forward order
            (``block`` is None for stage placement); ``dgr`` holds them under the keys
            ``'<stage>'`` (stage placement) or ``'<stage>_<block>'`` (block placement).

    A checkpoint of the bare host model (keys ``backbone.<host key>``, e.g. a trained
    baseline) loads into a model with this wrapper, strictly, through a load-state-dict
    pre-hook: host keys are moved under ``backbone.backbone.`` and the DGR tensors keep
    their initialisation (one info line says how many), so the model computes the
    baseline's function.
    """

    def __init__(self,
                 backbone: Optional[dict] = None,
                 dgr: Optional[dict] = dict(),
                 stages: Optional[Sequence[int]] = None,
                 placement: str = 'block',
                 blocks: Optional[Union[Sequence[int], Dict[int, Sequence[int]]]] = None,
                 share_se: Optional[str] = None,
                 host_type: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 pretrained: Optional[Union[str, bool]] = None,
                 **host_kwargs) -> None:
        super().__init__(init_cfg=None)
        if placement not in PLACEMENTS:
            raise ValueError(f'{_WHERE}: DGRBackbone placement={placement!r} is unknown; '
                             "use 'block' (after every transformer/residual block, the "
                             "paper's Sec. 3.2) or 'stage' (once per stage)")
        if share_se is not None and share_se not in SHARE_SE:
            raise ValueError(f'{_WHERE}: DGRBackbone share_se={share_se!r} is unknown; use '
                             "None, 'stage' (one SE per stage and width) or 'all' (one "
                             'SE per width)')
        if blocks is not None and placement != 'block':
            raise ValueError(f'{_WHERE}: DGRBackbone blocks={blocks!r} needs '
                             f"placement='block' (got placement={placement!r})")
        if backbone is None:
            if host_type is None:
                raise ValueError(f'{_WHERE}: DGRBackbone needs either backbone=dict(type=...)'
                                 ' or host_type=... (flat form)')
            _check_host_kwargs(host_type, host_kwargs, nested=False)
            backbone = dict(type=host_type, **host_kwargs)
        else:
            if host_kwargs:
                _check_host_kwargs(backbone.get('type'), host_kwargs, nested=True)
            if host_type is not None or host_kwargs:
                raise ValueError(
                    f'{_WHERE}: DGRBackbone got backbone=dict(...) and also flat host '
                    f'arguments {sorted(host_kwargs) + (["host_type"] if host_type else [])}'
                    '; give the host one way only')
            backbone = copy.deepcopy(dict(backbone))
        for key, value in (('init_cfg', init_cfg), ('pretrained', pretrained)):
            if value is not None:
                if backbone.get(key) is not None:
                    raise ValueError(f'{_WHERE}: DGRBackbone: {key} is set both on the '
                                     'wrapper and on the host backbone config')
                backbone[key] = value
        self.backbone = MODELS.build(backbone)
        self.adapter = find_dgr_adapter(self.backbone)()
        self.host_kind = self.adapter.host_class.__name__
        self.placement = placement
        self.stage_channels = self.adapter.stage_channels(self.backbone)
        # (asked only for block placement: a host may not state its block widths)
        self.block_channels = (self.adapter.block_channels(self.backbone)
                               if placement == 'block' else None)
        self.out_channels = self.adapter.out_channels(self.backbone)

        self.stages = self._select_stages(stages) if dgr is not None else []
        self.points: List[Point] = self._select_points(blocks)
        # mmengine ModuleDict (not nn.ModuleDict): BaseModule.init_weights recurses into it.
        self.dgr = ModuleDict()
        for stage, block in self.points:
            cfg = dict(type='DGRBlock', **copy.deepcopy(dgr))
            cfg['in_channels'] = self._width(stage, block)
            self.dgr[self._key(stage, block)] = MODELS.build(cfg)
        self.share_se = share_se
        if share_se is not None and self.points:
            self._share_channel_attention(share_se)
        self.register_load_state_dict_pre_hook(_host_checkpoint_pre_hook)

    # ------------------------------------------------------------------ selection
    @staticmethod
    def _key(stage: int, block: Optional[int]) -> str:
        return str(stage) if block is None else f'{stage}_{block}'

    def _width(self, stage: int, block: Optional[int]) -> int:
        if block is None:
            return self.stage_channels[stage]
        return self.block_channels[stage][block]

    def _select_stages(self, stages: Optional[Sequence[int]]) -> List[int]:
        n = len(self.stage_channels)
        if stages is None:
            return self.adapter.default_stages(self.backbone, self.placement)
        if isinstance(stages, (int, str)) or not isinstance(stages, Sequence):
            raise ValueError(f'{_WHERE}: DGRBackbone stages must be a list of stage '
                             f'indices (e.g. [1, 2, 3]), got {stages!r}')
        stages = sorted(set(int(s) for s in stages))
        bad = [s for s in stages if not 0 <= s < n]
        if bad:
            raise ValueError(f'{_WHERE}: DGRBackbone stages {bad} out of range for '
                             f'{self.host_kind} with {n} stages (0..{n - 1})')
        return stages

    def _select_points(self, blocks) -> List[Point]:
        if self.placement == 'stage':
            return [(s, None) for s in self.stages]
        if blocks is None:
            spec = {}
        elif isinstance(blocks, dict):
            spec = {int(k): v for k, v in blocks.items()}
            extra = sorted(set(spec) - set(self.stages))
            if extra:
                raise ValueError(f'{_WHERE}: DGRBackbone blocks names stages {extra} that '
                                 f'do not get DGR (stages={self.stages})')
        elif isinstance(blocks, Sequence) and not isinstance(blocks, str):
            spec = {s: blocks for s in self.stages}
        else:
            raise ValueError(f'{_WHERE}: DGRBackbone blocks must be a list of block '
                             'indices (e.g. [-1]) or a dict {stage: indices}, got '
                             f'{blocks!r}')
        points = []
        for s in self.stages:
            n = len(self.block_channels[s])
            wanted = spec.get(s)
            if wanted is None:
                points += [(s, j) for j in range(n)]
                continue
            if isinstance(wanted, (int, str)) or not isinstance(wanted, Sequence):
                raise ValueError(f'{_WHERE}: DGRBackbone blocks for stage {s} must be a '
                                 f'list of indices, got {wanted!r}')
            wanted = [int(j) for j in wanted]
            bad = [j for j in wanted if not -n <= j < n]
            if bad:
                raise ValueError(f'{_WHERE}: DGRBackbone blocks {bad} out of range for '
                                 f'stage {s} of {self.host_kind}, which has {n} blocks')
            points += [(s, j) for j in sorted({j % n for j in wanted})]
        return points

    def _share_channel_attention(self, share_se: str) -> None:
        groups: Dict[str, List[nn.Module]] = {}
        for stage, block in self.points:
            module = self.dgr[self._key(stage, block)]
            if not isinstance(getattr(module, 'channel_attention', None), nn.Module):
                raise ValueError(f'{_WHERE}: DGRBackbone share_se={share_se!r} needs DGR '
                                 'blocks with a channel_attention module; '
                                 f'{type(module).__name__} has none')
            name = f'c{self._width(stage, block)}'
            if share_se == 'stage':
                name = f's{stage}_{name}'
            groups.setdefault(name, []).append(module)
        groups = {k: v for k, v in groups.items() if len(v) > 1}
        if not groups:
            raise ValueError(f'{_WHERE}: DGRBackbone share_se={share_se!r} shares nothing '
                             f'here: no two DGR blocks ({len(self.points)} with placement='
                             f"{self.placement!r}) are in the same group"
                             + ("; use share_se='all'" if share_se == 'stage' else ''))
        # The shared module is registered once, here; the blocks refer to it through a
        # plain attribute (not a submodule), so named_parameters / state_dict / mmengine's
        # optimizer constructor (which recurses through children) see each tensor once.
        self.shared_se = ModuleDict()
        for name, members in groups.items():
            shared = members[0].channel_attention
            self.shared_se[name] = shared
            for module in members:
                del module._modules['channel_attention']
                object.__setattr__(module, 'channel_attention', shared)

    # ------------------------------------------------------------------ forward
    def _refine(self, x: torch.Tensor, stage: int, block: Optional[int] = None,
                hw_shape: Optional[Sequence[int]] = None) -> torch.Tensor:
        """The adapters' ``refine`` callback (see :data:`.dgr_adapters.RefineFn`)."""
        if (block is None) != (self.placement == 'stage'):
            return x
        module = self.dgr._modules.get(self._key(stage, block))
        if module is None:
            return x
        return module(x) if hw_shape is None else refine_tokens(module, x, hw_shape)

    def forward(self, x: torch.Tensor):
        """Same signature and output container as the host's ``forward``."""
        return self.adapter.forward(self.backbone, x, self._refine)

    def init_weights(self) -> None:
        """Host ``init_weights`` (its own ``init_cfg``/pretrained) + zero-init DGR.

        ``BaseModule.init_weights`` calls every child's ``init_weights``: the host's
        (which never touches the DGR blocks, they are not inside it), each
        ``DGRBlock.init_weights`` (which re-zeroes its last conv) and the shared SE
        modules'.
        """
        super().init_weights()
