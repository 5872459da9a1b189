"""The rest of the C ABI through Python: the stateless core (workspace, quantize_activations,
run on column ranges from several threads), row-group ranges, GGUF type ids, the context's
threaded repack and the MoE matmul; each with its error paths (right class, inputs and outputs
untouched)."""

import threading

import numpy as np
import pytest

import q4repack
from conftest import random_floats

N, K = 44, 256  # 44 rows: a plain tail for the 8-row layouts


def bits(a):
    return np.ascontiguousarray(a).view(np.uint32)


def untouched(*arrays):
    copies = [np.array(a, copy=True) for a in arrays]

    def check():
        for a, c in zip(arrays, copies):
            assert np.array_equal(np.asarray(a).view(np.uint8), c.view(np.uint8))

    return check


@pytest.fixture(scope="module")
def packed():
    w = q4repack.quantize(random_floats((N, K), seed=21), "q4_0")
    return {layout: w if layout == "none" else q4repack.repack(w, "q4_0", layout)
            for layout in q4repack.LAYOUTS}


@pytest.mark.parametrize("layout", q4repack.LAYOUTS)
@pytest.mark.parametrize("m", [1, 3, 4, 7, 17])
def test_stateless_core_is_the_matmul(packed, layout, m):
    x = random_floats((m, K), seed=m)
    ws = q4repack.quantize_activations(x, layout, N)
    assert ws.dtype == np.uint8 and ws.shape == (q4repack.workspace_size(layout, N, m, K),)
    y = q4repack.run(packed[layout], ws, m, "q4_0", layout)
    assert np.array_equal(bits(y), bits(q4repack.matmul(packed[layout], x, "q4_0", layout, 1)))


