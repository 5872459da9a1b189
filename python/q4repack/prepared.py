"""A matmul with its weights prepared once (:func:`prepare_matmul`): ``w``, its type, layout and
the thread count are checked and converted at creation, so a call only checks ``x`` (and ``out``)
and makes one foreign call (docs/PYTHON.md, "Overhead of the Python layer").

Per call, for C-contiguous float32 arrays, nothing but exact identity / shape / flag checks and
the foreign call run: the ctypes arguments that do not depend on ``x`` are ctypes objects made at
creation, and the function is called through a pointer without ``argtypes``. Then ctypes
converts nothing in Python: every argument is a ctypes object of the C parameter's type (or a
small Python int for the C ``int`` parameters), which it passes as it is; the ``argtypes``
conversions were half of a bare ctypes call. Anything else goes through the fully checked path of
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


def _unconverted(fn):
    """The C function of ctypes function ``fn`` (the one the package uses, or a stand-in swapped
    in by the overhead bench) through a new pointer without argtypes: it converts nothing."""
    return _library.lib().cdll._FuncPtr(ctypes.cast(fn, ctypes.c_void_p).value)


class PreparedMatmul:
    """``Y = X W^T`` for fixed weights: :func:`q4repack.matmul` with ``w``, ``type``, ``layout``
    and ``threads`` checked and converted once. Made by :func:`prepare_matmul`.

    ``pm(x, out=None)`` gives exactly ``matmul(w, x, type, layout, threads, out=out)`` (the same
    bits, results, exceptions and messages), at a smaller fixed cost per call. ``x`` is float32
    ``[m, k]`` or one row ``[k]``; ``out`` an optional float32 ``[m, n]`` (``[n]``) array.

    Attributes: ``w`` (the array passed to the library, kept referenced), ``type``, ``layout``,
    ``n``, ``k``, ``threads``, ``context`` (or None).

    The weights: the object keeps a reference to the array it passes to the library (``w`` itself
    when it is a C-contiguous uint8 array, else one contiguous copy made at creation), so they
    stay alive, and at the same address (numpy never moves the data of an array that is
    referenced), as long as the object does. Every call reads the bytes then: writing into ``w``
    between calls changes the results, as it would for ``matmul``, and is the caller's business
    (``w.setflags(write=False)`` guards against accidents). Thread-safe: calls may run from
    several Python threads at once (the GIL is released during the C call).
    """

    __slots__ = ("w", "type", "layout", "n", "k", "threads", "context", "_fast", "_wts",
                 "_workspace_bytes")

    def __init__(self, w, type: str, layout: str, threads: int = 0, context: Context = None):
        if context is not None and threads:
            raise ArgumentError("threads = %r with a context: the context's thread count is used "
                                "(leave threads at 0)" % (threads,))
        wts, self.w, _ = _weights(w, type, layout)  # the library's checks and messages
        if _name("type", wts.type) not in WEIGHT_TYPES:
            raise ArgumentError("%s is not a weight type (matmul weights are %s)"
                                % (type, " or ".join(WEIGHT_TYPES)))
        self.type, self.layout, self.n, self.k = type, layout, int(wts.n), int(wts.k)
        self.threads, self.context = int(threads), context
        self._wts, self._workspace_bytes = wts, {}  # m -> context workspace bytes
        n, k = self.n, self.k
        lib = _library.lib()
        size = ctypes.c_size_t()  # checks layout, n and k against each other, as a call would
        lib.check(lib.q4r_workspace_size(wts.layout, n, 1, k, ctypes.byref(size)))
        shapes = (k, (k,), (n,))
        if context is None:
            self._fast = (_unconverted(lib.q4r_matmul), wts.type, wts.layout,
                          ctypes.c_void_p(address(self.w)), ctypes.c_size_t(self.w.nbytes),
                          ctypes.c_int64(n), ctypes.c_int64(k), self.threads) + shapes
        else:
            context._handle()  # ArgumentError if closed
            self._fast = (_unconverted(_fn("q4r_context_matmul")), ctypes.pointer(wts),
                          ctypes.c_size_t(k), ctypes.c_size_t(n), None, None, None, None) + shapes

    def __call__(self, x, out=None) -> np.ndarray:
        """``Y = X W^T``: float32 ``[m, n]`` (``[n]`` for a 1-D ``x``; ``out`` when given)."""
        # One attribute read and an unpack: locals from here on (every step runs cold after the
        # call before streamed the weights through the caches).
        fn, a1, a2, a3, a4, a5, a6, a7, k, k_shape, n_shape = self._fast
        if (FAST_ADDRESS and x.__class__ is _ndarray and x.dtype is _F32
                and x.flags.c_contiguous):
            shape = x.shape
            if shape == k_shape:
                m, y_shape = 1, n_shape
            elif len(shape) == 2 and shape[1] == k and shape[0] > 0:
                m = shape[0]
                y_shape = (m, n_shape[0])
            else:
                return self._checked(x, out)
            if out is None:
                y = _empty(y_shape, _F32)
            elif out.__class__ is _ndarray and out.dtype is _F32 and out.shape == y_shape:
                flags = out.flags
                if not (flags.c_contiguous and flags.writeable):
                    return self._checked(x, out)
                y = out
            else:
                return self._checked(x, out)
            m_arg = _M_ARGS[m] if m <= 256 else ctypes.c_int64(m)
            if a7 is None:
                status = self._on_context(fn, a1, a2, a3, x, m, m_arg, y)
            else:  # q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads)
                status = fn(a1, a2, a3, a4, a5, a6, _pointer(id(x) + _HEADER), m_arg,
                            _pointer(id(y) + _HEADER), a7)
            if status:
                _library.lib().check(status)
            return y
        return self._checked(x, out)

    def _on_context(self, fn, wts_ptr, x_stride, y_stride, x, m, m_arg, y) -> int:
        """q4r_context_matmul with the context's per-thread workspace (as Context.matmul)."""
        context = self.context
        ctx = context._handle()
        size = self._workspace_bytes.get(m)
        if size is None:
            value = ctypes.c_size_t()
            _library.lib().check(_fn("q4r_context_workspace_size")(ctx, wts_ptr, m,
                                                                   ctypes.byref(value)))
            size = self._workspace_bytes[m] = value.value
        local = context._local
        ws = getattr(local, "workspace", None)
        if ws is None or ws.nbytes < size:
            ws = local.workspace = np.empty(max(size, 64), np.uint8)
        return fn(ctx, wts_ptr, _pointer(id(x) + _HEADER), x_stride, m_arg,
                  _pointer(id(y) + _HEADER), y_stride, _pointer(id(ws) + _HEADER),
                  ctypes.c_size_t(ws.nbytes))

    def _checked(self, x, out) -> np.ndarray:
        """Everything else (other dtypes, views, lists, bad shapes): the checked path."""
        if self.context is not None:
            return self.context.matmul(self.w, x, self.type, self.layout, out=out)
        return _matmul_checked(self.w, x, self.type, self.layout, self.threads, out)

    def __repr__(self) -> str:
        return "PreparedMatmul(%s %s, n=%d, k=%d, threads=%d%s)" % (
            self.type, self.layout, self.n, self.k, self.threads,
            "" if self.context is None else ", context=%r" % (self.context,))


