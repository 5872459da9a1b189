"""GGUF files in pure Python: metadata, and tensors as zero-copy numpy views onto an mmap.

Written from the GGUF specification (versions 2 and 3, little-endian; ggml's docs/gguf.md) and
independent of the library's C reader, so it also knows the legacy pre-repacked tensor types
31/32/33 (``q4_0_4x4``, ``q4_0_4x8``, ``q4_0_8x8``) and 36 (``iq4_nl_4x4``): such a tensor is
reported as type ``"q4_0"`` / ``"iq4_nl"`` with layout ``"4x4"`` / ``"4x8"`` / ``"8x8"``, and its
bytes are exactly the library's layout over all the tensor's rows (``tensor.plain()`` unpacks).

Every malformed file raises :class:`~q4repack.errors.FormatError` naming the byte offset; the
parser never reads outside the file.
"""

from __future__ import annotations

import mmap
import os
import struct

import numpy as np

from .errors import FormatError

__all__ = ["GGUFFile", "GGUFTensor", "write_gguf", "GGML_TYPES", "LEGACY_TYPES"]

_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
_MAX_DIMS = 4
_MAX_NAME_BYTES = 64
_MAX_ARRAY_DEPTH = 8

# GGML tensor types by id: (name, values per block, bytes per block). Ids missing here are
# unknown: such tensors are listed with data None.
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36),
    10: ("q2_K", 256, 84), 11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144),
    13: ("q5_K", 256, 176), 14: ("q6_K", 256, 210), 15: ("q8_K", 256, 292),
    16: ("iq2_xxs", 256, 66), 17: ("iq2_xs", 256, 74), 18: ("iq3_xxs", 256, 98),
    19: ("iq1_s", 256, 50), 20: ("iq4_nl", 32, 18), 21: ("iq3_s", 256, 110),
    22: ("iq2_s", 256, 82), 23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1), 25: ("i16", 1, 2),
    26: ("i32", 1, 4), 27: ("i64", 1, 8), 28: ("f64", 1, 8), 29: ("iq1_m", 256, 56),
    30: ("bf16", 1, 2), 34: ("tq1_0", 256, 54), 35: ("tq2_0", 256, 66), 39: ("mxfp4", 32, 17),
}
# Legacy pre-repacked types (removed from ggml): id -> (file type name, type, layout).
LEGACY_TYPES = {
    31: ("q4_0_4x4", "q4_0", "4x4"),
    32: ("q4_0_4x8", "q4_0", "4x8"),
    33: ("q4_0_8x8", "q4_0", "8x8"),
    36: ("iq4_nl_4x4", "iq4_nl", "4x4"),
}
_TYPE_IDS = {name: i for i, (name, _, _) in GGML_TYPES.items()}
_LEGACY_IDS = {(t, lay): i for i, (_, t, lay) in LEGACY_TYPES.items()}
# numpy dtypes of the element types that have one (bf16 has none: raw uint16).
_ELEMENT_DTYPES = {
    "f32": "<f4", "f16": "<f2", "bf16": "<u2", "f64": "<f8",
    "i8": "i1", "i16": "<i2", "i32": "<i4", "i64": "<i8",
}

# GGUF metadata value types: id -> (name, struct format or None).
_VALUE_TYPES = {
    0: ("u8", "<B"), 1: ("i8", "<b"), 2: ("u16", "<H"), 3: ("i16", "<h"), 4: ("u32", "<I"),
    5: ("i32", "<i"), 6: ("f32", "<f"), 7: ("bool", "<B"), 8: ("str", None), 9: ("arr", None),
    10: ("u64", "<Q"), 11: ("i64", "<q"), 12: ("f64", "<d"),
}
_VALUE_IDS = {name: i for i, (name, _) in _VALUE_TYPES.items()}
_ARRAY_DTYPES = {
    "u8": "<u1", "i8": "<i1", "u16": "<u2", "i16": "<i2", "u32": "<u4", "i32": "<i4",
    "f32": "<f4", "u64": "<u8", "i64": "<i8", "f64": "<f8",
}
_MIN_ELEMENT_BYTES = {"str": 8, "arr": 12}  # a string is >= its length field, an array its head


