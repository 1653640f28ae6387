"""Reports (fsck, gc, cache gc, clone, tag removal with gc, copy, unpack) and progress callbacks."""

from __future__ import annotations

import ctypes
import enum
from typing import Any, Callable, Iterator, NamedTuple, Optional, Union

from . import errors
from ._lib import fn, progress_fn, report_p

__all__ = ["FindKind", "Finding", "Report", "ProgressCallback"]

#: A progress callable: progress(done, total); its return value is ignored,
#: an exception it raises cancels the operation.
ProgressCallback = Callable[[int, int], object]


class FindKind(enum.IntEnum):
    """ocidir_find_kind_t.  Which kinds are damage (the layout is broken) and
    which are notices is the library's answer (ocidir_find_kind_is_damage)."""
    LAYOUT = 0
    MISSING = 1
    DIGEST = 2
    SIZE = 3
    FORMAT = 4
    MEDIA_TYPE = 5
    IO = 6
    UNSUPPORTED = 7
    UNREFERENCED = 8
    TEMP = 9
    REMOVED = 10
    KEPT_RECENT = 11
    COPIED = 12
    LINKED = 13
    REFLINKED = 14
    ABSENT_CHILD = 15
    SKIPPED = 16
    XATTR_SKIPPED = 18
    XATTR_UNSUPPORTED = 19
    DEVICE_SKIPPED = 20
    INCOMPLETE_CLEARED = 21

    @property
    def is_damage(self) -> bool:
        return bool(fn.find_kind_is_damage(int(self)))

    @property
    def label(self) -> str:
        """The library's name for the kind ("missing", "digest", ...)."""
        return str(fn.find_kind_name(int(self)).decode())


class Finding(NamedTuple):
    """One finding: kind (FindKind), subject (a digest or a relative path),
    size (0 when unknown) and a message naming what is wrong and where.  A
    kind this binding does not know yet is kept as a plain int."""
    kind: Union[FindKind, int]
    subject: str
    size: int
    message: str

    @property
    def is_damage(self) -> bool:
        return bool(fn.find_kind_is_damage(int(self.kind)))


class Report:
    """A finished report, copied out of the library: a sequence of Finding,
    with ``damage`` (the number of damage findings), ``blobs`` and ``bytes``
    (the totals of the run)."""

    def __init__(self, findings: list[Finding], damage: int, blobs: int, nbytes: int) -> None:
        self.findings = findings
        self.damage = damage
        self.blobs = blobs
        self.bytes = nbytes

    @classmethod
    def _take(cls, ptr: Any) -> Report:
        """Copy a C report and free it."""
        if not ptr:
            return cls([], 0, 0, 0)
        try:
            findings = []
            for i in range(fn.report_count(ptr)):
                kind, subject, size, message = ctypes.c_int(), ctypes.c_char_p(), ctypes.c_uint64(), ctypes.c_char_p()
                fn.report_get(ptr, i, ctypes.byref(kind), ctypes.byref(subject), ctypes.byref(size),
                              ctypes.byref(message))
                k: Union[FindKind, int]
                try:
                    k = FindKind(kind.value)
                except ValueError:
                    k = kind.value
                findings.append(Finding(k, (subject.value or b"").decode("utf-8", "replace"),
                                        size.value, (message.value or b"").decode("utf-8", "replace")))
            blobs, nbytes = ctypes.c_uint64(), ctypes.c_uint64()
            fn.report_totals(ptr, ctypes.byref(blobs), ctypes.byref(nbytes))
            return cls(findings, int(fn.report_damage(ptr)), blobs.value, nbytes.value)
        finally:
            fn.report_free(ptr)

    @property
    def ok(self) -> bool:
        """True when nothing is damaged."""
        return self.damage == 0

    def of_kind(self, kind: Union[FindKind, int]) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __getitem__(self, i: int) -> Finding:
        return self.findings[i]

    def __repr__(self) -> str:
        return "<ocidir.Report %d findings, %d damage, %d blobs, %d bytes>" % (
            len(self.findings), self.damage, self.blobs, self.bytes)


class Progress:
    """Adapts a Python callable progress(done, total) to ocidir_progress_fn.

    An exception raised by the callable (any BaseException, KeyboardInterrupt
    included) cancels the operation: the C callback returns 1, the library
    stops with OCIDIR_E_CANCELED and nothing half-done, and run_with_report()
    raises that same exception.  The callable's return value is ignored."""

    def __init__(self, callback: Optional[ProgressCallback]) -> None:
        self.error: Optional[BaseException] = None
        self.c: Any
        if callback is None:
            self.c = progress_fn()  # type: ignore[call-overload]  # NULL; typeshed lacks the no-argument form
            return
        cb = callback

        def trampoline(done: int, total: int, _user: Any) -> int:
            try:
                if self.error is None:
                    cb(done, total)
                    return 0
            except BaseException as e:  # noqa: B036 - re-raised by run_with_report()
                self.error = e
            return 1

        self.c = progress_fn(trampoline)

    def take_error(self) -> Optional[BaseException]:
        e, self.error = self.error, None
        return e


def run_with_report(call: Callable[[Any, Any], object], progress: Optional[ProgressCallback]) -> Report:
    """Run call(progress_c, report_out) and return the Report (empty when the
    library gave none).  When the progress callable raised, that exception is
    raised here, after the library call returned (OCIDIR_E_CANCELED); the
    library's Canceled error is dropped in its favour."""
    p = Progress(progress)
    out = report_p()
    try:
        call(p.c, ctypes.byref(out))
    except errors.Error:
        if p.error is None:
            raise
    finally:
        rep = Report._take(out)
    e = p.take_error()
    if e is not None:
        raise e
    return rep
