"""A few Runner iterations + validation of the configs/dgr/ quickstart leaves (tiny MiT),
and DGR put onto a trained baseline with ``load_from``.

Both forms (in-encoder ``DGRBackbone``, one block after every transformer block, and
``DGRNeck``) must train with finite losses, move every DGR parameter (weight decay is
switched off so that only gradients can move them; the zero-initialised last 1x1 conv can
only leave zero through its gradient), and produce validation metrics. A baseline trained
a few iterations and loaded into the ``-dgr`` config evaluates to exactly the baseline's
metrics before any fine-tuning.
"""
import math
import os.path as osp

import pytest
import torch

from mmdepth_dgr.engine import DepthRunner as Runner  # the tools' runner (checkpoint loading)
from tests.conftest import REPO_ROOT, tiny_runner_cfg

BASELINE = 'mit-b0_regression_1xb4-600iter_synnyu-240x320.py'
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
    # one DGR block per transformer block (num_layers=[1, 1, 1, 1]) / per output level
    assert sorted(dgr) == (['0_0', '1_0', '2_0', '3_0'] if placement == 'backbone'
                           else ['0', '1', '2', '3'])
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


def test_dgr_config_with_load_from_a_trained_baseline_starts_at_its_metrics(
        synthetic_nyu_root, tmp_path):
    # 1. train the baseline quickstart model a few iterations (checkpoint at the end)
    overrides = dict(TINY_MIT, **{'model.backbone.num_layers': [1, 2, 1, 1]})
    base_dir = tmp_path / 'baseline'
    base_cfg = tiny_runner_cfg(osp.join(REPO_ROOT, 'configs', 'quickstart', BASELINE),
                               str(base_dir), synthetic_nyu_root, max_iters=2, **overrides)
    base_runner = Runner.from_cfg(base_cfg)
    base_runner.train()
    base_metrics = base_runner.val()
    ckpt = base_dir / 'iter_2.pth'
    assert ckpt.is_file()

    # 2. the -dgr config with load_from=<baseline checkpoint>, as a fine-tuning run
    #    starts: weights initialised, then the checkpoint loaded (Runner.train's order)
    dgr_cfg = tiny_runner_cfg(osp.join(REPO_ROOT, 'configs', 'dgr', DGR_LEAVES['backbone']),
                              str(tmp_path / 'dgr'), synthetic_nyu_root, max_iters=2,
                              **overrides)
    dgr_cfg.load_from = str(ckpt)
    dgr_runner = Runner.from_cfg(dgr_cfg)
    wrapper = dgr_runner.model.backbone
    assert wrapper.placement == 'block' and len(wrapper.dgr) == 5
    dgr_runner.model.init_weights()
    dgr_metrics = dgr_runner.val()  # loads load_from first

    # 3. metrics at iteration 0 equal the baseline's exactly
    assert dgr_metrics == base_metrics
    assert math.isfinite(base_metrics['abs_rel'])
    # and the same checkpoint also loads strictly (test-time loading is strict)
    dgr_runner.load_checkpoint(str(ckpt), strict=True)