class GGUFTensor:
    """One tensor of a GGUF file.

    Attributes:
        name: the tensor's name.
        type: its element type by name: ``"q4_0"``, ``"iq4_nl"``, ``"f32"``, ... (a legacy
            pre-repacked tensor gives its base type, ``"q4_0"`` or ``"iq4_nl"``); ``"unknown"``
            for a type id this reader does not know.
        type_id: the number stored in the file (e.g. 2 for q4_0, 33 for legacy q4_0_8x8).
        type_name: the file's own name of that type (``"q4_0_8x8"`` for id 33; ``"type N"`` for
            an unknown id).
        layout: ``"none"`` for plain data; ``"4x4"``, ``"4x8"`` or ``"8x8"`` for legacy types.
        ne: the dimensions in GGUF order (``ne[0]`` = values per row, contiguous).
        shape: the dimensions in numpy order (``tuple(reversed(ne))``): ``(n, k)`` for a matrix,
            ``(experts, n, k)`` for a 3-D expert tensor.
        offset: the data's offset from the start of the data section, as stored.
        file_offset: the data's absolute offset in the file.
        nbytes: bytes of data (None for an unknown type).
        data: a read-only numpy view onto the file's mapping (writeable if the file was opened
            with ``copy_on_write=True``); None for an unknown type. Block types (q4_0, iq4_nl,
            q8_0, K-quants, ...) are uint8 ``shape[:-1] + (row_bytes,)``, so a q4_0 matrix is
            ``[n, row_bytes]`` as :func:`q4repack.matmul` takes it; f32/f16/f64/i8..i64 have their
            numpy dtype and ``shape``; bf16 is uint16.
    """

    __slots__ = (
        "name", "type", "type_id", "type_name", "layout", "ne", "shape", "offset",
        "file_offset", "nbytes", "data",
    )

    def __repr__(self) -> str:
        lay = "" if self.layout == "none" else " layout=%s" % self.layout
        return "GGUFTensor(%r, %s%s, shape=%s)" % (self.name, self.type, lay, self.shape)

    @property
    def rows(self) -> int:
        """Rows of ``ne[0]`` values: the product of every dimension above ``ne[0]``."""
        r = 1
        for d in self.ne[1:]:
            r *= d
        return r

    @property
    def k(self) -> int:
        """Values per row (``ne[0]``)."""
        return self.ne[0]

    def plain(self) -> np.ndarray:
        """The data as plain GGML blocks: ``.data`` itself, or for a legacy pre-repacked tensor a
        new array unpacked with the library (the legacy layout spans all rows of the tensor)."""
        if self.layout == "none":
            return self.data
        from .core import unpack

        flat = self.data.reshape(self.rows, -1)
        return unpack(flat, self.type, self.layout).reshape(self.data.shape)

    def dequantize(self) -> np.ndarray:
        """The values as float32, numpy ``shape``: q4_0 / iq4_nl / q8_0 through the library
        (legacy layouts unpacked first), f16 / bf16 / f32 converted; other types raise
        UnsupportedError."""
        from .core import dequantize
        from .errors import UnsupportedError

        if self.type in ("q4_0", "iq4_nl", "q8_0"):
            flat = self.data.reshape(self.rows, -1)
            return dequantize(flat, self.type, self.layout).reshape(self.shape)
        if self.type in ("f32", "f16"):
            return self.data.astype(np.float32)
        if self.type == "bf16":
            return (self.data.astype(np.uint32) << 16).view(np.float32)
        raise UnsupportedError("tensor %r: cannot dequantize type %s" % (self.name, self.type))


