"""recipe_gpu_bench.py: the crops it trains at, and one generated-data step (on CPU)."""
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'recipe_gpu_bench',
        osp.join(REPO, 'tools', 'analysis_tools', 'recipe_gpu_bench.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BENCH = _tool()


@pytest.mark.parametrize('config, crop', [
    (BENCH.RECIPES[0], (480, 640)), (BENCH.RECIPES[2], (352, 1120)),
    (BENCH.RECIPES[8], (416, 544)), (BENCH.RECIPES[10], (352, 704))])
def test_bench_trains_at_the_official_crop(config, crop):
    assert tuple(BENCH.train_crop(Config.fromfile(osp.join(REPO, config)))) == crop


def test_every_benchmarked_config_exists_and_has_its_dgr_partner():
    for c in BENCH.RECIPES:
        assert osp.isfile(osp.join(REPO, c)), c
    assert len(BENCH.RECIPES) == 12
    assert sum('-dgr_' in c for c in BENCH.RECIPES) == 6


def test_one_generated_training_step_runs_on_cpu():
    config = osp.join(REPO, 'configs/quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
    out = BENCH.bench(config, iters=1, warmup=0, device='cpu',
                      cfg_options={'train_dataloader.batch_size': 1}, crop=(64, 96))
    assert out['batch'] == 1 and out['img_per_s'] > 0 and out['peak_gib'] is None
    assert (out['h'], out['w']) == (64, 96)
