"""numpy wrappers of the C ABI: names, sizes, ISA selection, quantize, repack, matmul.

Shapes follow the C API (include/q4repack/q4repack.h): a weight tensor of ``n`` rows of ``k``
values (``k`` a multiple of 32) is a 2-D uint8 array ``[n, row_bytes(type, k)]``: GGML's plain
blocks, or the same bytes repacked into a layout (same size). Activations are float32 ``[m, k]``,
matmul results float32 ``[m, n]``. Types, layouts and ISAs are given by the tool's names.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from . import _library
from ._arrays import (
    _HEADER_BYTES,
    FAST_ADDRESS,
    ShapeError,
    address,
    input_2d,
    input_array,
    output_array,
)
from .errors import ArgumentError

#: Tensor types: two weight types and the activation type.
TYPES = ("q4_0", "iq4_nl", "q8_0")
#: Types a weight tensor (repack, matmul) can have.
WEIGHT_TYPES = ("q4_0", "iq4_nl")
#: Layouts: plain GGML blocks ("none", also spelled "plain") and the three interleaved ones.
LAYOUTS = ("none", "4x4", "4x8", "8x8")
#: Every instruction set the library knows (see available_isas() for this machine's).
ISAS = ("scalar", "avx2", "avx512vnni", "neon", "dotprod", "i8mm", "avxvnni", "avx512vnni256",
        "avx512vnni512", "sve256")  # in q4r_isa order
#: Values per block (k must be a multiple of it).
BLOCK_VALUES = 32
_BLOCK_BYTES = {"q4_0": 18, "iq4_nl": 18, "q8_0": 34}

_ids = {}  # (kind, name) -> enum value, filled through the library's own parsers


def _parse(kind: str, name) -> int:
    if not isinstance(name, str):
        example = _EXAMPLES[kind]
        raise ArgumentError("%s must be a name such as %r, not %r" % (kind, example, name))
    key = (kind, name)
    value = _ids.get(key)
    if value is None:
        lib = _library.lib()
        out = ctypes.c_int()
        lib.check(getattr(lib, "q4r_parse_" + kind)(name.encode(), ctypes.byref(out)))
        value = _ids[key] = out.value
    return value


_EXAMPLES = {"type": "q4_0", "layout": "8x8", "isa": "avx2"}


def _name(kind: str, value: int) -> str:
    return getattr(_library.lib(), "q4r_%s_name" % kind)(value).decode()


def _block_bytes(type: str) -> int:
    size = _BLOCK_BYTES.get(type)
    if size is None:  # an alias, or the library's message for an unknown name
        size = _BLOCK_BYTES[_name("type", _parse("type", type))]
    return size


def _k_of(row_bytes: int, type: str, what: str) -> int:
    block = _block_bytes(type)
    if row_bytes <= 0 or row_bytes % block:
        raise ShapeError(
            "%s rows are %d bytes, not a positive multiple of %d (one %s block)"
            % (what, row_bytes, block, type)
        )
    return row_bytes // block * BLOCK_VALUES


# ---------------------------------------------------------------- versions, names, sizes


def library_version() -> str:
    """The loaded library's version string (``q4r_version_string()``), e.g. ``"0.1.0"``."""
    return _library.lib().q4r_version_string().decode()


def library_path() -> str:
    """The file the library was loaded from (see docs/PYTHON.md for the search order)."""
    return _library.lib().path


def row_bytes(type: str, k: int) -> int:
    """Bytes of one row of ``k`` values of ``type`` (k/32 blocks)."""
    lib = _library.lib()
    out = ctypes.c_size_t()
    lib.check(lib.q4r_row_bytes(_parse("type", type), k, ctypes.byref(out)))
    return out.value


