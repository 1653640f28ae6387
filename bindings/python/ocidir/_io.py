"""File objects over the library's streams: verified readers and committing writers."""

from __future__ import annotations

import ctypes
import io
from types import TracebackType
from typing import Any, Optional, TypeVar

from ._lib import fn, digest_buffer

__all__ = ["BlobReader", "LayerReader", "BlobWriter", "LayerWriter"]


_T = TypeVar("_T", bound="_Closable")
_R = TypeVar("_R", bound="_Reader")
_W = TypeVar("_W", bound="_Writer")


def c_buffer(b: Any, writable: bool) -> tuple[Any, int]:
    """(object to pass as `void *`, length) for a bytes-like object, without a copy
    where ctypes allows it (bytes, and writable buffers such as bytearray)."""
    if isinstance(b, bytes) and not writable:
        return b, len(b)
    mv = memoryview(b)
    if mv.ndim != 1 or mv.itemsize != 1 or mv.format not in ("B", "b", "c"):
        mv = mv.cast("B")
    n = mv.nbytes
    if mv.readonly:
        if writable:
            raise TypeError("readinto() needs a writable buffer")
        return bytes(mv), n
    return (ctypes.c_char * n).from_buffer(mv), n


class _Child:
    """Mixin for objects made from an OciDir: they keep it alive and are
    closed by it when it closes first."""

    _ptr: Any = None
    _parent: Any = None  # the OciDir

    def _adopt(self, parent: Any, ptr: Any) -> None:
        self._ptr = ptr
        self._parent = parent
        parent._children.add(self)

    def _detach(self) -> Any:
        ptr, self._ptr = self._ptr, None
        if self._parent is not None:
            self._parent._children.discard(self)
            self._parent = None
        return ptr

    def _checked(self, what: str) -> Any:
        if not self._ptr:
            raise ValueError("I/O operation on closed %s" % what)
        return self._ptr


class _Closable:
    """Mixin for handles closed by close(): ``closed``, use as a context
    manager (entering checks that it is open, through ``_p()``), and close on
    garbage collection."""

    _ptr: Any

    def _p(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return not self._ptr

    def __enter__(self: _T) -> _T:
        self._p()
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class _Reader(_Child, io.RawIOBase):
    """A verified stream: reads hand out only bytes that are part of the
    content, and the end (b"" / 0) is reported only once the content matched
    its digest; a mismatch raises DigestMismatch instead."""

    _what = "reader"

    def __init__(self, parent: Any, ptr: Any) -> None:
        io.RawIOBase.__init__(self)
        self._adopt(parent, ptr)

    def __enter__(self: _R) -> _R:
        io.RawIOBase.__enter__(self)
        return self

    def readable(self) -> bool:
        self._checked(self._what)
        return True

    def _read(self, ptr: Any, buf: Any, n: int) -> int:
        raise NotImplementedError

    def readinto(self, b: Any) -> int:
        ptr = self._checked(self._what)
        buf, n = c_buffer(b, writable=True)
        if n == 0:
            return 0
        try:
            return self._read(ptr, buf, n)
        finally:
            del buf

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all the rest for -1); b"" only at the verified end."""
        data = io.RawIOBase.read(self, size)
        assert data is not None  # a blocking stream: never None
        return data

    def _size_hint(self) -> int:
        return 0

    def readall(self) -> bytes:
        out = bytearray(max(self._size_hint(), 0) + 1)
        done = 0
        while True:
            if done == len(out):
                out.extend(bytes(max(len(out), 1 << 16)))
            with memoryview(out) as mv:
                n = self.readinto(mv[done:])
            if not n:
                break
            done += n
        del out[done:]
        return bytes(out)

    def _free(self, ptr: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        ptr = self._detach()
        if ptr:
            self._free(ptr)
        io.RawIOBase.close(self)

    def _release(self) -> None:
        self.close()


class BlobReader(_Reader):
    """A verified blob stream (from OciDir.open_blob)."""

    _what = "blob reader"

    def __init__(self, parent: Any, ptr: Any) -> None:
        super().__init__(parent, ptr)
        self._size: int = int(fn.blob_reader_size(ptr))
        self._pos = 0

    @property
    def size(self) -> int:
        """The blob's size, as found when it was opened."""
        return self._size

    def _read(self, ptr: Any, buf: Any, n: int) -> int:
        got = int(fn.blob_reader_read(ptr, buf, n))
        self._pos += got
        return got

    def _size_hint(self) -> int:
        return self._size - self._pos

    def _free(self, ptr: Any) -> None:
        fn.blob_reader_close(ptr)


