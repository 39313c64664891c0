"""How :class:`~mmdepth_dgr.models.backbones.DGRBackbone` runs a host: the adapter contract.

A *host adapter* describes one backbone family to the DGR wrapper:

* where it can be refined: its **stages** (``stage_channels``) and, inside each stage,
  its **blocks** (``block_channels``: a transformer block of Swin/MiT/ViT, a residual
  block of ResNet, an MBConv-type block of timm EfficientNet/MobileNetV3);
* what it returns (``out_channels``, the widths a decode head reads);
* a ``forward`` that is the host's own ``forward`` re-run with the host's submodules, with
  a call ``x = refine(x, stage, block, hw_shape)`` at every *refinement point*: after
  every block (``block=j``) and at the end of every stage (``block=None``), in forward
  order. The wrapper provides ``refine`` and decides which points hold a DGR block
  (``placement='block'`` uses the block points, ``'stage'`` the stage points); at every
  other point ``refine`` returns ``x`` itself, so the adapter is the host's forward.

Adapters are stateless (the host is passed to every method), registered in
:data:`DGR_HOST_ADAPTERS` and looked up by host *class* (:func:`find_dgr_adapter`), not by
config name. A new host is one adapter class in one file; ``configs/dgr/README.md``
("DGR on a new host") has a worked example.

Why an own registry rather than a child of mmseg's ``MODELS``: adapters are not models
(not ``nn.Module``, never built from a config, no ``type=`` key a user writes); their key
is a Python class, and two hosts can share a name (timm's ``ResNet`` vs mmseg's
``ResNet``). A separate mmengine :class:`~mmengine.registry.Registry` keeps them out of
the model namespace (``MODELS.build(dict(type='ResNetAdapter'))`` cannot happen) while
keeping mmengine's registration API (``@DGR_HOST_ADAPTERS.register_module()``, listing,
scopes) for downstream projects.
"""
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

import torch
import torch.nn as nn
from mmengine.registry import Registry

__all__ = ['DGR_HOST_ADAPTERS', 'DGRHostAdapter', 'RefineFn', 'find_dgr_adapter',
           'refine_tokens', 'supported_host_names']

_WHERE = 'mmdepth_dgr/models/backbones/dgr_adapters'

#: Registry of host adapters (one per host family); keys are the adapter class names.
DGR_HOST_ADAPTERS = Registry('DGR host adapter', scope='mmdepth_dgr')

#: ``refine(x, stage, block=None, hw_shape=None) -> x``: the wrapper's callback.
#: ``x`` is ``(B, C, H, W)``, or ``(B, H*W, C)`` tokens (row-major grid) when
#: ``hw_shape=(H, W)`` is given; the result has the same shape (and, at an empty point,
#: is ``x`` itself).
RefineFn = Callable[..., torch.Tensor]


class DGRHostAdapter:
    """Base class of host adapters (subclass, set :attr:`host_class`, register).

    Attributes:
        host_class (type): The host class whose ``forward`` :meth:`forward` mirrors.
            Subclasses of it that keep that ``forward`` (e.g. ``ResNetV1c`` for
            ``ResNet``) use the same adapter; a subclass that overrides ``forward``
            needs its own adapter.
    """

    host_class: Optional[type] = None

    @classmethod
    def check_host(cls, host: nn.Module) -> None:
        """Raise ``TypeError`` for a host instance this adapter cannot run (beyond its
        class), e.g. a wrapper around an unsupported inner model. Default: accept."""

    def stage_channels(self, host: nn.Module) -> List[int]:
        """Channels of the map at each stage refinement point (``block=None``)."""
        raise NotImplementedError

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        """Per stage, the channels of the map after each of its blocks (may be empty).
        Asked only for ``placement='block'``; may raise ``TypeError`` when the host's
        blocks cannot be described."""
        raise NotImplementedError

    def out_channels(self, host: nn.Module) -> List[int]:
        """Channels of each map the host's ``forward`` returns."""
        raise NotImplementedError

    def default_stages(self, host: nn.Module, placement: str) -> List[int]:
        """Stages that get DGR when the wrapper's ``stages`` is None. Default: all."""
        return list(range(len(self.stage_channels(host))))

    def forward(self, host: nn.Module, x: torch.Tensor, refine: RefineFn) -> Any:
        """The host's ``forward(x)`` with ``refine`` called at every refinement point."""
        raise NotImplementedError


