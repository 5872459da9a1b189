"""The golden vectors through the Python API, mirroring tests/format/golden_formats_test.cc and
tests/kernels/golden_kernels_test.cc: byte-exact where the C tests are, within a rigorous bound
otherwise."""

import numpy as np
import pytest

import q4repack

CASES = [("n16_k256", 16, 256, (1, 4, 8)), ("n64_k1024", 64, 1024, (1, 4, 8, 16))]
# The reference's repacked layouts (it has no iq4_nl 4x8): (type, layout, weights file, kernel).
GOLDEN_LAYOUTS = [
    ("q4_0", "4x4", "q4_0_x4_il4.bin", "q4_0_4x4"),
    ("q4_0", "4x8", "q4_0_x4_il8.bin", "q4_0_4x8"),
    ("q4_0", "8x8", "q4_0_x8_il8.bin", "q4_0_8x8"),
    ("iq4_nl", "4x4", "iq4_nl_x4_il4.bin", "iq4_nl_4x4"),
    ("iq4_nl", "8x8", "iq4_nl_x8_il8.bin", "iq4_nl_8x8"),
]
IQ4NL_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113])


def blocks(data, n, k, block_bytes=18):
    return data.reshape(n, k // 32 * block_bytes)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("wtype", ["q4_0", "iq4_nl"])
def test_quantize_matches_reference(golden, case, wtype):
    d, n, k, _ = case
    w = golden(d + "/weights_f32.bin", np.float32).reshape(n, k)
    got = q4repack.quantize(w, wtype)
    assert got.shape == (n, k // 32 * 18)
    assert np.array_equal(got, blocks(golden("%s/%s.bin" % (d, wtype)), n, k))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("wtype", ["q4_0", "iq4_nl"])
def test_quantize_with_imatrix_matches_reference(golden, case, wtype):
    d, n, k, _ = case
    w = golden(d + "/weights_f32.bin", np.float32).reshape(n, k)
    im = golden("imatrix/%s/imatrix_f32.bin" % d, np.float32)
    got = q4repack.quantize(w, wtype, imatrix=im)
    assert np.array_equal(got, blocks(golden("imatrix/%s/%s_imat.bin" % (d, wtype)), n, k))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("layout", GOLDEN_LAYOUTS, ids=lambda g: g[3])
def test_repack_matches_reference_layouts(golden, case, layout):
    d, n, k, _ = case
    wtype, lay, file, _ = layout
    plain = blocks(golden("%s/%s.bin" % (d, wtype)), n, k)
    want = blocks(golden("%s/%s" % (d, file)), n, k)
    packed = q4repack.repack(plain, wtype, lay)
    assert np.array_equal(packed, want)
    assert np.array_equal(q4repack.unpack(packed, wtype, lay), plain)
    # In place: the same array object, the same bytes.
    inplace = plain.copy()
    assert q4repack.repack(inplace, wtype, lay, out=inplace) is inplace
    assert np.array_equal(inplace, want)
    assert q4repack.unpack(inplace, wtype, lay, out=inplace) is inplace
    assert np.array_equal(inplace, plain)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_scalar_activation_quantizers_bit_exact(golden, case, restore_isa):
    d, n, k, batches = case
    q4repack.set_isa("scalar")
    for m in batches:
        x = golden("%s/m%d/act_f32.bin" % (d, m), np.float32).reshape(m, k)
        want = golden("%s/m%d/act_q8_0.bin" % (d, m)).reshape(m, -1)
        assert np.array_equal(q4repack.quantize_q8_0_rows(x), want), (d, m)
        # quantize_row_q8_0_ref through the weight-style quantizer: the same bytes.
        assert np.array_equal(q4repack.quantize(x, "q8_0"), want), (d, m)
        if m < 4:
            continue
        for chunk in (4, 8):
            want4 = golden("%s/m%d/act_q8_0_x4_il%d.bin" % (d, m, chunk)).reshape(m // 4, -1)
            assert np.array_equal(q4repack.quantize_q8_0_x4(x, chunk), want4), (d, m, chunk)


def decode(wtype, data, rows, k):
    """Blocks -> (int levels [rows, k/32, 32], fp16 scales as float64 [rows, k/32])."""
    bb = 34 if wtype == "q8_0" else 18
    b = data.reshape(rows, k // 32, bb)
    d = b[:, :, :2].copy().view(np.float16)[:, :, 0].astype(np.float64)
    if wtype == "q8_0":
        return b[:, :, 2:].view(np.int8).astype(np.int64), d
    q = b[:, :, 2:]
    nib = np.concatenate([q & 0xF, q >> 4], axis=2).astype(np.int64)
    levels = nib - 8 if wtype == "q4_0" else IQ4NL_VALUES[nib]
    return levels, d


def reference(wtype, w_plain, a_q8, n, k, m):
    """Exact dot products (float64) and sums of |terms|, independent of the library."""
    wl, wd = decode(wtype, w_plain, n, k)
    al, ad = decode("q8_0", a_q8, m, k)
    isum = np.einsum("nbe,mbe->mnb", wl, al)
    iabs = np.einsum("nbe,mbe->mnb", np.abs(wl), np.abs(al))
    scale = ad[:, None, :] * wd[None, :, :]
    return (isum * scale).sum(axis=2), (iabs * np.abs(scale)).sum(axis=2)


def tolerance(k, abs_sum):
    """gamma(4*nb + 2) * sum|terms| (Higham 3.1): any float summation order is within it."""
    u = 2.0**-24
    t = 4 * (k // 32) + 2
    return t * u / (1 - t * u) * abs_sum


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("wtype", ["q4_0", "iq4_nl"])
def test_reference_matches_dot_exact(golden, case, wtype):
    d, n, k, batches = case
    w = golden("%s/%s.bin" % (d, wtype))
    for m in batches:
        a = golden("%s/m%d/act_q8_0.bin" % (d, m))
        exact, abs_sum = reference(wtype, w, a, n, k, m)
        want = golden("%s/m%d/dot_exact_%s.f64.bin" % (d, m, wtype), np.float64).reshape(m, n)
        assert np.all(np.abs(exact - want) <= 1e-12 * (1 + abs_sum))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("wtype", ["q4_0", "iq4_nl"])
def test_public_matmul_scalar_bit_exact_and_within_bound(golden, case, wtype, restore_isa):
    d, n, k, batches = case
    q4repack.set_isa("scalar")
    plain = blocks(golden("%s/%s.bin" % (d, wtype)), n, k)
    for layout in q4repack.LAYOUTS:
        w = plain if layout == "none" else q4repack.repack(plain, wtype, layout)
        for m in batches:
            x = golden("%s/m%d/act_f32.bin" % (d, m), np.float32).reshape(m, k)
            a = golden("%s/m%d/act_q8_0.bin" % (d, m))
            exact = golden("%s/m%d/dot_exact_%s.f64.bin" % (d, m, wtype), np.float64).reshape(m, n)
            _, abs_sum = reference(wtype, plain, a, n, k, m)
            y = q4repack.matmul(w, x, wtype, layout, threads=1)
            assert y.shape == (m, n) and y.dtype == np.float32
            assert np.all(np.abs(y - exact) <= tolerance(k, abs_sum)), (d, m, layout)
            for g in GOLDEN_LAYOUTS:
                if g[0] == wtype and g[1] == layout:
                    kind = "gemm" if m >= 4 else "gemv"
                    want = golden("%s/m%d/%s_%s.bin" % (d, m, kind, g[3]), np.float32)
                    assert y.reshape(-1).view(np.uint32).tolist() == want.view(np.uint32).tolist(), (
                        d, m, layout)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("wtype", ["q4_0", "iq4_nl"])
def test_every_isa_within_bound_of_its_own_activations(golden, case, wtype, restore_isa):
    """SIMD ISAs sum in another order and may round activation ties differently: compare each
    with the exact dot of the weights and the activations that ISA's own quantizer produced."""
    d, n, k, batches = case
    plain = blocks(golden("%s/%s.bin" % (d, wtype)), n, k)
    for isa in q4repack.available_isas():
        q4repack.set_isa(isa)
        for layout in q4repack.LAYOUTS:
            w = plain if layout == "none" else q4repack.repack(plain, wtype, layout)
            for m in batches:
                x = golden("%s/m%d/act_f32.bin" % (d, m), np.float32).reshape(m, k)
                exact, abs_sum = reference(wtype, plain, q4repack.quantize_q8_0_rows(x), n, k, m)
                y = q4repack.matmul(w, x, wtype, layout, threads=2)
                assert np.all(np.abs(y - exact) <= tolerance(k, abs_sum)), (isa, d, m, layout)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("wtype", ["q4_0", "iq4_nl", "q8_0"])
def test_dequantize_matches_block_formula(golden, case, wtype):
    d, n, k, batches = case
    if wtype == "q8_0":
        m = batches[-1]
        data, rows = golden("%s/m%d/act_q8_0.bin" % (d, m)), m
    else:
        data, rows = golden("%s/%s.bin" % (d, wtype)), n
    w = data.reshape(rows, -1)
    levels, scale = decode(wtype, data, rows, k)
    want = (levels.astype(np.float32) * scale.astype(np.float32)[:, :, None]).reshape(rows, k)
    got = q4repack.dequantize(w, wtype)
    assert got.dtype == np.float32 and got.shape == (rows, k)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    if wtype != "q8_0":  # a repacked tensor dequantizes to the same values
        assert np.array_equal(q4repack.dequantize(q4repack.repack(w, wtype, "8x8"), wtype, "8x8"), got)
