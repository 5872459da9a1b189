"""Finding and loading libq4repack.so, and the ctypes prototypes of the C ABI.

Search order (the first that loads wins; see docs/PYTHON.md):

1. ``$Q4REPACK_LIBRARY``: the path of the library file. If set, nothing else is tried.
2. Next to the package: ``q4repack/libq4repack.so.0`` (or ``.so``), as bundled by
   ``pip install ./python`` after a build.
3. Where ``cmake --install`` put the library, when it also installed this package (the
   install component ``python`` writes ``_install_config.py`` with the relative path).
4. The source tree's build folders, for a package imported straight from ``python/``:
   ``build/release``, then ``build``.
5. The system's loader path: ``libq4repack.so.0`` (LD_LIBRARY_PATH, ldconfig cache).

The calls go through ``ctypes.CDLL``, which releases the GIL for the duration of every foreign
call, so other Python threads run while a matmul or repack is in the library.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint32, c_void_p

from . import errors

# The ABI major version this package is written for (SONAME libq4repack.so.<major>), and the
# oldest minor that has every function used here.
ABI_MAJOR = 0
ABI_MIN_MINOR = 2
_SONAME = "libq4repack.so.%d" % ABI_MAJOR

_P = c_void_p  # every buffer is passed as a plain address (numpy's data pointer): no copies

# name: (restype, argtypes). q4r_status and the enums are C ints.
_PROTOTYPES = {
    "q4r_version": (c_uint32, []),
    "q4r_version_string": (c_char_p, []),
    "q4r_strerror": (c_char_p, [c_int]),
    "q4r_last_error": (c_char_p, []),
    "q4r_type_name": (c_char_p, [c_int]),
    "q4r_layout_name": (c_char_p, [c_int]),
    "q4r_isa_name": (c_char_p, [c_int]),
    "q4r_parse_type": (c_int, [c_char_p, POINTER(c_int)]),
    "q4r_parse_layout": (c_int, [c_char_p, POINTER(c_int)]),
    "q4r_parse_isa": (c_int, [c_char_p, POINTER(c_int)]),
    "q4r_layout_rows": (c_int, [c_int]),
    "q4r_layout_chunk": (c_int, [c_int]),
    "q4r_isa_available": (c_int, [c_int]),
    "q4r_best_isa": (c_int, []),
    "q4r_active_isa": (c_int, []),
    "q4r_set_isa": (c_int, [c_int]),
    "q4r_preferred_layout": (c_int, [c_int, c_int]),
    "q4r_cpu_info": (c_int, [c_int, c_char_p, c_size_t, POINTER(c_size_t)]),
    "q4r_isa_kernel_set": (c_int, [c_int, c_char_p, c_size_t, POINTER(c_size_t)]),
    "q4r_row_bytes": (c_int, [c_int, c_int64, POINTER(c_size_t)]),
    "q4r_tensor_bytes": (c_int, [c_int, c_int64, c_int64, POINTER(c_size_t)]),
    "q4r_quantize": (c_int, [c_int, _P, c_int64, c_int64, _P, _P, c_size_t]),
    "q4r_dequantize": (c_int, [c_int, _P, c_size_t, c_int64, c_int64, _P]),
    "q4r_repack": (c_int, [c_int, c_int, _P, _P, c_size_t, c_int64, c_int64]),
    "q4r_repack_inplace": (c_int, [c_int, c_int, _P, c_size_t, c_int64, c_int64]),
    "q4r_unpack": (c_int, [c_int, c_int, _P, _P, c_size_t, c_int64, c_int64]),
    "q4r_unpack_inplace": (c_int, [c_int, c_int, _P, c_size_t, c_int64, c_int64]),
    "q4r_row_groups": (c_int64, [c_int, c_int64]),
    "q4r_repack_range": (c_int, [c_int, c_int, _P, _P, c_size_t] + [c_int64] * 4),
    "q4r_unpack_range": (c_int, [c_int, c_int, _P, _P, c_size_t] + [c_int64] * 4),
    "q4r_repack_inplace_range": (c_int, [c_int, c_int, _P, c_size_t] + [c_int64] * 4),
    "q4r_unpack_inplace_range": (c_int, [c_int, c_int, _P, c_size_t] + [c_int64] * 4),
    "q4r_gguf_type_info": (c_int, [c_uint32, POINTER(c_int), POINTER(c_int)]),
    "q4r_workspace_size": (c_int, [c_int, c_int64, c_int64, c_int64, POINTER(c_size_t)]),
    "q4r_column_step": (c_int64, [c_int]),
    "q4r_row_step": (c_int64, []),
    "q4r_quantize_activations_rows": (
        c_int, [c_int, c_int64, _P, c_size_t, c_int64, c_int64, c_int64, c_int64, _P, c_size_t]),
    "q4r_run": (c_int, [c_int, c_int, _P, c_size_t, c_int64, c_int64, _P, c_size_t, c_int64, _P,
                        c_size_t, c_int64, c_int64]),
    "q4r_quantize_q8_0_rows": (c_int, [_P, c_size_t, c_int64, c_int64, _P, c_size_t]),
    "q4r_quantize_q8_0_x4": (c_int, [_P, c_size_t, c_int64, c_int64, c_int, _P, c_size_t]),
    "q4r_matmul": (c_int, [c_int, c_int, _P, c_size_t, c_int64, c_int64, _P, c_int64, _P, c_int]),
}


class Library:
    """The loaded shared library: ``.path``, ``.cdll`` and one attribute per C function."""

    def __init__(self, path: str, cdll: ctypes.CDLL):
        self.path = path
        self.cdll = cdll
        for name, (restype, argtypes) in _PROTOTYPES.items():
            setattr(self, name, self.function(name, restype, argtypes))

    def function(self, name: str, restype, argtypes):
        """The C function ``name`` with its prototype; a library too old to have it gives a
        stand-in that raises UnsupportedError naming the function (the rest keeps working)."""
        try:
            fn = getattr(self.cdll, name)
        except AttributeError:
            path = self.path

            def missing(*args):
                raise errors.UnsupportedError(
                    "%s has no %s (a library older than this package; rebuild it)" % (path, name),
                    errors.E_UNSUPPORTED,
                )

            return missing
        fn.restype = restype
        fn.argtypes = argtypes
        return fn

    def text(self, name: str, *args) -> str:
        """The text of a C function with the size-query convention of q4repack.h
        (``name(*args, buf, size, &length)``)."""
        fn = getattr(self, name)
        length = c_size_t()
        self.check(fn(*args, None, 0, ctypes.byref(length)))
        buf = ctypes.create_string_buffer(length.value + 1)
        self.check(fn(*args, buf, len(buf), None))
        return buf.value.decode("utf-8", "replace")

    def last_error(self) -> str:
        """q4r_last_error() of this thread, decoded."""
        return (self.q4r_last_error() or b"").decode("utf-8", "replace")

    def check(self, status: int) -> None:
        """Raise the exception of a non-zero q4r_status with q4r_last_error()'s message."""
        if status:
            raise errors.error_for_status(status, self.last_error())


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def candidates() -> list[str]:
    """The library paths tried, in order (without $Q4REPACK_LIBRARY, which replaces them all)."""
    here = _package_dir()
    paths = [os.path.join(here, _SONAME), os.path.join(here, "libq4repack.so")]
    try:
        from . import _install_config  # written by cmake --install (component python)

        paths.append(os.path.normpath(os.path.join(here, _install_config.LIBRARY_RELPATH)))
    except ImportError:
        pass
    source_root = os.path.dirname(os.path.dirname(here))
    for build in ("build/release", "build"):
        paths.append(os.path.join(source_root, build, _SONAME))
    return paths


