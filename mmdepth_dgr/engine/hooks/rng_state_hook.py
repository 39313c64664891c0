"""Save torch's random-number state in checkpoints so ``--resume`` continues its stream."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

__all__ = ['RNGStateHook', 'get_torch_rng_states', 'set_torch_rng_states']


def get_torch_rng_states() -> dict:
    """torch's global CPU generator state and, with CUDA, every device's.

    Returns:
        dict: ``{'torch': ByteTensor, 'cuda': list[ByteTensor] | None}``.
    """
    return dict(
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


def set_torch_rng_states(states: dict) -> None:
    """Restore what :func:`get_torch_rng_states` returned (CUDA only if the device
    count matches)."""
    torch.set_rng_state(states['torch'])
    cuda = states.get('cuda')
    if cuda is not None and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store torch's RNG state in every checkpoint and restore it when one is loaded.

    mmengine 0.10.7 resumes the model, optimizer, schedulers, message hub and the data
    position, but not torch's global generator: after ``--resume`` the stochastic
    layers (dropout, MiT's stochastic depth) draw other numbers than an uninterrupted
    run would, and the weights diverge.

    Only torch's generator is saved, on purpose. On resume the train loop replays the
    already-seen batches through the pipeline (``next()`` N times); with
    ``num_workers=0`` those replays consume the same NumPy/Python draws of the random
    augmentations as the first run did, which brings the NumPy/Python generators to
    the right state by themselves. Restoring them from the checkpoint as well would
    advance them twice. The pipeline draws nothing from torch's global generator
    (the sampler has its own), so restoring torch's state at load time is exact.
    With this hook (in ``configs/_base_/default_runtime.py``),
    ``randomness=dict(seed=..., deterministic=True)`` and ``num_workers=0``, a CPU run
    killed and resumed ends bit-identical to an uninterrupted one
    (``tests/test_engine/test_resume_after_crash.py``). Data-loader worker processes
    seed themselves from the sampler and are not affected either way.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['torch_rng_states'] = get_torch_rng_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states: Optional[dict] = checkpoint.get('meta', {}).get('torch_rng_states')
        if states is not None:
            set_torch_rng_states(states)
