"""Context: per-context ISA, workspace reuse, row-strided activations and outputs."""

import numpy as np
import pytest

import q4repack
from conftest import random_floats

N, K = 40, 256


@pytest.fixture(scope="module")
def weights():
    w = q4repack.quantize(random_floats((N, K), seed=11), "q4_0")
    return {layout: w if layout == "none" else q4repack.repack(w, "q4_0", layout)
            for layout in q4repack.LAYOUTS}


@pytest.mark.parametrize("isa", q4repack.available_isas())
def test_context_matches_the_global_matmul(weights, isa, restore_isa):
    x = random_floats((9, K), seed=12)
    q4repack.set_isa(isa)
    with q4repack.Context(isa=isa, threads=2) as ctx:
        assert ctx.isa == isa and ctx.threads == 2
        assert ctx.layout("q4_0") == q4repack.preferred_layout("q4_0", isa)
        for layout, w in weights.items():
            want = q4repack.matmul(w, x, "q4_0", layout, threads=2)
            got = ctx.matmul(w, x, "q4_0", layout)
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (isa, layout)


def test_strided_rows_and_column_blocks_without_copies(weights):
    w = weights["8x8"]
    big = random_floats((6, 3 * K), seed=13)
    x = big[:, K : 2 * K]  # rows of a wider array: row stride 3K
    y_all = np.full((6, 3 * N), -7.0, np.float32)
    out = y_all[:, N : 2 * N]
    with q4repack.Context() as ctx:
        assert ctx.matmul(w, x, "q4_0", "8x8", out=out) is out
        want = ctx.matmul(w, np.ascontiguousarray(x), "q4_0", "8x8")
    assert np.array_equal(y_all[:, N : 2 * N], want)
    assert np.all(y_all[:, :N] == -7.0) and np.all(y_all[:, 2 * N :] == -7.0)


def test_workspace_is_reused(weights):
    with q4repack.Context(threads=1) as ctx:
        ctx.matmul(weights["4x8"], random_floats((16, K)), "q4_0", "4x8")
        ws = ctx._local.workspace
        for m in (1, 5, 16):
            ctx.matmul(weights["4x8"], random_floats((m, K)), "q4_0", "4x8")
            assert ctx._local.workspace is ws
        y = ctx.matmul(weights["4x8"], random_floats((K,)), "q4_0", "4x8")
        assert y.shape == (N,)


def test_context_errors(weights):
    missing = [i for i in q4repack.ISAS if i not in q4repack.available_isas()]
    for isa in missing:
        with pytest.raises(q4repack.ISAError):
            q4repack.Context(isa=isa)
    ctx = q4repack.Context()
    x = random_floats((2, K))
    with pytest.raises(q4repack.ShapeError):
        ctx.matmul(weights["none"], x[:, :64], "q4_0", "none")
    with pytest.raises(q4repack.DTypeError):
        ctx.matmul(weights["none"], x.astype(np.float64), "q4_0", "none")
    ro = np.zeros((2, N), np.float32)
    ro.flags.writeable = False
    with pytest.raises(q4repack.ArgumentError, match="read-only"):
        ctx.matmul(weights["none"], x, "q4_0", "none", out=ro)
    cols = np.zeros((N, 2), np.float32).T  # columns strided: rows not contiguous
    with pytest.raises(q4repack.ArgumentError, match="contiguous"):
        ctx.matmul(weights["none"], x, "q4_0", "none", out=cols)
    alias = x.reshape(-1)[: 2 * N].reshape(2, N)
    before = x.copy()
    with pytest.raises(q4repack.OverlapError):
        ctx.matmul(weights["none"], x, "q4_0", "none", out=alias)
    assert np.array_equal(x, before)
    ctx.close()
    ctx.close()
    with pytest.raises(q4repack.ArgumentError, match="closed"):
        ctx.matmul(weights["none"], x, "q4_0", "none")


@pytest.mark.parametrize("poll_us", [None, 0, 50, 1000000])
def test_poll_us_changes_timing_not_results(weights, poll_us):
    x = random_floats((3, K), seed=14)
    want = q4repack.matmul(weights["8x8"], x, "q4_0", "8x8", threads=2)
    with q4repack.Context(threads=2, poll_us=poll_us) as ctx:
        for _ in range(3):
            got = ctx.matmul(weights["8x8"], x, "q4_0", "8x8")
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_poll_us_out_of_range():
    with pytest.raises(q4repack.ArgumentError, match="poll_us"):
        q4repack.Context(poll_us=-1)
    with pytest.raises(q4repack.ArgumentError, match="poll_us"):
        q4repack.Context(poll_us=1000001)  # the library's message