def tensor_bytes(type: str, n: int, k: int) -> int:
    """Bytes of ``n`` rows of ``k`` values of ``type``; also the size of any repacked form."""
    lib = _library.lib()
    out = ctypes.c_size_t()
    lib.check(lib.q4r_tensor_bytes(_parse("type", type), n, k, ctypes.byref(out)))
    return out.value


def block_bytes(type: str) -> int:
    """Bytes of one 32-value block: 18 for q4_0 and iq4_nl, 34 for q8_0."""
    return _block_bytes(type)


def layout_rows(layout: str) -> int:
    """Rows per interleaved group of a layout: 1 (none), 4 or 8."""
    return _library.lib().q4r_layout_rows(_parse("layout", layout))


def layout_chunk(layout: str) -> int:
    """Bytes per chunk of a layout (4 or 8; 0 for none): also its activation interleave."""
    return _library.lib().q4r_layout_chunk(_parse("layout", layout))


# ---------------------------------------------------------------- CPU and dispatch


def available_isas() -> list:
    """The instruction sets this build has kernels for and this CPU can run, lowest first."""
    lib = _library.lib()
    return [name for i, name in enumerate(ISAS) if lib.q4r_isa_available(i)]


def best_isa() -> str:
    """The best available instruction set."""
    return _name("isa", _library.lib().q4r_best_isa())


def active_isa() -> str:
    """The instruction set whose kernels the library uses now."""
    return _name("isa", _library.lib().q4r_active_isa())


def set_isa(name: str) -> None:
    """Use the kernels of instruction set ``name`` for the whole process.

    Raises ISAError if the CPU (or this build) cannot run it, ArgumentError for an unknown name.
    Process-wide: call it before other threads use the library.
    """
    lib = _library.lib()
    lib.check(lib.q4r_set_isa(_parse("isa", name)))


def preferred_layout(type: str, isa: str | None = None) -> str:
    """The layout the library prefers for ``type`` on ``isa`` (default: the active ISA)."""
    lib = _library.lib()
    isa_id = lib.q4r_active_isa() if isa is None else _parse("isa", isa)
    return _name("layout", lib.q4r_preferred_layout(_parse("type", type), isa_id))


#: The keys of :func:`cpu_info`, in q4r_cpu_info_key order.
CPU_INFO_KEYS = ("arch", "vendor", "brand", "model", "class", "features", "features_checked")


def cpu_info() -> dict:
    """What the library detected about this CPU (``q4r_cpu_info``: cpu_features and cpuid, once).

    Keys: ``arch`` ("x86_64", "aarch64" or "other"), ``vendor`` and ``brand`` (cpuid's strings,
    "" where unknown), ``model`` ("family 0x1a model 0x2" on x86), ``class`` (the CPU class the
    kernel choice uses, e.g. "AMD Zen 5", or "unknown"), ``features`` (the flags the dispatcher
    reads that this CPU and OS have) and ``features_checked`` (every flag it reads), both lists.
    """
    lib = _library.lib()
    out = {}
    for key, name in enumerate(CPU_INFO_KEYS):
        text = lib.text("q4r_cpu_info", key)
        out[name] = text.split() if name.startswith("features") else text
    return out


def cpu_features() -> list:
    """The CPU features the library's dispatcher detected and reads (e.g. ``["avx2", "fma3",
    "f16c", "avx512f", ...]``): ``q4r_cpu_info(Q4R_CPU_FEATURES)``; :func:`available_isas` is
    what the library makes of them."""
    return _library.lib().text("q4r_cpu_info", 5).split()


def kernel_set(isa: str | None = None) -> str:
    """Which kernels ``isa`` (default: the active ISA) runs on this CPU and why
    (``q4r_isa_kernel_set``), e.g. ``"512-bit 8x8 GEMV/GEMM; AMD Zen 5 (class table): ..."``;
    ``""`` for ISAs without a choice. ISAError if ``isa`` is not available here."""
    lib = _library.lib()
    isa_id = lib.q4r_active_isa() if isa is None else _parse("isa", isa)
    return lib.text("q4r_isa_kernel_set", isa_id)


