from types import SimpleNamespace

import pytest
import torch

from mmdepth_dgr.engine import NonFiniteLossHook, find_nonfinite


def test_find_nonfinite_names_only_bad_terms():
    out = dict(loss=torch.tensor(float('nan')), **{
        'decode.loss_silog': torch.tensor(1.0), 'decode.loss_otdl': torch.tensor(float('inf'))})
    assert set(find_nonfinite(out)) == {'loss', 'decode.loss_otdl'}
    assert find_nonfinite(dict(loss=torch.tensor(0.5))) == {}
    assert find_nonfinite(None) == {}


def test_hook_raises_with_iteration_number():
    hook = NonFiniteLossHook()
    runner = SimpleNamespace(iter=41, epoch=0)
    hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(2.0)))
    with pytest.raises(FloatingPointError, match='iteration 42.*loss=nan'):
        hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(float('nan'))))


def test_hook_runs_before_checkpoint_hook():
    from mmengine.hooks import CheckpointHook
    from mmengine.runner.priority import get_priority
    assert get_priority(NonFiniteLossHook.priority) < get_priority(CheckpointHook.priority)
