"""PixelFormer, NeWCRFs and AdaBins equal their official networks.

Each fixture (tests/fixtures/official/<host>/, made once with the official code, see the
README there) holds the official network's depth on a real NYU frame, computed with the
weights of this project's network (every tensor filled from a seed) mapped to the
official key layout by the converter's inverse and loaded strictly. Here the project
network is rebuilt and filled the same way and must give that depth within the
fixture's float32 tolerance. NeWCRFs is built with ``min_depth=0`` (the official depth is
``sigmoid · max_depth``; the fixture's ``cfg_options`` say so).
"""
import pytest
import torch

from _official_equivalence import Case, load_converter, official_checkpoint, swapped

# Per host: the converter module's name in messages, and two same-shape official keys
# whose exchange is a plausible mis-mapping (it must break the equivalence).
HOSTS = {
    'pixelformer': ('PixelFormer', ('sam1.sam_block.norm1.weight',
                                    'sam1.sam_block.normv.weight')),
    'newcrfs': ('NeWCRFs', ('crf0.crf_layer.blocks.0.norm1.weight',
                            'crf0.crf_layer.blocks.0.norm2.weight')),
    'adabins': ('AdaBins', ('decoder.up1._net.1.running_mean',
                            'decoder.up1._net.4.running_mean')),
}


@pytest.fixture(scope='module', params=list(HOSTS))
def case(request):
    return Case(request.param)


def test_project_weights_are_the_fixture_weights(case):
    # Same names and fill as when the fixture was made (else the next tests cannot pass).
    assert case.weights_sha256 == case.meta['weights_sha256']


def test_project_network_gives_the_official_depth_on_a_nyu_frame(case, samples_dir):
    err = case.error(case.input(samples_dir))
    assert err <= case.atol, f'{case.meta["host"]}: max |diff| {err:.3g} m'


def test_train_script_checkpoint_converts_back_exactly(case, tmp_path):
    """The official layout as the official train script saves it (``module.`` prefix,
    its other entries) passes the converter's layout check, converts back to exactly the
    weights that gave the official depth above and loads strictly."""
    host, _ = HOSTS[case.meta['host']]
    path = tmp_path / 'official_checkpoint.pth'
    torch.save(official_checkpoint(case.official_state(),
                                   case.meta['official']['checkpoint']), path)
    converter = load_converter(case.meta['converter']['module'])
    converted = converter.convert_checkpoint(str(path), case.model, case.from_official,
                                             case.to_official, host)
    assert converted.keys() == case.state.keys()
    assert all(torch.equal(converted[k], case.state[k]) for k in converted)


def test_one_swapped_official_weight_breaks_the_equivalence(case, samples_dir):
    _, (key_a, key_b) = HOSTS[case.meta['host']]
    bad = case.from_official(swapped(case.official_state(), key_a, key_b))
    assert case.error(case.input(samples_dir), bad) > 100 * case.atol