def test_quantize_and_run_split_over_python_threads(packed):
    """Row ranges and column ranges on different threads give the one-call result (the GIL is
    released during each call, so the threads really overlap)."""
    layout, m = "8x8", 13
    x = random_floats((2 * m, 3 * K), seed=5)[::2, K : 2 * K]  # row-strided view, no copy
    ws = np.zeros(q4repack.workspace_size(layout, N, m, K), np.uint8)
    step = q4repack.row_step()
    cuts = [(0, step), (step, 3 * step), (3 * step, m)]
    threads = [threading.Thread(target=q4repack.quantize_activations,
                                args=(x, layout, N), kwargs=dict(rows=r, out=ws)) for r in cuts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(ws, q4repack.quantize_activations(x, layout, N))
    y = np.full((m, N), np.nan, np.float32)
    cstep = q4repack.column_step(layout)
    assert cstep == 8
    parts = [(0, 2 * cstep), (2 * cstep, 5 * cstep), (5 * cstep, N)]
    threads = [threading.Thread(target=q4repack.run, args=(packed[layout], ws, m, "q4_0", layout),
                                kwargs=dict(columns=c, out=y)) for c in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(bits(y), bits(q4repack.run(packed[layout], ws, m, "q4_0", layout)))


def test_stateless_core_errors_leave_everything_untouched(packed):
    w, m = packed["8x8"], 5
    x = random_floats((m, K), seed=6)
    ws = q4repack.quantize_activations(x, "8x8", N)
    y = np.full((m, N), 3.0, np.float32)
    check = untouched(w, x, ws, y)
    with pytest.raises(q4repack.ArgumentError, match="multiple"):
        q4repack.run(w, ws, m, "q4_0", "8x8", columns=(3, N), out=y)  # not a column step
    with pytest.raises(q4repack.ArgumentError, match="out="):
        q4repack.run(w, ws, m, "q4_0", "8x8", columns=(0, 8))
    with pytest.raises(q4repack.SizeError, match="workspace"):
        q4repack.run(w, ws[:-1], m, "q4_0", "8x8", out=y)
    with pytest.raises(q4repack.SizeError, match="workspace"):
        q4repack.run(w, ws, m + 1, "q4_0", "8x8", out=np.zeros((m + 1, N), np.float32))
    with pytest.raises(q4repack.ShapeError):
        q4repack.run(w, ws.reshape(1, -1), m, "q4_0", "8x8", out=y)
    with pytest.raises(q4repack.ArgumentError, match="multiple"):
        q4repack.quantize_activations(x, "8x8", N, rows=(1, m), out=ws)
    with pytest.raises(q4repack.ArgumentError, match="out="):
        q4repack.quantize_activations(x, "8x8", N, rows=(0, 4))
    with pytest.raises(q4repack.SizeError):
        q4repack.quantize_activations(x, "8x8", N, out=np.zeros(ws.size + 1, np.uint8))
    with pytest.raises(q4repack.NonFiniteError):
        bad = x.copy()
        bad[2, 7] = np.inf
        q4repack.quantize_activations(bad, "8x8", N, out=ws)
    with pytest.raises(q4repack.DTypeError):
        q4repack.quantize_activations(x.astype(np.float64), "8x8", N)
    with pytest.raises(q4repack.ArgumentError):
        q4repack.column_step("9x9")
    check()


@pytest.mark.parametrize("layout", ["4x4", "4x8", "8x8"])
def test_row_group_ranges(packed, layout):
    plain = packed["none"]
    groups = q4repack.row_groups(layout, N)
    assert groups == -(-N // q4repack.layout_rows(layout))
    out = np.zeros_like(plain)
    for g0, g1 in [(0, 1), (1, groups - 1), (groups - 1, groups)]:
        q4repack.repack_range(plain, "q4_0", layout, (g0, g1), out=out)
    assert np.array_equal(out, packed[layout])
    in_place = packed[layout].copy()
    q4repack.unpack_range(in_place, "q4_0", layout, (0, groups // 2), out=in_place)
    q4repack.unpack_range(in_place, "q4_0", layout, (groups // 2, groups), out=in_place)
    assert np.array_equal(in_place, plain)
    back = np.zeros_like(plain)
    q4repack.unpack_range(packed[layout], "q4_0", layout, (0, groups), out=back)
    assert np.array_equal(back, plain)


def test_row_group_range_errors(packed):
    plain, groups = packed["none"], q4repack.row_groups("8x8", N)
    out = np.full_like(plain, 9)
    check = untouched(plain, out)
    with pytest.raises(q4repack.ArgumentError, match=str(groups + 1)):
        q4repack.repack_range(plain, "q4_0", "8x8", (0, groups + 1), out=out)
    with pytest.raises(q4repack.ArgumentError):
        q4repack.repack_range(plain, "q4_0", "8x8", (2, 1), out=out)
    with pytest.raises(q4repack.ArgumentError, match="pair"):
        q4repack.repack_range(plain, "q4_0", "8x8", 3, out=out)
    with pytest.raises(q4repack.ArgumentError, match="out="):
        q4repack.repack_range(plain, "q4_0", "8x8", (0, 1), None)
    with pytest.raises(q4repack.ArgumentError):
        q4repack.unpack_range(out, "q4_0", "none", (0, 1), out=out)
    with pytest.raises(q4repack.ShapeError):
        q4repack.row_groups("8x8", 0)
    check()


def test_gguf_type_ids():
    assert q4repack.gguf_type_info(2) == ("q4_0", "none")
    assert q4repack.gguf_type_info(20) == ("iq4_nl", "none")
    assert [q4repack.gguf_type_info(i) for i in (31, 32, 33, 36)] == [
        ("q4_0", "4x4"), ("q4_0", "4x8"), ("q4_0", "8x8"), ("iq4_nl", "4x4")]
    for bad in (0, 8, 37, 38, 1000):
        with pytest.raises(q4repack.UnsupportedError, match=str(bad)):
            q4repack.gguf_type_info(bad)


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_context_repack_is_the_single_threaded_one(packed, threads):
    plain = q4repack.quantize(random_floats((1000, 1024), seed=2), "iq4_nl")  # > 512 KiB
    with q4repack.Context(threads=threads) as ctx:
        for layout in ("4x4", "8x8"):
            want = q4repack.repack(plain, "iq4_nl", layout)
            assert np.array_equal(ctx.repack(plain, "iq4_nl", layout), want)
            buf = plain.copy()
            assert ctx.repack(buf, "iq4_nl", layout, out=buf) is buf
            assert np.array_equal(buf, want)
            assert np.array_equal(ctx.unpack(buf, "iq4_nl", layout, out=buf), plain)
        out = np.full_like(plain, 1)
        check = untouched(plain, out)
        with pytest.raises(q4repack.ArgumentError, match="none"):
            ctx.repack(plain, "iq4_nl", "none", out=out)
        with pytest.raises(q4repack.ShapeError):
            ctx.unpack(plain[:, :17], "iq4_nl", "8x8", out=out[:, :17])
        check()


def moe_reference(experts, x, ids, layout, x_per_slot):
    m, n_used = ids.shape
    rows = []
    for t in range(m):
        for s in range(n_used):
            row = x[t * n_used + s] if x_per_slot else x[t]
            rows.append(q4repack.matmul(experts[ids[t, s]], row[None, :], "q4_0", layout, 1)[0])
    return np.array(rows).reshape(m, n_used, -1)


@pytest.mark.parametrize("x_per_slot", [False, True])
def test_moe_matmul_matches_one_matmul_per_routed_row(x_per_slot):
    n_experts, n, k, m, n_used = 5, 24, 128, 9, 2
    layout = "8x8"
    experts = np.stack([
        q4repack.repack(q4repack.quantize(random_floats((n, k), seed=30 + e), "q4_0"), "q4_0",
                        layout) for e in range(n_experts)])
    ids = np.random.default_rng(1).integers(0, n_experts, size=(m, n_used))  # int64: converted
    ids[:5, 0] = 3  # one expert with 4+ rows: the GEMM
    x = random_floats((m * n_used if x_per_slot else m, k), seed=31)
    with q4repack.Context(threads=2) as ctx:
        y = ctx.matmul_id(experts, x, ids, "q4_0", layout, x_per_slot=x_per_slot)
        assert y.shape == (m, n_used, n)
        want = moe_reference(experts, x, ids, layout, x_per_slot)
        # The batched GEMM and the one-row GEMV sum in different orders: close, not bit-exact.
        assert np.allclose(y, want, rtol=1e-5, atol=1e-4 * np.abs(want).max())
        out = np.zeros((m * n_used, 3 * n), np.float32)[:, n : 2 * n]  # row-strided rows
        assert ctx.matmul_id(experts, x, ids.astype(np.int32), "q4_0", layout,
                             x_per_slot=x_per_slot, out=out) is out
        assert np.array_equal(bits(out), bits(y.reshape(m * n_used, n)))


def test_moe_errors_leave_everything_untouched():
    n_experts, n, k, m = 3, 16, 64, 4
    experts = np.stack([q4repack.quantize(random_floats((n, k), seed=e), "q4_0")
                        for e in range(n_experts)])
    x = random_floats((m, k), seed=9)
    ids = np.array([[0, 1], [2, 0], [1, 1], [3, 0]], np.int32)  # 3 is out of range
    out = np.full((m, 2, n), 5.0, np.float32)
    check = untouched(experts, x, ids, out)
    with q4repack.Context() as ctx:
        with pytest.raises(q4repack.ArgumentError, match="3"):
            ctx.matmul_id(experts, x, ids, "q4_0", "none", out=out)
        with pytest.raises(q4repack.DTypeError):
            ctx.matmul_id(experts, x, ids.astype(np.float32), "q4_0", "none", out=out)
        with pytest.raises(q4repack.ShapeError, match="x has shape"):
            ctx.matmul_id(experts, x, ids, "q4_0", "none", x_per_slot=True, out=out)
        with pytest.raises(q4repack.ShapeError, match="3-D"):
            ctx.matmul_id(experts[0], x, ids, "q4_0", "none", out=out)
        with pytest.raises(q4repack.ShapeError, match="out has shape"):
            ctx.matmul_id(experts, x, ids, "q4_0", "none", out=out[:, :1])
        with pytest.raises(q4repack.ArgumentError, match="int32"):
            ctx.matmul_id(experts, x, ids.astype(np.int64) << 40, "q4_0", "none", out=out)
    check()
