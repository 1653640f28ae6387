"""Exceptions raised by the ocidir binding, one class per library error code.

Every failing library call raises a subclass of :class:`Error` carrying the
code (``OCIDIR_E_*``), the library's message for the calling thread (naming
the digest, path or OS error behind it) and the errno behind it (0 when there
is none).  Where Python has a built-in exception of the same meaning, the
subclass also derives from it, so that idiomatic ``except`` clauses work::

    try:
        data = layout.read(digest)
    except KeyError:            # ocidir.NotFound
        ...
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "Error", "InvalidArgument", "IOFailure", "NotFound", "DigestMismatch",
    "SizeMismatch", "BadDigest", "FormatError", "EscapeError", "AlreadyExists",
    "OutOfMemory", "Unsupported", "ReadOnlyError", "StateError", "TooLarge",
    "Ambiguous", "Canceled", "NotDurable",
    "OK", "E_INVALID", "E_IO", "E_NOT_FOUND", "E_DIGEST", "E_SIZE", "E_BAD_DIGEST",
    "E_FORMAT", "E_ESCAPE", "E_EXISTS", "E_NOMEM", "E_UNSUPPORTED", "E_READONLY",
    "E_STATE", "E_TOO_LARGE", "E_AMBIGUOUS", "E_CANCELED", "E_NOT_DURABLE",
]

# Error codes; values fixed by the library's ABI (ocidir.h).
OK = 0
E_INVALID = -1
E_IO = -2
E_NOT_FOUND = -3
E_DIGEST = -4
E_SIZE = -5
E_BAD_DIGEST = -6
E_FORMAT = -7
E_ESCAPE = -8
E_EXISTS = -9
E_NOMEM = -10
E_UNSUPPORTED = -11
E_READONLY = -12
E_STATE = -13
E_TOO_LARGE = -14
E_AMBIGUOUS = -15
E_CANCELED = -16
E_NOT_DURABLE = -17


class Error(Exception):
    """A failure reported by libocidir.

    Attributes: ``code`` (negative ``OCIDIR_E_*`` value), ``message`` (what
    failed, from ``ocidir_last_error()``), ``errno`` (from
    ``ocidir_last_errno()``, 0 when the failure had no OS cause).
    """

    code: Optional[int] = None

    def __init__(self, code: int, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errno = errno
        if isinstance(self, OSError):
            setattr(self, "strerror", message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, tuple[Optional[int], str, int]]:
        return (_error_from_state, (self.code, self.message, self.errno))


class InvalidArgument(Error, ValueError):
    """OCIDIR_E_INVALID: a bad argument (malformed tag, platform, flag, ...)."""


class IOFailure(Error, OSError):
    """OCIDIR_E_IO: an OS call failed; ``errno`` says which error."""


class NotFound(Error, KeyError):
    """OCIDIR_E_NOT_FOUND: no such blob, tag, platform, layer or directory."""


class DigestMismatch(Error):
    """OCIDIR_E_DIGEST: content does not hash to its digest (or diff_id)."""


class SizeMismatch(Error):
    """OCIDIR_E_SIZE: content length differs from the expected size."""


class BadDigest(Error, ValueError):
    """OCIDIR_E_BAD_DIGEST: a malformed digest string."""


class FormatError(Error):
    """OCIDIR_E_FORMAT: not an OCI layout, malformed JSON, not a regular file."""


class EscapeError(Error):
    """OCIDIR_E_ESCAPE: a path would resolve outside its directory."""


class AlreadyExists(Error, FileExistsError):
    """OCIDIR_E_EXISTS: a tag (with replace=False) or a clone destination exists."""


class OutOfMemory(Error, MemoryError):
    """OCIDIR_E_NOMEM: the library ran out of memory."""


class Unsupported(Error):
    """OCIDIR_E_UNSUPPORTED: an unregistered digest algorithm, an unsupported
    layout version or compression, or a function the loaded library lacks."""


class ReadOnlyError(Error, PermissionError):
    """OCIDIR_E_READONLY: a write on a layout opened read-only."""


class StateError(Error):
    """OCIDIR_E_STATE: an object used out of order (e.g. after a failed write)."""


class TooLarge(Error):
    """OCIDIR_E_TOO_LARGE: content larger than the caller's or the library's limit."""


class Ambiguous(Error, LookupError):
    """OCIDIR_E_AMBIGUOUS: a tag names several index.json entries."""


class Canceled(Error):
    """OCIDIR_E_CANCELED: a progress callback asked to stop; nothing is
    half-done.  The binding's own wrappers re-raise the exception the Python
    callback raised instead, so this is seen only where no Python exception
    caused the cancel.  No built-in base: ``InterruptedError`` means EINTR
    and would be caught by ``except OSError`` clauses meant for I/O errors."""


class NotDurable(Error, OSError):
    """OCIDIR_E_NOT_DURABLE: the change was made and is visible, but flushing
    it to stable storage failed (``errno`` says why); it may not survive a
    crash.  An ``OSError`` (the flush failed), but not an IOFailure: unlike
    that, the operation did take effect."""


_BY_CODE: dict[int, type[Error]] = {
    E_INVALID: InvalidArgument,
    E_IO: IOFailure,
    E_NOT_FOUND: NotFound,
    E_DIGEST: DigestMismatch,
    E_SIZE: SizeMismatch,
    E_BAD_DIGEST: BadDigest,
    E_FORMAT: FormatError,
    E_ESCAPE: EscapeError,
    E_EXISTS: AlreadyExists,
    E_NOMEM: OutOfMemory,
    E_UNSUPPORTED: Unsupported,
    E_READONLY: ReadOnlyError,
    E_STATE: StateError,
    E_TOO_LARGE: TooLarge,
    E_AMBIGUOUS: Ambiguous,
    E_CANCELED: Canceled,
    E_NOT_DURABLE: NotDurable,
}

for _code, _cls in _BY_CODE.items():
    _cls.code = _code


def error_class(code: int) -> type[Error]:
    """The exception class for a library error code (Error for unknown codes)."""
    return _BY_CODE.get(code, Error)


def make_error(code: int, message: str, errno: int = 0) -> Error:
    """An exception instance for a code, its message and its errno."""
    if not message:
        message = "libocidir error %d" % code
    return error_class(code)(code, message, errno)


def _error_from_state(code: int, message: str, errno: int) -> Error:
    return make_error(code, message, errno)
