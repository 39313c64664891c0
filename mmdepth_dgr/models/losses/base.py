"""The depth-loss base: name, weight, validity mask and mmseg's reduction interface.

Every depth loss is written in two parts:

* its **math**, a private function ``terms_fn(pred, target, mask, **options)`` returning
  the unreduced loss ``terms`` and a bool tensor ``counted`` of the same shape (which terms
  take part in the mean); ``mask`` is the valid-pixel mask, already resolved;
* a **functional twin** (e.g. :func:`~.mse.masked_mse_loss`) that calls
  :func:`depth_loss` with that math, and a registered class deriving from
  :class:`BaseDepthLoss` that names the twin (``loss_fn``) and its default ``loss_name``.

What one term is depends on the loss:

============================  ==========================  =============================
kind                          ``terms`` shape             losses
============================  ==========================  =============================
per pixel                     ``(B, 1, H, W)``            ``MaskedMSELoss``
per image                     ``(B,)``                    ``OTDLoss``, ``BinsChamferLoss``
pooled over the batch         ``()``                      ``SILogDepthLoss``, ``HuDepthLoss``
============================  ==========================  =============================

(SILog and Hu pool their statistics over all valid pixels of the batch, as the host
repositories do, so they have one term per batch.)

Reduction (:func:`reduce_depth_loss`), mmseg's interface (``weight``, ``avg_factor``,
``reduction`` in ``{'none', 'mean', 'sum'}``, ``reduction_override``):

* ``'mean'`` without ``avg_factor``: ``sum(weight * terms) / max(#counted, 1)``, the mean
  over valid pixels / images - not mmseg's ``terms.mean()``, which would also count the
  invalid pixels. It is the one case written here;
* ``'mean'`` with ``avg_factor``, ``'sum'`` and ``'none'``: mmseg's
  :func:`mmseg.models.losses.utils.weight_reduce_loss` (``'none'`` returns the terms, zero
  where not counted).
"""
import inspect
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmseg.models.losses.utils import weight_reduce_loss
from torch import Tensor

from .utils import check_depth_pair, depth_valid_mask

__all__ = ['BaseDepthLoss', 'REDUCTIONS', 'check_reduction', 'depth_loss',
           'reduce_depth_loss']

REDUCTIONS = ('none', 'mean', 'sum')
# The call interface every functional twin shares; everything else in its signature is an
# option of the loss (what BaseDepthLoss takes as keyword arguments).
_CALL_ARGS = 3   # pred (or bin_centers), target, valid_mask
_REDUCE_ARGS = ('weight', 'reduction', 'avg_factor')


