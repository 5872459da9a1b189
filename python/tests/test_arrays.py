"""Array handling: zero copies, out= and in-place results, non-contiguous and read-only arrays,
1-D convenience forms, and the GIL released during library calls."""

import threading
import time

import numpy as np
import pytest

import q4repack
from conftest import random_floats

N, K = 24, 512


@pytest.fixture
def w():
    return q4repack.quantize(random_floats((N, K), seed=3), "q4_0")


def test_results_land_in_out_arrays(w):
    x = random_floats((5, K), seed=4)
    y = np.full((5, N), np.nan, np.float32)
    assert q4repack.matmul(w, x, "q4_0", "none", out=y) is y
    assert np.array_equal(y, q4repack.matmul(w, x, "q4_0", "none"))
    q = np.zeros_like(w)
    assert q4repack.quantize(random_floats((N, K), seed=3), "q4_0", out=q) is q
    assert np.array_equal(q, w)
    p = np.zeros_like(w)
    assert q4repack.repack(w, "q4_0", "8x8", out=p) is p
    d = np.zeros((N, K), np.float32)
    assert q4repack.dequantize(w, "q4_0", out=d) is d


def test_in_place_repack_writes_the_callers_buffer(w):
    buf = w.copy()
    address = buf.ctypes.data
    packed = q4repack.repack(buf, "q4_0", "4x8", out=buf)
    assert packed is buf and buf.ctypes.data == address
    assert np.array_equal(buf, q4repack.repack(w, "q4_0", "4x8"))
    assert not np.array_equal(buf, w)


def test_non_contiguous_inputs_are_copied_and_give_the_same_result(w):
    big = random_floats((10, 2 * K), seed=5)
    x_strided = big[::2, :K]  # rows with a stride: not C-contiguous
    assert not x_strided.flags.c_contiguous
    x = np.ascontiguousarray(x_strided)
    check = x_strided.copy()
    for layout in ("none", "8x8"):
        wl = w if layout == "none" else q4repack.repack(w, "q4_0", layout)
        assert np.array_equal(
            q4repack.matmul(wl, x_strided, "q4_0", layout), q4repack.matmul(wl, x, "q4_0", layout)
        )
    fortran = np.asfortranarray(x)
    assert np.array_equal(q4repack.quantize(fortran, "iq4_nl"), q4repack.quantize(x, "iq4_nl"))
    w_strided = np.repeat(w, 2, axis=0)[::2]
    assert np.array_equal(q4repack.repack(w_strided, "q4_0", "8x8"), q4repack.repack(w, "q4_0", "8x8"))
    assert np.array_equal(x_strided, check)


def test_read_only_inputs_are_fine(w):
    ro = w.copy()
    ro.flags.writeable = False
    x = random_floats((3, K))
    x.flags.writeable = False
    y = q4repack.matmul(ro, x, "q4_0", "none")
    assert y.flags.writeable
    assert np.array_equal(q4repack.unpack(q4repack.repack(ro, "q4_0", "8x8"), "q4_0", "8x8"), w)


def test_one_row_forms(w):
    x = random_floats((K,), seed=6)
    y = q4repack.matmul(w, x, "q4_0", "none")
    assert y.shape == (N,)
    assert np.array_equal(y, q4repack.matmul(w, x[None], "q4_0", "none")[0])
    q = q4repack.quantize(x, "q8_0")
    assert q.shape == (K // 32 * 34,)
    assert q4repack.dequantize(q, "q8_0").shape == (K,)


@pytest.mark.parametrize("n", [1, 3, 4, 7, 8, 9, 17])
@pytest.mark.parametrize("layout", ["4x4", "4x8", "8x8"])
def test_row_counts_not_multiple_of_the_group(n, layout):
    w = q4repack.quantize(random_floats((n, 96), seed=n), "iq4_nl")
    p = q4repack.repack(w, "iq4_nl", layout)
    x = random_floats((5, 96), seed=7)
    got = q4repack.matmul(p, x, "iq4_nl", layout, threads=1)
    ref = q4repack.matmul(w, x, "iq4_nl", "none", threads=1)
    assert np.allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert np.array_equal(q4repack.unpack(p, "iq4_nl", layout), w)


def test_thread_counts_give_the_same_bits(w):
    x = random_floats((9, K), seed=8)
    p = q4repack.repack(w, "q4_0", "8x8")
    ys = [q4repack.matmul(p, x, "q4_0", "8x8", threads=t) for t in (0, 1, 2, 3)]
    for y in ys[1:]:
        assert np.array_equal(y.view(np.uint32), ys[0].view(np.uint32))


@pytest.mark.parametrize("prepared", [False, True])
def test_gil_is_released_during_a_call(prepared):
    """Another Python thread keeps running while a long matmul is inside the library (ctypes'
    CDLL drops the GIL around foreign calls; prepare_matmul's pointer too). Not a timing goal:
    only whether it ran at all."""
    n, k = 4096, 4096
    w = q4repack.quantize(random_floats((n, k), seed=9), "q4_0")
    x = random_floats((512, k), seed=10)  # ~70 ms on one Zen 5 core (128 rows took 18 ms)
    span = {}
    if prepared:
        call = q4repack.prepare_matmul(w, "q4_0", "none", threads=1)
    else:
        def call(x):
            return q4repack.matmul(w, x, "q4_0", "none", threads=1)

    def worker():
        span["start"] = time.perf_counter()
        call(x)  # one call: no GIL switch inside
        span["end"] = time.perf_counter()

    ticks = []
    t = threading.Thread(target=worker)
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.0005)
    t.join()
    length = span["end"] - span["start"]
    middle = [s for s in ticks if span["start"] + 0.25 * length < s < span["start"] + 0.75 * length]
    assert length > 0.02 and len(middle) >= 3, (length, len(middle))


def test_data_pointers_are_numpys(tmp_path):
    """The fast data-pointer read (docs/PYTHON.md, "Overhead") gives ndarray.ctypes.data for every
    kind of array the package passes on: views, slices, read-only maps, subclasses, empty ones."""
    from q4repack import _arrays

    assert _arrays.FAST_ADDRESS  # CPython with numpy's usual struct: the fast read is in use
    base = np.arange(4096, dtype=np.float32)
    path = tmp_path / "mapped.bin"
    base.tofile(path)
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    arrays = [base, base[5:], base.reshape(64, 64)[3:, 7:], base.reshape(64, 64).T, base[:0],
              np.empty((0, 4), np.uint8), mapped, mapped[18:], np.asarray(mapped),
              base.view(np.uint8)]
    for a in arrays:
        assert _arrays.address(a) == a.ctypes.data


def test_matmul_fast_path_matches_the_checked_path(w):
    """matmul's short path (2-D C-contiguous arrays, names seen before) and the fully checked one
    give the same bits, and a wrong shape still gets the checked path's message."""
    from q4repack import core

    x = random_floats((3, K), seed=8)
    core._matmul_fast.clear()
    first = q4repack.matmul(w, x, "q4_0", "none")  # checked path, fills the table
    assert ("q4_0", "none") in core._matmul_fast
    assert np.array_equal(q4repack.matmul(w, x, "q4_0", "none"), first)
    with pytest.raises(q4repack.ShapeError, match="columns"):
        q4repack.matmul(w, x[:, :480], "q4_0", "none")
