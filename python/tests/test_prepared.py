"""prepare_matmul: the same bits as matmul for every type, layout, batch and thread count; the
same exceptions and messages, inputs untouched; the weights kept alive."""

import gc
import threading
import weakref

import numpy as np
import pytest

import q4repack
from conftest import random_floats
from test_errors import untouched

N, K = 37, 96  # rows not a multiple of 4 or 8: every layout has a plain tail
BATCHES = list(range(1, 18)) + [33]


def weights(type, layout, n=N, k=K, seed=1):
    w = q4repack.quantize(random_floats((n, k), seed), type)
    return w if layout == "none" else q4repack.repack(w, type, layout)


@pytest.mark.parametrize("type", q4repack.WEIGHT_TYPES)
@pytest.mark.parametrize("layout", q4repack.LAYOUTS)
@pytest.mark.parametrize("threads", [1, 2])
def test_same_bits_as_matmul(type, layout, threads):
    w = weights(type, layout)
    pm = q4repack.prepare_matmul(w, type, layout, threads)
    assert (pm.n, pm.k, pm.w is w) == (N, K, True)
    for m in BATCHES:
        x = random_floats((m, K), m)
        want = q4repack.matmul(w, x, type, layout, threads)
        got = pm(x)
        assert got.shape == (m, N) and got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), m
        out = np.full((m, N), np.nan, np.float32)
        assert pm(x, out=out) is out
        assert np.array_equal(out.view(np.uint32), want.view(np.uint32)), m
    row = random_floats(K, 99)
    want = q4repack.matmul(w, row, type, layout, threads)
    assert want.shape == (N,)
    assert np.array_equal(pm(row).view(np.uint32), want.view(np.uint32))
    out = np.empty(N, np.float32)
    assert pm(row, out) is out and np.array_equal(out, want)


def test_other_arrays_take_the_checked_path():
    w = weights("q4_0", "8x8")
    pm = q4repack.prepare_matmul(w, "q4_0", "8x8", 1)
    big = random_floats((6, 2 * K), 3)
    for x in (big[:, :K], big[::2, K:], np.asfortranarray(big[:, :K]), big[:1, :K]):
        want = q4repack.matmul(w, x, "q4_0", "8x8", 1)
        assert np.array_equal(pm(x), want)
    wide = np.zeros((3, 2 * N), np.float32)
    with pytest.raises(q4repack.ArgumentError, match="C-contiguous"):
        pm(big[:3, :K], out=wide[:, :N])  # as matmul: out must be one block


def test_non_contiguous_weights_are_copied_once():
    w = weights("q4_0", "none")
    strided = np.zeros((N, 2 * w.shape[1]), np.uint8)
    strided[:, ::2] = w
    pm = q4repack.prepare_matmul(strided[:, ::2], "q4_0", "none")
    assert pm.w.flags.c_contiguous and np.array_equal(pm.w, w)
    x = random_floats((2, K))
    assert np.array_equal(pm(x), q4repack.matmul(w, x, "q4_0", "none"))


def test_context():
    w = weights("iq4_nl", "4x4")
    with q4repack.Context(threads=2) as ctx:
        pm = q4repack.prepare_matmul(w, "iq4_nl", "4x4", context=ctx)
        for m in (1, 5, 33, 2):
            x = random_floats((m, K), m)
            want = ctx.matmul(w, x, "iq4_nl", "4x4")
            assert np.array_equal(pm(x).view(np.uint32), want.view(np.uint32))
            out = np.empty((m, N), np.float32)
            assert pm(x, out=out) is out and np.array_equal(out, want)
        assert np.array_equal(pm(x[0]), want[0])
        assert np.array_equal(pm(random_floats((6, 2 * K))[::2, :K]),
                              ctx.matmul(w, random_floats((6, 2 * K))[::2, :K], "iq4_nl", "4x4"))
        with pytest.raises(q4repack.ArgumentError, match="threads"):
            q4repack.prepare_matmul(w, "iq4_nl", "4x4", threads=2, context=ctx)
    with pytest.raises(q4repack.ArgumentError, match="closed"):
        pm(x)
    with pytest.raises(q4repack.ArgumentError, match="closed"):
        q4repack.prepare_matmul(w, "iq4_nl", "4x4", context=ctx)


