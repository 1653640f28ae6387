"""Images (read) and builders (write)."""

import ctypes
import os
from collections import namedtuple

from . import _io
from . import _lib
from ._lib import fn, digest_buffer, layer_reader_p, take_string, take_strv, take_kv, make_strv
from ._report import Report, run_with_report

__all__ = ["Descriptor", "Image", "Builder"]

Descriptor = namedtuple("Descriptor", "media_type digest size")
Descriptor.__doc__ = "An OCI descriptor: media type, digest, size."

# ocidir_config_field_t
CONFIG_FIELDS = {
    "entrypoint": 0, "cmd": 1, "env": 2, "diff_ids": 3, "user": 4, "working_dir": 5,
    "os": 6, "architecture": 7, "variant": 8, "created": 9, "stop_signal": 10,
}
_STRV_FIELDS = ("entrypoint", "cmd", "env", "diff_ids")

MANIFEST = ctypes.c_size_t(-1).value  # OCIDIR_MANIFEST


def _enc(s):
    return None if s is None else s.encode("utf-8")


def _add_layer_options(created_by, annotations):
    """(AddLayerOptions, the objects it points into, to keep alive for the call)."""
    kv = None
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

    def __init__(self, parent, ptr):
        self._adopt(parent, ptr)

    def _p(self):
        return self._checked(self._what)

    def close(self):
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

    def _free(self, ptr):
        fn.image_close(ptr)

    @property
    def digest(self):
        """The manifest's digest."""
        d = digest_buffer()
        fn.image_manifest(self._p(), d, None, None)
        return d.value.decode()

    @property
    def manifest(self):
        """The manifest's raw, verified bytes."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        fn.image_manifest(self._p(), None, ctypes.byref(buf), ctypes.byref(n))
        return ctypes.string_at(buf.value, n.value) if n.value else b""

    @property
    def config_descriptor(self):
        mt, d, size = ctypes.c_void_p(), digest_buffer(), ctypes.c_uint64()
        fn.image_config_descriptor(self._p(), ctypes.byref(mt), d, ctypes.byref(size))
        return Descriptor(take_string(mt.value), d.value.decode(), size.value)

    @property
    def config_is_empty(self):
        """True for the empty config descriptor (artifacts)."""
        return bool(fn.image_config_is_empty(self._p()))

    @property
    def artifact_type(self):
        v = fn.image_artifact_type(self._p())
        return None if v is None else v.decode()

    @property
    def config(self):
        """The raw, verified config bytes (``{}`` for the empty descriptor)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        fn.image_config_raw(self._p(), ctypes.byref(buf), ctypes.byref(n))
        return ctypes.string_at(buf.value, n.value) if n.value else b""

    @property
    def labels(self):
        v = ctypes.POINTER(ctypes.c_char_p)()
        fn.image_config_labels(self._p(), ctypes.byref(v))
        return take_kv(v)

    @property
    def annotations(self):
        """The manifest's annotations."""
        return self.layer_annotations(MANIFEST)

    def layer_annotations(self, index):
        v = ctypes.POINTER(ctypes.c_char_p)()
        fn.image_annotations(self._p(), index, ctypes.byref(v))
        return take_kv(v)

    def __len__(self):
        return fn.image_layer_count(self._p())

    def layer(self, index):
        """The descriptor of layer `index` (NotFound past the end)."""
        if index < 0:
            index += len(self)
            if index < 0:
                raise IndexError("layer index out of range")
        mt, d, size = ctypes.c_void_p(), digest_buffer(), ctypes.c_uint64()
        fn.image_layer(self._p(), index, ctypes.byref(mt), d, ctypes.byref(size))
        return Descriptor(take_string(mt.value), d.value.decode(), size.value)

    @property
    def layers(self):
        """The layer descriptors, in manifest order."""
        return [self.layer(i) for i in range(len(self))]

    def layer_reader(self, index, *, max_size=None):
        """A decompressing, verifying stream of layer `index` (its diff_id from
        the config).  With `max_size`, a read that would pass that many
        decompressed bytes raises TooLarge."""
        if max_size is not None and max_size <= 0:
            raise ValueError("max_size must be None (no bound) or > 0, not %d" % max_size)
        opts = None if max_size is None else _lib.LayerReaderOptions(max_size=max_size)
        r = layer_reader_p()
        fn.image_layer_open_opts(self._p(), index, None if opts is None else ctypes.byref(opts), ctypes.byref(r))
        return _io.LayerReader(self._parent, r)

    def config_field(self, name):
        """A config field by name (see the class docstring)."""
        code = CONFIG_FIELDS[name]
        if name in _STRV_FIELDS:
            v = ctypes.POINTER(ctypes.c_char_p)()
            fn.image_config_strv(self._p(), code, ctypes.byref(v))
            return take_strv(v)
        s = ctypes.c_void_p()
        fn.image_config_string(self._p(), code, ctypes.byref(s))
        return take_string(s.value)


    def unpack(self, path, *, owner="tar", uid_map=None, gid_map=None, fallback_uid=None,
               fallback_gid=None, max_bytes=None, max_entries=None, all_xattrs=False,
               no_xattrs=False, no_sync=False, progress=None, dir_fd=None):
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
        fields = dict(flags=flags, owner_mode=mode,
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

        def call(cb, out):
            opts = _lib.UnpackOptions(progress=cb, **fields)
            fn.unpack(p, fd, target, ctypes.byref(opts), out)

        rep = run_with_report(call, progress)
        del uids, gids
        return rep


_AT_FDCWD = -100
_OWNER_MODES = {"tar": 0, "map": 1, "rootless": 2}  # OCIDIR_UNPACK_OWNER_*
_UNPACK_ALL_XATTRS, _UNPACK_NO_XATTRS, _UNPACK_NO_SYNC = 1, 2, 4


def _idmap_array(ranges, what):
    """A ctypes array of IdMap for a sequence of (container_id, host_id, size), or None."""
    if ranges is None:
        return None
    ranges = list(ranges)
    arr = (_lib.IdMap * max(len(ranges), 1))()
    for i, r in enumerate(ranges):
        try:
            c, h, n = r
        except (TypeError, ValueError):
            raise TypeError("%s entries are (container_id, host_id, size) triples, not %r" % (what, r)) from None
        for v in (c, h, n):
            if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
                raise ValueError("%s: %r is not a 32-bit id" % (what, v))
        arr[i] = _lib.IdMap(c, h, n)
    return arr if ranges else None


def _fallback_id(v, what):
    if v is None:
        return -1
    if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError("%s must be None or a 32-bit id, not %r" % (what, v))
    return v


def _positive(v, what):
    if not isinstance(v, int) or v <= 0:
        raise ValueError("%s must be None (the default) or > 0, not %r" % (what, v))
    return v


def _field_property(name):
    return property(lambda self: self.config_field(name), doc="config field %s" % name)


for _name in CONFIG_FIELDS:
    setattr(Image, _name, _field_property(_name))


class Builder(_Handle):
    """An image or artifact being built (from OciDir.builder(),
    OciDir.artifact_builder() or OciDir.builder_from()).  commit() writes the
    config, the manifest and the tag, in an order a crash cannot break; the
    builder stays usable afterwards."""

    _what = "builder"
    _SETTABLE = ("entrypoint", "cmd", "env", "user", "working_dir", "stop_signal")

    def _free(self, ptr):
        fn.builder_free(ptr)

    def set_created(self, rfc3339):
        """The `created` time (e.g. "2024-01-01T00:00:00Z"); None omits it."""
        fn.builder_set_created(self._p(), _enc(rfc3339))

    def add_layer(self, media_type, digest, size, diff_id=None, created_by=None, *, annotations=None):
        """Append a layer present as a blob (diff_id required for images,
        None for artifacts).  `annotations` (a dict of str) become the layer
        descriptor's annotations."""
        opts, keep = _add_layer_options(created_by, annotations)
        fn.builder_add_layer_opts(self._p(), _enc(media_type), _enc(digest), size,
                                  _enc(diff_id), ctypes.byref(opts))
        del keep

    def add_layer_writer(self, writer, created_by=None, *, annotations=None):
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

    def set_config(self, **fields):
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
                fn.builder_set_config_string(p, code, _enc(value))

    def set_label(self, key, value):
        """Set (or, with None, remove) a config label."""
        fn.builder_set_label(self._p(), _enc(key), _enc(value))

    def set_annotation(self, key, value):
        """Set (or, with None, remove) a manifest annotation."""
        fn.builder_set_annotation(self._p(), _enc(key), _enc(value))

    def set_subject(self, digest):
        """Make the manifest refer to `digest` as its subject (None removes it)."""
        fn.builder_set_subject(self._p(), _enc(digest))

    def commit(self, tag=None, *, replace=True):
        """Write config, manifest and `tag` (None: an untagged index entry);
        returns the manifest digest.  replace=False raises AlreadyExists for
        an existing tag."""
        d = digest_buffer()
        fn.builder_commit(self._p(), _enc(tag), 0 if replace else 1, d)
        return d.value.decode()