class LayerReader(_Reader):
    """A decompressed layer stream whose end is reported only once both the
    blob digest and the diff_id matched (from OciDir.open_layer or
    Image.layer_reader)."""

    _what = "layer reader"

    def _read(self, ptr: Any, buf: Any, n: int) -> int:
        return int(fn.layer_reader_read(ptr, buf, n))

    def _free(self, ptr: Any) -> None:
        fn.layer_reader_close(ptr)


class _Writer(_Child, io.RawIOBase):
    """A writable file object whose close() commits; leaving a ``with`` block
    through an exception, abort(), or dropping it without closing discards
    everything written."""

    _what = "writer"

    def __init__(self, parent: Any, ptr: Any) -> None:
        io.RawIOBase.__init__(self)
        self._adopt(parent, ptr)
        self.digest: Optional[str] = None
        self.size: Optional[int] = None

    def __enter__(self: _W) -> _W:
        io.RawIOBase.__enter__(self)
        return self

    def writable(self) -> bool:
        self._checked(self._what)
        return True

    def _write(self, ptr: Any, buf: Any, n: int) -> None:
        raise NotImplementedError

    def write(self, b: Any) -> int:
        ptr = self._checked(self._what)
        buf, n = c_buffer(b, writable=False)
        if n:
            try:
                self._write(ptr, buf, n)
            finally:
                del buf
        return n

    def _commit(self, ptr: Any) -> str:
        raise NotImplementedError

    def _abort(self, ptr: Any) -> None:
        raise NotImplementedError

    def commit(self) -> str:
        """Commit and return the digest.  The writer is finished whether this
        succeeds or raises; on failure nothing is left behind."""
        ptr = self._detach()
        if not ptr:
            if self.digest is not None:
                return self.digest
            raise ValueError("I/O operation on closed %s" % self._what)
        try:
            digest = self._commit(ptr)
        finally:
            io.RawIOBase.close(self)
        return digest

    def close(self) -> None:
        """Commit (if not yet committed or aborted)."""
        if self._ptr:
            self.commit()
        io.RawIOBase.close(self)

    def abort(self) -> None:
        """Discard everything written.  Harmless after commit or abort."""
        ptr = self._detach()
        if ptr:
            self._abort(ptr)
        io.RawIOBase.close(self)

    _release = abort

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # A writer dropped without close() is discarded, never committed.
        try:
            self.abort()
        except Exception:
            pass


class BlobWriter(_Writer):
    """A blob being written (from OciDir.open_writer).  After commit, ``digest``
    and ``size`` describe the stored blob."""

    _what = "blob writer"

    def expect(self, digest: Optional[str] = None, size: Optional[int] = None) -> None:
        """Declare the digest and/or size the content must have (checked at
        commit; writing past `size` raises SizeMismatch at once)."""
        ptr = self._checked(self._what)
        fn.blob_writer_expect(ptr, digest.encode() if digest is not None else None,
                              -1 if size is None else size)

    def _write(self, ptr: Any, buf: Any, n: int) -> None:
        fn.blob_writer_write(ptr, buf, n)

    def _commit(self, ptr: Any) -> str:
        d = digest_buffer()
        size = ctypes.c_uint64()
        fn.blob_writer_commit(ptr, d, ctypes.byref(size))
        self.digest = digest = d.value.decode()
        self.size = size.value
        return digest

    def _abort(self, ptr: Any) -> None:
        fn.blob_writer_abort(ptr)


class LayerWriter(_Writer):
    """A compressing layer writer (from OciDir.layer_writer): write the
    uncompressed tar stream.  After commit, ``digest`` and ``size`` describe
    the compressed blob and ``diff_id`` the uncompressed stream.  Pass it to
    Builder.add_layer_writer() instead of committing it to add it to an image."""

    _what = "layer writer"

    def __init__(self, parent: Any, ptr: Any) -> None:
        super().__init__(parent, ptr)
        self.diff_id: Optional[str] = None
        self.media_type: str = fn.layer_writer_media_type(ptr).decode()

    def _write(self, ptr: Any, buf: Any, n: int) -> None:
        fn.layer_writer_write(ptr, buf, n)

    def _commit(self, ptr: Any) -> str:
        d, diff = digest_buffer(), digest_buffer()
        size = ctypes.c_uint64()
        fn.layer_writer_commit(ptr, d, ctypes.byref(size), diff)
        self.digest = digest = d.value.decode()
        self.size = size.value
        self.diff_id = diff.value.decode()
        return digest

    def _abort(self, ptr: Any) -> None:
        fn.layer_writer_abort(ptr)

    def _hand_over(self) -> Any:
        """Give the C writer to a builder, which frees it."""
        ptr = self._checked(self._what)
        self._detach()
        io.RawIOBase.close(self)
        return ptr
