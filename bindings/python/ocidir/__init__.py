"""Python binding of libocidir: read and write OCI image layout directories safely.

Pure ctypes; the shared library is found through OCIDIR_LIBRARY, next to this
package, or ctypes.util.find_library("ocidir") (see ocidir._lib).

    import ocidir

    with ocidir.OciDir("/tmp/layout", create=True) as layout:
        digest = layout.put(b"hello")
        assert layout.read(digest) == b"hello"

Every failure raises a subclass of ocidir.Error (see ocidir.errors).
"""

from __future__ import annotations

import ctypes
import io
import os
import weakref
from typing import IO, Any, Iterable, Optional, Union, cast

from . import _lib
from ._lib import fn, digest_buffer, take_string, take_strv
from . import _io
from ._io import BlobReader, BlobWriter, LayerReader, LayerWriter, c_buffer
from ._image import Descriptor, FsPath, Image, Builder
from ._report import FindKind, Finding, ProgressCallback, Report, run_with_report
from . import errors
from .errors import *  # noqa: F401,F403  (the exception classes and E_* codes)

# ocidir.copy is left out of __all__: `from ocidir import *` would shadow the
# standard library's copy module in the importer.  Call it as ocidir.copy().
__all__ = [
    "OciDir", "BlobReader", "BlobWriter", "LayerReader", "LayerWriter", "Image",
    "Builder", "Descriptor", "Report", "Finding", "FindKind",
    "version", "version_number", "hash_backend", "digest", "validate_digest",
    "validate_tag", "platform_default", "compression_media_type",
    "resolver_uses_openat2", "strerror", "cache_gc", "user_lookup", "library_path",
    "SHA256", "SHA512", "DIGEST_MAX", "GC_GRACE_DEFAULT", "UNPACK_MARKER",
    "FsPath", "ProgressCallback",
]
__all__ += errors.__all__

__version__ = "0.5.0"

#: The path of the loaded shared library.
library_path = _lib.path

SHA256, SHA512 = "sha256", "sha512"
_ALGS = {SHA256: 0, SHA512: 1}
_COMPRESSIONS = {"none": 0, "gzip": 1, "zstd": 2}
DIGEST_MAX = _lib.DIGEST_MAX
GC_GRACE_DEFAULT = 3600
#: The marker file at the root of a destination while Image.unpack() runs
#: (OCIDIR_UNPACK_MARKER): a tree holding it is incomplete.
UNPACK_MARKER = ".ocidir-unpack-incomplete"

_AT_FDCWD = -100
_OPEN_CREATE, _OPEN_RDONLY, _OPEN_FOLLOW_BLOB_SYMLINK = 1, 2, 4
_BLOBDIR_WRITE = 1
_TAG_NOREPLACE = 1
_GC_DRY_RUN = 1
_CLONE_NO_HARDLINK = 1
_COPY_ALL_PLATFORMS, _COPY_NO_HARDLINK = 1, 2
_PUT_VERIFY_EXISTING = 1
_SIZE_MAX = ctypes.c_size_t(-1).value

#: A bytes-like object (bytes, bytearray, memoryview, ...).
Buffer = Union[bytes, bytearray, memoryview]


def _enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def _alg(alg: str) -> int:
    try:
        return _ALGS[alg]
    except KeyError:
        raise ValueError("unknown digest algorithm %r (use 'sha256' or 'sha512')" % (alg,)) from None


def _size_arg(size: Optional[int]) -> int:
    return -1 if size is None else int(size)


def _gc_options(dry_run: bool, grace: Optional[int], progress_c: Any) -> _lib.GcOptions:
    """An ocidir_gc_options_t: grace None is the handle's grace period."""
    if grace is None:
        grace = _lib.GC_GRACE_HANDLE
    else:
        grace = int(grace)
        if grace < 0:
            raise ValueError("grace must be None (the layout's grace period) or >= 0 seconds, not %d" % grace)
    return _lib.GcOptions(flags=_GC_DRY_RUN if dry_run else 0, grace_seconds=grace, progress=progress_c)


def _layer_reader_options(max_size: Optional[int]) -> Optional[_lib.LayerReaderOptions]:
    if max_size is None:
        return None
    if max_size <= 0:
        raise ValueError("max_size must be None (no bound) or > 0, not %d" % max_size)
    return _lib.LayerReaderOptions(max_size=max_size)


