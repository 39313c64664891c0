"""CNNViTHybrid: a CNN whose deepest map a ViT tokenises; outputs, reported channels and
strides, DGR on the ViT part."""
import pytest
import torch

from mmdepth_dgr.models.backbones import CNNViTHybrid

CNN = dict(type='TransUNetResNetV2', block_units=(1, 1, 1), width_factor=0.5)
VIT = dict(type='VisionTransformer', img_size=(4, 6), patch_size=1, in_channels=512,
           embed_dims=16, num_layers=2, num_heads=2, out_indices=(0, 1),
           output_cls_token=True, patch_bias=True)


def test_outputs_are_the_chosen_cnn_maps_then_the_vit_levels():
    net = CNNViTHybrid(cnn=CNN, vit=VIT, cnn_out_indices=(0, 2))
    outs = net(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs[:2]] == [(1, 32, 32, 48), (1, 256, 8, 12)]
    assert all(tuple(o[0].shape) == (1, 16, 4, 6) and tuple(o[1].shape) == (1, 16)
               for o in outs[2:])
    assert net.out_channels == [32, 256, 16, 16]
    assert net.out_strides == [2, 8, 16, 16]


def test_dgr_wraps_the_vit_part_and_is_the_identity_at_init():
    net = CNNViTHybrid(cnn=CNN, vit=VIT).eval()
    dgr = CNNViTHybrid(cnn=CNN, vit=dict(VIT, type='DGRBackbone',
                                         host_type='VisionTransformer')).eval()
    net.init_weights(), dgr.init_weights()
    sd = {k.replace('vit.', 'vit.backbone.', 1): v for k, v in net.state_dict().items()}
    missing, unexpected = dgr.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.startswith('vit.dgr.') for k in missing)
    assert dgr.out_channels == net.out_channels and dgr.out_strides == net.out_strides
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(net(x), dgr(x)):
            a, b = (a[0], b[0]) if isinstance(a, list) else (a, b)
            assert torch.equal(a, b)


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='cnn_out_indices'):
        CNNViTHybrid(cnn=CNN, vit=VIT, cnn_out_indices=(4, ))
    with pytest.raises(TypeError, match='out_channels'):
        CNNViTHybrid(cnn=dict(type='ResNetV1c', depth=18), vit=VIT)
