"""High-level inference: build a depth model from a config (+ checkpoint) and run it.

>>> from mmdepth_dgr.apis import init_model, inference_model
>>> model = init_model('configs/quickstart/<config>.py', 'iter_600.pth', device='cpu')
>>> depth_m = inference_model(model, 'room.jpg')          # (H, W) float32, metres
>>> depths = inference_model(model, [img_bgr, 'b.png'], flip=True)   # list in, list out

Pre-processing is the config's own test pipeline (same normalisation and, when the
pipeline resizes, the same resize) minus every step that needs ground truth or belongs
to the evaluation protocol (see :data:`INFERENCE_DROPPED_TRANSFORMS`). Images of any
size are padded by the model's data preprocessor to its ``size_divisor`` (the backbone
stride) and the prediction is un-padded (and un-resized) back to the input size by
:class:`~mmdepth_dgr.models.estimators.MonoDepthEstimator`.
"""
import copy
import os.path as osp
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

from ..utils.checkpoint import load_checkpoint

__all__ = [
    'init_model', 'inference_model', 'build_inference_pipeline',
    'disable_pretrained_weights', 'INFERENCE_DROPPED_TRANSFORMS'
]

ImageType = Union[str, np.ndarray]

#: Test-pipeline steps removed for inference on plain images: GT loading, and the
#: evaluation-protocol crops (which would make the output smaller than the input; a
#: model trained on KB-cropped KITTI still runs on the full frame, fully convolutional).
INFERENCE_DROPPED_TRANSFORMS = frozenset({
    'LoadDepthFromFile', 'LoadDepthAnnotation', 'LoadAnnotations', 'KBCrop',
    'NYUBorderCrop', 'RandomCropDepth', 'RandomRotateDepth', 'RandomFlip',
    'RandomGammaBrightnessColor'
})
_IMAGE_LOADERS = frozenset({'LoadImageFromFile', 'LoadRGBFromFile'})


def disable_pretrained_weights(model_cfg: Any) -> Any:
    """Turn off every pretrained-weight download in a model config, in place.

    ``pretrained='path|url'`` → None, ``pretrained=True`` → False (timm), and
    ``init_cfg=dict(type='Pretrained', ...)`` → None, at any depth. Used when the
    weights come from a checkpoint anyway (and by the config tests, offline).

    Args:
        model_cfg (dict | list): ``cfg.model`` or any part of it.

    Returns:
        The same object, modified.
    """
    if isinstance(model_cfg, dict):
        for key in list(model_cfg.keys()):
            value = model_cfg[key]
            if key == 'pretrained' and value is not None:
                model_cfg[key] = False if isinstance(value, bool) else None
            elif key == 'init_cfg' and _is_pretrained_init(value):
                model_cfg[key] = None
            else:
                disable_pretrained_weights(value)
    elif isinstance(model_cfg, (list, tuple)):
        for item in model_cfg:
            disable_pretrained_weights(item)
    return model_cfg


