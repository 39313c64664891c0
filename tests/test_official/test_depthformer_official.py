"""DepthFormer (Agarwal & Arora) equals the official network (ashutosh1807/Depthformer,
``UnetAdaptiveBins``).

The fixture (tests/fixtures/official/depthformer/, made once with the official code by
../fixtures/official/depthformer/make_fixture.py, official ``mit_b1`` backend) holds the
official 1/2-resolution depth on a real NYU frame for this project's network's weights
(every tensor filled from a seed) mapped to the official layout by the converter's inverse
and loaded strictly. Tolerance: 64 float32 ulps of the largest depth (measured: 2.4e-6 m).
"""
import pytest
import torch

from _official_equivalence import Case, load_converter, official_checkpoint, swapped

CONVERTER = load_converter('depthformer2mmdepth')


@pytest.fixture(scope='module')
def case():
    return Case('depthformer')


def test_project_weights_are_the_fixture_weights(case):
    assert case.weights_sha256 == case.meta['weights_sha256']


def test_project_network_gives_the_official_depth_on_a_nyu_frame(case, samples_dir):
    err = case.error(case.input(samples_dir))
    assert err <= case.atol, f'max |diff| {err:.3g} m'


@pytest.mark.parametrize('prefix', ['module.', ''])
def test_train_script_checkpoint_converts_to_the_official_depth(case, samples_dir, tmp_path,
                                                                  prefix):
    """As model_io.save_checkpoint saves it (``module.`` prefix, optimizer, epoch); the
    official loader also reads it without the prefix."""
    path = tmp_path / 'UnetAdaptiveBins_best.pt'
    torch.save(official_checkpoint(case.official_state(),
                                   case.meta['official']['checkpoint'], prefix=prefix), path)
    converted = CONVERTER.convert_checkpoint(
        str(path), case.model, CONVERTER.convert_depthformer,
        CONVERTER.depthformer_to_official, 'DepthFormer',
        CONVERTER.read_depthformer_checkpoint)
    assert converted.keys() == case.state.keys()
    assert all(torch.equal(converted[k], case.state[k]) for k in converted)
    assert case.error(case.input(samples_dir), converted) <= case.atol


def test_older_adabins_key_names_are_read_as_the_official_loader_does(case, tmp_path):
    official = case.official_state()
    legacy = {k.replace('patch_transformer.embedding_convPxP',
                        'patch_transformer.embedding_encoder'): v for k, v in official.items()}
    path = tmp_path / 'legacy.pt'
    torch.save(official_checkpoint(legacy, case.meta['official']['checkpoint']), path)
    converted = CONVERTER.convert_checkpoint(
        str(path), case.model, CONVERTER.convert_depthformer,
        CONVERTER.depthformer_to_official, 'DepthFormer',
        CONVERTER.read_depthformer_checkpoint)
    assert all(torch.equal(converted[k], case.state[k]) for k in converted)


def test_converter_names_the_file_and_the_keys_it_cannot_match(case, tmp_path):
    layout = case.meta['official']['checkpoint']
    official = case.official_state()
    missing = dict(official)
    del missing['encoder.model1.block3.1.attn.kv.weight']
    extra = dict(official, **{'decoder.extra.weight': torch.zeros(1)})
    mixed = official_checkpoint(official, layout)
    mixed['model']['decoder.extra'] = mixed['model'].pop('module.conv_out.0.bias')
    for name, ckpt, words in (('missing', official_checkpoint(missing, layout), 'missing'),
                              ('extra', official_checkpoint(extra, layout), 'unexpected'),
                              ('mixed', mixed, 'module.')):
        path = tmp_path / name
        torch.save(ckpt, path)
        with pytest.raises(KeyError, match=words) as err:
            CONVERTER.convert_checkpoint(
                str(path), case.model, CONVERTER.convert_depthformer,
                CONVERTER.depthformer_to_official, 'DepthFormer',
                CONVERTER.read_depthformer_checkpoint)
        assert str(path) in str(err.value)


def test_one_swapped_official_weight_breaks_the_equivalence(case, samples_dir):
    bad = case.from_official(swapped(case.official_state(), 'decoder.up2._net.1.running_var',
                                     'decoder.up2._net.4.running_var'))
    assert case.error(case.input(samples_dir), bad) > 100 * case.atol
