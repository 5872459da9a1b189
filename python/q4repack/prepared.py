"""A matmul with its weights prepared once (:func:`prepare_matmul`): ``w``, its type, layout and
the thread count are checked and converted at creation, so a call only checks ``x`` (and ``out``)
and makes one foreign call (docs/PYTHON.md, "Overhead of the Python layer").

Per call, for C-contiguous float32 arrays, nothing but exact identity / shape / stride checks and
the foreign call run: the ctypes arguments that do not depend on ``x`` are ctypes objects made at
creation, and the function is called through a pointer without ``argtypes``. Then ctypes
converts nothing in Python: every argument is a ctypes object of the C parameter's type (or a
small Python int for the C ``int`` parameters), which it passes as it is (warm, 0.35 us against
0.86 us for ten arguments through ``argtypes``). Anything else goes through the fully checked path of
:func:`q4repack.matmul` (or :meth:`Context.matmul`), which gives the library's messages.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _library
from ._arrays import _HEADER_BYTES, FAST_ADDRESS, address
from .context import Context, _fn, _weights
from .core import WEIGHT_TYPES, _matmul_checked, _name
from .errors import ArgumentError

_ndarray = np.ndarray
_empty = np.empty
_F32 = np.dtype(np.float32)
_HEADER = _HEADER_BYTES
# The data pointer as a c_void_p that views the array header's field (_arrays.address): passed to
# the C call as it is, and valid while the array is referenced (the caller's x and our y are).
_pointer = ctypes.c_void_p.from_address
# Batch sizes as ready int64 arguments (read only, shared by all prepared matmuls and threads); a
# larger batch makes its own (0.2 us, against a call of milliseconds).
_M_ARGS = tuple(ctypes.c_int64(m) for m in range(257))
_ROW = (4,)  # the strides of one float32 row


def _unconverted(fn):
    """The C function of ctypes function ``fn`` (the one the package uses, or a stand-in swapped
    in by the overhead bench) through a new pointer without argtypes: it converts nothing."""
    return _library.lib().cdll._FuncPtr(ctypes.cast(fn, ctypes.c_void_p).value)


def _check_weights(w, type, layout, threads, context):
    """(q4r_weights of ``w`` checked as matmul checks it, the array passed (kept), threads)."""
    if context is not None:
        if threads:
            raise ArgumentError("threads = %r with a context: the context's thread count is "
                                "used (leave threads at 0)" % (threads,))
        context._handle()  # ArgumentError if closed
    threads = int(threads)
    wts, arr, _ = _weights(w, type, layout)  # the library's checks and messages
    if _name("type", wts.type) not in WEIGHT_TYPES:
        raise ArgumentError("%s is not a weight type (matmul weights are %s)"
                            % (type, " or ".join(WEIGHT_TYPES)))
    lib = _library.lib()
    size = ctypes.c_size_t()  # layout, n and k against each other, as a call would check them
    lib.check(lib.q4r_workspace_size(wts.layout, wts.n, 1, wts.k, ctypes.byref(size)))
    return wts, arr, threads


def prepare_matmul(w, type: str, layout: str, threads: int = 0, context: Context = None):
    """``w``, ``type``, ``layout`` and ``threads`` of :func:`q4repack.matmul` checked once: returns
    a function ``prepared(x, out=None)`` that gives exactly ``matmul(w, x, type, layout, threads,
    out=out)`` (the same bits, and for bad ``x`` / ``out`` the same exceptions and messages, with
    nothing written) at a smaller fixed cost per call.

    Args:
        w: uint8 ``[n, row_bytes]`` weights of ``type`` in ``layout``.
        type: ``"q4_0"`` or ``"iq4_nl"``.
        layout: the layout ``w`` is in.
        threads: worker threads per call; 0 (or negative) means all cores.
        context: optional :class:`Context`: calls run on it (``q4r_context_matmul``: its ISA
            and threads, its per-thread workspace reused); ``threads`` must then be 0.

    Returns:
        ``prepared(x, out=None)``: ``x`` float32 ``[m, k]`` or one row ``[k]``, ``out`` an
        optional float32 ``[m, n]`` (``[n]``) array; returns float32 ``[m, n]`` (``[n]``), or
        ``out``. Its attributes ``w`` (the array passed to the library), ``type``, ``layout``,
        ``n``, ``k``, ``threads`` and ``context`` describe it. Calls may run from several Python
        threads at once (the GIL is released during the C call).

    The weights: ``prepared`` keeps a reference to the array it passes to the library (``w``
    itself when it is a C-contiguous uint8 array, else one contiguous copy made here), so they
    stay alive, and at the same address (numpy never moves the data of a referenced array), as
    long as ``prepared`` does. Every call reads the bytes: writing into ``w`` between calls
    changes the results, as it would for ``matmul``, and is the caller's business
    (``w.setflags(write=False)`` guards against accidents).

    Raises the exceptions :func:`q4repack.matmul` raises for bad weights, type or layout, and
    ArgumentError for a type that is not a weight type or a closed context.

    >>> import numpy as np, q4repack
    >>> w = q4repack.quantize(np.ones((8, 64), np.float32), "q4_0")
    >>> prepared = q4repack.prepare_matmul(w, "q4_0", "none")
    >>> prepared(np.ones(64, np.float32)).shape
    (8,)
    """
    wts, w, threads = _check_weights(w, type, layout, threads, context)
    n, k = int(wts.n), int(wts.k)
    k_shape, n_shape, x_rows, y_rows = (k,), (n,), (4 * k, 4), (4 * n, 4)  # C-contiguous strides
    checked = _checked_call(w, type, layout, threads, context)
    if context is None:  # q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads)
        fn = _unconverted(_library.lib().q4r_matmul)
        a1, a2, a3 = wts.type, wts.layout, ctypes.c_void_p(address(w))
        a4, a5, a6 = ctypes.c_size_t(w.nbytes), ctypes.c_int64(n), ctypes.c_int64(k)
    else:  # q4r_context_matmul(ctx, weights, x, x_stride, m, y, y_stride, ws, ws_size)
        fn = _unconverted(_fn("q4r_context_matmul"))
        on_context = _context_call(fn, wts, context)

    def prepared(x, out=None):
        # The common case (C-contiguous float32 arrays of the right shapes) in one straight run of
        # identity, shape and stride checks (exact: the strides of C-contiguous rows), every value
        # a local: a matmul streams the weights through the caches, so this code runs cold.
        if x.__class__ is _ndarray and x.dtype is _F32:
            shape = x.shape
            if shape == k_shape and x.strides == _ROW:
                m, y_shape, y_strides = 1, n_shape, _ROW
            elif len(shape) == 2 and shape[1] == k and x.strides == x_rows:
                m = shape[0]
                y_shape, y_strides = (m, n), y_rows
            else:
                return checked(x, out)
            if out is None:
                y = _empty(y_shape, _F32)
            elif (out.__class__ is _ndarray and out.dtype is _F32 and out.shape == y_shape
                  and out.strides == y_strides and out.flags.writeable):
                y = out
            else:
                return checked(x, out)
            try:
                m_arg = _M_ARGS[m]
            except IndexError:
                m_arg = ctypes.c_int64(m)
            if context is None:
                status = fn(a1, a2, a3, a4, a5, a6, _pointer(id(x) + _HEADER), m_arg,
                            _pointer(id(y) + _HEADER), threads)
            else:
                status = on_context(x, m, m_arg, y)
            if status:
                _library.lib().check(status)
            return y
        return checked(x, out)

    if not FAST_ADDRESS:  # an interpreter where the header cannot be read: every call checked
        prepared = checked
    prepared.w, prepared.type, prepared.layout = w, type, layout
    prepared.n, prepared.k, prepared.threads, prepared.context = n, k, threads, context
    return prepared


def _checked_call(w, type, layout, threads, context):
    """Everything else (other dtypes, views, lists, bad shapes): the fully checked path."""
    if context is None:
        return lambda x, out=None: _matmul_checked(w, x, type, layout, threads, out)
    return lambda x, out=None: context.matmul(w, x, type, layout, out=out)


def _context_call(fn, wts, context):
    """q4r_context_matmul with the context's per-thread workspace (as Context.matmul)."""
    wts_ptr = ctypes.pointer(wts)
    x_stride, y_stride = ctypes.c_size_t(wts.k), ctypes.c_size_t(wts.n)
    workspace_bytes = {}  # m -> bytes

    def call(x, m, m_arg, y):
        ctx = context._handle()
        size = workspace_bytes.get(m)
        if size is None:
            value = ctypes.c_size_t()
            _library.lib().check(_fn("q4r_context_workspace_size")(ctx, wts_ptr, m,
                                                                   ctypes.byref(value)))
            size = workspace_bytes[m] = value.value
        local = context._local
        ws = getattr(local, "workspace", None)
        if ws is None or ws.nbytes < size:
            ws = local.workspace = np.empty(max(size, 64), np.uint8)
        return fn(ctx, wts_ptr, _pointer(id(x) + _HEADER), x_stride, m_arg,
                  _pointer(id(y) + _HEADER), y_stride, _pointer(id(ws) + _HEADER),
                  ctypes.c_size_t(ws.nbytes))

    return call


__all__ = ["prepare_matmul"]
