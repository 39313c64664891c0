# NeWCRFs + DGR: a DGR block after every Swin stage (DGRBackbone wraps the same Swin-L;
# identity at initialisation). Everything else as the baseline.
_base_ = './newcrfs_swin-l_4xb4-25k_nyu-416x544.py'
model = dict(backbone=dict(type='DGRBackbone', host_type='SwinTransformer', dgr=dict()))
