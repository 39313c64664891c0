"""mmdepth_dgr.probe.walkthrough: the pair's Runner configs of the one-command walkthrough."""
import pytest

from mmdepth_dgr.probe import walkthrough


@pytest.mark.parametrize('side', ['cnn', 'transformer'])
def test_pair_cfg_shortens_the_schedule_and_points_every_loader_at_the_data(side, tmp_path):
    cfg = walkthrough.pair_cfg(walkthrough.PAIR[side][1], str(tmp_path / 'w'), 'D', 120, 3,
                               'x')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.data_root == 'D'
    assert cfg.train_cfg.max_iters == 120
    assert cfg.train_cfg.val_begin > 120  # no validation: the study evaluates both nets
    warm, poly = cfg.param_scheduler
    assert (warm['begin'], warm['end']) == (0, 30)  # the 600-iteration config's warm-up
    assert (poly['begin'], poly['end']) == (30, 120)
    assert cfg.default_hooks.checkpoint.interval == 120
    assert cfg.randomness == dict(seed=3)
    short = walkthrough.pair_cfg(walkthrough.PAIR[side][1], 'w', 'D', 4, 0, 'y')
    assert (short.param_scheduler[0]['end'], short.param_scheduler[1]['end']) == (2, 4)


def test_walkthrough_defaults_follow_the_seed():
    args = walkthrough.parse_args(['--seed', '2'])
    assert args.work_dir.endswith('seed2') and args.data_root.startswith(args.work_dir)
    assert (args.height, args.width, args.net_iters, args.probe_iters, args.density) == (
        120, 160, 120, 40, 0.1)
    with pytest.raises(SystemExit):
        walkthrough.parse_args(['--net-iters', '0'])
