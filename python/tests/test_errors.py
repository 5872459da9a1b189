"""Every error path raises the right exception class, carries the library's message, and leaves
the caller's inputs and outputs untouched."""

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import q4repack
from q4repack import _library, errors
from conftest import random_floats

K = 256


@pytest.fixture
def weights():
    return q4repack.quantize(random_floats((16, K)), "q4_0")


def untouched(*arrays):
    """Snapshot arrays; calling the result asserts none changed."""
    copies = [np.ascontiguousarray(a).copy() for a in arrays]

    def check():
        for a, c in zip(arrays, copies):
            assert np.array_equal(np.ascontiguousarray(a).view(np.uint8), c.view(np.uint8))

    return check


def test_every_status_has_a_class():
    for status, cname in errors.STATUS_NAMES.items():
        if status == errors.OK:
            continue
        e = errors.error_for_status(status, "msg")
        assert isinstance(e, q4repack.Q4RError) and e.status == status and e.status_name == cname
        assert str(e) == "msg"
    by_family = {
        errors.E_NULL: ValueError, errors.E_ARGUMENT: ValueError, errors.E_SIZE: ValueError,
        errors.E_SHAPE: ValueError, errors.E_ALIGNMENT: ValueError, errors.E_OVERLAP: ValueError,
        errors.E_VALUE: ValueError, errors.E_IO: OSError, errors.E_NOMEM: MemoryError,
        errors.E_FORMAT: q4repack.FormatError, errors.E_MISMATCH: q4repack.FormatError,
        errors.E_ISA: RuntimeError, errors.E_UNSUPPORTED: NotImplementedError,
    }
    for status, base in by_family.items():
        assert isinstance(errors.error_for_status(status, ""), base), status
    assert type(errors.error_for_status(99, "")) is q4repack.Q4RError


def test_every_status_number_and_static_text_match_the_library():
    lib = _library.lib()
    for status in errors.STATUS_NAMES:
        assert lib.q4r_strerror(status)  # the library knows every number this package maps


def test_library_message_reaches_the_exception():
    # A size mismatch only a direct C call can make: the message is q4r_last_error()'s.
    lib = _library.lib()
    w = np.zeros(18 * 8, np.uint8)
    y = np.full(8 * 32, 7.0, np.float32)
    with pytest.raises(q4repack.SizeError) as e:
        lib.check(lib.q4r_dequantize(0, w.ctypes.data, w.nbytes - 1, 8, 32, y.ctypes.data))
    assert e.value.message == lib.last_error() and e.value.message
    assert e.value.status_name == "Q4R_E_SIZE"
    assert np.all(y == 7.0)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda w, x: q4repack.quantize(x, "q5_0"), q4repack.ArgumentError, "q5_0"),
        (lambda w, x: q4repack.repack(w, "q4_0", "3x3"), q4repack.ArgumentError, "3x3"),
        (lambda w, x: q4repack.repack(w, "q4_0", "none"), q4repack.ArgumentError, "none"),
        (lambda w, x: q4repack.repack(w, 4, "8x8"), q4repack.ArgumentError, "name"),
        (lambda w, x: q4repack.repack(w, "q8_0", "8x8"), q4repack.ShapeError, "q8_0"),
        (lambda w, x: q4repack.repack(w[:, :34], "q8_0", "8x8"), q4repack.UnsupportedError, "q8_0"),
        (lambda w, x: q4repack.matmul(w[:, :34], x[:, :32], "q8_0", "none"), q4repack.UnsupportedError, "q8_0"),
        (lambda w, x: q4repack.quantize(x[:, :40], "q4_0"), q4repack.ShapeError, "multiple of 32"),
        (lambda w, x: q4repack.quantize(x, "q8_0", imatrix=np.ones(K, np.float32)), q4repack.UnsupportedError, "importance"),
        (lambda w, x: q4repack.quantize(x, "q4_0", imatrix=np.ones(K + 1, np.float32)), q4repack.ShapeError, "imatrix"),
        (lambda w, x: q4repack.quantize(x, "q4_0", imatrix=-np.ones(K, np.float32)), q4repack.ArgumentError, "imatrix"),
        (lambda w, x: q4repack.matmul(w, x[:, :128], "q4_0", "none"), q4repack.ShapeError, "columns"),
        (lambda w, x: q4repack.matmul(w[:, :20], x, "q4_0", "none"), q4repack.ShapeError, "18"),
        (lambda w, x: q4repack.matmul(w[0], x, "q4_0", "none"), q4repack.ShapeError, "2-D"),
        (lambda w, x: q4repack.matmul(w, x[None], "q4_0", "none"), q4repack.ShapeError, "3-D"),
        (lambda w, x: q4repack.matmul(w, x.astype(np.float64), "q4_0", "none"), q4repack.DTypeError, "float64"),
        (lambda w, x: q4repack.matmul(w.view(np.int8), x, "q4_0", "none"), q4repack.DTypeError, "int8"),
        (lambda w, x: q4repack.quantize(x.tolist(), "q4_0"), q4repack.DTypeError, "astype"),
        (lambda w, x: q4repack.quantize_q8_0_x4(x[:3], 8), q4repack.ShapeError, "multiple of 4"),
        (lambda w, x: q4repack.quantize_q8_0_x4(x[:4], 5), q4repack.ArgumentError, "5"),
        (lambda w, x: q4repack.set_isa("sse9"), q4repack.ArgumentError, "sse9"),
        (lambda w, x: q4repack.preferred_layout("f32"), q4repack.ArgumentError, "f32"),
    ],
)
def test_bad_arguments_raise_and_touch_nothing(weights, call, exc, words):
    x = random_floats((4, K), seed=1)
    check = untouched(weights, x)
    with pytest.raises(exc) as e:
        call(weights, x)
    assert words in str(e.value)
    assert isinstance(e.value, q4repack.Q4RError)
    check()