def info() -> dict:
    """What this library and CPU can do, as a dict (like ``q4repack info``).

    Keys: ``version`` (library), ``package_version``, ``library`` (path), ``cpu`` (the
    :func:`cpu_info` dict), ``cpu_features`` (its feature list), ``isas_available``,
    ``isa_best``, ``isa_active``, ``kernel_set`` (of the active ISA: :func:`kernel_set`),
    ``isa_forced_by_env`` (the value of ``Q4REPACK_ISA`` or None), ``preferred_layouts``
    ({type: layout} on the active ISA) and ``preferred_layouts_by_isa`` ({isa: {type: layout}}
    for every available ISA). Everything comes from the library, nothing from /proc/cpuinfo.
    """
    from . import __version__

    isas = available_isas()
    cpu = cpu_info()
    return {
        "version": library_version(),
        "package_version": __version__,
        "library": library_path(),
        "cpu": cpu,
        "cpu_features": cpu["features"],
        "isas_available": isas,
        "isa_best": best_isa(),
        "isa_active": active_isa(),
        "kernel_set": kernel_set(),
        "isa_forced_by_env": os.environ.get("Q4REPACK_ISA") or None,
        "preferred_layouts": {t: preferred_layout(t) for t in WEIGHT_TYPES},
        "preferred_layouts_by_isa": {
            isa: {t: preferred_layout(t, isa) for t in WEIGHT_TYPES} for isa in isas
        },
    }


# ---------------------------------------------------------------- quantize / dequantize


def quantize(x, type: str, imatrix=None, out=None) -> np.ndarray:
    """Quantize float32 rows to blocks, bit-exact with GGML's reference quantizers.

    Args:
        x: float32 ``[n, k]`` (or one row ``[k]``), ``k`` a multiple of 32, all finite.
        type: ``"q4_0"``, ``"iq4_nl"`` or ``"q8_0"``.
        imatrix: None, or ``k`` non-negative float32 importance weights shared by all rows
            (q4_0 and iq4_nl only; GGML's ``quantize_q4_0`` / ``quantize_iq4_nl``).
        out: optional uint8 array of the result's shape to write into.

    Returns:
        uint8 ``[n, k/32 * block_bytes(type)]`` (``[row_bytes]`` for a 1-D ``x``): plain blocks.

    Raises:
        NonFiniteError for NaN/inf inputs, ShapeError for a bad k, DTypeError for non-float32.
    """
    lib = _library.lib()
    t = _parse("type", type)
    x2, one_row = input_2d(x, np.float32, "x")
    n, k = x2.shape
    rb = row_bytes(type, k)  # the library's message for a bad k
    im_ptr = None
    if imatrix is not None:
        im = input_array(imatrix, np.float32, "imatrix")
        if im.shape != (k,):
            raise ShapeError(
                "imatrix has shape %s, expected (%d,): one weight per column" % (im.shape, k)
            )
        im_ptr = address(im)
    y = output_array(out, (rb,) if one_row else (n, rb), np.uint8)
    lib.check(lib.q4r_quantize(t, address(x2), n, k, im_ptr, address(y), y.nbytes))
    return y


def dequantize(w, type: str, layout: str = "none", out=None) -> np.ndarray:
    """Blocks back to float32 values.

    Args:
        w: uint8 ``[n, row_bytes]`` (or one row ``[row_bytes]``) of ``type`` blocks.
        type: ``"q4_0"``, ``"iq4_nl"`` or ``"q8_0"``.
        layout: the layout ``w`` is stored in; a repacked tensor is unpacked into a temporary
            copy first (``w`` itself is not changed).
        out: optional float32 array of the result's shape.

    Returns:
        float32 ``[n, k]`` (``[k]`` for a 1-D ``w``).
    """
    lib = _library.lib()
    t = _parse("type", type)
    w2, one_row = input_2d(w, np.uint8, "w")
    n, rb = w2.shape
    k = _k_of(rb, type, "w")
    if _parse("layout", layout) != 0:
        w2 = unpack(w2, type, layout)
    y = output_array(out, (k,) if one_row else (n, k), np.float32)
    lib.check(lib.q4r_dequantize(t, address(w2), w2.nbytes, n, k, address(y)))
    return y