def _check_version(cdll: ctypes.CDLL, path: str) -> None:
    cdll.q4r_version.restype = c_uint32
    version = cdll.q4r_version()
    major, minor = version >> 16, (version >> 8) & 0xFF
    if major != ABI_MAJOR or minor < ABI_MIN_MINOR:
        raise errors.LibraryNotFoundError(
            "%s is q4repack %d.%d.%d; this package needs %d.x with x >= %d"
            % (path, major, minor, version & 0xFF, ABI_MAJOR, ABI_MIN_MINOR)
        )


def _open(path: str) -> Library:
    cdll = ctypes.CDLL(path)
    _check_version(cdll, path)
    return Library(_resolve(path), cdll)


def _resolve(path: str) -> str:
    """The file a loaded library came from (a bare SONAME is looked up in /proc/self/maps)."""
    if os.sep in path:
        return os.path.realpath(path)
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) == 6 and os.path.basename(fields[5].strip()).startswith(path):
                    return fields[5].strip()
    except OSError:
        pass
    return path


def load() -> Library:
    """Load the library by the search order above; LibraryNotFoundError lists every attempt."""
    explicit = os.environ.get("Q4REPACK_LIBRARY")
    if explicit:
        try:
            return _open(explicit)
        except OSError as e:
            raise errors.LibraryNotFoundError(
                "Q4REPACK_LIBRARY=%s cannot be loaded: %s" % (explicit, e)
            ) from None
    tried = []
    for path in candidates():
        if not os.path.exists(path):
            continue
        try:
            return _open(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    try:
        return _open(_SONAME)
    except OSError as e:
        tried.append("%s from the loader path (%s)" % (_SONAME, e))
    raise errors.LibraryNotFoundError(
        "libq4repack.so not found. Set Q4REPACK_LIBRARY=/path/to/libq4repack.so.%d, or build the "
        "library (scripts/main.sh) before `pip install ./python`. Looked in: %s; tried: %s"
        % (ABI_MAJOR, ", ".join(candidates()), "; ".join(tried))
    )


_lock = threading.Lock()
_loaded: Library | None = None


def lib() -> Library:
    """The library, loaded at the first call (thread-safe)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = load()
    return _loaded
