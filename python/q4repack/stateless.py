"""The stateless matmul core (``q4r_workspace_size``, ``q4r_quantize_activations_rows``,
``q4r_run``): quantize a batch of activations once into a workspace the caller owns, then compute
any range of output columns, from any thread. :func:`q4repack.matmul` is these two steps plus a
thread split; use them to split the work over your own Python threads (the GIL is released during
each call), to reuse one quantized batch for several weight matrices, or to study the workspace
bytes (its format: include/q4repack/q4repack.h, docs/FORMATS.md).

>>> ws = quantize_activations(x, "8x8", n)                  # uint8 [workspace_size]
>>> y = run(w, ws, x.shape[0], "q4_0", "8x8")              # == matmul(w, x, "q4_0", "8x8")
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _library
from ._arrays import (
    ArgumentError,
    ShapeError,
    SizeError,
    address,
    input_array,
    output_array,
    strided_output,
    strided_rows,
)
from .core import _parse, _rows_and_k


def workspace_size(layout: str, n: int, m: int, k: int) -> int:
    """Bytes of the workspace for ``m`` activation rows of ``k`` values against ``n`` weight rows
    stored in ``layout`` (``q4r_workspace_size``)."""
    lib = _library.lib()
    out = ctypes.c_size_t()
    lib.check(lib.q4r_workspace_size(_parse("layout", layout), n, m, k, ctypes.byref(out)))
    return out.value


def column_step(layout: str) -> int:
    """Output column ranges given to :func:`run` start at multiples of this (the layout's rows
    per group; 8 for plain weights) and end at one, or at ``n``."""
    step = _library.lib().q4r_column_step(_parse("layout", layout))
    if step <= 0:
        raise ArgumentError("layout %r has no column step" % layout)
    return step


def row_step() -> int:
    """Activation row ranges given to :func:`quantize_activations` start at multiples of this
    (4: the height of one interleaved activation group)."""
    return _library.lib().q4r_row_step()


def quantize_activations(x, layout: str, n: int, rows=None, out=None) -> np.ndarray:
    """Quantize activation rows to q8_0 into a matmul workspace (active ISA's quantizers).

    Args:
        x: float32 ``[m, k]`` (row-strided views are passed without a copy), all finite.
        layout: the layout of the weights the workspace will be used with.
        n: the weights' row count (a plain copy of the rows is added when ``n`` is not a multiple
            of the layout's group).
        rows: None (all ``m`` rows), or ``(r0, r1)``: only those rows, into ``out`` (which must
            then be given), so that several threads can each quantize a part; ``r0`` a multiple
            of :func:`row_step`, ``r1`` one too or ``m``.
        out: None, or a uint8 array of :func:`workspace_size` bytes to write into.

    Returns:
        The workspace: uint8 ``[workspace_size(layout, n, m, k)]`` (``out`` when given).
    """
    lib = _library.lib()
    lay = _parse("layout", layout)
    xa, x_stride, _ = strided_rows(x)
    m, k = xa.shape
    size = workspace_size(layout, n, m, k)
    if rows is None:
        r0, r1 = 0, m
    else:
        if out is None:
            raise ArgumentError("a row range quantizes only those rows: pass out= (the workspace)")
        try:
            r0, r1 = (int(r) for r in rows)
        except (TypeError, ValueError):
            raise ArgumentError("rows must be a (first, end) pair, not %r" % (rows,)) from None
    if isinstance(out, np.ndarray) and out.ndim == 1 and out.size != size:
        raise SizeError("the workspace is %d bytes but %d rows of %d values against %d weight "
                        "rows in %s need %d" % (out.size, m, k, n, layout, size))
    ws = output_array(out, (size,), np.uint8, "out (workspace)")
    lib.check(lib.q4r_quantize_activations_rows(lay, n, address(xa), x_stride, m, k, r0, r1,
                                                address(ws), ws.nbytes))
    return ws


def run(w, workspace, m: int, type: str, layout: str, columns=None, out=None) -> np.ndarray:
    """Output columns of ``Y = X W^T`` from a quantized workspace (``q4r_run``).

    Args:
        w: uint8 ``[n, row_bytes]`` weights of ``type`` in ``layout``.
        workspace: the uint8 array :func:`quantize_activations` filled for these ``m`` rows,
            ``layout`` and ``n`` (exactly :func:`workspace_size` bytes).
        m: the activation row count the workspace holds.
        columns: None (all ``n``), or ``(c0, c1)``: only those output columns, into ``out``
            (which must then be given); ``c0`` a multiple of :func:`column_step`, ``c1`` one too
            or ``n``. Different threads may run disjoint ranges into the same ``out`` at once.
        out: None, or float32 ``[m, n]`` with contiguous rows (any row stride).

    Returns:
        float32 ``[m, n]`` (``out`` when given); with ``columns`` only those columns are written.
    """
    lib = _library.lib()
    t, lay = _parse("type", type), _parse("layout", layout)
    w2 = input_array(w, np.uint8, "w")
    n, k = _rows_and_k(w2, type)
    ws = input_array(workspace, np.uint8, "workspace")
    if ws.ndim != 1:
        raise ShapeError("workspace must be 1-D bytes, not shape %s" % (ws.shape,))
    if columns is None:
        c0, c1 = 0, n
    else:
        if out is None:
            raise ArgumentError("a column range writes only those columns: pass out=")
        try:
            c0, c1 = (int(c) for c in columns)
        except (TypeError, ValueError):
            raise ArgumentError(
                "columns must be a (first, end) pair, not %r" % (columns,)) from None
    if int(m) <= 0:
        raise ShapeError("m = %d activation rows: must be positive" % m)
    y, y_stride = strided_output(out, int(m), n, False)
    lib.check(lib.q4r_run(t, lay, address(w2), w2.nbytes, n, k, address(ws), ws.nbytes, int(m),
                          address(y), y_stride, c0, c1))
    return out if out is not None else y


__all__ = ["workspace_size", "column_step", "row_step", "quantize_activations", "run"]
