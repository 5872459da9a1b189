"""Exceptions: one class per q4r_status, carrying the library's message.

Every failed call raises a subclass of :class:`Q4RError`. The classes also derive from the
matching built-in exception, so ordinary ``except ValueError`` / ``except OSError`` handlers work:

============================  ======================  =====================================
status                        class                   also a
============================  ======================  =====================================
``Q4R_E_NULL``                :class:`NullPointerError`  ``ValueError``
``Q4R_E_ARGUMENT``            :class:`ArgumentError`  ``ValueError``
``Q4R_E_SIZE``                :class:`SizeError`      ``ValueError``
``Q4R_E_SHAPE``               :class:`ShapeError`     ``ValueError``
``Q4R_E_ALIGNMENT``           :class:`AlignmentError` ``ValueError``
``Q4R_E_OVERLAP``             :class:`OverlapError`   ``ValueError``
``Q4R_E_VALUE``               :class:`NonFiniteError` ``ValueError``
``Q4R_E_UNSUPPORTED``         :class:`UnsupportedError`  ``NotImplementedError``
``Q4R_E_ISA``                 :class:`ISAError`       ``RuntimeError``
``Q4R_E_NOMEM``               :class:`OutOfMemoryError`  ``MemoryError``
``Q4R_E_IO``                  :class:`FileIOError`    ``OSError``
``Q4R_E_FORMAT``              :class:`FormatError`    (only :class:`Q4RError`)
``Q4R_E_MISMATCH``            :class:`MismatchError`  :class:`FormatError`
============================  ======================  =====================================

Checks done in Python before the C call (dtype, dimensions, writability) raise the same classes
with the status the library would have given, so one ``except`` covers both.
"""

from __future__ import annotations

__all__ = [
    "Q4RError",
    "ArgumentError",
    "NullPointerError",
    "SizeError",
    "ShapeError",
    "AlignmentError",
    "OverlapError",
    "NonFiniteError",
    "UnsupportedError",
    "ISAError",
    "OutOfMemoryError",
    "FileIOError",
    "FormatError",
    "MismatchError",
    "LibraryNotFoundError",
    "error_for_status",
]

# q4r_status values (include/q4repack/q4repack.h).
OK = 0
E_NULL = 1
E_ARGUMENT = 2
E_SIZE = 3
E_SHAPE = 4
E_ALIGNMENT = 5
E_UNSUPPORTED = 6
E_ISA = 7
E_NOMEM = 8
E_IO = 9
E_FORMAT = 10
E_OVERLAP = 11
E_VALUE = 12
E_MISMATCH = 13

STATUS_NAMES = {
    OK: "Q4R_OK",
    E_NULL: "Q4R_E_NULL",
    E_ARGUMENT: "Q4R_E_ARGUMENT",
    E_SIZE: "Q4R_E_SIZE",
    E_SHAPE: "Q4R_E_SHAPE",
    E_ALIGNMENT: "Q4R_E_ALIGNMENT",
    E_UNSUPPORTED: "Q4R_E_UNSUPPORTED",
    E_ISA: "Q4R_E_ISA",
    E_NOMEM: "Q4R_E_NOMEM",
    E_IO: "Q4R_E_IO",
    E_FORMAT: "Q4R_E_FORMAT",
    E_OVERLAP: "Q4R_E_OVERLAP",
    E_VALUE: "Q4R_E_VALUE",
    E_MISMATCH: "Q4R_E_MISMATCH",
}


class Q4RError(Exception):
    """Base class of every q4repack error.

    Attributes:
        status: the ``q4r_status`` number (0 for errors found only in Python, e.g. a missing
            library).
        status_name: its C name, e.g. ``"Q4R_E_SHAPE"``.
        message: the one-line message (``q4r_last_error()`` for errors from the library).
    """

    status = 0

    def __init__(self, message: str, status: int | None = None):
        if status is not None:
            self.status = status
        self.message = message
        super().__init__(message)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, "status %d" % self.status)

    def __str__(self) -> str:
        return self.message

    # OSError's own constructor takes (errno, strerror, ...): keep ours for FileIOError too.
    def __reduce__(self):
        return (type(self), (self.message, self.status))


class ArgumentError(Q4RError, ValueError):
    """An enum, name, count or option is out of range (``Q4R_E_ARGUMENT``)."""

    status = E_ARGUMENT


class NullPointerError(ArgumentError):
    """A required buffer is missing (``Q4R_E_NULL``)."""

    status = E_NULL


class SizeError(ArgumentError):
    """A buffer's size does not match the shape (``Q4R_E_SIZE``)."""

    status = E_SIZE


class ShapeError(ArgumentError):
    """k is not a positive multiple of 32, a dimension is not positive, or an array has the
    wrong number of dimensions (``Q4R_E_SHAPE``)."""

    status = E_SHAPE


class AlignmentError(ArgumentError):
    """A float buffer is not 4-byte aligned (``Q4R_E_ALIGNMENT``)."""

    status = E_ALIGNMENT


class OverlapError(ArgumentError):
    """An output shares memory with an input (``Q4R_E_OVERLAP``)."""

    status = E_OVERLAP


class NonFiniteError(ArgumentError):
    """An input value is NaN or infinite (``Q4R_E_VALUE``)."""

    status = E_VALUE


class UnsupportedError(Q4RError, NotImplementedError):
    """A valid combination this build cannot do (``Q4R_E_UNSUPPORTED``)."""

    status = E_UNSUPPORTED


class ISAError(Q4RError, RuntimeError):
    """The instruction set asked for is not available on this CPU (``Q4R_E_ISA``)."""

    status = E_ISA


class OutOfMemoryError(Q4RError, MemoryError):
    """An allocation failed (``Q4R_E_NOMEM``)."""

    status = E_NOMEM


class FileIOError(Q4RError, OSError):
    """A file could not be read or written (``Q4R_E_IO``)."""

    status = E_IO

    def __init__(self, message: str, status: int | None = None):
        Q4RError.__init__(self, message, status)


class FormatError(Q4RError):
    """A file or buffer is malformed (``Q4R_E_FORMAT``); GGUF parse errors name the byte offset."""

    status = E_FORMAT


class MismatchError(FormatError):
    """Data does not match what it claims: a checksum or its source (``Q4R_E_MISMATCH``)."""

    status = E_MISMATCH


class LibraryNotFoundError(Q4RError, OSError):
    """libq4repack.so could not be loaded (the message lists every place tried)."""

    def __init__(self, message: str, status: int | None = None):
        Q4RError.__init__(self, message, status)


_CLASSES = {
    E_NULL: NullPointerError,
    E_ARGUMENT: ArgumentError,
    E_SIZE: SizeError,
    E_SHAPE: ShapeError,
    E_ALIGNMENT: AlignmentError,
    E_UNSUPPORTED: UnsupportedError,
    E_ISA: ISAError,
    E_NOMEM: OutOfMemoryError,
    E_IO: FileIOError,
    E_FORMAT: FormatError,
    E_OVERLAP: OverlapError,
    E_VALUE: NonFiniteError,
    E_MISMATCH: MismatchError,
}


def error_for_status(status: int, message: str) -> Q4RError:
    """The exception for a non-zero ``q4r_status`` (an unknown number gives a plain Q4RError)."""
    cls = _CLASSES.get(status, Q4RError)
    return cls(message or STATUS_NAMES.get(status, "status %d" % status), status)