# ---------------------------------------------------------------- repack / unpack


def _rows_and_k(w: np.ndarray, type: str) -> tuple[int, int]:
    """(n, k) of a 2-D uint8 weight array [n, row_bytes]."""
    if w.ndim != 2:
        raise ShapeError("w must be 2-D [rows, row_bytes], not shape %s" % (w.shape,))
    return w.shape[0], _k_of(w.shape[1], type, "w")


def _permute(which: str, w, type: str, layout: str, out, groups=None) -> np.ndarray:
    lib = _library.lib()
    t, lay = _parse("type", type), _parse("layout", layout)
    if groups is None:
        suffix, extra = "", ()
    else:
        suffix, extra = "_range", _group_range(groups)
    if out is not None and out is w:
        arr = output_array(w, np.shape(w), np.uint8, "w (in place)")
        n, k = _rows_and_k(arr, type)
        fn = getattr(lib, "q4r_%s_inplace%s" % (which, suffix))
        lib.check(fn(t, lay, address(arr), arr.nbytes, n, k, *extra))
        return arr
    src = input_array(w, np.uint8, "w")
    n, k = _rows_and_k(src, type)
    if groups is not None and out is None:
        raise ArgumentError("a row-group range writes only those groups: pass out= (or out=w)")
    dst = output_array(out, src.shape, np.uint8)
    fn = getattr(lib, "q4r_%s%s" % (which, suffix))
    lib.check(fn(t, lay, address(src), address(dst), src.nbytes, n, k, *extra))
    return dst


def _group_range(groups) -> tuple[int, int]:
    try:
        g0, g1 = groups
        return int(g0), int(g1)
    except (TypeError, ValueError):
        raise ArgumentError("groups must be a (first, end) pair of row-group numbers, not %r"
                            % (groups,)) from None


def row_groups(layout: str, n: int) -> int:
    """Row groups of a tensor of ``n`` rows in ``layout``: ceil(n / rows per group); the last one
    is the plain tail when the group size does not divide ``n`` (``q4r_row_groups``)."""
    count = _library.lib().q4r_row_groups(_parse("layout", layout), n)
    if count <= 0:
        raise ShapeError("n = %d rows: not a positive row count" % n)
    return count


def repack_range(w, type: str, layout: str, groups, out) -> np.ndarray:
    """:func:`repack` of row groups ``groups = (g0, g1)`` only (``q4r_repack_range``).

    ``w`` and ``out`` are the whole tensor (``out=w``: in place); only the bytes of groups
    ``[g0, g1)`` are read and written, so disjoint ranges can run on different Python threads at
    once (the GIL is released) and any split gives exactly :func:`repack`'s bytes.
    ``0 <= g0 <= g1 <= row_groups(layout, n)``, else ArgumentError with nothing written.
    """
    return _permute("repack", w, type, layout, out, groups)


def unpack_range(w, type: str, layout: str, groups, out) -> np.ndarray:
    """:func:`unpack` of row groups ``[g0, g1)`` only (``q4r_unpack_range``); as
    :func:`repack_range`."""
    return _permute("unpack", w, type, layout, out, groups)


