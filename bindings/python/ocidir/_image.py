"""Images (read) and builders (write)."""

from __future__ import annotations

import ctypes
import os
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union, cast

from . import _io
from . import _lib
from ._lib import fn, digest_buffer, layer_reader_p, take_string, take_strv, take_kv, make_strv
from ._report import ProgressCallback, Report, run_with_report

__all__ = ["Descriptor", "Image", "Builder"]


#: A file system path: str, bytes or an os.PathLike of either.
FsPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class Descriptor(NamedTuple):
    """An OCI descriptor: media type, digest, size."""
    media_type: str
    digest: str
    size: int


# ocidir_config_field_t
CONFIG_FIELDS = {
    "entrypoint": 0, "cmd": 1, "env": 2, "diff_ids": 3, "user": 4, "working_dir": 5,
    "os": 6, "architecture": 7, "variant": 8, "created": 9, "stop_signal": 10,
}
_STRV_FIELDS = ("entrypoint", "cmd", "env", "diff_ids")

MANIFEST = ctypes.c_size_t(-1).value  # OCIDIR_MANIFEST


def _enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def _add_layer_options(created_by: Optional[str],
                       annotations: Optional[Mapping[str, str]]) -> tuple[_lib.AddLayerOptions, Any]:
    """(AddLayerOptions, the objects it points into, to keep alive for the call)."""
    kv: Optional[list[str]] = None
    if annotations is not None:
        kv = []
        for k, v in dict(annotations).items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("annotations must map str to str, not %r: %r" % (k, v))
            kv += [k, v]
    vec = make_strv(kv)
    created = _enc(created_by)
    return _lib.AddLayerOptions(created_by=created, annotations=vec), (vec, created)