def _put_options(alg: str, verify_existing: bool) -> Optional[_lib.PutOptions]:
    """The ocidir_put_options_t for put/put_file/open_writer, or None for the
    defaults of the plain calls (sha256, no flags).  The algorithm is checked
    here in both cases."""
    a = _alg(alg)
    if not verify_existing and a == _ALGS[SHA256]:
        return None
    return _lib.PutOptions(alg=a, flags=_PUT_VERIFY_EXISTING if verify_existing else 0)


class _DirFd:
    """An fd for a directory given as a path (opened and closed here) or as an
    fd (borrowed)."""

    def __init__(self, path_or_fd: Union[FsPath, int]) -> None:
        if isinstance(path_or_fd, int):
            self.fd, self._own = path_or_fd, False
        else:
            self.fd = os.open(path_or_fd, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._own = True

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        if self._own:
            os.close(self.fd)


# ---------------------------------------------------------------------------
# Module-level functions


def version() -> str:
    """The version of the loaded library, "MAJOR.MINOR.PATCH"."""
    return str(fn.version().decode())


def version_number() -> int:
    """MAJOR * 10000 + MINOR * 100 + PATCH of the loaded library."""
    return int(fn.version_number())


def hash_backend() -> str:
    """The hash implementation compiled into the library ("libsodium", ...)."""
    return str(fn.hash_backend().decode())


def strerror(code: int) -> str:
    """The library's text for an error code."""
    return str(fn.strerror(code).decode())


def digest(data: Buffer, alg: str = SHA256) -> str:
    """The digest ("sha256:<hex>") of a bytes-like object."""
    buf, n = c_buffer(data, writable=False)
    out = digest_buffer()
    fn.digest_buffer(_alg(alg), buf, n, out)
    return out.value.decode()


def validate_digest(d: str) -> None:
    """Raise BadDigest for a malformed digest, Unsupported for a grammatical
    one of an unregistered algorithm; return None for a valid one."""
    fn.digest_validate(d.encode("utf-8"))


def validate_tag(tag: str) -> None:
    """Raise InvalidArgument unless `tag` fits the ref.name grammar."""
    fn.tag_validate(tag.encode("utf-8"))


def platform_default() -> str:
    """This machine's platform in Go's names ("linux/amd64", ...)."""
    return str(fn.platform_default().decode())


def compression_media_type(compression: str) -> str:
    """The layer media type for "none", "gzip" or "zstd"."""
    return str(fn.compression_media_type(_COMPRESSIONS[compression]).decode())


def resolver_uses_openat2() -> bool:
    """True when the library resolves paths with openat2(2) in this process."""
    return bool(fn.resolver_uses_openat2())


def cache_gc(cache: Union[FsPath, int], layouts: Iterable[OciDir], *, dry_run: bool = False,
             grace: Optional[int] = None, progress: Optional[ProgressCallback] = None) -> Report:
    """Collect the blobs of a shared blob directory (a path or an fd) that none
    of `layouts` (open OciDir objects, at least one) references; returns a
    Report.  A layout left out loses its blobs.  `grace` (seconds) overrides
    the grace period of layouts[0].  An exception raised by progress(done,
    total) cancels the run between two removals and is re-raised."""
    dirs = list(layouts)
    if not dirs:
        raise ValueError("cache_gc() needs at least one layout")
    arr = (_lib.layout_p * len(dirs))(*[l._p() for l in dirs])
    with _DirFd(cache) as fd:
        return run_with_report(
            lambda cb, out: fn.cache_gc(fd, arr, len(dirs), ctypes.byref(_gc_options(dry_run, grace, cb)), out),
            progress)


def copy(src: OciDir, ref: str, dst: OciDir, tag: str, *, platform: Optional[str] = None,
         all_platforms: bool = False, no_hardlink: bool = False,
         progress: Optional[ProgressCallback] = None) -> Report:
    """Copy one image, with every blob it references, from layout `src` into
    layout `dst` (open writable; it may be `src` itself) and tag it `tag`
    there; returns a Report (a COPIED, LINKED or REFLINKED finding per blob
    taken; blobs and bytes: every blob of the image).

    `ref` is a tag or digest in `src`.  Without all_platforms, the manifest
    `src.image(ref, platform)` picks is copied (platform None: this
    machine's); with all_platforms=True (and platform None), what `ref`
    names as it is (an index with every manifest beneath it).  Each blob
    `dst` lacks is reflinked, else hard-linked (not with no_hardlink=True),
    else copied, and verified as it is taken; it goes where `dst` writes new
    blobs (its blobs/, or the directory added with add_blobdir(...,
    write=True): a shared cache).  The tag is written last: on any failure
    (NotFound for an unknown ref or platform, DigestMismatch for a damaged
    blob, ...) the tag is unchanged.  An exception raised by
    progress(done, total) cancels the copy before the tag is written and is
    re-raised."""
    s, d = src._p(), dst._p()
    flags = (_COPY_ALL_PLATFORMS if all_platforms else 0) | (_COPY_NO_HARDLINK if no_hardlink else 0)
    return run_with_report(
        lambda cb, out: fn.copy(s, ref.encode("utf-8"), _enc(platform), d, tag.encode("utf-8"),
                                ctypes.byref(_lib.CopyOptions(flags=flags, progress=cb)), out),
        progress)


def user_lookup(rootfs: Union[FsPath, int], user: str) -> tuple[int, int]:
    """(uid, gid) for an image config's User ("user[:group]", names or
    numbers; "" is root) from the root filesystem's own etc/passwd and
    etc/group, opened beneath `rootfs` (a path or a directory fd, not
    closed) so that nothing outside it is read.  NotFound for a name neither
    file holds (or a missing file), InvalidArgument for a malformed spec,
    TooLarge for a file or line past the library's bounds."""
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    with _DirFd(rootfs) as fd:
        fn.user_lookup(fd, user.encode("utf-8"), ctypes.byref(uid), ctypes.byref(gid))
    return uid.value, gid.value


# ---------------------------------------------------------------------------
# The layout


class OciDir(_io._Closable):
    """An open OCI image layout.

    OciDir(path, *, create=False, readonly=False, follow_blob_symlink=False,
    dir_fd=None): `path` is relative to `dir_fd` (an open directory fd) when
    given; path None means dir_fd itself.  Use it as a context manager or call
    close().  Readers, writers, images and builders made from it keep it
    alive; closing it first closes (or, for writers, aborts) them.

    One OciDir may be used from many threads at once; each reader, writer,
    image or builder belongs to one thread at a time.
    """

    _ptr = None

    def __init__(self, path: Optional[FsPath], *, create: bool = False, readonly: bool = False,
                 follow_blob_symlink: bool = False, dir_fd: Optional[int] = None) -> None:
        flags = ((_OPEN_CREATE if create else 0) | (_OPEN_RDONLY if readonly else 0)
                 | (_OPEN_FOLLOW_BLOB_SYMLINK if follow_blob_symlink else 0))
        self._children: weakref.WeakSet[Any] = weakref.WeakSet()
        self.path = None if path is None else os.fspath(path)
        p = _lib.layout_p()
        fn.open(_AT_FDCWD if dir_fd is None else dir_fd,
                None if path is None else os.fsencode(path), flags, ctypes.byref(p))
        self._ptr = p

    @classmethod
    def _wrap(cls, ptr: Any, path: Optional[Union[str, bytes]]) -> OciDir:
        self = cls.__new__(cls)
        self._children = weakref.WeakSet()
        self.path = path
        self._ptr = ptr
        return self

    def _p(self) -> Any:
        if not self._ptr:
            raise ValueError("operation on closed OciDir")
        return self._ptr

    def close(self) -> None:
        """Close the layout, after closing what was made from it (writers are aborted)."""
        if not self._ptr:
            return
        for child in list(self._children):
            child._release()
        ptr, self._ptr = self._ptr, None
        fn.close(ptr)

    def __repr__(self) -> str:
        return "<ocidir.OciDir %r%s>" % (self.path, " closed" if self.closed else "")

    @property
    def readonly(self) -> bool:
        return bool(fn.is_readonly(self._p()))

    # -- shared cache ---------------------------------------------------------

    def add_blobdir(self, path_or_fd: Union[FsPath, int], write: bool = False) -> None:
        """Add an external blob directory (``sha256/<hex>``...) for reads, and
        with write=True as the place new blobs are written.  A path is opened
        here; an fd is duplicated by the library, never closed."""
        with _DirFd(path_or_fd) as fd:
            fn.add_blobdir_fd(self._p(), fd, _BLOBDIR_WRITE if write else 0)

    # -- blobs ----------------------------------------------------------------

    def put(self, data: Buffer, *, alg: str = SHA256, verify_existing: bool = False) -> str:
        """Store a bytes-like object as a blob; returns its digest.  `alg` is
        "sha256" or "sha512".  An existing blob of that digest and size is
        trusted as it is, unless verify_existing=True: then it is re-hashed
        and, if its content does not match its name, replaced by these bytes
        (how a corrupted blob is repaired; see fsck())."""
        buf, n = c_buffer(data, writable=False)
        out = digest_buffer()
        opts = _put_options(alg, verify_existing)
        if opts is None:
            fn.blob_put(self._p(), buf, n, out)
        else:
            fn.blob_put_opts(self._p(), buf, n, ctypes.byref(opts), out)
        return out.value.decode()

    def put_file(self, file: Union[FsPath, int, IO[bytes]], *, alg: str = SHA256,
                 verify_existing: bool = False) -> str:
        """Store a file's content (from its current position to its end) as a
        blob; returns its digest.  `file` is a path, an fd, or a file object
        (one with a usable fileno() is copied by the library, with
        copy_file_range where possible; others are read here).  `alg` and
        `verify_existing` as in put()."""
        opts = _put_options(alg, verify_existing)
        if isinstance(file, int):
            return self._put_fd(file, opts)
        if isinstance(file, (str, bytes, os.PathLike)):
            path_fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
            try:
                return self._put_fd(path_fd, opts)
            finally:
                os.close(path_fd)
        if isinstance(file, io.TextIOBase):
            raise TypeError("put_file() needs a binary file object")
        fd: Optional[int] = None
        try:
            fd = file.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            pass
        seekable = fd is not None and getattr(file, "seekable", lambda: False)()
        if fd is not None and (seekable or isinstance(file, io.FileIO)):
            if seekable:
                # The file object may have read ahead; start from its position.
                os.lseek(fd, file.tell(), os.SEEK_SET)
            d = self._put_fd(fd, opts)
            if seekable:
                file.seek(os.lseek(fd, 0, os.SEEK_CUR))
            return d
        with self.open_writer(alg, verify_existing=verify_existing) as w:
            while True:
                chunk = file.read(1 << 20)
                if not chunk:
                    break
                w.write(chunk)
        return cast(str, w.digest)  # set by the commit when the block was left

    def _put_fd(self, fd: int, opts: Optional[_lib.PutOptions]) -> str:
        out = digest_buffer()
        if opts is None:
            fn.blob_put_fd(self._p(), fd, out, None)
        else:
            fn.blob_put_fd_opts(self._p(), fd, ctypes.byref(opts), out, None)
        return out.value.decode()

    def open_writer(self, alg: str = SHA256, *, digest: Optional[str] = None, size: Optional[int] = None,
                    verify_existing: bool = False) -> BlobWriter:
        """A BlobWriter: write, then close() commits (returning nothing; see
        .digest) or commit() returns the digest.  `digest` / `size` are
        expectations checked at commit; `verify_existing` as in put()."""
        w = _lib.blob_writer_p()
        opts = _put_options(alg, verify_existing)
        if opts is None:
            fn.blob_writer_new(self._p(), _alg(alg), ctypes.byref(w))
        else:
            fn.blob_writer_new_opts(self._p(), ctypes.byref(opts), ctypes.byref(w))
        writer = BlobWriter(self, w)
        if digest is not None or size is not None:
            try:
                writer.expect(digest, size)
            except BaseException:
                writer.abort()
                raise
        return writer

    def open_blob(self, digest: str, size: Optional[int] = None) -> BlobReader:
        """A verified BlobReader (an io.RawIOBase).  `size` is the expected
        size (SizeMismatch at once otherwise).  Reading to the end raises
        DigestMismatch for content that does not match."""
        r = _lib.blob_reader_p()
        fn.blob_open(self._p(), digest.encode("utf-8"), _size_arg(size), ctypes.byref(r))
        return BlobReader(self, r)

    def read(self, digest: str, size: Optional[int] = None, max_len: Optional[int] = None) -> bytes:
        """A whole blob, verified, as bytes.  A blob larger than `max_len`
        raises TooLarge before anything is read."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        fn.blob_read_all(self._p(), digest.encode("utf-8"), _size_arg(size),
                         _SIZE_MAX if max_len is None else max_len, ctypes.byref(buf), ctypes.byref(n))
        try:
            return ctypes.string_at(cast(int, buf.value), n.value)
        finally:
            fn.free(buf)

    def stat(self, digest: str) -> int:
        """The size of a blob (not verified)."""
        size = ctypes.c_uint64()
        fn.blob_stat(self._p(), digest.encode("utf-8"), ctypes.byref(size))
        return size.value

    def __contains__(self, digest: object) -> bool:
        """True when the blob is present (in the layout or an added directory)."""
        if not isinstance(digest, str):
            return False
        try:
            self.stat(digest)
        except KeyError:
            return False
        return True

    def open_blob_fd(self, digest: str) -> int:
        """A raw, read-only fd of a blob (NOT verified); the caller closes it."""
        fd = ctypes.c_int(-1)
        fn.blob_open_fd(self._p(), digest.encode("utf-8"), ctypes.byref(fd))
        return fd.value

    def remove(self, digest: str) -> None:
        """Remove a blob from the layout's own blobs/ (never from an added directory)."""
        fn.blob_remove(self._p(), digest.encode("utf-8"))

    # -- index and tags -------------------------------------------------------

    def set_json_limit(self, max_bytes: int) -> None:
        """Bound every JSON document read (0 restores the default, 64 MiB)."""
        fn.set_json_limit(self._p(), max_bytes)

    def tags(self) -> list[str]:
        """The tags in index.json, in file order."""
        v = _lib.strv()
        fn.tag_list(self._p(), ctypes.byref(v))
        return take_strv(v) or []

    def resolve(self, ref: str) -> Descriptor:
        """The Descriptor of the manifest or index a tag or digest names."""
        d, mt, size = digest_buffer(), ctypes.c_void_p(), ctypes.c_uint64()
        fn.resolve(self._p(), ref.encode("utf-8"), d, ctypes.byref(mt), ctypes.byref(size))
        return Descriptor(take_string(mt.value) or "", d.value.decode(), size.value)

    def tag(self, tag: str, digest: str, *, replace: bool = True) -> None:
        """Point `tag` at a manifest or index blob; replace=False raises
        AlreadyExists for an existing tag."""
        fn.tag_set(self._p(), tag.encode("utf-8"), digest.encode("utf-8"), 0 if replace else _TAG_NOREPLACE)

    def untag(self, tag: str) -> None:
        """Remove the index.json entry carrying `tag` (blobs are kept)."""
        fn.tag_remove(self._p(), tag.encode("utf-8"))

    def index_add(self, digest: str) -> None:
        """Add an untagged index.json entry for a manifest or index blob."""
        fn.index_add(self._p(), digest.encode("utf-8"))

    # -- images ---------------------------------------------------------------

    def image(self, ref: str, platform: Optional[str] = None) -> Image:
        """The Image that `ref` (a tag or digest) names for `platform`
        ("os/arch[/variant]", default this machine's)."""
        img = _lib.image_p()
        fn.image_open(self._p(), ref.encode("utf-8"), _enc(platform), ctypes.byref(img))
        return Image(self, img)

    def referrers(self, digest: str, artifact_type: Optional[str] = None) -> list[str]:
        """Digests of the manifests whose subject is `digest`."""
        v = _lib.strv()
        fn.referrers(self._p(), digest.encode("utf-8"), _enc(artifact_type), ctypes.byref(v))
        return take_strv(v) or []

    # -- layers ---------------------------------------------------------------

    def layer_writer(self, compression: str = "gzip", level: int = 0, threads: int = 0, *, alg: str = SHA256,
                     zstd_window_log: int = 0, zstd_long: bool = False) -> LayerWriter:
        """A LayerWriter compressing with "none", "gzip" or "zstd" (level 0:
        the compressor's default; threads 0: one per CPU).  `alg` is the
        blob digest's algorithm (the diff_id is always sha256); for zstd,
        `zstd_window_log` (10..27, 0: zstd's for the level) and `zstd_long`
        (long-distance matching, as ``zstd --long``)."""
        try:
            c = _COMPRESSIONS[compression]
        except KeyError:
            raise ValueError("unknown compression %r (use 'none', 'gzip' or 'zstd')" % (compression,)) from None
        opts = _lib.LayerWriterOptions(compression=c, level=level, threads=threads, alg=_alg(alg),
                                       zstd_window_log=zstd_window_log, zstd_long=1 if zstd_long else 0)
        w = _lib.layer_writer_p()
        fn.layer_writer_new_opts(self._p(), ctypes.byref(opts), ctypes.byref(w))
        return LayerWriter(self, w)

    def open_layer(self, media_type: str, digest: str, size: Optional[int] = None, diff_id: Optional[str] = None,
                   *, max_size: Optional[int] = None) -> LayerReader:
        """A decompressing, verifying LayerReader for a layer blob.  With
        `max_size`, a read that would pass that many decompressed bytes
        raises TooLarge (nothing past the bound is returned)."""
        opts = _layer_reader_options(max_size)
        r = _lib.layer_reader_p()
        fn.layer_open_opts(self._p(), media_type.encode("utf-8"), digest.encode("utf-8"), _size_arg(size),
                           _enc(diff_id), None if opts is None else ctypes.byref(opts), ctypes.byref(r))
        return LayerReader(self, r)

    # -- building -------------------------------------------------------------

    def builder(self, platform: Optional[str] = None) -> Builder:
        """A Builder for an image with no layers, for `platform`."""
        b = _lib.builder_p()
        fn.builder_new(self._p(), _enc(platform), ctypes.byref(b))
        return Builder(self, b)

    def artifact_builder(self, artifact_type: str) -> Builder:
        """A Builder for an artifact (empty config, `artifactType`)."""
        b = _lib.builder_p()
        fn.builder_new_artifact(self._p(), artifact_type.encode("utf-8"), ctypes.byref(b))
        return Builder(self, b)

    def builder_from(self, ref: str, platform: Optional[str] = None) -> Builder:
        """A Builder starting from an existing image."""
        b = _lib.builder_p()
        fn.builder_from(self._p(), ref.encode("utf-8"), _enc(platform), ctypes.byref(b))
        return Builder(self, b)

    # -- housekeeping ---------------------------------------------------------

    # Progress: progress(done, total) is called from the calling thread with
    # bytes, once at the start, as blobs complete and once at the end with
    # done == total.  An exception it raises cancels the operation (nothing
    # half-done; see each method) and is re-raised when the library returns.

    def fsck(self, threads: int = 0, progress: Optional[ProgressCallback] = None) -> Report:
        """Check the layout completely; returns a Report (report.ok when
        nothing is damaged).  An exception raised by progress(done, total)
        stops the check (it never writes) and is re-raised."""
        p = self._p()
        return run_with_report(
            lambda cb, out: fn.fsck(p, ctypes.byref(_lib.FsckOptions(threads=threads, progress=cb)), out),
            progress)

    def set_gc_grace(self, seconds: int) -> None:
        """gc keeps unreferenced blobs younger than this; 0 turns it off, -1
        restores the default (GC_GRACE_DEFAULT)."""
        fn.set_gc_grace(self._p(), seconds)

    def gc(self, dry_run: bool = False, progress: Optional[ProgressCallback] = None, *,
           grace: Optional[int] = None) -> Report:
        """Remove the unreferenced blobs of the layout's own blobs/; returns a
        Report.  `grace` (seconds, >= 0) overrides the layout's grace period
        (set_gc_grace) for this run.  An exception raised by progress(done,
        total) stops gc between two removals (what was removed is gone, the
        rest stays, the layout is consistent) and is re-raised."""
        p = self._p()
        return run_with_report(
            lambda cb, out: fn.gc(p, ctypes.byref(_gc_options(dry_run, grace, cb)), out), progress)

    def clone(self, path: FsPath, *, no_hardlink: bool = False, progress: Optional[ProgressCallback] = None,
              dir_fd: Optional[int] = None) -> tuple[OciDir, Report]:
        """Make a new layout at `path` with every reachable blob; returns
        (OciDir of the clone, Report).  An exception raised by
        progress(done, total) cancels the clone, which removes everything it
        created (no destination is left), and is re-raised."""
        p = self._p()
        new = _lib.layout_p()
        try:
            rep = run_with_report(
                lambda cb, out: fn.clone(p, _AT_FDCWD if dir_fd is None else dir_fd, os.fsencode(path),
                                         ctypes.byref(_lib.CloneOptions(
                                             flags=_CLONE_NO_HARDLINK if no_hardlink else 0, progress=cb)),
                                         ctypes.byref(new), out),
                progress)
        except BaseException:
            if new:
                fn.close(new)
            raise
        return OciDir._wrap(new, os.fspath(path)), rep

    def untag_gc(self, tag: str, *, dry_run: bool = False, grace: Optional[int] = None,
                 progress: Optional[ProgressCallback] = None) -> Report:
        """Remove `tag` from index.json (as untag()), then collect what became
        unreferenced (as gc(dry_run=..., grace=...)), under one handle;
        returns the gc Report.  The index is rewritten before any blob is
        removed.  NotFound for no such tag.  An exception raised by
        progress(done, total) stops the gc as in gc() (the tag stays
        removed) and is re-raised."""
        p = self._p()
        return run_with_report(
            lambda cb, out: fn.tag_remove_gc(p, tag.encode("utf-8"),
                                             ctypes.byref(_gc_options(dry_run, grace, cb)), out),
            progress)
