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
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from .depth_net import build_depth_net, depth_net_preprocessor_cfg
from .mask_net import mask_density
from .masking import MASK_SPACES, apply_mask, image_region_mask, sparse_mask_loss  # noqa: F401

__all__ = ['SparseMaskProbe']


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
        depth_net (nn.Module | dict): N: a built depth model (the study hands it one), or,
            from a config, ``dict(config='cfg.py', checkpoint='ckpt.pth', cfg_options=None)``
            (built with :func:`mmdepth_dgr.apis.init_model`) or a model config dict
            (``type=...``) with an optional ``checkpoint`` key (see :mod:`.depth_net`).
        mask_net (dict): G config. Defaults to ``dict(type='MaskNet')``.
        lam (float): lambda of Eq. 4 (sparsity weight). Defaults to 1.0.
        mask_space (str): ``'pixel'`` (black) or ``'normalized'`` (mean colour), see the
            module docstring. Defaults to 'pixel'.
        dif_loss (dict): ``L_dif`` config. Defaults to ``dict(type='HuDepthLoss')``.
        binarize_threshold (float): Threshold of the logged ``density_bin``. Defaults to 0.5.
        data_preprocessor (dict, optional): Defaults to None: N's own (a copy of the built
            module's, or from its config), so ``I`` is exactly what N was trained on.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 depth_net: Union[nn.Module, dict],
                 mask_net: dict = dict(type='MaskNet'),
                 lam: float = 1.0,
                 mask_space: str = 'pixel',
                 dif_loss: dict = dict(type='HuDepthLoss'),
                 binarize_threshold: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(depth_net, (dict, nn.Module)):
            raise TypeError('SparseMaskProbe: depth_net must be a built model or a dict '
                            '(config/checkpoint or a model config), got '
                            f'{type(depth_net).__name__}')
        if mask_space not in MASK_SPACES:
            raise ValueError(f'SparseMaskProbe: mask_space must be one of {MASK_SPACES}, '
                             f'got {mask_space!r}')
        if lam < 0:
            raise ValueError(f'SparseMaskProbe: lam must be >= 0, got {lam}')
        if data_preprocessor is None:
            if isinstance(depth_net, nn.Module):
                pre = getattr(depth_net, 'data_preprocessor', None)
                data_preprocessor = copy.deepcopy(pre) if pre is not None else None
            else:
                data_preprocessor = depth_net_preprocessor_cfg(depth_net)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.depth_net = build_depth_net(depth_net)
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
