"""A reusable matmul context (``q4r_context``): its own ISA and thread count, a workspace kept
between calls, and row-strided activations and outputs passed without copies."""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from . import _library
from ._arrays import (
    ArgumentError,
    DTypeError,
    ShapeError,
    address,
    input_array,
    output_array,
    strided_output,
    strided_rows,
)
from .core import _k_of, _name, _parse, _rows_and_k


class _Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("isa", ctypes.c_int),
        ("n_threads", ctypes.c_int),
        ("parallel_for", ctypes.c_void_p),
        ("parallel_for_user", ctypes.c_void_p),
        ("poll_us", ctypes.c_int),
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
    "q4r_context_matmul_id": (
        ctypes.c_int,
        [_P, ctypes.POINTER(_Weights), ctypes.c_int64, _P, ctypes.c_size_t, ctypes.c_int,
         ctypes.c_int64, _P, ctypes.c_size_t, ctypes.c_int64, _P, ctypes.c_size_t],
    ),
    "q4r_context_repack": (
        ctypes.c_int,
        [_P, ctypes.c_int, ctypes.c_int, _P, _P, ctypes.c_size_t, ctypes.c_int64, ctypes.c_int64],
    ),
    "q4r_context_unpack": (
        ctypes.c_int,
        [_P, ctypes.c_int, ctypes.c_int, _P, _P, ctypes.c_size_t, ctypes.c_int64, ctypes.c_int64],
    ),
}
_functions = {}


def _fn(name):
    fn = _functions.get(name)
    if fn is None:
        fn = _functions[name] = _library.lib().function(name, *_PROTOTYPES[name])
    return fn


def _weights(w, type: str, layout: str, dims: int = 2):
    """The q4r_weights of a uint8 tensor: ``[n, row_bytes]``, or ``[experts, n, row_bytes]`` for
    dims=3 (each expert packed on its own). Returns (descriptor, array kept alive, count)."""
    arr = input_array(w, np.uint8, "w" if dims == 2 else "experts")
    if arr.ndim != dims:
        what = "[rows, row_bytes]" if dims == 2 else "[experts, rows, row_bytes]"
        raise ShapeError("%s must be %d-D %s, not shape %s"
                         % ("w" if dims == 2 else "experts", dims, what, arr.shape))
    d = _Weights()
    d.type, d.layout = _parse("type", type), _parse("layout", layout)
    d.n, d.k = arr.shape[-2], _k_of(arr.shape[-1], type, "w")
    d.data, d.size = address(arr), arr.nbytes
    return d, arr, (arr.shape[0] if dims == 3 else 1)


def _expert_ids(ids) -> np.ndarray:
    """The routing table as int32 ``[m, n_used]`` (any integer dtype whose values fit)."""
    a = np.asarray(ids)
    if a.dtype.kind not in "iu":
        raise DTypeError("ids has dtype %s, expected an integer type (int32)" % a.dtype)
    if a.ndim != 2:
        raise ShapeError("ids must be 2-D [tokens, experts used], not shape %s" % (a.shape,))
    if a.dtype != np.int32:
        if a.size and (a.min() < -2**31 or a.max() >= 2**31):
            raise ArgumentError("ids holds values outside int32 (expert ids are small numbers)")
        a = a.astype(np.int32)
    # C takes contiguous rows with a row stride >= n_used, in int32 units.
    rows_ok = a.strides[1] == 4 or a.shape[1] <= 1
    stride_ok = a.shape[0] <= 1 or (a.strides[0] % 4 == 0 and a.strides[0] >= 4 * a.shape[1])
    if not (rows_ok and stride_ok):
        a = np.ascontiguousarray(a)
    return a


