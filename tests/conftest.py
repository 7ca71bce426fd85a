import pytest

import stackelberg  # noqa: F401  (sets MKL_CBWR before torch loads MKL; see its __init__)
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