def gguf_type_info(ggml_type: int) -> tuple[str, str]:
    """(type, layout) of a GGUF tensor type id (``q4r_gguf_type_info``): 2 -> ("q4_0", "none"),
    20 -> ("iq4_nl", "none"), the legacy pre-repacked 31/32/33 -> q4_0 "4x4"/"4x8"/"8x8" and
    36 -> ("iq4_nl", "4x4"). Any other id raises UnsupportedError naming it."""
    lib = _library.lib()
    t, lay = ctypes.c_int(), ctypes.c_int()
    lib.check(lib.q4r_gguf_type_info(ggml_type, ctypes.byref(t), ctypes.byref(lay)))
    return _name("type", t.value), _name("layout", lay.value)


def repack(w, type: str, layout: str, out=None) -> np.ndarray:
    """Interleave plain weight rows into ``layout`` (byte-identical to GGML's repacked blocks).

    Args:
        w: uint8 ``[n, row_bytes]`` plain ``type`` blocks (``q4_0`` or ``iq4_nl``).
        layout: ``"4x4"``, ``"4x8"`` or ``"8x8"``. The last ``n % rows`` rows stay plain.
        out: None (a new array), an array of ``w``'s shape, or ``w`` itself to repack in place
            (scratch of one row group; ``w`` must then be writeable and C-contiguous).

    Returns:
        The repacked tensor (``out``, or ``w`` when in place), same shape and size as ``w``.
        On error nothing was written: ``w`` and ``out`` keep their bytes.
    """
    return _permute("repack", w, type, layout, out)


def unpack(w, type: str, layout: str, out=None) -> np.ndarray:
    """The exact inverse of :func:`repack`: ``layout`` rows back to GGML's plain blocks.

    Same arguments as :func:`repack` (``out is w`` unpacks in place).
    """
    return _permute("unpack", w, type, layout, out)


# ---------------------------------------------------------------- activations and matmul


def quantize_q8_0_rows(x, out=None) -> np.ndarray:
    """Activation rows to plain q8_0 blocks with the active ISA's quantizer (the matmul's own).

    ``x`` float32 ``[m, k]``; returns uint8 ``[m, k/32*34]``. The scalar ISA rounds like GGML's
    reference (ties away from zero); the x86 SIMD quantizers round ties to even (docs/KERNELS.md).
    """
    lib = _library.lib()
    x2, one_row = input_2d(x, np.float32, "x")
    m, k = x2.shape
    rb = row_bytes("q8_0", k)
    y = output_array(out, (rb,) if one_row else (m, rb), np.uint8)
    lib.check(lib.q4r_quantize_q8_0_rows(address(x2), k, m, k, address(y), y.nbytes))
    return y


