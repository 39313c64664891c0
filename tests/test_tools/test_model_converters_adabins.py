"""tools/model_converters/adabins2mmdepth.py on a synthetic checkpoint in the official layout.

The official model is mirrored below from a reading of shariqfarooq123/AdaBins
(``models/unet_adaptive_bins.py``, ``miniViT.py``, ``layers.py``): module names, shapes
and the forward pass (sequence-first transformer, token 0 -> bin regressor, tokens
1..128 -> queries, bins padded with min_val then cumsum). Its EfficientNet is timm's
``tf_efficientnet_b5`` (gen-efficientnet's successor with the same module names); the
official encoder taps ``features[4, 5, 6, 8, 11]`` of its module walk, i.e. blocks 0, 1,
2, 4 and ``conv_head`` (before ``bn2``).
"""
import importlib.util
import os.path as osp

import pytest
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS


def _load_converter(repo_root):
    path = osp.join(repo_root, 'tools', 'model_converters', 'adabins2mmdepth.py')
    spec = importlib.util.spec_from_file_location('adabins2mmdepth', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _UpSampleBN(nn.Module):

    def __init__(self, skip_input, output_features):
        super().__init__()
        self._net = nn.Sequential(
            nn.Conv2d(skip_input, output_features, 3, 1, 1), nn.BatchNorm2d(output_features),
            nn.LeakyReLU(),
            nn.Conv2d(output_features, output_features, 3, 1, 1),
            nn.BatchNorm2d(output_features), nn.LeakyReLU())

    def forward(self, x, concat_with):
        up = F.interpolate(x, size=concat_with.shape[2:], mode='bilinear', align_corners=True)
        return self._net(torch.cat([up, concat_with], dim=1))


class _DecoderBN(nn.Module):

    def __init__(self, num_features=2048, num_classes=128, bottleneck_features=2048):
        super().__init__()
        f = num_features
        self.conv2 = nn.Conv2d(bottleneck_features, f, 1, 1, padding=1)
        self.up1 = _UpSampleBN(f + 112 + 64, f // 2)
        self.up2 = _UpSampleBN(f // 2 + 40 + 24, f // 4)
        self.up3 = _UpSampleBN(f // 4 + 24 + 16, f // 8)
        self.up4 = _UpSampleBN(f // 8 + 16 + 8, f // 16)
        self.conv3 = nn.Conv2d(f // 16, num_classes, 3, 1, 1)

    def forward(self, b0, b1, b2, b3, b4):
        x = self.conv2(b4)
        x = self.up1(x, b3)
        x = self.up2(x, b2)
        x = self.up3(x, b1)
        x = self.up4(x, b0)
        return self.conv3(x)


class _PatchTransformerEncoder(nn.Module):

    def __init__(self, in_channels, patch_size=16, embedding_dim=128, num_heads=4):
        super().__init__()
        layer = nn.TransformerEncoderLayer(embedding_dim, num_heads, dim_feedforward=1024)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=4,
                                                         enable_nested_tensor=False)
        self.embedding_convPxP = nn.Conv2d(in_channels, embedding_dim, patch_size,
                                           stride=patch_size)
        self.positional_encodings = nn.Parameter(torch.rand(500, embedding_dim))

    def forward(self, x):
        e = self.embedding_convPxP(x).flatten(2)
        e = e + self.positional_encodings[:e.shape[2], :].T.unsqueeze(0)
        return self.transformer_encoder(e.permute(2, 0, 1))        # S, N, E


class _MViT(nn.Module):

    def __init__(self, in_channels, n_query_channels=128, dim_out=256, embedding_dim=128):
        super().__init__()
        self.n_query_channels = n_query_channels
        self.patch_transformer = _PatchTransformerEncoder(in_channels, 16, embedding_dim, 4)
        self.conv3x3 = nn.Conv2d(in_channels, embedding_dim, 3, 1, 1)
        self.regressor = nn.Sequential(
            nn.Linear(embedding_dim, 256), nn.LeakyReLU(), nn.Linear(256, 256),
            nn.LeakyReLU(), nn.Linear(256, dim_out))

    def forward(self, x):
        tgt = self.patch_transformer(x.clone())
        x = self.conv3x3(x)
        head, queries = tgt[0], tgt[1:self.n_query_channels + 1].permute(1, 0, 2)
        n, c, h, w = x.shape
        maps = torch.matmul(x.view(n, c, h * w).permute(0, 2, 1), queries.permute(0, 2, 1))
        maps = maps.permute(0, 2, 1).reshape(n, -1, h, w)
        y = torch.relu(self.regressor(head)) + 0.1
        return y / y.sum(dim=1, keepdim=True), maps


class _Encoder(nn.Module):

    def __init__(self):
        super().__init__()
        self.original_model = timm.create_model('tf_efficientnet_b5', pretrained=False)
        self.original_model.global_pool = nn.Identity()
        self.original_model.classifier = nn.Identity()

    def forward(self, x):
        m = self.original_model
        x = m.bn1(m.conv_stem(x))
        taps = []
        for blk in m.blocks:
            x = blk(x)
            taps.append(x)
        return taps[0], taps[1], taps[2], taps[4], m.conv_head(taps[6])


class _OfficialAdaBins(nn.Module):

    def __init__(self, n_bins=256, min_val=1e-3, max_val=10.0, num_features=2048,
                 n_query=128):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val
        self.encoder = _Encoder()
        self.adaptive_bins_layer = _MViT(128, n_query_channels=n_query, dim_out=n_bins)
        self.decoder = _DecoderBN(num_features=num_features, num_classes=128)
        self.conv_out = nn.Sequential(nn.Conv2d(n_query, n_bins, 1), nn.Softmax(dim=1))

    def forward(self, x):
        widths, maps = self.adaptive_bins_layer(self.decoder(*self.encoder(x)))
        out = self.conv_out(maps)
        widths = (self.max_val - self.min_val) * widths
        widths = F.pad(widths, (1, 0), mode='constant', value=self.min_val)
        edges = torch.cumsum(widths, dim=1)
        centers = 0.5 * (edges[:, :-1] + edges[:, 1:])
        return edges, torch.sum(out * centers[:, :, None, None], dim=1, keepdim=True)


REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _our_model(num_features, n_query):
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/models/adabins_efficientnet-b5.py'))
    cfg.model.backbone.pretrained = False
    cfg.model.backbone.model_name = 'tf_efficientnet_b5'
    cfg.model.decode_head.channels = num_features
    cfg.model.decode_head.n_query = n_query
    return MODELS.build(cfg.model)


def _pair(num_features, n_query):
    torch.manual_seed(0)
    official = _OfficialAdaBins(num_features=num_features, n_query=n_query)
    # Non-trivial BN statistics so that a swapped mapping would show.
    with torch.no_grad():
        for mod in official.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return _load_converter(REPO_ROOT), official, _our_model(num_features, n_query)


@pytest.fixture(scope='module')
def official_and_ours():
    """The published sizes (decoder width 2048)."""
    return _pair(2048, 128)


@pytest.fixture(scope='module')
def narrow_official_and_ours():
    """Decoder width 256 and 16 queries (arguments of the official DecoderBN / mViT) so
    that the numerical comparison runs on a small image in a few seconds on CPU; the
    key mapping is the same."""
    return _pair(256, 16)


def test_conversion_fills_every_key_and_leaves_none_over(official_and_ours):
    conv, official, ours = official_and_ours
    sd = {'module.' + k: v for k, v in official.state_dict().items()}  # DataParallel save
    converted, dropped = conv.convert_adabins(sd)
    assert dropped and all(k.startswith('encoder.original_model.bn2.') for k in dropped)
    result = ours.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    ours_sd = ours.state_dict()
    for key, value in converted.items():
        assert ours_sd[key].shape == value.shape, key


def test_converted_model_reproduces_official_forward(narrow_official_and_ours):
    conv, official, ours = narrow_official_and_ours
    converted, _ = conv.convert_adabins(official.state_dict())
    ours.load_state_dict(converted, strict=True)
    official.eval()
    ours.eval()
    x = torch.randn(1, 3, 128, 160)  # 4 x 5 = 20 mini-ViT patches >= 1 + 16 queries
    with torch.no_grad():
        edges, ref = official(x)
        depth, centers = ours.decode_head.forward_with_bins(ours.backbone(x))
    assert depth.shape == ref.shape == (1, 1, 64, 80)
    torch.testing.assert_close(centers, 0.5 * (edges[:, 1:] + edges[:, :-1]),
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(depth, ref, rtol=1e-4, atol=1e-4)


def test_unknown_key_raises_naming_it(official_and_ours):
    conv, _, _ = official_and_ours
    with pytest.raises(KeyError, match='decoder.not_a_layer.weight'):
        conv.convert_adabins({'decoder.not_a_layer.weight': torch.zeros(1)})


def test_cli_writes_a_loadable_state_dict(narrow_official_and_ours, tmp_path, repo_root):
    import subprocess
    import sys
    conv, official, ours = narrow_official_and_ours
    src, dst = tmp_path / 'AdaBins_nyu.pt', tmp_path / 'out.pth'
    torch.save({'model': official.state_dict(), 'epoch': 1}, src)
    script = osp.join(repo_root, 'tools', 'model_converters', 'adabins2mmdepth.py')
    subprocess.run([sys.executable, script, str(src), str(dst)], check=True,
                   capture_output=True)
    state = torch.load(dst, map_location='cpu')['state_dict']
    ours.load_state_dict(state, strict=True)