def refine_tokens(block: nn.Module, x: torch.Tensor,
                  hw_shape: Sequence[int]) -> torch.Tensor:
    """Apply an NCHW ``block`` to ``(B, H*W, C)`` tokens on their ``(H, W)`` grid.

    The tokens are viewed as a channels-last ``(B, C, H, W)`` map without a copy (the
    layout :class:`~mmdepth_dgr.models.layers.DGRBlock` computes in) and the result is
    returned with ``x``'s shape (and, for a contiguous ``x``, exactly its strides, so
    that an identity block gives a tensor the next host layer treats exactly like ``x``:
    strides of size-1 dimensions can change which kernel, and so which rounding, the
    next operation uses).

    Args:
        block (nn.Module): Maps ``(B, C, H, W)`` to the same shape.
        x (torch.Tensor): ``(B, H*W, C)`` tokens.
        hw_shape (Sequence[int]): ``(H, W)``.

    Returns:
        torch.Tensor: ``(B, H*W, C)``.
    """
    bsz, n, c = x.shape
    h, w = hw_shape
    out = block(x.reshape(bsz, h, w, c).permute(0, 3, 1, 2))
    out = out.permute(0, 2, 3, 1).reshape(bsz, n, c)
    if out.stride() != x.stride() and x.is_contiguous():
        out = torch.empty_strided(x.shape, x.stride(), dtype=out.dtype,
                                  device=out.device).copy_(out)
    return out


def _nearest_adapter(host_type: type) -> Tuple[Optional[type], Optional[type]]:
    """(adapter, host_class) of the registered adapter nearest in ``host_type``'s MRO."""
    adapters = list(DGR_HOST_ADAPTERS.module_dict.values())
    for base in host_type.__mro__:
        for adapter in adapters:
            if adapter.host_class is base:
                return adapter, base
    return None, None


def supported_host_names() -> List[str]:
    """Names of the host classes that have a registered adapter (sorted)."""
    return sorted({a.host_class.__name__ for a in DGR_HOST_ADAPTERS.module_dict.values()
                   if a.host_class is not None})


def find_dgr_adapter(host: nn.Module) -> Type[DGRHostAdapter]:
    """The adapter class for ``host``: the registered adapter whose ``host_class`` is
    nearest in ``type(host)``'s MRO, provided ``host`` still runs that class's
    ``forward`` (and the adapter's :meth:`~DGRHostAdapter.check_host` accepts it).

    Args:
        host (nn.Module): A built host backbone.

    Returns:
        type: A :class:`DGRHostAdapter` subclass.

    Raises:
        TypeError: No adapter fits; the message lists the supported hosts and points
            to ``DGRNeck`` (works with any backbone) and to writing an adapter.
    """
    host_type = type(host)
    adapter, base = _nearest_adapter(host_type)
    if adapter is not None and host_type.forward is base.forward:
        adapter.check_host(host)
        return adapter
    names = ', '.join(supported_host_names())
    if adapter is not None:
        reason = (f'{host_type.__name__!r} overrides the forward of {base.__name__} that '
                  f'{adapter.__name__} mirrors')
    else:
        reason = f'no adapter is registered for backbone type {host_type.__name__!r}'
    raise TypeError(
        f'{_WHERE}: DGRBackbone does not support backbone type {host_type.__name__!r} '
        f'({reason}); supported: {names} (and subclasses that do not override forward, '
        'e.g. ResNetV1c, ResNetV1d, ResNeXt). Use the neck form (DGRNeck) for other '
        'backbones, or register a host adapter (configs/dgr/README.md, "DGR on a new '
        'host").')
