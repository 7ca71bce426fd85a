import importlib.util
from pathlib import Path

import pytest

import stackelberg  # noqa: F401  (sets MKL_CBWR before torch loads MKL; see its __init__)
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield


CARRY_SCRIPT = Path(__file__).resolve().parents[1] / "runs" / "scripts" / "carry_runs.py"


@pytest.fixture
def carry(tmp_path, monkeypatch):
    """runs/scripts/carry_runs.py as a module, carrying between tmp_path/out and tmp_path/carry."""
    spec = importlib.util.spec_from_file_location("carry_runs", CARRY_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path / "out")
    monkeypatch.setattr(module, "CARRY", tmp_path / "carry")
    return module