def _raised(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 (the test compares whatever is raised)
        return type(e), str(e)
    return None


def test_bad_x_and_out_raise_what_matmul_raises_and_change_nothing():
    w = weights("q4_0", "8x8", n=K)  # n == k: out may alias x
    pm = q4repack.prepare_matmul(w, "q4_0", "8x8", 1)
    x = random_floats((2, K))
    read_only = np.zeros((2, K), np.float32)
    read_only.setflags(write=False)
    cases = [
        (x.astype(np.float64), None), (x[:, :64], None), (x.reshape(1, 2, K), None),
        (np.zeros((0, K), np.float32), None), (x.astype(">f4"), None), ("x", None),
        (x, np.zeros((2, K), np.float64)), (x, np.zeros((3, K), np.float32)),
        (x, np.zeros(K, np.float32)), (x, read_only), (x, np.zeros((K, 2), np.float32).T),
        (x, [[0.0] * K] * 2), (x, x), (x[0], np.zeros((1, K), np.float32)),
    ]
    for xi, out in cases:
        check = untouched(*[a for a in (xi, out) if isinstance(a, np.ndarray)])
        want = _raised(lambda: q4repack.matmul(w, xi, "q4_0", "8x8", 1, out=out))
        got = _raised(lambda: pm(xi, out=out))
        assert want is not None and got == want, (got, want)
        assert issubclass(got[0], (ValueError, TypeError))
        check()
    assert _raised(lambda: pm(x, out=x))[0] is q4repack.OverlapError


def test_bad_weights_type_layout_threads_raise_at_preparation():
    w = weights("q4_0", "none")
    cases = [
        ((w.view(np.int8), "q4_0", "none"), q4repack.DTypeError),
        ((w[0], "q4_0", "none"), q4repack.ShapeError),
        ((w[:, :-1], "q4_0", "none"), q4repack.ShapeError),
        ((w, "q4_1", "none"), q4repack.ArgumentError),
        ((w, "q4_0", "2x2"), q4repack.ArgumentError),
        ((np.zeros((4, 34), np.uint8), "q8_0", "none"), q4repack.ArgumentError),
        ((w, "q4_0", "none", None), TypeError),
    ]
    for args, error in cases:
        check = untouched(args[0])
        with pytest.raises(error):
            q4repack.prepare_matmul(*args)
        check()
        # where matmul takes the same arguments, it raises the same
        if error is not TypeError and args[1] != "q8_0":
            x = random_floats(K)
            assert _raised(lambda: q4repack.matmul(args[0], x, *args[1:3]))[0] is error


def test_weights_stay_alive():
    w = weights("q4_0", "4x8")
    x = random_floats((3, K))
    want = q4repack.matmul(w, x, "q4_0", "4x8")
    pm = q4repack.prepare_matmul(w.copy(), "q4_0", "4x8")
    alive = weakref.ref(pm.w)
    gc.collect()
    np.zeros(w.size * 4, np.uint8).fill(0xEE)  # reuse of freed memory would show
    assert alive() is not None
    assert np.array_equal(pm(x), want)
    del pm
    gc.collect()
    assert alive() is None


def test_calls_from_several_threads():
    w = weights("q4_0", "8x8", n=256, k=512)
    pm = q4repack.prepare_matmul(w, "q4_0", "8x8", 1)
    xs = [random_floats((m, 512), m) for m in (1, 4, 7, 16)]
    wants = [q4repack.matmul(w, x, "q4_0", "8x8", 1) for x in xs]
    bad = []

    def work():
        for _ in range(20):
            for x, want in zip(xs, wants):
                if not np.array_equal(pm(x), want):
                    bad.append(x.shape)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def test_large_batch_and_the_fallback_without_header_reads(monkeypatch):
    w = weights("q4_0", "4x4")
    x = random_floats((300, K))  # past the ready batch-size arguments
    want = q4repack.matmul(w, x, "q4_0", "4x4")
    assert np.array_equal(q4repack.prepare_matmul(w, "q4_0", "4x4")(x), want)
    monkeypatch.setattr(q4repack.prepared, "FAST_ADDRESS", False)
    checked_only = q4repack.prepare_matmul(w, "q4_0", "4x4")
    assert np.array_equal(checked_only(x), want) and checked_only.n == N