def _is_pretrained_init(init_cfg: Any) -> bool:
    items = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(isinstance(c, dict) and c.get('type') == 'Pretrained' for c in items)


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build a depth estimator from a config and load a checkpoint.

    Args:
        config (str | Config): Config file path or loaded config.
        checkpoint (str, optional): Local path or http(s) URL of the weights. URLs are
            downloaded once into the torch.hub cache (``$TORCH_HOME/hub/checkpoints``)
            and their SHA-256 is checked when the file name ends in
            ``-<sha256 prefix>.pth`` (see :mod:`mmdepth_dgr.utils.checkpoint`). None
            (or ``'none'``) keeps the random initialisation. Defaults to None.
        device (str): Torch device. Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config
            (``{'model.backbone.embed_dims': 16}``). Defaults to None.
        strict (bool): The checkpoint must match the model exactly: a missing,
            unexpected or shape-mismatched key is a
            :class:`~mmdepth_dgr.utils.CheckpointMismatchError` naming the file with
            the counts and first names. False loads the matching weights, keeps the
            others at their initialisation and logs the same report as a warning.
            Loading goes through ``model.load_state_dict``, so the modules'
            state-dict hooks run. Defaults to True.

    Returns:
        nn.Module: The model in eval mode on ``device``, with the config on
        ``model.cfg`` and ``model.dataset_meta`` from the checkpoint when present.

    Raises:
        FileNotFoundError: The config or the checkpoint does not exist.
        CheckpointLoadError: The checkpoint is empty, truncated, not a checkpoint, or
            its download failed (the message names the file and what is wrong).
        CheckpointMismatchError: ``strict`` and the weights do not fit the model.
    """
    if isinstance(config, (str, bytes)) or hasattr(config, '__fspath__'):
        config = str(config)
        if not osp.isfile(config):
            raise FileNotFoundError(f'init_model: config file not found: {config}')
        config = Config.fromfile(config)
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError('init_model: config must be a file path or an mmengine '
                        f'Config, got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'init_model: the config {config.filename} has no "model"')
    if isinstance(checkpoint, str) and checkpoint.lower() == 'none':
        checkpoint = None
    if checkpoint is not None:
        checkpoint = str(checkpoint)
        is_url = checkpoint.startswith(('http://', 'https://'))
        if not is_url and not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'init_model: checkpoint not found: {checkpoint} (absolute path '
                f'{osp.abspath(checkpoint)})')
        disable_pretrained_weights(config.model)
    config.model.train_cfg = None
    init_default_scope(config.get('default_scope', 'mmseg'))

    import mmdepth_dgr  # noqa: F401  (registrations)
    model = MODELS.build(config.model)
    if checkpoint is not None:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=strict)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if isinstance(meta, dict) and 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def build_inference_pipeline(cfg: Config, from_array: bool):
    """The config's test pipeline without GT/protocol steps, as a callable.

    Args:
        cfg (Config): Model config with ``test_dataloader.dataset.pipeline`` or
            ``test_pipeline`` (falls back to load + pack).
        from_array (bool): Load from ``results['img']`` (numpy, BGR) instead of a
            file.

    Returns:
        callable: ``pipeline(results: dict) -> dict`` with ``inputs`` and
        ``data_samples``.
    """
    pipeline = None
    dl = cfg.get('test_dataloader') or {}
    if isinstance(dl, dict) and isinstance(dl.get('dataset'), dict):
        pipeline = dl['dataset'].get('pipeline')
    if pipeline is None:
        pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        pipeline = [dict(type='LoadImageFromFile'), dict(type='PackDepthInputs')]
    steps = [copy.deepcopy(dict(t)) for t in pipeline
             if t['type'] not in INFERENCE_DROPPED_TRANSFORMS]
    if not steps or steps[0]['type'] not in _IMAGE_LOADERS | {'LoadImageFromNDArray'}:
        steps.insert(0, dict(type='LoadImageFromFile'))
    if from_array:
        steps[0] = dict(type='LoadImageFromNDArray')
    elif steps[0]['type'] == 'LoadImageFromNDArray':
        steps[0] = dict(type='LoadImageFromFile')
    if steps[-1]['type'] not in ('PackDepthInputs', 'PackSegInputs'):
        steps.append(dict(type='PackDepthInputs'))
    transforms = [TRANSFORMS.build(t) for t in steps]

    def run(results: dict) -> dict:
        for t in transforms:
            results = t(results)
            if results is None:
                raise RuntimeError(f'inference pipeline step {t!r} dropped the image')
        return results

    return run


def _as_bgr_array(img: np.ndarray, index: int,
                  input_scale: Optional[float] = None) -> np.ndarray:
    """Check an input array and return it as (H, W, 3) uint8 BGR.

    Accepted: uint8 (H, W), (H, W, 1) or (H, W, 3), non-empty. Other dtypes (float,
    uint16, ...) only with ``input_scale``: ``round(img * input_scale)``, which must be
    finite and within [0, 255].
    """
    where = f'inference_model: image {index}'
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        extra = ' (4 channels: drop alpha first, e.g. cv2.cvtColor(img, ' \
            'cv2.COLOR_BGRA2BGR))' if img.ndim == 3 and img.shape[2] == 4 else ''
        raise ValueError(f'{where} must be (H, W, 3) BGR or (H, W) grey, got shape '
                         f'{img.shape}{extra}')
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f'{where} is empty (shape {img.shape}); expected at least '
                         '1x1 pixels')
    if img.dtype != np.uint8:
        if input_scale is None:
            hint = ('float images in [0, 1]: input_scale=255' if img.dtype.kind == 'f'
                    else '16-bit images: input_scale=1/257' if img.dtype == np.uint16
                    else 'scale it to 0..255 and cast to uint8')
            raise TypeError(
                f'{where} has dtype {img.dtype}; expected uint8 BGR (as cv2.imread '
                f'returns). Convert it, or pass input_scale ({hint}): the model was '
                'trained on 0..255 pixel values and another range gives wrong depth '
                'without an error.')
        if img.dtype.kind not in 'fiub':
            raise TypeError(f'{where} has dtype {img.dtype}; expected a numeric image')
        scaled = img.astype(np.float64) * float(input_scale)
        if not np.isfinite(scaled).all():
            raise ValueError(f'{where} has {int((~np.isfinite(scaled)).sum())} non-finite '
                             'pixel values (NaN/inf)')
        lo, hi = float(scaled.min()), float(scaled.max())
        if lo < -0.5 or hi > 255.5:
            raise ValueError(
                f'{where} times input_scale={input_scale} spans [{lo:.4g}, {hi:.4g}], '
                'outside 0..255: wrong input_scale for this image')
        img = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    elif input_scale is not None and input_scale != 1:
        raise ValueError(f'{where} is already uint8; input_scale={input_scale} would '
                         'rescale 0..255 values (leave input_scale None)')
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return img


def inference_model(model: torch.nn.Module,
                    img_or_list: Union[ImageType, Sequence[ImageType]],
                    flip: bool = False,
                    return_datasamples: bool = False,
                    input_scale: Optional[float] = None
                    ) -> Union[np.ndarray, SegDataSample, List[np.ndarray],
                               List[SegDataSample]]:
    """Predict metric depth for one image or a list of images.

    Args:
        model (nn.Module): From :func:`init_model` (needs ``model.cfg``).
        img_or_list (str | np.ndarray | Sequence): Image path(s) or uint8 BGR
            array(s) as read by ``mmcv.imread``/``cv2.imread``: (H, W, 3), or (H, W) /
            (H, W, 1) grey, non-empty. Sizes may differ and need not be multiples of
            the backbone stride. Other dtypes are refused (a float image in [0, 1]
            would silently give wrong depth) unless ``input_scale`` is given.
        flip (bool): Horizontal-flip test-time augmentation (average of the direct
            and the un-flipped flipped prediction). Defaults to False.
        return_datasamples (bool): Return ``SegDataSample`` with
            ``pred_depth_map`` (1, H, W) instead of numpy arrays. Defaults to False.
        input_scale (float, optional): Explicit conversion of non-uint8 arrays:
            ``uint8(round(img * input_scale))``, which must be finite and within
            [0, 255] (e.g. 255 for float images in [0, 1], 1/257 for uint16). Not
            allowed for uint8 input. Defaults to None (non-uint8 arrays are refused).

    Returns:
        np.ndarray | list: Per image, (H, W) float32 depth in metres at the input
        resolution, within the head's ``[min_depth, max_depth]``. A list in gives a
        list out; a single image gives a single result.

    Raises:
        TypeError: An array of another dtype than uint8 without ``input_scale``, or an
            input that is neither a path nor an array.
        ValueError: A wrong shape, an empty array, or (with ``input_scale``)
            non-finite values or values outside 0..255 after scaling; the message
            names the image's index, what it got and what is expected.
        FileNotFoundError: A path that does not exist.
    """
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise AttributeError('inference_model: model.cfg is missing; build the model '
                             'with mmdepth_dgr.apis.init_model')
    is_batch = isinstance(img_or_list, (list, tuple))
    imgs = list(img_or_list) if is_batch else [img_or_list]
    # Every input is checked before the first one runs.
    inputs = []
    for i, img in enumerate(imgs):
        if isinstance(img, np.ndarray):
            inputs.append((True, dict(img=_as_bgr_array(img, i, input_scale))))
        elif isinstance(img, str) or hasattr(img, '__fspath__'):
            path = str(img)
            if not osp.isfile(path):
                raise FileNotFoundError(f'inference_model: image {i} not found: {path}')
            inputs.append((False, dict(img_path=path)))
        else:
            raise TypeError(f'inference_model: image {i} must be a path or a numpy '
                            f'array, got {type(img).__name__}')
    pipelines = {}
    test_cfg = getattr(model, 'test_cfg', None)
    saved_flip = None
    if test_cfg is not None:
        saved_flip = test_cfg.get('flip', False)
        test_cfg['flip'] = bool(flip)
    results = []
    try:
        for from_array, data in inputs:
            if from_array not in pipelines:
                pipelines[from_array] = build_inference_pipeline(cfg, from_array)
            packed = pipelines[from_array](data)
            with torch.no_grad():
                sample = model.test_step(pseudo_collate([packed]))[0]
            results.append(sample if return_datasamples else
                           sample.pred_depth_map.data[0].detach().cpu().numpy()
                           .astype(np.float32))
    finally:
        if test_cfg is not None:
            test_cfg['flip'] = saved_flip
    return results if is_batch else results[0]
