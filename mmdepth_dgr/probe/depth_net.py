"""Build the frozen depth network N of the sparse-pixel probe from what a config gives.

:class:`~.SparseMaskProbe` is handed N; a probe *config* (trained by ``tools/train.py``)
can only name it, as ``dict(config=..., checkpoint=..., cfg_options=...)`` (a depth-model
config file and its weights, loaded with :func:`mmdepth_dgr.apis.init_model`) or as a model
config dict with an optional ``checkpoint`` key. This module turns either into a built
module. It lives in the probe package, not in ``models/``: loading configs and checkpoints is
the API layer's job, and the model layer does not import it.
"""
import copy
import logging
import os.path as osp
from typing import Optional, Union

import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmseg.registry import MODELS

__all__ = ['build_depth_net', 'depth_net_preprocessor_cfg']

_KEYS = {'config', 'checkpoint', 'cfg_options'}


def build_depth_net(depth_net: Union[nn.Module, dict]) -> nn.Module:
    """N as a module: returned as is, or built from a config/checkpoint or model dict.

    Args:
        depth_net (nn.Module | dict): A built depth model, ``dict(config=..., checkpoint=...,
            cfg_options=...)`` or a model config dict (``type=...``) with an optional
            ``checkpoint`` key.

    Returns:
        nn.Module: The depth model (not yet frozen; the probe freezes it).
    """
    from mmdepth_dgr.apis import disable_pretrained_weights, init_model
    if isinstance(depth_net, nn.Module):
        return depth_net
    depth_net = copy.deepcopy(dict(depth_net))
    if 'config' in depth_net:
        unknown = set(depth_net) - _KEYS
        if unknown:
            raise KeyError(f'SparseMaskProbe: unknown keys {sorted(unknown)} in depth_net '
                           f'(expected {sorted(_KEYS)})')
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
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model


def depth_net_preprocessor_cfg(depth_net: Union[nn.Module, dict]) -> Optional[dict]:
    """N's ``data_preprocessor`` config (None when N has none or names no config)."""
    if isinstance(depth_net, nn.Module):
        return None  # the probe then copies the built module's preprocessor
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
