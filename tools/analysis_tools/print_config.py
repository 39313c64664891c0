"""Print (or save) the fully merged config: ``python tools/analysis_tools/print_config.py
CONFIG [--cfg-options k=v ...] [--save-path merged.py]``."""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from mmengine.config import Config, DictAction  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the merged config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, e.g. model.decode_head.max_depth=80')
    parser.add_argument('--save-path', help='also write the merged config here (.py)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    text = cfg.pretty_text
    print(f'Config:\n{text}')
    if args.save_path:
        if not args.save_path.endswith(('.py', '.json', '.yaml', '.yml')):
            raise ValueError(f'--save-path must end in .py/.json/.yaml, got '
                             f'{args.save_path}')
        cfg.dump(args.save_path)
        print(f'Saved the merged config to {args.save_path}')
    return text


if __name__ == '__main__':
    main()