class _Reader:
    """Bounds-checked little-endian reads from a buffer; errors name the byte offset."""

    def __init__(self, buf, path: str):
        self.buf = buf
        self.size = len(buf)
        self.pos = 0
        self.path = path

    def fail(self, at: int, message: str):
        raise FormatError("gguf: %s: %s at byte %d" % (os.path.basename(self.path), message, at))

    def need(self, n: int, what: str) -> int:
        at = self.pos
        if n > self.size - at:
            left = self.size - at
            self.fail(at, "%s needs %d bytes but the file ends after %d" % (what, n, left))
        self.pos = at + n
        return at

    def scalar(self, fmt: str, what: str):
        at = self.need(struct.calcsize(fmt), what)
        return struct.unpack_from(fmt, self.buf, at)[0]

    def string_bytes(self, what: str) -> bytes:
        at = self.pos
        n = self.scalar("<Q", what + " length")
        if n > self.size - self.pos:
            left = self.size - self.pos
            self.fail(at, "%s has length %d but only %d bytes follow" % (what, n, left))
        start = self.need(n, what)
        return bytes(self.buf[start : start + n])

    def string(self, what: str) -> str:
        return self.string_bytes(what).decode("utf-8", "surrogateescape")

    def value(self, type_id: int, what: str, depth: int = 0):
        """One metadata value of type ``type_id``; returns (value, type name)."""
        at = self.pos
        if type_id not in _VALUE_TYPES:
            self.fail(at, "%s: value type %d is not a GGUF type (0..12)" % (what, type_id))
        name, fmt = _VALUE_TYPES[type_id]
        if name == "str":
            return self.string(what), name
        if name == "arr":
            return self.array(what, depth + 1)
        v = self.scalar(fmt, what)
        if name == "bool":
            if v > 1:
                self.fail(at, "%s: bool value %d is not 0 or 1" % (what, v))
            v = bool(v)
        return v, name

    def array(self, what: str, depth: int):
        at = self.pos
        if depth > _MAX_ARRAY_DEPTH:
            self.fail(at, "%s: arrays nested deeper than %d levels" % (what, _MAX_ARRAY_DEPTH))
        elem_id = self.scalar("<I", what + " element type")
        if elem_id not in _VALUE_TYPES:
            self.fail(at, "%s: array element type %d is not a GGUF type (0..12)" % (what, elem_id))
        elem, fmt = _VALUE_TYPES[elem_id]
        count = self.scalar("<Q", what + " count")
        per = _MIN_ELEMENT_BYTES.get(elem) or struct.calcsize(fmt)
        left = self.size - self.pos
        if count > left // per:
            self.fail(at, "%s: array of %d %s elements needs at least %d bytes per element but "
                      "only %d bytes follow" % (what, count, elem, per, left))
        if elem in _ARRAY_DTYPES or elem == "bool":
            start = self.need(count * per, what)
            raw = np.frombuffer(self.buf, _ARRAY_DTYPES.get(elem, "<u1"), count, start).copy()
            if elem == "bool":
                if count and raw.max() > 1:
                    bad = start + int(np.argmax(raw > 1))
                    self.fail(bad, "%s: bool array element is not 0 or 1" % what)
                raw = raw.astype(bool)
            return raw, "arr[%s]" % elem
        # Strings give a list; arrays of arrays a list of arrays whose element types may differ
        # from one to the next, so their type is just "arr[arr]" (write_gguf infers the inner ones).
        items = [self.value(elem_id, "%s[%d]" % (what, i), depth)[0] for i in range(count)]
        return items, "arr[%s]" % elem


