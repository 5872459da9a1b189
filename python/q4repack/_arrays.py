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

from .errors import ArgumentError, ShapeError


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
