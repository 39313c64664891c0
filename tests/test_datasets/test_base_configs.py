"""The project's dataset configs build and run on the real samples (paths swapped)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

SAMPLES = {
    'nyu': ('nyu_metric3d',
            [f'/rgb/rgb_{i}.jpg /depth/sync_depth_{i}.png 518.8579'
             for i in ('00000', '00050', '00100')], (416, 544), None),
    'kitti': ('kitti_metric3d',
              [f'rgb/{i}.png depth/{i}.png 707.0493'
               for i in ('0000000005', '0000000050', '0000000100')], (352, 704),
              (352, 1216)),
}


@pytest.mark.parametrize('name', ['nyu', 'kitti'])
def test_base_dataset_config_runs_on_real_samples(name, repo_root, samples_dir,
                                                  tmp_path):
    path = osp.join(repo_root, 'configs', '_base_', 'datasets', f'{name}.py')
    assert osp.isfile(path), f'{path} is missing (a deleted config fails, never skips)'
    folder, lines, train_hw, test_hw = SAMPLES[name]
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(lines))
    cfg = Config.fromfile(path)
    for key in ('train_dataloader', 'val_dataloader'):
        ds_cfg = cfg[key]['dataset']
        ds_cfg.update(data_root=osp.join(samples_dir, folder), split_file=str(split),
                      data_prefix=dict(img_path='', depth_map_path=''))
        with DefaultScope.overwrite_default_scope('mmseg'):
            ds = DATASETS.build(ds_cfg)
        assert len(ds) == 3
        out = ds[0]
        hw = train_hw if key == 'train_dataloader' else (test_hw or out['data_samples']
                                                         .metainfo['ori_shape'])
        assert tuple(out['inputs'].shape[-2:]) == tuple(hw)
        gt = out['data_samples'].gt_depth_map.data
        assert tuple(gt.shape) == (1, *hw) and float(gt.max()) > 0