def check_reduction(where: str, reduction: str) -> None:
    """Raise a ``ValueError`` naming ``where`` unless ``reduction`` is in :data:`REDUCTIONS`.

    Args:
        where (str): Name of the caller used in the message.
        reduction (str): The reduction to check.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f'{where}: reduction must be one of {REDUCTIONS}, '
                         f'got {reduction!r}')


def reduce_depth_loss(terms: Tensor,
                      counted: Tensor,
                      weight: Optional[Tensor] = None,
                      reduction: str = 'mean',
                      avg_factor: Optional[float] = None,
                      where: str = 'depth loss') -> Tensor:
    """Weight and reduce unreduced depth-loss terms (see the module docstring).

    Args:
        terms (Tensor): Unreduced terms, 0 where not counted: ``(B, 1, H, W)``, ``(B,)``
            or ``()``.
        counted (Tensor): Bool tensor of the shape of ``terms``: the terms the mean runs
            over (valid pixels, images with valid mass, a batch with a valid pixel).
        weight (Tensor, optional): Weights broadcastable to ``terms`` (per pixel, per
            image, or a scalar). Defaults to None.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
        avg_factor (float, optional): With ``'mean'``, divide the weighted sum by it
            (plus float32 eps, as mmseg) instead of by the number of counted terms.
            Defaults to None.
        where (str): Name of the loss used in error messages. Defaults to 'depth loss'.

    Returns:
        Tensor: The reduced loss (a scalar) or, with ``'none'``, the weighted terms.
    """
    check_reduction(where, reduction)
    if weight is not None:
        if torch.broadcast_shapes(weight.shape, terms.shape) != terms.shape:
            raise ValueError(
                f'{where}: weight of shape {tuple(weight.shape)} must be broadcastable to '
                f'the loss terms {tuple(terms.shape)} (per pixel (B, 1, H, W), per image '
                '(B,), or a scalar for a loss pooled over the batch)')
        weight = weight.expand_as(terms)
    if reduction == 'mean' and avg_factor is None:
        if weight is not None:
            terms = terms * weight
        return terms.sum() / counted.sum().clamp_min(1)
    return weight_reduce_loss(terms, weight, reduction, avg_factor)


TermsFn = Callable[..., Tuple[Tensor, Tensor]]


def depth_loss(terms_fn: TermsFn,
               pred: Tensor,
               target: Tensor,
               valid_mask: Optional[Tensor] = None,
               *,
               where: str,
               weight: Optional[Tensor] = None,
               reduction: str = 'mean',
               avg_factor: Optional[float] = None,
               check_pair: bool = True,
               **options) -> Tensor:
    """Run a depth loss's math on the valid pixels and reduce it.

    Checks the inputs (``pred`` and ``target`` both ``(B, 1, H, W)`` unless
    ``check_pair=False``), builds the valid-pixel mask with
    :func:`~.utils.depth_valid_mask` (``target > 0``, finite, and ``valid_mask``), calls
    ``terms_fn(pred, target, mask, **options)`` and reduces its ``(terms, counted)`` with
    :func:`reduce_depth_loss`.

    Args:
        terms_fn (callable): The loss's math, ``(pred, target, mask, **options) ->
            (terms, counted)``.
        pred (Tensor): Prediction, ``(B, 1, H, W)`` depth in metres for depth-map losses.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.
        where (str): Name of the loss used in error messages.
        weight (Tensor, optional): See :func:`reduce_depth_loss`. Defaults to None.
        reduction (str): See :func:`reduce_depth_loss`. Defaults to 'mean'.
        avg_factor (float, optional): See :func:`reduce_depth_loss`. Defaults to None.
        check_pair (bool): Check that ``pred`` is a depth map shaped like ``target``
            (False for losses whose ``pred`` is something else, e.g. bin centres).
            Defaults to True.
        **options: Passed to ``terms_fn``.

    Returns:
        Tensor: The reduced loss.
    """
    check_reduction(where, reduction)
    if check_pair:
        check_depth_pair(pred, target, where)
    mask = depth_valid_mask(target, valid_mask)
    terms, counted = terms_fn(pred, target, mask, **options)
    return reduce_depth_loss(terms, counted, weight, reduction, avg_factor, where)


class BaseDepthLoss(nn.Module):
    """A registered depth loss: a functional twin plus name, weight and reduction.

    A subclass sets two class attributes and, for build-time checks, optionally a third:

    * ``loss_fn``: the functional twin, ``loss_fn(pred, target, valid_mask=None,
      <options>, *, weight=None, reduction='mean', avg_factor=None)``;
    * ``default_loss_name``: e.g. ``'loss_silog'``;
    * ``check_options``: ``check_options(where, **options)`` raising ``ValueError`` on a
      bad option (the same function the twin calls), so a bad config fails when built.

    The options of the loss are the keyword arguments of ``loss_fn`` after
    ``valid_mask``; their defaults are the twin's (one set of defaults per loss). They are
    stored as attributes (``loss.reg``) and passed to the twin on every call.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str, optional): Name of the loss item; must start with ``loss_`` (the
            prefix mmseg's parser sums into the total). Defaults to None, i.e. the class's
            ``default_loss_name``.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
        **options: Options of ``loss_fn`` (see the subclass).
    """

    loss_fn: Callable[..., Tensor]
    default_loss_name: str = 'loss_depth'
    check_options: Optional[Callable[..., None]] = None

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: Optional[str] = None,
                 reduction: str = 'mean',
                 **options):
        super().__init__()
        where = type(self).__name__
        if not callable(getattr(type(self), 'loss_fn', None)):
            raise TypeError(f'{where}: a BaseDepthLoss subclass must set loss_fn (its '
                            'functional twin)')
        loss_name = self.default_loss_name if loss_name is None else loss_name
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f'{where}: loss_name must start with "loss_" (mmseg sums '
                             f'only those into the total loss), got {loss_name!r}')
        check_reduction(where, reduction)
        defaults = self.option_defaults()
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise TypeError(f'{where}: unknown option(s) {unknown}; the options are '
                            f'{sorted(defaults)} (and loss_weight, loss_name, reduction)')
        self.options: Dict[str, object] = {**defaults, **options}
        if self.check_options is not None:
            type(self).check_options(where, **self.options)
        for key, value in self.options.items():
            setattr(self, key, value)
        self.loss_weight = loss_weight
        self.reduction = reduction
        self._loss_name = loss_name

    @classmethod
    def option_defaults(cls) -> Dict[str, object]:
        """Options of ``loss_fn`` and their defaults.

        Returns:
            dict: name -> default of every parameter of ``loss_fn`` after the first three
            (prediction, target, valid_mask), except ``weight``/``reduction``/``avg_factor``.
        """
        params = list(inspect.signature(cls.loss_fn).parameters.values())[_CALL_ARGS:]
        return {p.name: p.default for p in params
                if p.name not in _REDUCE_ARGS and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                             p.KEYWORD_ONLY)}

    def forward(self,
                pred: Tensor,
                target: Tensor,
                valid_mask: Optional[Tensor] = None,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """``loss_weight * loss_fn(pred, target, valid_mask, **options)``, reduced.

        Args:
            pred (Tensor): Prediction, ``(B, 1, H, W)`` depth in metres (bin centres
                ``(B, K)`` for :class:`~.bins_chamfer.BinsChamferLoss`).
            target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
            valid_mask (Tensor, optional): Extra mask, intersected with the target's
                validity. Defaults to None.
            weight (Tensor, optional): Weights broadcastable to the loss terms.
                Defaults to None.
            avg_factor (float, optional): Divisor of the weighted sum for ``'mean'``.
                Defaults to None.
            reduction_override (str, optional): Overrides ``reduction`` for this call.
                Defaults to None.

        Returns:
            Tensor: The weighted loss (a scalar unless the reduction is ``'none'``).
        """
        reduction = self.reduction if reduction_override is None else reduction_override
        return self.loss_weight * type(self).loss_fn(
            pred, target, valid_mask, weight=weight, reduction=reduction,
            avg_factor=avg_factor, **self.options)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item (same-name items are summed by the head)."""
        return self._loss_name

    def extra_repr(self) -> str:
        opts = ', '.join(f'{k}={v!r}' for k, v in self.options.items())
        return (f'loss_name={self.loss_name!r}, loss_weight={self.loss_weight}, '
                f'reduction={self.reduction!r}' + (f', {opts}' if opts else ''))
