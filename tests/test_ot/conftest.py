"""Setup shared by the tests of mmdepth_dgr.ot."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """The problems here are tiny: thread hand-offs cost more than they save."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)
