"""A reusable matmul context (``q4r_context``): its own ISA and thread count, a workspace kept
between calls, and row-strided activations and outputs passed without copies."""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from . import _library
from ._arrays import ArgumentError, DTypeError, ShapeError, input_array
from .core import _k_of, _name, _parse


class _Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("isa", ctypes.c_int),
        ("n_threads", ctypes.c_int),
        ("parallel_for", ctypes.c_void_p),
        ("parallel_for_user", ctypes.c_void_p),
    ]


class _Weights(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("layout", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
        ("n", ctypes.c_int64),
        ("k", ctypes.c_int64),
    ]


_P = ctypes.c_void_p
_PROTOTYPES = {
    "q4r_context_options_init": (None, [ctypes.POINTER(_Options)]),
    "q4r_context_create": (ctypes.c_int, [ctypes.POINTER(_Options), ctypes.POINTER(_P)]),
    "q4r_context_destroy": (None, [_P]),
    "q4r_context_isa": (ctypes.c_int, [_P]),
    "q4r_context_threads": (ctypes.c_int, [_P]),
    "q4r_context_layout": (ctypes.c_int, [_P, ctypes.c_int]),
    "q4r_context_workspace_size": (
        ctypes.c_int,
        [_P, ctypes.POINTER(_Weights), ctypes.c_int64, ctypes.POINTER(ctypes.c_size_t)],
    ),
    "q4r_context_matmul": (
        ctypes.c_int,
        [_P, ctypes.POINTER(_Weights), _P, ctypes.c_size_t, ctypes.c_int64, _P, ctypes.c_size_t, _P,
         ctypes.c_size_t],
    ),
}
_functions = {}


def _fn(name):
    fn = _functions.get(name)
    if fn is None:
        fn = getattr(_library.lib().cdll, name)
        fn.restype, fn.argtypes = _PROTOTYPES[name]
        _functions[name] = fn
    return fn


def _row_stride(a: np.ndarray) -> int | None:
    """Row stride in floats of a 2-D float32 array whose rows are contiguous, else None."""
    if a.ndim != 2 or (a.strides[1] != 4 and a.shape[1] > 1):
        return None
    if a.shape[0] == 1:  # one row: its stride is never used
        return a.shape[1]
    rows = a.strides[0]
    return rows // 4 if rows % 4 == 0 and rows >= 4 * a.shape[1] else None


class Context:
    """A matmul context: the kernels of one ISA and a thread count, fixed at creation.

    Unlike :func:`q4repack.set_isa` it changes nothing process-wide, so contexts of different
    ISAs can be used side by side. Each thread gets its own workspace, allocated once for the
    largest batch seen and reused (the C API's workspace reuse for decode loops).

    Args:
        isa: an instruction-set name, or None for the active ISA at creation.
        threads: threads (tasks) per call; 0 means all cores.
    """

    def __init__(self, isa: str | None = None, threads: int = 0):
        self._ctx = None
        opts = _Options()
        _fn("q4r_context_options_init")(ctypes.byref(opts))
        if isa is not None:
            opts.isa = _parse("isa", isa)
        opts.n_threads = int(threads)
        ctx = _P()
        lib = _library.lib()
        lib.check(_fn("q4r_context_create")(ctypes.byref(opts), ctypes.byref(ctx)))
        self._ctx = ctx
        self._local = threading.local()

    @property
    def isa(self) -> str:
        """The ISA whose kernels this context runs."""
        return _name("isa", _fn("q4r_context_isa")(self._handle()))

    @property
    def threads(self) -> int:
        """Threads (tasks) per call."""
        return _fn("q4r_context_threads")(self._handle())

    def layout(self, type: str) -> str:
        """The layout to repack ``type`` weights into for this context's ISA."""
        return _name("layout", _fn("q4r_context_layout")(self._handle(), _parse("type", type)))

    def _handle(self):
        if self._ctx is None:
            raise ArgumentError("the context is closed")
        return self._ctx

    def matmul(self, w, x, type: str, layout: str, out=None) -> np.ndarray:
        """``Y = X W^T`` on this context (``q4r_context_matmul``).

        Same arrays as :func:`q4repack.matmul`, except that ``x`` and ``out`` may be row-strided
        2-D views (rows contiguous, e.g. ``big[:, :k]`` or ``Y[::2]``): passed without a copy.
        ``out`` may be a column block of a wider array, e.g. ``Y[:, a:b]``.
        """
        ctx = self._handle()
        lib = _library.lib()
        wts = _Weights()
        wts.type, wts.layout = _parse("type", type), _parse("layout", layout)
        w2 = input_array(w, np.uint8, "w")
        if w2.ndim != 2:
            raise ShapeError("w must be 2-D [rows, row_bytes], not shape %s" % (w2.shape,))
        n, k = w2.shape[0], _k_of(w2.shape[1], type, "w")
        wts.data, wts.size, wts.n, wts.k = w2.ctypes.data, w2.nbytes, n, k
        xa = np.asarray(x)
        if xa.dtype != np.float32:
            raise DTypeError("x has dtype %s, expected float32" % xa.dtype)
        one_row = xa.ndim == 1
        if one_row:
            xa = xa.reshape(1, -1)
        if xa.ndim != 2:
            raise ShapeError("x must be 1-D or 2-D, not shape %s" % (xa.shape,))
        x_stride = _row_stride(xa)
        if x_stride is None:
            xa = np.ascontiguousarray(xa)
            x_stride = xa.shape[1]
        m = xa.shape[0]
        if xa.shape[1] != k:
            raise ShapeError("x has %d columns but w has k = %d values per row" % (xa.shape[1], k))
        y, y_stride = self._output(out, m, n, one_row)
        ws = self._workspace(ctx, wts, m)
        lib.check(
            _fn("q4r_context_matmul")(ctx, ctypes.byref(wts), xa.ctypes.data, x_stride, m,
                                      y.ctypes.data, y_stride, ws.ctypes.data, ws.nbytes)
        )
        return out if out is not None else (y[0] if one_row else y)

    @staticmethod
    def _output(out, m, n, one_row):
        if out is None:
            y = np.empty((m, n), np.float32)
            return y, n
        if not isinstance(out, np.ndarray) or out.dtype != np.float32:
            raise DTypeError("out must be a float32 numpy array")
        y = out.reshape(1, -1) if (one_row and out.ndim == 1) else out
        if y.shape != (m, n):
            want = (n,) if one_row else (m, n)
            raise ShapeError("out has shape %s, expected %s" % (out.shape, want))
        if not out.flags.writeable:
            raise ArgumentError("out is read-only")
        stride = _row_stride(y)
        if stride is None:
            raise ArgumentError("out rows must be contiguous float32 (a row stride is fine)")
        return y, stride

    def _workspace(self, ctx, wts, m) -> np.ndarray:
        size = ctypes.c_size_t()
        lib = _library.lib()
        lib.check(_fn("q4r_context_workspace_size")(ctx, ctypes.byref(wts), m, ctypes.byref(size)))
        ws = getattr(self._local, "workspace", None)
        if ws is None or ws.nbytes < size.value:
            ws = self._local.workspace = np.empty(max(size.value, 64), np.uint8)
        return ws

    def close(self) -> None:
        """Destroy the context (no call may be using it). Idempotent."""
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            _fn("q4r_context_destroy")(ctx)

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        if self._ctx is None:
            return "Context(closed)"
        return "Context(isa=%r, threads=%d)" % (self.isa, self.threads)


__all__ = ["Context"]