def prepare_matmul(w, type: str, layout: str, threads: int = 0,
                   context: Context = None) -> PreparedMatmul:
    """``w``, ``type``, ``layout`` and ``threads`` of :func:`q4repack.matmul` checked once: a
    callable ``pm(x, out=None)`` with matmul's results and errors and a smaller cost per call.

    Args:
        w: uint8 ``[n, row_bytes]`` weights of ``type`` in ``layout`` (kept referenced; see
            :class:`PreparedMatmul` for what writing into it later does).
        type: ``"q4_0"`` or ``"iq4_nl"``.
        layout: the layout ``w`` is in.
        threads: worker threads per call; 0 (or negative) means all cores.
        context: optional :class:`Context`: calls run on it (``q4r_context_matmul``: its ISA
            and threads, its per-thread workspace reused); ``threads`` must then be 0.

    Raises the exceptions :func:`q4repack.matmul` raises for bad weights, type or layout.

    >>> import numpy as np, q4repack
    >>> w = q4repack.quantize(np.ones((8, 64), np.float32), "q4_0")
    >>> pm = q4repack.prepare_matmul(w, "q4_0", "none")
    >>> pm(np.ones(64, np.float32)).shape
    (8,)
    """
    return PreparedMatmul(w, type, layout, threads, context)


__all__ = ["PreparedMatmul", "prepare_matmul"]
