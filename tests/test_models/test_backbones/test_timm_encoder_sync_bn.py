"""TIMMEncoder(sync_bn=True): timm's own conversion, which keeps BN's fused activation."""
import timm
import torch

from mmdepth_dgr.models.backbones import TIMMEncoder, timm_encoder


def _encoder(**kw):
    return TIMMEncoder('tf_efficientnet_b0', pretrained=False, **kw)


def test_sync_bn_changes_nothing_without_a_process_group():
    torch.manual_seed(0)
    plain = _encoder()
    torch.manual_seed(0)
    synced = _encoder(sync_bn=True)
    assert type(synced.timm_model.bn1) is type(plain.timm_model.bn1)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(plain.eval()(x), synced.eval()(x)):
            assert torch.equal(a, b)


def test_sync_bn_in_a_distributed_cuda_run_keeps_the_activation(monkeypatch):
    monkeypatch.setattr(timm_encoder, '_distributed_cuda', lambda: True)
    enc = _encoder(sync_bn=True)
    bn1 = enc.timm_model.bn1
    assert isinstance(bn1, torch.nn.SyncBatchNorm)
    assert isinstance(bn1, timm.layers.SyncBatchNormAct)
    assert isinstance(bn1.act, torch.nn.SiLU)  # mmengine's cfg.sync_bn would drop it
