"""Images (read) and builders (write)."""

import ctypes
from collections import namedtuple

from . import _io
from . import _lib
from ._lib import fn, digest_buffer, layer_reader_p, take_string, take_strv, take_kv, make_strv

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
