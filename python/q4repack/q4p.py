"""``.q4p`` packed-weights files (include/q4repack/q4p.h, docs/FILES.md): a GGUF file's Q4_0 /
IQ4_NL matrices already repacked, with checksums tying them to their source GGUF.

>>> pack_q4p("model.gguf", "model.q4p")                 # layout "auto": the CPU's preferred
>>> with Q4PFile("model.q4p") as f:
...     f.check_source("model.gguf")
...     t = f.tensor("blk.0.attn_q.weight")
...     y = q4repack.matmul(t.data, x, t.type, t.layout)
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from . import _library
from ._arrays import address, input_array
from .core import _name, _parse
from .errors import ArgumentError

VERIFY = 1  # Q4R_Q4P_VERIFY
REQUIRE_ISA = 2  # Q4R_Q4P_REQUIRE_ISA


class _TensorStruct(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("type", ctypes.c_int),
        ("layout", ctypes.c_int),
        ("required_isa", ctypes.c_int),
        ("target_isa", ctypes.c_int),
        ("n_dims", ctypes.c_int),
        ("ne", ctypes.c_int64 * 4),
        ("rows", ctypes.c_int64),
        ("k", ctypes.c_int64),
        ("matrices", ctypes.c_int64),
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
        ("matrix_bytes", ctypes.c_size_t),
        ("packed_checksum", ctypes.c_uint64),
        ("source_checksum", ctypes.c_uint64),
        ("source_offset", ctypes.c_uint64),
    ]


_P = ctypes.c_void_p
_PROTOTYPES = {
    "q4r_q4p_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(_P)]),
    "q4r_q4p_open_buffer": (ctypes.c_int, [_P, ctypes.c_size_t, ctypes.c_uint, ctypes.POINTER(_P)]),
    "q4r_q4p_close": (None, [_P]),
    "q4r_q4p_tensor_count": (ctypes.c_size_t, [_P]),
    "q4r_q4p_get_tensor": (ctypes.c_int, [_P, ctypes.c_size_t, ctypes.POINTER(_TensorStruct)]),
    "q4r_q4p_check_source": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_uint]),
    "q4r_q4p_pack": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]),
    "q4r_checksum64": (ctypes.c_uint64, [_P, ctypes.c_size_t]),
}
_functions = {}


def _fn(name):
    fn = _functions.get(name)
    if fn is None:
        fn = _functions[name] = _library.lib().function(name, *_PROTOTYPES[name])
    return fn


def _path(path) -> bytes:
    return os.fsencode(os.fspath(path))


class _Mapping:
    """Owns an open q4r_q4p handle (the library's mapping of the file). Tensor arrays keep it
    alive through their base, so the mapping is closed when the file is closed AND no array
    taken from it is left."""

    def __init__(self, handle, buffer=None):
        self.handle = handle
        self.buffer = buffer  # the caller's bytes for q4r_q4p_open_buffer: alive until closed

    def __del__(self):
        handle, self.handle = self.handle, None
        if handle:
            try:
                _fn("q4r_q4p_close")(handle)
            except Exception:
                pass


class _View:
    """A read-only numpy view of bytes inside the mapping (``np.asarray`` of it)."""

    def __init__(self, mapping: _Mapping, address: int, shape: tuple):
        self._mapping = mapping
        self.__array_interface__ = {"shape": shape, "typestr": "|u1", "data": (address, True),
                                    "version": 3}


class Q4PTensor:
    """One packed tensor of a .q4p file.

    Attributes: ``name``; ``type`` and ``layout`` (names); ``required_isa`` (``"scalar"``: runs
    anywhere) and ``target_isa`` (the ISA the layout was chosen for); ``shape`` in numpy order,
    ``(rows, k)`` or ``(matrices, rows, k)``; ``ne`` (GGML order); ``rows``, ``k``,
    ``matrices``; ``data``: a read-only uint8 view onto the file, ``[rows, row_bytes]`` or
    ``[matrices, rows, row_bytes]`` (each matrix packed on its own), valid as long as it is
    referenced; ``nbytes``, ``matrix_bytes``, ``packed_checksum``, ``source_checksum``,
    ``source_offset`` (of the tensor's data in the source GGUF).
    """

    def __init__(self, s: _TensorStruct, mapping: _Mapping):
        self.name = s.name.decode("utf-8", "replace")
        self.type = _name("type", s.type)
        self.layout = _name("layout", s.layout)
        self.required_isa = _name("isa", s.required_isa)
        self.target_isa = _name("isa", s.target_isa)
        self.ne = tuple(s.ne[: s.n_dims])
        self.rows, self.k, self.matrices = s.rows, s.k, s.matrices
        self.shape = (s.rows, s.k) if s.n_dims == 2 else (s.matrices, s.rows, s.k)
        self.nbytes, self.matrix_bytes = s.size, s.matrix_bytes
        self.packed_checksum, self.source_checksum = s.packed_checksum, s.source_checksum
        self.source_offset = s.source_offset
        row_bytes = s.matrix_bytes // s.rows
        view = (s.rows, row_bytes) if s.n_dims == 2 else (s.matrices, s.rows, row_bytes)
        self.data = np.asarray(_View(mapping, s.data, view))

    def __repr__(self) -> str:
        return "Q4PTensor(%r, %s %s, shape=%s)" % (self.name, self.type, self.layout, self.shape)


class Q4PFile:
    """An open .q4p file (``q4r_q4p_open``): mapped, its structure and checksums checked, and
    every tensor's required ISA available on this CPU.

    Args:
        path: the file.
        verify: also verify every tensor's data checksum (reads all the data).

    Raises FileIOError (an OSError) if it cannot be read, FormatError if malformed, MismatchError
    for a checksum that does not match, ISAError if a tensor needs an ISA this CPU lacks.
    Use as a context manager or call :meth:`close`; arrays taken from ``.data`` stay valid.
    """

    def __init__(self, path, verify: bool = False, _buffer=None):
        handle = _P()
        flags = VERIFY if verify else 0
        if _buffer is None:
            self.path = os.fspath(path)
            _library.lib().check(_fn("q4r_q4p_open")(_path(path), flags, ctypes.byref(handle)))
        else:
            self.path = "<buffer>"
            _library.lib().check(_fn("q4r_q4p_open_buffer")(
                address(_buffer) if _buffer.nbytes else None, _buffer.nbytes, flags,
                ctypes.byref(handle)))
        self._mapping = _Mapping(handle, _buffer)
        count = _fn("q4r_q4p_tensor_count")(handle)
        self.tensors = []
        for i in range(count):
            s = _TensorStruct()
            _library.lib().check(_fn("q4r_q4p_get_tensor")(handle, i, ctypes.byref(s)))
            self.tensors.append(Q4PTensor(s, self._mapping))
        self._by_name = {t.name: t for t in self.tensors}

    @classmethod
    def from_buffer(cls, data, verify: bool = False) -> "Q4PFile":
        """A .q4p file's bytes already in memory (``q4r_q4p_open_buffer``): bytes, bytearray,
        mmap or a 1-D uint8 array, used in place (no copy). The tensors' ``.data`` are views
        into it; change it only when no file object or array refers to it."""
        arr = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data
        arr = input_array(arr, np.uint8, "data")
        if arr.ndim != 1:
            arr = arr.reshape(-1)
        return cls(None, verify, _buffer=arr)

    def tensor(self, name: str) -> Q4PTensor:
        """The tensor called ``name`` (ArgumentError naming it if there is none)."""
        t = self._by_name.get(name)
        if t is None:
            raise ArgumentError("%s has no tensor %r" % (self.path, name))
        return t

    def check_source(self, gguf_path, verify: bool = False) -> None:
        """Check that ``gguf_path`` is the GGUF this file was packed from
        (``q4r_q4p_check_source``): size, metadata checksum, every tensor's type, shape and offset; with ``verify`` also every
        source tensor's bytes. MismatchError names the first difference."""
        if self._mapping is None:
            raise ArgumentError("the .q4p file is closed")
        _library.lib().check(
            _fn("q4r_q4p_check_source")(self._mapping.handle, _path(gguf_path),
                                        VERIFY if verify else 0)
        )

    def close(self) -> None:
        """Release the file (the mapping goes when no tensor array refers to it). Idempotent."""
        self._mapping = None

    def __enter__(self) -> "Q4PFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Q4PFile(%r, %d tensors)" % (self.path, len(self.tensors))


def pack_q4p(gguf_path, out_path, layout: str = "auto", require_isa: bool = False) -> None:
    """Pack every repackable Q4_0 / IQ4_NL tensor (2-D and 3-D) of a GGUF file into a .q4p file
    (``q4r_q4p_pack``; the tool's ``q4repack pack``).

    Args:
        layout: ``"4x4"``, ``"4x8"``, ``"8x8"`` for all tensors, or ``"auto"``: the active ISA's
            preferred layout per type.
        require_isa: record the active ISA as required (opening then fails on CPUs without it).

    The file is written to a temporary name and renamed: on error ``out_path`` is as it was.
    """
    lay = 0 if layout == "auto" else _parse("layout", layout)
    if layout != "auto" and lay == 0:
        raise ArgumentError("layout must be 4x4, 4x8, 8x8 or auto, not %r" % layout)
    _library.lib().check(
        _fn("q4r_q4p_pack")(_path(gguf_path), _path(out_path), lay,
                            REQUIRE_ISA if require_isa else 0)
    )


def checksum64(data) -> int:
    """The 64-bit checksum .q4p files use (``q4r_checksum64``) of a bytes-like object or array
    (its bytes in memory order; a non-contiguous array is copied first)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = np.frombuffer(data, np.uint8)
    arr = np.asarray(data)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return _fn("q4r_checksum64")(address(arr) if arr.nbytes else None, arr.nbytes)


__all__ = ["Q4PFile", "Q4PTensor", "pack_q4p", "checksum64"]
