# A narrow version of the pair's shared decoder for the CPU quickstart pair (240x320
# generated scenes, 600 iterations on 2 cores): same structure, 1/8 of the widths, every
# level reduced to 16 channels (1x1) before its MFF up-projection, 3x3 refinement convs,
# no flip test.
_base_ = ['./hu-pair_decoder.py']
model = dict(
    decode_head=dict(channels=128, mff_channels=4, mff_pre_reduce=16, refine_channels=24,
                     refine_kernel=3),
    test_cfg=dict(mode='whole', flip=False))