def quantize_q8_0_x4(x, chunk: int, out=None) -> np.ndarray:
    """Activation rows (``m % 4 == 0``) to 4-row interleaved q8_0 groups (GGML's block_q8_0x4).

    ``chunk`` is 4 or 8 bytes (the layout's :func:`layout_chunk`). Returns uint8
    ``[m/4, k/32*136]``: group ``g`` holds rows ``4g..4g+3``.
    """
    lib = _library.lib()
    x2, _ = input_2d(x, np.float32, "x")
    m, k = x2.shape
    rb = 4 * row_bytes("q8_0", k)
    if m % 4:
        raise ShapeError("x has %d rows, not a multiple of 4 (whole groups)" % m)
    y = output_array(out, (m // 4, rb), np.uint8)
    lib.check(lib.q4r_quantize_q8_0_x4(address(x2), k, m, k, chunk, address(y), y.nbytes))
    return y


def matmul(w, x, type: str, layout: str, threads: int = 0, out=None) -> np.ndarray:
    """``Y = X W^T`` with the active ISA's kernels (``q4r_matmul``).

    Args:
        w: uint8 ``[n, row_bytes]`` weights of ``type`` (``q4_0`` / ``iq4_nl``) in ``layout``
            (as returned by :func:`quantize` and :func:`repack`, or a GGUF tensor's ``.data``).
        x: float32 ``[m, k]`` activations (or one row ``[k]``); quantized to q8_0 on the fly.
        threads: worker threads; 0 (or negative) means all cores.
        out: optional float32 ``[m, n]`` (``[n]`` for a 1-D ``x``) to write into.

    Returns:
        float32 ``[m, n]`` (``[n]`` for a 1-D ``x``). The GIL is released during the call.

    Calling it again and again with the same weights: :func:`q4repack.prepare_matmul` checks
    them once and costs less per call.
    """
    # The common case (C-contiguous 2-D arrays of the right dtypes, names seen before) takes one
    # short path: a matmul streams the weights through the caches, so every Python step after it
    # (and before the next call) runs cold, and each one counts (docs/PYTHON.md, "Overhead").
    # Anything else, and every error message, goes through _matmul_checked.
    fast = _matmul_fast.get((type, layout))
    if (
        fast is not None
        and w.__class__ is _ndarray
        and x.__class__ is _ndarray
        and w.dtype is _U8
        and x.dtype is _F32
        and threads.__class__ is int
    ):
        t, lay, block, call = fast
        w_shape, x_shape = w.shape, x.shape
        if len(w_shape) == 2 and len(x_shape) == 2:
            n, rb = w_shape
            m, k = x_shape
            # Strides equal to the shapes' row sizes: contiguous rows back to back (what the C
            # call reads), checked without building numpy's flags objects.
            if (
                rb % block == 0
                and rb // block * BLOCK_VALUES == k
                and w.strides == (rb, 1)
                and x.strides == (4 * k, 4)
            ):
                if out is None:
                    y = _empty((m, n), _F32)
                elif (
                    out.__class__ is _ndarray
                    and out.dtype is _F32
                    and out.shape == (m, n)
                    and out.strides == (4 * n, 4)
                    and out.flags.writeable
                ):
                    y = out
                else:
                    return _matmul_checked(w, x, type, layout, threads, out)
                status = call(t, lay, _pointer(id(w) + _HEADER).value, n * rb, n, k,
                              _pointer(id(x) + _HEADER).value, m, _pointer(id(y) + _HEADER).value,
                              threads)
                if status:
                    _library.lib().check(status)
                return y
    return _matmul_checked(w, x, type, layout, threads, out)


_U8 = np.dtype(np.uint8)
_F32 = np.dtype(np.float32)
_ndarray = np.ndarray
_empty = np.empty
# _arrays.address inlined (same read; where it is not available the short path is switched off).
_pointer = ctypes.c_void_p.from_address
_HEADER = _HEADER_BYTES
# (type name, layout name) -> (q4r_type, q4r_layout, block bytes, q4r_matmul), filled by the
# checked path once the names have been parsed (and cleared by whoever swaps q4r_matmul: the
# overhead bench).
_matmul_fast = {}


def _matmul_checked(w, x, type, layout, threads, out) -> np.ndarray:
    """matmul with every argument checked and converted as documented."""
    lib = _library.lib()
    t, lay = _parse("type", type), _parse("layout", layout)
    w2 = input_array(w, np.uint8, "w")
    if w2.ndim != 2:
        raise ShapeError("w must be 2-D [rows, row_bytes], not shape %s" % (w2.shape,))
    n, k = w2.shape[0], _k_of(w2.shape[1], type, "w")
    x2, one_row = input_2d(x, np.float32, "x")
    m = x2.shape[0]
    if x2.shape[1] != k:
        raise ShapeError("x has %d columns but w has k = %d values per row" % (x2.shape[1], k))
    y = output_array(out, (n,) if one_row else (m, n), np.float32)
    lib.check(
        lib.q4r_matmul(t, lay, address(w2), w2.nbytes, n, k, address(x2), m, address(y),
                       int(threads))
    )
    if FAST_ADDRESS and type in _BLOCK_BYTES and layout in LAYOUTS:  # canonical names: one entry
        _matmul_fast[(type, layout)] = (t, lay, _BLOCK_BYTES[type], lib.q4r_matmul)
    return y
