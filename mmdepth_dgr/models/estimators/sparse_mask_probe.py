"""Sparse-pixel probe of a frozen depth network (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1, Eq. 1-4,
Fig. 2-3; after Hu et al., "Visualization of Convolutional Neural Networks for Monocular Depth
Estimation", ICCV 2019).

Which pixels does a depth network N need? A mask network G is trained, with N frozen, so
that N predicts (almost) the same depth from the masked image as from the full one while the
mask is sparse (Eq. 4)::

    min_G  L_dif( N(I), N(I * G(I)) ) + lambda * mean(G(I))

``L_dif`` is Hu et al.'s depth + gradient + normal loss (:class:`HuDepthLoss`, Eq. 18) with
``N(I)`` (detached) as the target; ``mean(G(I))`` is the l1 norm of the mask divided by the
number of pixels (``G`` is in (0, 1), so ``|G|_1 = sum G``). lambda sets the sparsity.

Where the mask is applied (``mask_space``). ``I`` is what N consumes: the data
preprocessor's output ``x = (I_rgb - mean) / std``, padded. Two readings of ``I * G(I)``:

* ``'pixel'`` (default): the mask multiplies the image in pixel space, ``I_rgb * M`` with
  ``I_rgb`` in [0, 255], before normalisation, so removed pixels are **black**. In terms of
  ``x``: ``x' = ((std * x + mean) * M - mean) / std = x * M + (M - 1) * mean / std``. This is
  the literal "the image multiplied by the mask" of Hu et al. and Eq. 4, and what their
  figures show.
* ``'normalized'``: ``x' = x * M``, removed pixels become 0 in normalised space, i.e. the
  dataset **mean colour**. (Hu et al.'s released code multiplies the already normalised
  tensor, as far as we can tell; this is that option.)

The two differ in what "no information" looks like to N (black is itself a colour and a
strong edge against its neighbours; the mean colour is the least informative value under
the normalisation). Padding added by the data preprocessor is never masked (M is forced to 1
there) and does not count in the density or the loss.

G sees the normalised input ``x`` in both cases. N is built from its config (+ checkpoint),
all its parameters get ``requires_grad=False``, it stays in eval mode whatever ``train()``
is called with (BN running statistics and drop-path fixed), and ``init_weights`` (called by
the Runner before training) initialises G only, so N is bit-identical after training G.
N runs without flip test-time augmentation (``encode_decode``).
"""
import copy
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.runner import load_checkpoint
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from .mask_net import mask_density

__all__ = [
    'SparseMaskProbe', 'MASK_SPACES', 'apply_mask', 'binarize_mask', 'image_region_mask',
    'sparse_mask_loss'
]

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


def _build_depth_net(depth_net: dict) -> nn.Module:
    """N from ``dict(config=..., checkpoint=..., cfg_options=...)`` or a model cfg dict."""
    from mmdepth_dgr.apis import disable_pretrained_weights, init_model
    depth_net = copy.deepcopy(dict(depth_net))
    if 'config' in depth_net:
        unknown = set(depth_net) - {'config', 'checkpoint', 'cfg_options'}
        if unknown:
            raise KeyError(f'SparseMaskProbe: unknown keys {sorted(unknown)} in depth_net '
                           "(expected 'config', 'checkpoint', 'cfg_options')")
        if depth_net['config'] is None:
            raise ValueError('SparseMaskProbe: model.depth_net.config is None; set it to the '
                             'depth network config (e.g. --cfg-options '
                             'model.depth_net.config=... model.depth_net.checkpoint=...)')
        if depth_net.get('checkpoint') is None:
            print_log('SparseMaskProbe: model.depth_net.checkpoint is None, the depth network '
                      'keeps its random initialisation (only meaningful in tests); set it to '
                      'the trained weights', logger='current', level=logging.WARNING)
        return init_model(depth_net['config'], depth_net.get('checkpoint'), device='cpu',
                          cfg_options=depth_net.get('cfg_options'))
    checkpoint = depth_net.pop('checkpoint', None)
    if checkpoint is not None:
        disable_pretrained_weights(depth_net)
    model = MODELS.build(depth_net)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'SparseMaskProbe: depth_net checkpoint not found: '
                                    f'{checkpoint}')
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model