class GGUFFile:
    """A GGUF file (versions 2 and 3), memory-mapped.

    ``GGUFFile(path)`` parses the header, metadata and tensor infos and maps the file; tensor
    ``.data`` arrays are views onto the mapping (no copy, pages read on first touch).

    Attributes:
        path: the file name.
        version: the GGUF version (2 or 3).
        metadata: dict of key -> value, in file order: int, float, bool or str scalars; numeric
            and bool arrays as numpy arrays (copies), string and nested arrays as lists.
        metadata_types: dict of key -> GGUF type name (``"u32"``, ``"str"``, ``"arr[f32]"``,
            ``"arr[arr]"`` for arrays of arrays, ...), what :func:`write_gguf` needs to write the
            same bytes back.
        alignment: the data alignment (``general.alignment``, default 32).
        data_offset: where the data section starts.
        tensors: list of :class:`GGUFTensor` in file order.

    Use it as a context manager (``with GGUFFile(p) as f:``) or call :meth:`close`. Views taken
    from ``.data`` stay valid after close: the mapping is released when the last one is gone.
    ``copy_on_write=True`` maps the file privately and writeable, so tensors can be repacked in
    place (``q4repack.repack(t.data, t.type, "8x8", out=t.data)``) without changing the file.
    """

    def __init__(self, path, copy_on_write: bool = False):
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise FormatError("gguf: %s: empty file" % os.path.basename(self.path))
            access = mmap.ACCESS_COPY if copy_on_write else mmap.ACCESS_READ
            self._map = mmap.mmap(f.fileno(), 0, access=access)
        try:
            self._parse(self._map)
        except BaseException:
            self.close()
            raise

    def _parse(self, buf) -> None:
        r = _Reader(buf, self.path)
        magic = bytes(buf[r.need(4, "magic") : 4])
        if magic != _MAGIC:
            r.fail(0, "not a GGUF file (magic %r)" % magic)
        self.version = r.scalar("<I", "version")
        if self.version not in (2, 3):
            if self.version in (2 << 24, 3 << 24):
                r.fail(4, "big-endian GGUF files are not supported")
            r.fail(4, "GGUF version %d is not supported (2 and 3 are)" % self.version)
        n_tensors = r.scalar("<Q", "tensor count")
        n_kv = r.scalar("<Q", "metadata count")
        if n_kv > (r.size - r.pos) // 13:
            r.fail(16, "%d metadata pairs cannot fit in the %d bytes left" % (n_kv, r.size - r.pos))
        self.metadata, self.metadata_types = {}, {}
        for i in range(n_kv):
            at = r.pos
            key = r.string("key of metadata pair %d" % i)
            if not key:
                r.fail(at, "metadata pair %d has an empty key" % i)
            if key in self.metadata:
                r.fail(at, "duplicate metadata key %r" % key)
            value, type_name = r.value(r.scalar("<I", "type of %r" % key), repr(key))
            self.metadata[key], self.metadata_types[key] = value, type_name
        self.alignment = self._alignment(r)
        if n_tensors > (r.size - r.pos) // 32:
            left = r.size - r.pos
            r.fail(r.pos, "%d tensor infos cannot fit in the %d bytes left" % (n_tensors, left))
        infos = [self._tensor_info(r, i) for i in range(n_tensors)]
        names = set()
        for t, at in infos:
            if t.name in names:
                r.fail(at, "duplicate tensor name %r" % t.name)
            names.add(t.name)
        self.data_offset = -(-r.pos // self.alignment) * self.alignment
        self.tensors = [t for t, _ in infos]
        self._place(r, buf)

    def _alignment(self, r: _Reader) -> int:
        if "general.alignment" not in self.metadata:
            return _DEFAULT_ALIGNMENT
        a, t = self.metadata["general.alignment"], self.metadata_types["general.alignment"]
        if t != "u32" or a == 0 or a & (a - 1):
            r.fail(r.pos, "general.alignment must be a u32 power of two, not %s %r" % (t, a))
        return a

    def _tensor_info(self, r: _Reader, i: int):
        at = r.pos
        raw = r.string_bytes("name of tensor %d" % i)
        if not raw or len(raw) > _MAX_NAME_BYTES:
            limit = _MAX_NAME_BYTES
            r.fail(at, "tensor %d: name of %d bytes (1..%d allowed)" % (i, len(raw), limit))
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            r.fail(at, "tensor %d: name is not UTF-8" % i)
        n_dims = r.scalar("<I", "dimension count of %r" % name)
        if not 1 <= n_dims <= _MAX_DIMS:
            limit = _MAX_DIMS
            r.fail(r.pos - 4, "tensor %r: %d dimensions (1..%d allowed)" % (name, n_dims, limit))
        ne = tuple(r.scalar("<q", "dimension of %r" % name) for _ in range(n_dims))
        count = 1
        for d in ne:
            if d < 0:
                r.fail(at, "tensor %r: negative dimension in %s" % (name, list(ne)))
            count *= d
        if count >= 1 << 62:
            r.fail(at, "tensor %r: %s elements overflow" % (name, list(ne)))
        t = GGUFTensor()
        t.name, t.ne, t.shape = name, ne, tuple(reversed(ne))
        t.type_id = r.scalar("<I", "type of %r" % name)
        t.offset = r.scalar("<Q", "offset of %r" % name)
        t.layout, t.data, t.nbytes = "none", None, None
        if t.type_id in LEGACY_TYPES:
            t.type_name, t.type, t.layout = LEGACY_TYPES[t.type_id]
            block = GGML_TYPES[_TYPE_IDS[t.type]]
        elif t.type_id in GGML_TYPES:
            block = GGML_TYPES[t.type_id]
            t.type = t.type_name = block[0]
        else:
            t.type, t.type_name, block = "unknown", "type %d" % t.type_id, None
        if block:
            _, values, size = block
            if ne[0] % values:
                r.fail(at, "tensor %r: ne[0] = %d is not a multiple of %s's block of %d"
                       % (name, ne[0], t.type_name, values))
            t.nbytes = count // values * size
        if t.offset % self.alignment:
            r.fail(at, "tensor %r: offset %d is not a multiple of the alignment %d"
                   % (name, t.offset, self.alignment))
        return t, at

    def _place(self, r: _Reader, buf) -> None:
        data_size = r.size - self.data_offset
        end_of, last = 0, None
        for t in sorted((t for t in self.tensors if t.nbytes is not None), key=lambda t: t.offset):
            t.file_offset = self.data_offset + t.offset
            if t.nbytes and t.offset + t.nbytes > data_size:
                r.fail(t.file_offset, "tensor %r: %d bytes at data offset %d run past the end of "
                       "the file" % (t.name, t.nbytes, t.offset))
            if t.nbytes and last is not None and t.offset < end_of:
                r.fail(t.file_offset, "tensor %r overlaps tensor %r" % (t.name, last))
            if t.nbytes:
                end_of, last = t.offset + t.nbytes, t.name
            t.data = self._view(t, buf)
        for t in self.tensors:
            if t.nbytes is None:
                t.file_offset = self.data_offset + t.offset

    @staticmethod
    def _view(t: GGUFTensor, buf) -> np.ndarray:
        dtype = _ELEMENT_DTYPES.get(t.type)
        if dtype:
            arr = np.frombuffer(buf, dtype, t.nbytes // np.dtype(dtype).itemsize, t.file_offset)
            return arr.reshape(t.shape)
        rows = t.shape[:-1]
        row_bytes = t.nbytes // max(1, int(np.prod(rows, dtype=np.int64))) if t.nbytes else 0
        arr = np.frombuffer(buf, np.uint8, t.nbytes, t.file_offset)
        return arr.reshape(rows + (row_bytes,))

    def tensor(self, name: str) -> GGUFTensor:
        """The tensor called ``name`` (KeyError if there is none)."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def close(self) -> None:
        """Drop the mapping. Arrays already taken from ``.data`` keep it alive until they go."""
        m, self._map = getattr(self, "_map", None), None
        if m is not None:
            try:
                m.close()
            except BufferError:
                pass  # views exist: the mmap object is closed when the last one is collected

    def __enter__(self) -> "GGUFFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return "GGUFFile(%r, version=%d, %d keys, %d tensors)" % (
            self.path, self.version, len(self.metadata), len(self.tensors))


# ---------------------------------------------------------------- writing


def _infer_type(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        ranges = (("u32", 0, 1 << 32), ("i32", -(1 << 31), 1 << 31), ("u64", 0, 1 << 64))
        for name, lo, hi in ranges:
            if lo <= value < hi:
                return name
        return "i64"
    if isinstance(value, (float, np.floating)):
        return "f32"
    if isinstance(value, str):
        return "str"
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return "arr[bool]"
        for name, dt in _ARRAY_DTYPES.items():
            if np.dtype(dt).newbyteorder("=") == value.dtype.newbyteorder("="):
                return "arr[%s]" % name
        raise TypeError("no GGUF array type for dtype %s" % value.dtype)
    if isinstance(value, (list, tuple)):  # strings, or arrays (an empty list: strings)
        nested = any(isinstance(v, (list, tuple, np.ndarray)) for v in value)
        return "arr[arr]" if nested else "arr[%s]" % (_infer_type(value[0]) if value else "str")
    raise TypeError("no GGUF type for %r" % (value,))


def _encode(type_name: str, value, out: list) -> None:
    if type_name.startswith("arr["):
        elem = type_name[4:-1]
        head = elem.split("[", 1)[0]
        out.append(struct.pack("<IQ", _VALUE_IDS[head], len(value)))
        if elem in _ARRAY_DTYPES or elem == "bool":
            out.append(np.asarray(value, _ARRAY_DTYPES.get(elem, "<u1")).tobytes())
        else:
            for v in value:
                _encode(_infer_type(v) if elem == "arr" else elem, v, out)
    elif type_name == "str":
        raw = value.encode("utf-8", "surrogateescape")
        out.append(struct.pack("<Q", len(raw)) + raw)
    else:
        out.append(struct.pack(_VALUE_TYPES[_VALUE_IDS[type_name]][1], value))


def write_gguf(path, metadata: dict, tensors, metadata_types: dict | None = None, version: int = 3):
    """Write a GGUF file the way ggml's writer lays it out (so a parsed file writes back
    byte for byte).

    Args:
        path: the output file.
        metadata: key -> value, written in order; ``general.alignment`` sets the alignment.
        tensors: :class:`GGUFTensor` objects or ``(name, type, ne, data)`` tuples: ``type`` a
            GGML type name, a legacy name (``"q4_0_8x8"``) or a ``(type, layout)`` pair, or a type
            id; ``ne`` in GGUF order; ``data`` anything with the tensor's bytes.
        metadata_types: key -> GGUF type name for values whose type cannot be inferred exactly
            (defaults: bool, u32/i32/u64/i64 by range, f32, str, arrays by dtype).
        version: 2 or 3.
    """
    types = dict(metadata_types or {})
    out = [struct.pack("<4sIQQ", _MAGIC, version, len(tensors), len(metadata))]
    for key, value in metadata.items():
        t = types.get(key) or _infer_type(value)
        _encode("str", key, out)
        out.append(struct.pack("<I", _VALUE_IDS[t.split("[", 1)[0]]))
        _encode(t, value, out)
    alignment = int(metadata.get("general.alignment", _DEFAULT_ALIGNMENT))
    blobs, offset = [], 0
    for t in tensors:
        if isinstance(t, GGUFTensor):
            name, type_id, ne, data = t.name, t.type_id, t.ne, t.data
        else:
            name, type_id, ne, data = t
            if isinstance(type_id, tuple):
                plain = type_id[1] in ("none", "plain")
                type_id = _TYPE_IDS[type_id[0]] if plain else _LEGACY_IDS[type_id]
            elif isinstance(type_id, str):
                legacy = {v[0]: k for k, v in LEGACY_TYPES.items()}
                type_id = legacy[type_id] if type_id in legacy else _TYPE_IDS[type_id]
        if data is None:
            raise ValueError("tensor %r has no data (a type this module does not know)" % name)
        raw = memoryview(np.ascontiguousarray(data)).cast("B")
        _encode("str", name, out)
        out.append(struct.pack("<I", len(ne)) + struct.pack("<%dq" % len(ne), *ne))
        out.append(struct.pack("<IQ", type_id, offset))
        blobs.append(raw)
        offset += -(-len(raw) // alignment) * alignment
    header = b"".join(out)
    with open(path, "wb") as f:
        f.write(header)
        f.write(bytes(-len(header) % alignment))
        for raw in blobs:
            f.write(raw)
            f.write(bytes(-len(raw) % alignment))
