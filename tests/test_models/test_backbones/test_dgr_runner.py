"""A few Runner iterations + validation of the configs/dgr/ quickstart leaves (tiny MiT).

Both placements (in-encoder ``DGRBackbone`` and ``DGRNeck``) must train with finite
losses, move every DGR parameter (weight decay is switched off so that only gradients can
move them; the zero-initialised last 1x1 conv can only leave zero through its gradient),
and produce validation metrics.
"""
import math
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from tests.conftest import REPO_ROOT, tiny_runner_cfg

DGR_LEAVES = {
    'backbone': 'mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py',
    'neck': 'mit-b0-dgrneck_regression_1xb4-600iter_synnyu-240x320.py',
}
# Tiny MiT (as tests/test_tools/test_train_test_tools.py) so that 3 iterations take seconds.
TINY_MIT = {
    'model.backbone.num_layers': [1, 1, 1, 1],
    'model.backbone.embed_dims': 16,
    'model.decode_head.in_channels': [16, 32, 80, 128],
    'optim_wrapper.optimizer.weight_decay': 0.0,
}


@pytest.mark.parametrize('placement', sorted(DGR_LEAVES))
def test_dgr_quickstart_config_trains_and_validates(placement, synthetic_nyu_root,
                                                    tmp_path):
    overrides = dict(TINY_MIT)
    if placement == 'neck':  # the leaf copied the full-size widths at parse time
        overrides['model.neck.in_channels'] = [16, 32, 80, 128]
    cfg = tiny_runner_cfg(osp.join(REPO_ROOT, 'configs', 'dgr', DGR_LEAVES[placement]),
                          str(tmp_path), synthetic_nyu_root, max_iters=3, **overrides)
    runner = Runner.from_cfg(cfg)
    dgr = runner.model.backbone.dgr if placement == 'backbone' else runner.model.neck.dgr
    assert sorted(dgr) == ['0', '1', '2', '3']
    assert [b.in_channels for b in dgr.values()] == [16, 32, 80, 128]

    # Initialise now (Runner.train's own init_weights call is then a no-op for the
    # initialised modules and only re-zeroes the last convs) and snapshot the DGR weights.
    runner.model.init_weights()
    assert all(torch.count_nonzero(b.out_conv.weight) == 0 for b in dgr.values())
    before = {k: v.detach().clone() for k, v in dgr.state_dict().items()}
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses), losses

    after = dgr.state_dict()
    assert before.keys() == after.keys()
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, unchanged

    metrics = runner.val()
    for key in ('d1', 'abs_rel', 'rmse', 'silog'):
        assert key in metrics and math.isfinite(metrics[key]), (key, metrics)
    assert metrics['num_images'] == 2