class Context:
    """A matmul context: the kernels of one ISA and a thread count, fixed at creation.

    Unlike :func:`q4repack.set_isa` it changes nothing process-wide, so contexts of different
    ISAs can be used side by side. Each thread gets its own workspace, allocated once for the
    largest batch seen and reused (the C API's workspace reuse for decode loops).

    Args:
        isa: an instruction-set name, or None for the active ISA at creation.
        threads: threads (tasks) per call; 0 means all cores.
        poll_us: how long the pool's workers poll for the next call before they sleep, in
            microseconds (0 .. 1000000); None: ``Q4REPACK_POLL_US`` if set, else 100. Polling
            lets the next call of a loop start the workers without a kernel wake-up.
    """

    def __init__(self, isa: str | None = None, threads: int = 0, poll_us: int | None = None):
        self._ctx = None
        opts = _Options()
        _fn("q4r_context_options_init")(ctypes.byref(opts))
        if isa is not None:
            opts.isa = _parse("isa", isa)
        opts.n_threads = int(threads)
        if poll_us is not None:
            if int(poll_us) < 0:
                raise ArgumentError("poll_us is %d; it must be >= 0 (None for the default)" % poll_us)
            opts.poll_us = int(poll_us)
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
        wts, w2, _ = _weights(w, type, layout)
        n, k = wts.n, wts.k
        xa, x_stride, one_row = strided_rows(x)
        m = xa.shape[0]
        if xa.shape[1] != k:
            raise ShapeError("x has %d columns but w has k = %d values per row" % (xa.shape[1], k))
        y, y_stride = strided_output(out, m, n, one_row)
        ws = self._workspace(ctx, wts, m)
        lib.check(
            _fn("q4r_context_matmul")(ctx, ctypes.byref(wts), address(xa), x_stride, m, address(y),
                                      y_stride, address(ws), ws.nbytes)
        )
        return out if out is not None else (y[0] if one_row else y)

    def matmul_id(self, experts, x, ids, type: str, layout: str, x_per_slot: bool = False,
                  out=None) -> np.ndarray:
        """Mixture-of-experts matmul, GGML's MUL_MAT_ID (``q4r_context_matmul_id``).

        Args:
            experts: uint8 ``[n_experts, n, row_bytes]``: every expert's ``n x k`` weights of
                ``type``, each packed on its own in ``layout`` (a GGUF 3-D tensor's ``.data``,
                or per-expert :func:`q4repack.repack` results stacked).
            x: float32 rows: ``[m, k]`` (token ``t``'s row feeds all its experts), or with
                ``x_per_slot`` ``[m * n_used, k]`` (row ``t * n_used + s`` feeds slot ``s``).
                Row-strided views are passed without a copy.
            ids: the routing table, ``[m, n_used]`` expert numbers (int32, or any integer type
                whose values fit); an id outside ``[0, n_experts)`` raises ArgumentError.
            out: optional float32 ``[m, n_used, n]`` (C-contiguous) or ``[m * n_used, n]`` (rows
                contiguous, any row stride).

        Returns:
            float32 ``[m, n_used, n]``: ``out[t, s] = x_row(t, s) @ experts[ids[t, s]]^T``
            (``out`` itself when given). Nothing is written on error.
        """
        ctx = self._handle()
        wts, e2, n_experts = _weights(experts, type, layout, dims=3)
        n, k = wts.n, wts.k
        table = _expert_ids(ids)
        m, n_used = table.shape
        xa, x_stride, _ = strided_rows(x)
        rows = m * n_used if x_per_slot else m
        if xa.shape != (rows, k):
            raise ShapeError("x has shape %s, expected (%d, %d): %s" % (
                xa.shape, rows, k, "m * n_used rows with x_per_slot" if x_per_slot else
                "one row per token (m = %d)" % m))
        if out is not None and isinstance(out, np.ndarray) and out.ndim == 3:
            if out.shape != (m, n_used, n):
                raise ShapeError("out has shape %s, expected %s" % (out.shape, (m, n_used, n)))
            if not out.flags.c_contiguous:
                raise ArgumentError("a 3-D out must be C-contiguous (or pass [m * n_used, n] rows)")
            y, y_stride = strided_output(out.reshape(m * n_used, n), m * n_used, n, False)
        else:
            y, y_stride = strided_output(out, m * n_used, n, False)
        ids_stride = table.strides[0] // 4 if m > 1 else n_used
        _library.lib().check(
            _fn("q4r_context_matmul_id")(ctx, ctypes.byref(wts), n_experts, address(xa), x_stride,
                                         1 if x_per_slot else 0, m, address(table), ids_stride,
                                         n_used, address(y), y_stride)
        )
        return out if out is not None else y.reshape(m, n_used, n)

    def repack(self, w, type: str, layout: str, out=None) -> np.ndarray:
        """:func:`q4repack.repack` on this context's threads (``q4r_context_repack``): the row
        groups split into up to one run per thread (512 KiB each at least). ``out=w`` works in
        place; the result is byte for byte the single-threaded one."""
        return self._permute("repack", w, type, layout, out)

    def unpack(self, w, type: str, layout: str, out=None) -> np.ndarray:
        """:func:`q4repack.unpack` on this context's threads (``q4r_context_unpack``)."""
        return self._permute("unpack", w, type, layout, out)

    def _permute(self, which, w, type, layout, out):
        ctx = self._handle()
        t, lay = _parse("type", type), _parse("layout", layout)
        fn = _fn("q4r_context_" + which)
        if out is not None and out is w:
            arr = output_array(w, np.shape(w), np.uint8, "w (in place)")
            n, k = _rows_and_k(arr, type)
            _library.lib().check(fn(ctx, t, lay, address(arr), address(arr), arr.nbytes, n, k))
            return arr
        src = input_array(w, np.uint8, "w")
        n, k = _rows_and_k(src, type)
        dst = output_array(out, src.shape, np.uint8)
        _library.lib().check(fn(ctx, t, lay, address(src), address(dst), src.nbytes, n, k))
        return dst

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
