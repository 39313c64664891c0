"""TransDepth equals the official network (ygjwd12345/TransDepth, ``BtsModel``).

The fixture (tests/fixtures/official/transdepth/, made once with the official code by
../fixtures/official/transdepth/make_fixture.py) holds the official depth on a real NYU frame
for this project's network's weights (every tensor filled from a seed) mapped to the
official layout by the converter's inverse and loaded strictly. The official attention
gates multiply by random channel weightings drawn at every forward pass (rank 3); both
networks run right after ``torch.manual_seed(forward_seed)`` and draw the same numbers in
the same order. Tolerance: 64 float32 ulps of the largest depth (measured: 4.8e-6 m).
"""
import pytest
import torch

from _official_equivalence import Case, load_converter, official_checkpoint, swapped

CONVERTER = load_converter('transdepth2mmdepth')


@pytest.fixture(scope='module')
def case():
    return Case('transdepth')


def _error(case, x, state_dict=None, seed=None):
    """max |project - official| with the official forward seed (or ``seed``)."""
    torch.manual_seed(case.meta['official']['forward_seed'] if seed is None else seed)
    return case.error(x, state_dict)


def test_project_weights_are_the_fixture_weights(case):
    assert case.weights_sha256 == case.meta['weights_sha256']


def test_project_network_gives_the_official_depth_on_a_nyu_frame(case, samples_dir):
    err = _error(case, case.input(samples_dir))
    assert err <= case.atol, f'max |diff| {err:.3g} m'


def test_the_official_output_depends_on_the_random_attention_draws(case, samples_dir):
    """The equality above is not that of a deterministic network: another seed gives
    another depth (the official gates are stochastic at test time too)."""
    assert _error(case, case.input(samples_dir), seed=1) > 10 * case.atol


def test_train_script_checkpoint_converts_to_the_official_depth(case, samples_dir,
                                                                  tmp_path):
    """As bts_main.py saves it: ``module.`` prefix and its other entries."""
    path = tmp_path / 'model-1000-best_abs_rel_0.10000'
    torch.save(official_checkpoint(case.official_state(),
                                   case.meta['official']['checkpoint']), path)
    converted = CONVERTER.convert_checkpoint(
        str(path), case.model, CONVERTER.convert_transdepth,
        CONVERTER.transdepth_to_official, 'TransDepth', CONVERTER.read_transdepth_checkpoint)
    assert converted.keys() == case.state.keys()
    assert all(torch.equal(converted[k], case.state[k]) for k in converted)
    assert _error(case, case.input(samples_dir), converted) <= case.atol


def test_converter_names_the_file_and_the_keys_it_cannot_match(case, tmp_path):
    layout = case.meta['official']['checkpoint']
    official = case.official_state()
    missing = dict(official)
    del missing['encoder.transformer.encoder.layer.0.attn.key.bias']
    extra = dict(official, **{'decoder.extra.weight': torch.zeros(1)})
    cases = (('missing', official_checkpoint(missing, layout), 'missing keys'),
             ('extra', official_checkpoint(extra, layout), 'unexpected keys'),
             ('bare', official_checkpoint(official, layout, prefix=''), 'module.'))
    for name, ckpt, words in cases:
        path = tmp_path / name
        torch.save(ckpt, path)
        with pytest.raises(KeyError, match=words) as err:
            CONVERTER.convert_checkpoint(
                str(path), case.model, CONVERTER.convert_transdepth,
                CONVERTER.transdepth_to_official, 'TransDepth',
                CONVERTER.read_transdepth_checkpoint)
        assert str(path) in str(err.value)


def test_one_swapped_official_weight_breaks_the_equivalence(case, samples_dir):
    bad = case.from_official(swapped(
        case.official_state(), 'AttentionGraphCondKernel.attention_MSG_35.kernel_se_1.weight',
        'AttentionGraphCondKernel.attention_MSG_35.kernel_sr_1.weight'))
    # depth = 10 m * sigmoid: the swap moves it by ~70 tolerances (measured 4.2e-3 m)
    assert _error(case, case.input(samples_dir), bad) > 10 * case.atol
