"""Shared fixtures: the golden-vector folder and ISA restoration."""

import os

import numpy as np
import pytest

import q4repack

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEFAULT_GOLDEN = os.path.normpath(os.path.join(_HERE, "..", "..", "..", "shared", "golden"))


@pytest.fixture(scope="session")
def golden_dir():
    """Q4R_GOLDEN_DIR, else ../shared/golden next to the repository (as the C tests)."""
    path = os.environ.get("Q4R_GOLDEN_DIR") or _DEFAULT_GOLDEN
    if not os.path.isfile(os.path.join(path, "MANIFEST.md")):
        pytest.fail("golden vectors not found in %s (set Q4R_GOLDEN_DIR=/path/to/golden)" % path)
    return path


@pytest.fixture
def golden(golden_dir):
    """golden(rel, dtype=np.uint8): a golden file's contents as a numpy array."""

    def read(rel, dtype=np.uint8):
        return np.fromfile(os.path.join(golden_dir, rel), dtype=dtype)

    return read


@pytest.fixture
def restore_isa():
    """Tests that call set_isa() get the previously active ISA back afterwards."""
    before = q4repack.active_isa()
    yield
    q4repack.set_isa(before)


def random_floats(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32)