def _depth_net_preprocessor_cfg(depth_net: dict) -> Optional[dict]:
    if 'config' in depth_net:
        if depth_net['config'] is None:
            return None
        cfg = Config.fromfile(depth_net['config'])
        if depth_net.get('cfg_options'):
            cfg.merge_from_dict(depth_net['cfg_options'])
        pre = cfg.model.get('data_preprocessor')
    else:
        pre = depth_net.get('data_preprocessor')
    return copy.deepcopy(pre.to_dict() if hasattr(pre, 'to_dict') else pre)


@MODELS.register_module()
class SparseMaskProbe(BaseModel):
    """A frozen depth network N and a trainable mask network G, trained with Eq. 4.

    Forward modes (mmengine ``BaseModel``):

    * ``'loss'``: ``loss_dif`` (Hu's loss between ``N(I * G(I))`` and ``N(I)``) and
      ``loss_sparse`` (``lambda * mean G``), and, logged only, ``density`` (mean of G over
      the image) and ``density_bin`` (fraction of image pixels with ``G > 0.5``).
    * ``'predict'``: one ``SegDataSample`` per image with ``pred_mask`` (soft G),
      ``pred_depth_map`` (``N(I * G(I))``) and ``full_depth_map`` (``N(I)``), un-padded.
    * ``'tensor'``: the soft mask ``(B, 1, H, W)``.

    Args:
        depth_net (dict): N: ``dict(config='cfg.py', checkpoint='ckpt.pth',
            cfg_options=None)`` (built with :func:`mmdepth_dgr.apis.init_model`), or a model
            config dict (``type=...``) with an optional ``checkpoint`` key.
        mask_net (dict): G config. Defaults to ``dict(type='MaskNet')``.
        lam (float): lambda of Eq. 4 (sparsity weight). Defaults to 1.0.
        mask_space (str): ``'pixel'`` (black) or ``'normalized'`` (mean colour), see the
            module docstring. Defaults to 'pixel'.
        dif_loss (dict): ``L_dif`` config. Defaults to ``dict(type='HuDepthLoss')``.
        binarize_threshold (float): Threshold of the logged ``density_bin``. Defaults to 0.5.
        data_preprocessor (dict, optional): Defaults to None: N's own (from its config), so
            ``I`` is exactly what N was trained on.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 depth_net: dict,
                 mask_net: dict = dict(type='MaskNet'),
                 lam: float = 1.0,
                 mask_space: str = 'pixel',
                 dif_loss: dict = dict(type='HuDepthLoss'),
                 binarize_threshold: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(depth_net, dict):
            raise TypeError('SparseMaskProbe: depth_net must be a dict (config/checkpoint or '
                            f'a model config), got {type(depth_net).__name__}')
        if mask_space not in MASK_SPACES:
            raise ValueError(f'SparseMaskProbe: mask_space must be one of {MASK_SPACES}, '
                             f'got {mask_space!r}')
        if lam < 0:
            raise ValueError(f'SparseMaskProbe: lam must be >= 0, got {lam}')
        if data_preprocessor is None:
            data_preprocessor = _depth_net_preprocessor_cfg(depth_net)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.depth_net = _build_depth_net(depth_net)
        self.depth_net.eval()
        for p in self.depth_net.parameters():
            p.requires_grad_(False)
        self.mask_net = MODELS.build(mask_net)
        self.dif_loss = MODELS.build(dif_loss)
        self.lam = float(lam)
        self.mask_space = mask_space
        self.binarize_threshold = float(binarize_threshold)
        self._check_normalisation()

    # ------------------------------------------------------------------ setup
    def _norm(self, module) -> tuple:
        if module is None or not getattr(module, '_enable_normalize', False):
            return None, None
        return module.mean, module.std

    def _check_normalisation(self) -> None:
        """The probe's normalisation must be N's (apply_mask un-normalises with it)."""
        mine = self._norm(self.data_preprocessor)
        theirs = self._norm(getattr(self.depth_net, 'data_preprocessor', None))
        if theirs[0] is None:
            return
        if mine[0] is None or not (torch.allclose(mine[0].cpu(), theirs[0].cpu())
                                   and torch.allclose(mine[1].cpu(), theirs[1].cpu())):
            raise ValueError('SparseMaskProbe: model.data_preprocessor mean/std differ from '
                             "the depth network's; leave data_preprocessor=None to use N's")

    def train(self, mode: bool = True) -> 'SparseMaskProbe':
        """Set G's mode; N stays in eval mode (frozen BN statistics, no drop-path)."""
        super().train(mode)
        self.depth_net.eval()
        return self

    def init_weights(self) -> None:
        """Initialise G only (the Runner calls this before training; N keeps its weights)."""
        self.mask_net.init_weights()

    # ------------------------------------------------------------------ pieces
    @property
    def decode_head(self) -> nn.Module:
        """N's depth head (the probe predicts depth only through N)."""
        return self.depth_net.decode_head

    @property
    def mean_std(self) -> tuple:
        """(mean, std) of the input normalisation, ``(C, 1, 1)`` each, or (None, None)."""
        return self._norm(self.data_preprocessor)

    def depth(self, inputs: Tensor, batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """N on a normalised, padded input: ``(B, 1, H, W)`` metres at the input size."""
        if batch_img_metas is None:
            batch_img_metas = [dict(img_shape=inputs.shape[-2:], pad_shape=inputs.shape[-2:])
                               for _ in range(inputs.shape[0])]
        depth = self.depth_net.encode_decode(inputs, batch_img_metas)
        if depth.shape[-2:] != inputs.shape[-2:]:
            depth = F.interpolate(depth, size=inputs.shape[-2:], mode='bilinear',
                                  align_corners=False)
        return depth

    def mask(self, inputs: Tensor) -> Tensor:
        """Soft mask ``G(I)``, ``(B, 1, H, W)`` in (0, 1)."""
        return self.mask_net(inputs)

    def masked_inputs(self, inputs: Tensor, mask: Tensor,
                      valid: Optional[Tensor] = None) -> Tensor:
        """``I * M`` in the probe's ``mask_space`` (padding untouched)."""
        mean, std = self.mean_std
        return apply_mask(inputs, mask, mean, std, self.mask_space, valid)

    @staticmethod
    def _metas(inputs: Tensor, data_samples) -> List[dict]:
        if data_samples is None:
            return [dict(img_shape=inputs.shape[-2:], pad_shape=inputs.shape[-2:])
                    for _ in range(inputs.shape[0])]
        return [s.metainfo for s in data_samples]

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        """See the class docstring for the modes."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.mask(inputs)
        raise RuntimeError(f'SparseMaskProbe: invalid mode "{mode}" '
                           "(expected 'loss', 'predict' or 'tensor')")

    def loss(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        """Eq. 4 terms plus the logged densities."""
        metas = self._metas(inputs, data_samples)
        valid = image_region_mask(metas, inputs.shape, inputs.device)
        with torch.no_grad():
            full = self.depth(inputs, metas)
        mask = self.mask(inputs)
        masked = self.depth(self.masked_inputs(inputs, mask, valid), metas)
        losses = sparse_mask_loss(masked, full, mask, self.lam, self.dif_loss, valid)
        with torch.no_grad():
            losses['density'] = mask_density(mask, valid).mean()
            losses['density_bin'] = mask_density(
                (mask > self.binarize_threshold).float(), valid).mean()
        return losses

    def predict(self, inputs: Tensor, data_samples=None) -> List[SegDataSample]:
        """Soft mask, ``N(I * G(I))`` and ``N(I)``, cropped to each image."""
        metas = self._metas(inputs, data_samples)
        valid = image_region_mask(metas, inputs.shape, inputs.device)
        mask = self.mask(inputs)
        masked = self.depth(self.masked_inputs(inputs, mask, valid), metas)
        full = self.depth(inputs, metas)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            h, w = metas[i].get('img_shape', inputs.shape[-2:])[:2]
            sample.set_data(dict(
                pred_mask=PixelData(data=mask[i, :, :h, :w]),
                pred_depth_map=PixelData(data=masked[i, :, :h, :w]),
                full_depth_map=PixelData(data=full[i, :, :h, :w])))
        return data_samples