def test_non_finite_input(weights):
    x = random_floats((4, K))
    x[2, 17] = np.nan
    out = np.full((4, K // 32 * 18), 0xAB, np.uint8)
    check = untouched(x, out)
    with pytest.raises(q4repack.NonFiniteError) as e:
        q4repack.quantize(x, "q4_0", out=out)
    assert isinstance(e.value, ValueError) and e.value.status_name == "Q4R_E_VALUE"
    check()
    x[2, 17] = np.inf
    check = untouched(x, out)
    with pytest.raises(q4repack.NonFiniteError):
        q4repack.quantize(x, "iq4_nl", out=out)
    check()


def test_isa_not_available(restore_isa):
    missing = [i for i in q4repack.ISAS if i not in q4repack.available_isas()]
    before = q4repack.active_isa()
    for isa in missing:
        with pytest.raises(q4repack.ISAError) as e:
            q4repack.set_isa(isa)
        assert isa in str(e.value) and isinstance(e.value, RuntimeError)
    assert q4repack.active_isa() == before


def test_unaligned_floats(weights):
    raw = np.zeros(4 * K * 4 + 1, np.uint8)
    x = raw[1:].view(np.float32).reshape(4, K)  # C-contiguous but not 4-byte aligned
    assert not x.flags.aligned
    with pytest.raises(q4repack.AlignmentError) as e:
        q4repack.matmul(weights, x, "q4_0", "none")
    assert e.value.status_name == "Q4R_E_ALIGNMENT" and e.value.message


def test_overlapping_output_and_input(weights):
    size = weights.nbytes
    buf = np.zeros(size + 18, np.uint8)
    src = buf[:size].reshape(weights.shape)
    src[:] = weights
    dst = buf[18 : 18 + size].reshape(weights.shape)
    check = untouched(buf)
    with pytest.raises(q4repack.OverlapError):
        q4repack.repack(src, "q4_0", "8x8", out=dst)
    check()
    x = random_floats((16, K))
    y = x.reshape(-1)[: 16 * 16].reshape(16, 16)  # out aliases x
    check = untouched(x)
    with pytest.raises(q4repack.OverlapError):
        q4repack.matmul(weights, x, "q4_0", "none", out=y)
    check()


@pytest.mark.parametrize("layout", ["none", "8x8"])
def test_bad_outputs_refused_before_writing(weights, layout):
    x = random_floats((2, K))
    w = weights if layout == "none" else q4repack.repack(weights, "q4_0", layout)
    ro = np.zeros((2, 16), np.float32)
    ro.flags.writeable = False
    wide = np.zeros((2, 32), np.float32)
    bad = [
        (ro, q4repack.ArgumentError, "read-only"),
        (wide[:, ::2], q4repack.ArgumentError, "contiguous"),
        (np.zeros((2, 16), np.float64), q4repack.DTypeError, "float64"),
        (np.zeros((16, 2), np.float32), q4repack.ShapeError, "shape"),
        ([[0.0] * 16] * 2, q4repack.DTypeError, "numpy array"),
    ]
    for out, exc, words in bad:
        check = untouched(np.asarray(out), w, x)
        with pytest.raises(exc, match=words):
            q4repack.matmul(w, x, "q4_0", layout, out=out)
        check()


def test_in_place_on_read_only_refused(weights):
    ro = weights.copy()
    ro.flags.writeable = False
    with pytest.raises(q4repack.ArgumentError, match="read-only"):
        q4repack.repack(ro, "q4_0", "8x8", out=ro)
    assert np.array_equal(ro, weights)
    strided = np.repeat(weights, 2, axis=0)[::2]
    with pytest.raises(q4repack.ArgumentError, match="contiguous"):
        q4repack.unpack(strided, "q4_0", "8x8", out=strided)


def test_failed_in_place_repack_leaves_data(weights):
    w = weights[:, :20].copy()  # 20-byte rows: not whole blocks
    check = untouched(w)
    with pytest.raises(q4repack.ShapeError):
        q4repack.repack(w, "q4_0", "8x8", out=w)
    check()


def test_missing_library_is_reported(tmp_path):
    env = dict(os.environ, Q4REPACK_LIBRARY=str(tmp_path / "nope.so"))
    code = "import q4repack\ntry:\n q4repack.info()\nexcept q4repack.LibraryNotFoundError as e:\n print('LNF', isinstance(e, OSError), e)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(q4repack.__file__)))
    assert out.stdout.startswith("LNF True Q4REPACK_LIBRARY=") and "nope.so" in out.stdout, out