class _Handle(_io._Closable, _io._Child):
    _what = "handle"

    def __init__(self, parent: Any, ptr: Any) -> None:
        self._adopt(parent, ptr)

    def _p(self) -> Any:
        return self._checked(self._what)

    def _free(self, ptr: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        ptr = self._detach()
        if ptr:
            self._free(ptr)

    _release = close


class Image(_Handle):
    """One manifest, its config and its layers (from OciDir.image()).  Immutable.

    Config accessors (``entrypoint``, ``cmd``, ``env``, ``diff_ids``: lists;
    ``user``, ``working_dir``, ``os``, ``architecture``, ``variant``,
    ``created``, ``stop_signal``: str) give None for an absent field and raise
    NotFound when the image has no image config (an artifact)."""

    _what = "image"

    def _free(self, ptr: Any) -> None:
        fn.image_close(ptr)

    @property
    def digest(self) -> str:
        """The manifest's digest."""
        d = digest_buffer()
        fn.image_manifest(self._p(), d, None, None)
        return d.value.decode()

    @property
    def manifest(self) -> bytes:
        """The manifest's raw, verified bytes."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        fn.image_manifest(self._p(), None, ctypes.byref(buf), ctypes.byref(n))
        return ctypes.string_at(cast(int, buf.value), n.value) if n.value else b""

    @property
    def config_descriptor(self) -> Descriptor:
        mt, d, size = ctypes.c_void_p(), digest_buffer(), ctypes.c_uint64()
        fn.image_config_descriptor(self._p(), ctypes.byref(mt), d, ctypes.byref(size))
        return Descriptor(take_string(mt.value) or "", d.value.decode(), size.value)

    @property
    def config_is_empty(self) -> bool:
        """True for the empty config descriptor (artifacts)."""
        return bool(fn.image_config_is_empty(self._p()))

    @property
    def artifact_type(self) -> Optional[str]:
        v = fn.image_artifact_type(self._p())
        return None if v is None else str(v.decode())

    @property
    def config(self) -> bytes:
        """The raw, verified config bytes (``{}`` for the empty descriptor)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        fn.image_config_raw(self._p(), ctypes.byref(buf), ctypes.byref(n))
        return ctypes.string_at(cast(int, buf.value), n.value) if n.value else b""

    @property
    def labels(self) -> dict[str, str]:
        v = ctypes.POINTER(ctypes.c_char_p)()
        fn.image_config_labels(self._p(), ctypes.byref(v))
        return take_kv(v)

    @property
    def annotations(self) -> dict[str, str]:
        """The manifest's annotations."""
        return self.layer_annotations(MANIFEST)

    def layer_annotations(self, index: int) -> dict[str, str]:
        v = ctypes.POINTER(ctypes.c_char_p)()
        fn.image_annotations(self._p(), index, ctypes.byref(v))
        return take_kv(v)

    def __len__(self) -> int:
        return int(fn.image_layer_count(self._p()))

    def layer(self, index: int) -> Descriptor:
        """The descriptor of layer `index` (NotFound past the end)."""
        if index < 0:
            index += len(self)
            if index < 0:
                raise IndexError("layer index out of range")
        mt, d, size = ctypes.c_void_p(), digest_buffer(), ctypes.c_uint64()
        fn.image_layer(self._p(), index, ctypes.byref(mt), d, ctypes.byref(size))
        return Descriptor(take_string(mt.value) or "", d.value.decode(), size.value)

    @property
    def layers(self) -> list[Descriptor]:
        """The layer descriptors, in manifest order."""
        return [self.layer(i) for i in range(len(self))]

    def layer_reader(self, index: int, *, max_size: Optional[int] = None) -> _io.LayerReader:
        """A decompressing, verifying stream of layer `index` (its diff_id from
        the config).  With `max_size`, a read that would pass that many
        decompressed bytes raises TooLarge."""
        if max_size is not None and max_size <= 0:
            raise ValueError("max_size must be None (no bound) or > 0, not %d" % max_size)
        opts = None if max_size is None else _lib.LayerReaderOptions(max_size=max_size)
        r = layer_reader_p()
        fn.image_layer_open_opts(self._p(), index, None if opts is None else ctypes.byref(opts), ctypes.byref(r))
        return _io.LayerReader(self._parent, r)

    def config_field(self, name: str) -> Union[list[str], str, None]:
        """A config field by name (see the class docstring)."""
        code = CONFIG_FIELDS[name]
        if name in _STRV_FIELDS:
            v = ctypes.POINTER(ctypes.c_char_p)()
            fn.image_config_strv(self._p(), code, ctypes.byref(v))
            return take_strv(v)
        s = ctypes.c_void_p()
        fn.image_config_string(self._p(), code, ctypes.byref(s))
        return take_string(s.value)


    # The config fields, as properties (None when absent; NotFound for an
    # image without an image config).
    def _strv_field(self, name: str) -> Optional[list[str]]:
        v = self.config_field(name)
        assert v is None or isinstance(v, list)
        return v

    def _string_field(self, name: str) -> Optional[str]:
        v = self.config_field(name)
        assert v is None or isinstance(v, str)
        return v

    @property
    def entrypoint(self) -> Optional[list[str]]:
        """config.Entrypoint"""
        return self._strv_field("entrypoint")

    @property
    def cmd(self) -> Optional[list[str]]:
        """config.Cmd"""
        return self._strv_field("cmd")

    @property
    def env(self) -> Optional[list[str]]:
        """config.Env ("K=V" strings)"""
        return self._strv_field("env")

    @property
    def diff_ids(self) -> Optional[list[str]]:
        """rootfs.diff_ids"""
        return self._strv_field("diff_ids")

    @property
    def user(self) -> Optional[str]:
        """config.User"""
        return self._string_field("user")

    @property
    def working_dir(self) -> Optional[str]:
        """config.WorkingDir"""
        return self._string_field("working_dir")

    @property
    def os(self) -> Optional[str]:
        """os"""
        return self._string_field("os")

    @property
    def architecture(self) -> Optional[str]:
        """architecture"""
        return self._string_field("architecture")

    @property
    def variant(self) -> Optional[str]:
        """variant"""
        return self._string_field("variant")

    @property
    def created(self) -> Optional[str]:
        """created"""
        return self._string_field("created")

    @property
    def stop_signal(self) -> Optional[str]:
        """config.StopSignal"""
        return self._string_field("stop_signal")

    def unpack(self, path: FsPath, *, owner: str = "tar",
               uid_map: Optional[Iterable[tuple[int, int, int]]] = None,
               gid_map: Optional[Iterable[tuple[int, int, int]]] = None,
               fallback_uid: Optional[int] = None, fallback_gid: Optional[int] = None,
               max_bytes: Optional[int] = None, max_entries: Optional[int] = None,
               all_xattrs: bool = False, no_xattrs: bool = False, no_sync: bool = False,
               progress: Optional[ProgressCallback] = None, dir_fd: Optional[int] = None) -> Report:
        """Unpack every layer, in order, into the directory `path` (relative
        to `dir_fd` when given), which must be absent (it is created) or an
        empty directory; anything else raises AlreadyExists and nothing is
        touched.  Returns a Report of what was skipped (FindKind
        XATTR_SKIPPED, XATTR_UNSUPPORTED, DEVICE_SKIPPED), with ``blobs`` the
        layers applied and ``bytes`` the file bytes written.

        `owner`: "tar" (lchown to the tar's ids), "map" (shift them through
        `uid_map` / `gid_map`, sequences of (container_id, host_id, size)) or
        "rootless" (the caller owns everything; the tar's owners go into the
        ``user.rootlesscontainers`` xattr).  `fallback_uid` / `fallback_gid`:
        the id for one the namespace or the map does not cover (None: raise
        InvalidArgument).  `max_bytes` / `max_entries` bound the content
        written and the tar entries (None: the library's defaults, 1 TiB and
        2**24; TooLarge past them).  `all_xattrs` also applies the namespaces
        refused by default; `no_xattrs` applies none; `no_sync` skips the
        final syncfs().

        Any failure (a layer that does not match its digest or diff_id:
        DigestMismatch; a hostile entry: FormatError or EscapeError; ...)
        removes everything the call created, so `path` is again absent or
        empty.  An exception raised by progress(done, total) (compressed
        layer bytes; called at the start, as each layer finishes and every
        256 entries) cancels the unpack the same way and is re-raised."""
        try:
            mode = _OWNER_MODES[owner]
        except KeyError:
            raise ValueError("unknown owner mode %r (use 'tar', 'map' or 'rootless')" % (owner,)) from None
        flags = ((_UNPACK_ALL_XATTRS if all_xattrs else 0) | (_UNPACK_NO_XATTRS if no_xattrs else 0)
                 | (_UNPACK_NO_SYNC if no_sync else 0))
        uids, gids = _idmap_array(uid_map, "uid_map"), _idmap_array(gid_map, "gid_map")
        fields: dict[str, Any] = dict(flags=flags, owner_mode=mode,
                                      fallback_uid=_fallback_id(fallback_uid, "fallback_uid"),
                                      fallback_gid=_fallback_id(fallback_gid, "fallback_gid"))
        if uids is not None:
            fields.update(uid_map=uids, n_uid_map=len(uids))
        if gids is not None:
            fields.update(gid_map=gids, n_gid_map=len(gids))
        if max_bytes is not None:
            fields["max_bytes"] = _positive(max_bytes, "max_bytes")
        if max_entries is not None:
            fields["max_entries"] = _positive(max_entries, "max_entries")
        p = self._p()
        fd = _AT_FDCWD if dir_fd is None else dir_fd
        target = os.fsencode(path)

        def call(cb: Any, out: Any) -> None:
            opts = _lib.UnpackOptions(progress=cb, **fields)
            fn.unpack(p, fd, target, ctypes.byref(opts), out)

        rep = run_with_report(call, progress)
        del uids, gids
        return rep


_AT_FDCWD = -100
_OWNER_MODES = {"tar": 0, "map": 1, "rootless": 2}  # OCIDIR_UNPACK_OWNER_*
_UNPACK_ALL_XATTRS, _UNPACK_NO_XATTRS, _UNPACK_NO_SYNC = 1, 2, 4


def _idmap_array(ranges: Optional[Iterable[tuple[int, int, int]]], what: str) -> Any:
    """A ctypes array of IdMap for a sequence of (container_id, host_id, size), or None."""
    if ranges is None:
        return None
    items = list(ranges)
    arr = (_lib.IdMap * max(len(items), 1))()
    for i, r in enumerate(items):
        try:
            c, h, n = r
        except (TypeError, ValueError):
            raise TypeError("%s entries are (container_id, host_id, size) triples, not %r" % (what, r)) from None
        for v in (c, h, n):
            if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
                raise ValueError("%s: %r is not a 32-bit id" % (what, v))
        arr[i] = _lib.IdMap(c, h, n)
    return arr if items else None


def _fallback_id(v: Optional[int], what: str) -> int:
    if v is None:
        return -1
    if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError("%s must be None or a 32-bit id, not %r" % (what, v))
    return v


def _positive(v: int, what: str) -> int:
    if not isinstance(v, int) or v <= 0:
        raise ValueError("%s must be None (the default) or > 0, not %r" % (what, v))
    return v


class Builder(_Handle):
    """An image or artifact being built (from OciDir.builder(),
    OciDir.artifact_builder() or OciDir.builder_from()).  commit() writes the
    config, the manifest and the tag, in an order a crash cannot break; the
    builder stays usable afterwards."""

    _what = "builder"
    _SETTABLE = ("entrypoint", "cmd", "env", "user", "working_dir", "stop_signal")

    def _free(self, ptr: Any) -> None:
        fn.builder_free(ptr)

    def set_created(self, rfc3339: Optional[str]) -> None:
        """The `created` time (e.g. "2024-01-01T00:00:00Z"); None omits it."""
        fn.builder_set_created(self._p(), _enc(rfc3339))

    def add_layer(self, media_type: str, digest: str, size: int, diff_id: Optional[str] = None,
                  created_by: Optional[str] = None, *, annotations: Optional[Mapping[str, str]] = None) -> None:
        """Append a layer present as a blob (diff_id required for images,
        None for artifacts).  `annotations` (a dict of str) become the layer
        descriptor's annotations."""
        opts, keep = _add_layer_options(created_by, annotations)
        fn.builder_add_layer_opts(self._p(), _enc(media_type), _enc(digest), size,
                                  _enc(diff_id), ctypes.byref(opts))
        del keep

    def add_layer_writer(self, writer: _io.LayerWriter, created_by: Optional[str] = None, *,
                         annotations: Optional[Mapping[str, str]] = None) -> None:
        """Commit a LayerWriter and append its layer (`annotations` as in
        add_layer()).  The writer is finished either way."""
        p = self._p()
        if not isinstance(writer, _io.LayerWriter):
            raise TypeError("add_layer_writer() takes a LayerWriter")
        try:
            opts, keep = _add_layer_options(created_by, annotations)
        except BaseException:
            writer.abort()
            raise
        fn.builder_add_layer_writer_opts(p, writer._hand_over(), ctypes.byref(opts))
        del keep

    def set_config(self, **fields: Union[Sequence[str], str, None]) -> None:
        """Set config fields: entrypoint, cmd, env (lists of str); user,
        working_dir, stop_signal (str).  None removes a field."""
        p = self._p()
        for name, value in fields.items():
            if name not in self._SETTABLE:
                raise TypeError("set_config(): %r is not a settable config field" % name)
            code = CONFIG_FIELDS[name]
            if name in _STRV_FIELDS:
                if isinstance(value, str):
                    raise TypeError("%s takes a list of str" % name)
                fn.builder_set_config_strv(p, code, make_strv(None if value is None else list(value)))
            else:
                if value is not None and not isinstance(value, str):
                    raise TypeError("%s takes a str" % name)
                fn.builder_set_config_string(p, code, _enc(value))

    def set_label(self, key: str, value: Optional[str]) -> None:
        """Set (or, with None, remove) a config label."""
        fn.builder_set_label(self._p(), _enc(key), _enc(value))

    def set_annotation(self, key: str, value: Optional[str]) -> None:
        """Set (or, with None, remove) a manifest annotation."""
        fn.builder_set_annotation(self._p(), _enc(key), _enc(value))

    def set_subject(self, digest: Optional[str]) -> None:
        """Make the manifest refer to `digest` as its subject (None removes it)."""
        fn.builder_set_subject(self._p(), _enc(digest))

    def commit(self, tag: Optional[str] = None, *, replace: bool = True) -> str:
        """Write config, manifest and `tag` (None: an untagged index entry);
        returns the manifest digest.  replace=False raises AlreadyExists for
        an existing tag."""
        d = digest_buffer()
        fn.builder_commit(self._p(), _enc(tag), 0 if replace else 1, d)
        return d.value.decode()
