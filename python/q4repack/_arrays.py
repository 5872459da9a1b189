"""Argument checks for numpy arrays passed to the library.

The rules (docs/PYTHON.md, "Arrays"):

- An input must already have the dtype the call needs (float32 values, uint8 blocks): converting
  float64 to float32 would round silently, so another dtype raises :class:`DTypeError`.
- An input that is not C-contiguous (a slice with steps, a transposed view) is copied once with
  ``np.ascontiguousarray``; a C-contiguous one is passed to the library as it is (no copy).
- An output (``out=``) must be a writeable, C-contiguous numpy array of the result's dtype and
  shape; anything else is refused before the library writes a byte.
"""

from __future__ import annotations

import ctypes

import numpy as np

from .errors import ArgumentError, ShapeError, SizeError  # noqa: F401 (re-exported)


class DTypeError(ArgumentError, TypeError):
    """An array has the wrong dtype (also a TypeError)."""


def input_array(a, dtype, name: str) -> np.ndarray:
    """``a`` as a C-contiguous ndarray of ``dtype``: as it is, or one copy if not contiguous."""
    arr = np.asarray(a)
    if arr.dtype != dtype:
        raise DTypeError(
            "%s has dtype %s, expected %s (convert explicitly, e.g. %s.astype(np.%s))"
            % (name, arr.dtype, np.dtype(dtype), name, np.dtype(dtype).name)
        )
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def input_2d(a, dtype, name: str) -> tuple[np.ndarray, bool]:
    """An input of one row ([cols]) or of rows ([rows, cols]), as 2-D; and whether it was 1-D."""
    arr = input_array(a, dtype, name)
    if arr.ndim == 1:
        return arr.reshape(1, -1), True
    if arr.ndim != 2:
        raise ShapeError("%s must be 1-D or 2-D, not %d-D (shape %s)" % (name, arr.ndim, arr.shape))
    return arr, False


def output_array(out, shape: tuple, dtype, name: str = "out") -> np.ndarray:
    """A new array, or ``out`` checked to be writeable, C-contiguous, of ``dtype`` and ``shape``."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise DTypeError("%s must be a numpy array, not %s" % (name, type(out).__name__))
    if out.dtype != dtype:
        raise DTypeError("%s has dtype %s, expected %s" % (name, out.dtype, np.dtype(dtype)))
    if tuple(out.shape) != tuple(shape):
        raise ShapeError("%s has shape %s, expected %s" % (name, out.shape, tuple(shape)))
    if not out.flags.writeable:
        raise ArgumentError("%s is read-only" % name)
    if not out.flags.c_contiguous:
        raise ArgumentError("%s is not C-contiguous (the library writes it as one block)" % name)
    return out


def row_stride(a: np.ndarray) -> int | None:
    """Row stride in elements of a 2-D float32 array whose rows are contiguous, else None."""
    if a.ndim != 2 or (a.strides[1] != 4 and a.shape[1] > 1):
        return None
    if a.shape[0] == 1:  # one row: its stride is never used
        return a.shape[1]
    rows = a.strides[0]
    return rows // 4 if rows % 4 == 0 and rows >= 4 * a.shape[1] else None


def strided_rows(x, name: str = "x") -> tuple[np.ndarray, int, bool]:
    """float32 rows ``[m, k]`` (or one row ``[k]``) for a C call with a row stride: the array (a
    copy only if its rows are not contiguous), its row stride in floats, and whether it was 1-D."""
    xa = np.asarray(x)
    if xa.dtype != np.float32:
        raise DTypeError("%s has dtype %s, expected float32" % (name, xa.dtype))
    one_row = xa.ndim == 1
    if one_row:
        xa = xa.reshape(1, -1)
    if xa.ndim != 2:
        raise ShapeError("%s must be 1-D or 2-D, not shape %s" % (name, xa.shape))
    stride = row_stride(xa)
    if stride is None:
        xa = np.ascontiguousarray(xa)
        stride = xa.shape[1]
    return xa, stride, one_row


def strided_output(out, m: int, n: int, one_row: bool) -> tuple[np.ndarray, int]:
    """The float32 ``[m, n]`` result array for a C call with a row stride, and its stride: a new
    array, or ``out`` (``[n]`` when one_row) checked: writeable, rows contiguous, any row stride
    (e.g. a column block ``Y[:, a:b]`` of a wider array)."""
    if out is None:
        return np.empty((m, n), np.float32), n
    if not isinstance(out, np.ndarray) or out.dtype != np.float32:
        raise DTypeError("out must be a float32 numpy array")
    y = out.reshape(1, -1) if (one_row and out.ndim == 1) else out
    if y.shape != (m, n):
        want = (n,) if one_row else (m, n)
        raise ShapeError("out has shape %s, expected %s" % (out.shape, want))
    if not out.flags.writeable:
        raise ArgumentError("out is read-only")
    stride = row_stride(y)
    if stride is None:
        raise ArgumentError("out rows must be contiguous float32 (a row stride is fine)")
    return y, stride


def _slow_address(arr: np.ndarray) -> int:
    return arr.ctypes.data


# The data pointer of an ndarray is the first field after the object header (numpy's public C
# struct PyArrayObject_fields, what PyArray_DATA reads; the same in numpy 1.x and 2.x), and in
# CPython id() is the object's address. Reading it there costs ~0.1 us; ``arr.ctypes.data`` builds
# a Python-level helper object and the __array_interface__ dict each time (~0.6 us warm, several
# times that when a matmul has just evicted the interpreter's data from the caches; three per
# matmul call were half the Python layer's cost, docs/PYTHON.md "Overhead"). _check_fast_address
# compares both ways on a few arrays at import and keeps ``arr.ctypes.data`` if they differ.
_HEADER_BYTES = object.__basicsize__
_read_pointer = ctypes.c_void_p.from_address


def _fast_address(arr: np.ndarray) -> int:
    return _read_pointer(id(arr) + _HEADER_BYTES).value or 0


def _check_fast_address() -> bool:
    base = np.arange(64, dtype=np.float32)
    probes = [base, base[3:], base.reshape(8, 8)[2:, 1:], np.empty((3, 5), np.uint8), base[:0]]
    try:
        return all(_fast_address(a) == a.ctypes.data for a in probes)
    except Exception:  # e.g. an interpreter where id() is not an address
        return False


FAST_ADDRESS = _check_fast_address()
address = _fast_address if FAST_ADDRESS else _slow_address
address.__doc__ = "The data pointer of an ndarray (no copy; valid while the array is alive)."
