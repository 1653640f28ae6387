"""Loading libocidir and the one table declaring every symbol the binding uses.

The library is found, in this order, at the path in the environment variable
OCIDIR_LIBRARY, next to this package (a ``libocidir.so*`` installed into the
package directory), then through ``ctypes.util.find_library("ocidir")``.

Each handle type of the C API is its own opaque ``ctypes.Structure``, so that
passing an image where a layout is expected fails in ctypes, not in C.
Functions returning a status (``int`` or ``ssize_t``) get an errcheck that
turns a negative result into the matching :mod:`ocidir.errors` exception,
reading the thread-local message and errno right after the call, on the
calling thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from typing import Any, Iterator, NoReturn, Optional, Sequence

from . import errors

__all__ = ["lib", "path", "DIGEST_MAX"]

_MIN_VERSION = 500  # 0.5.0: the options-struct ABI this binding is written against
_MAJOR = 0


def _candidates() -> Iterator[tuple[str, str]]:
    env = os.environ.get("OCIDIR_LIBRARY")
    if env:
        yield env, "OCIDIR_LIBRARY"
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libocidir.so.%d" % _MAJOR, "libocidir.so"):
        p = os.path.join(here, name)
        if os.path.exists(p):
            yield p, "the package directory"
    for p in sorted(glob.glob(os.path.join(here, "libocidir.so.%d.*" % _MAJOR))):
        yield p, "the package directory"
    found = ctypes.util.find_library("ocidir")
    if found:
        yield found, 'ctypes.util.find_library("ocidir")'


def _load() -> tuple[ctypes.CDLL, str]:
    tried = []
    for candidate, source in _candidates():
        try:
            return ctypes.CDLL(candidate, use_errno=False), candidate
        except OSError as e:
            tried.append("%s (from %s): %s" % (candidate, source, e))
    if os.environ.get("OCIDIR_LIBRARY"):
        raise ImportError("cannot load libocidir: " + "; ".join(tried))
    raise ImportError(
        "cannot find libocidir: set OCIDIR_LIBRARY to the path of libocidir.so, "
        "install libocidir.so.%d next to the ocidir package, or install it where "
        'ctypes.util.find_library("ocidir") finds it (ldconfig)%s'
        % (_MAJOR, (": " + "; ".join(tried)) if tried else ""))


lib, path = _load()


# Opaque handle types, one per C typedef.
class Layout(ctypes.Structure):
    """struct ocidir (ocidir_t)."""


class BlobWriter(ctypes.Structure):
    """struct ocidir_blob_writer."""


class BlobReader(ctypes.Structure):
    """struct ocidir_blob_reader."""


class Image(ctypes.Structure):
    """struct ocidir_image."""


class LayerWriter(ctypes.Structure):
    """struct ocidir_layer_writer."""


class LayerReader(ctypes.Structure):
    """struct ocidir_layer_reader."""


class Builder(ctypes.Structure):
    """struct ocidir_builder."""


class Report(ctypes.Structure):
    """struct ocidir_report."""


layout_p = ctypes.POINTER(Layout)
blob_writer_p = ctypes.POINTER(BlobWriter)
blob_reader_p = ctypes.POINTER(BlobReader)
image_p = ctypes.POINTER(Image)
layer_writer_p = ctypes.POINTER(LayerWriter)
layer_reader_p = ctypes.POINTER(LayerReader)
builder_p = ctypes.POINTER(Builder)
report_p = ctypes.POINTER(Report)

strv = ctypes.POINTER(ctypes.c_char_p)      # char ** (NULL-terminated)
strv_out = ctypes.POINTER(strv)             # char ***
str_out = ctypes.POINTER(ctypes.c_void_p)   # char ** freed with ocidir_free (kept as an address)
buf_out = ctypes.POINTER(ctypes.c_void_p)   # const void ** / void **
u64_out = ctypes.POINTER(ctypes.c_uint64)
size_out = ctypes.POINTER(ctypes.c_size_t)
digest_buf = ctypes.c_char_p                # char[OCIDIR_DIGEST_MAX], filled by the library

# ocidir_progress_fn: int (*)(uint64_t done, uint64_t total, void *user);
# non-zero cancels the operation (OCIDIR_E_CANCELED).
progress_fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p)

_c_int, _c_uint, _c_size_t = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t
_c_char_p, _c_void_p = ctypes.c_char_p, ctypes.c_void_p
_c_int64, _c_uint64 = ctypes.c_int64, ctypes.c_uint64


# Versioned options structs (ocidir.h, "Options").  Each starts with
# `size_t struct_size`, which the constructor sets to ctypes.sizeof() of the
# struct as declared here, after the library's ocidir_*_options_init() has
# written its defaults; keyword arguments then set fields.  A field added to
# the C struct later is appended here at the end, never inserted.
class _Options(ctypes.Structure):
    _init_name = ""  # the ocidir_*_options_init() filling the defaults

    def __init__(self, **fields: Any) -> None:
        super().__init__()
        size = ctypes.sizeof(self)
        getattr(fn, self._init_name)(ctypes.byref(self), size)
        self.struct_size = size
        for name, value in fields.items():
            setattr(self, name, value)


class FsckOptions(_Options):
    """ocidir_fsck_options_t."""
    _init_name = "fsck_options_init"
    _fields_ = [("struct_size", _c_size_t), ("flags", _c_uint), ("threads", _c_uint),
                ("progress", progress_fn), ("user", _c_void_p)]


class GcOptions(_Options):
    """ocidir_gc_options_t (gc, cache gc, tag_remove_gc)."""
    _init_name = "gc_options_init"
    _fields_ = [("struct_size", _c_size_t), ("flags", _c_uint), ("grace_seconds", _c_int64),
                ("progress", progress_fn), ("user", _c_void_p)]


class CloneOptions(_Options):
    """ocidir_clone_options_t."""
    _init_name = "clone_options_init"
    _fields_ = [("struct_size", _c_size_t), ("flags", _c_uint),
                ("progress", progress_fn), ("user", _c_void_p)]


class CopyOptions(_Options):
    """ocidir_copy_options_t."""
    _init_name = "copy_options_init"
    _fields_ = [("struct_size", _c_size_t), ("flags", _c_uint),
                ("progress", progress_fn), ("user", _c_void_p)]


class LayerWriterOptions(_Options):
    """ocidir_layer_writer_options_t (enums are int)."""
    _init_name = "layer_writer_options_init"
    _fields_ = [("struct_size", _c_size_t), ("compression", _c_int), ("level", _c_int),
                ("threads", _c_int), ("alg", _c_int), ("zstd_window_log", _c_int),
                ("zstd_long", _c_int), ("flags", _c_uint)]


class LayerReaderOptions(_Options):
    """ocidir_layer_reader_options_t."""
    _init_name = "layer_reader_options_init"
    _fields_ = [("struct_size", _c_size_t), ("max_size", _c_uint64), ("flags", _c_uint)]


class AddLayerOptions(_Options):
    """ocidir_add_layer_options_t.  `annotations` points into a vector the
    caller keeps alive for the call (see make_strv)."""
    _init_name = "add_layer_options_init"
    _fields_ = [("struct_size", _c_size_t), ("created_by", _c_char_p),
                ("annotations", strv), ("flags", _c_uint)]


class PutOptions(_Options):
    """ocidir_put_options_t (blob put / put_fd / writer_new with options)."""
    _init_name = "put_options_init"
    _fields_ = [("struct_size", _c_size_t), ("alg", _c_int), ("flags", _c_uint)]


class IdMap(ctypes.Structure):
    """ocidir_idmap_t: one range of an id map (container id, host id, size)."""
    _fields_ = [("container_id", ctypes.c_uint32), ("host_id", ctypes.c_uint32),
                ("size", ctypes.c_uint32)]


class UnpackOptions(_Options):
    """ocidir_unpack_options_t.  `uid_map` / `gid_map` point into arrays the
    caller keeps alive for the call."""
    _init_name = "unpack_options_init"
    _fields_ = [("struct_size", _c_size_t), ("flags", _c_uint), ("owner_mode", _c_int),
                ("uid_map", ctypes.POINTER(IdMap)), ("n_uid_map", _c_size_t),
                ("gid_map", ctypes.POINTER(IdMap)), ("n_gid_map", _c_size_t),
                ("fallback_uid", _c_int64), ("fallback_gid", _c_int64),
                ("max_bytes", _c_uint64), ("max_entries", _c_uint64),
                ("progress", progress_fn), ("user", _c_void_p)]


GC_GRACE_HANDLE = -1  # OCIDIR_GC_GRACE_HANDLE


def raise_last(code: int, func_name: Optional[str] = None) -> NoReturn:
    """Raise the exception for `code` with this thread's last message and errno."""
    msg = lib.ocidir_last_error()
    msg = msg.decode("utf-8", "replace") if msg else ""
    err = lib.ocidir_last_errno()
    if not msg and func_name:
        msg = "%s failed: %s" % (func_name, lib.ocidir_strerror(code).decode())
    raise errors.make_error(code, msg, err)


def _check_status(result: int, func: Any, args: Any) -> int:
    if result < 0:
        raise_last(result, func.__name__)
    return result


class _Missing:
    """Stands in for a symbol the loaded library does not export."""

    def __init__(self, name: str, why: str = "not exported by") -> None:
        self.__name__ = name
        self._why = why

    def __call__(self, *args: Any) -> NoReturn:
        raise errors.Unsupported(
            errors.E_UNSUPPORTED,
            "%s: %s the loaded libocidir %s (%s)"
            % (self.__name__, self._why, lib.ocidir_version().decode(), path))


# The declaration table: (name, argtypes, restype, checked).  A checked
# function returns a status; a negative status raises.  `optional` symbols
# (the housekeeping tier) may be absent from an older library; calling one
# then raises Unsupported.
S, N = True, False
_DECLARATIONS: list[tuple[str, list[Any], Any, bool]] = [
    # 1. Conventions
    ("ocidir_version", [], _c_char_p, N),
    ("ocidir_version_number", [], _c_uint, N),
    ("ocidir_strerror", [_c_int], _c_char_p, N),
    ("ocidir_last_error", [], _c_char_p, N),
    ("ocidir_last_errno", [], _c_int, N),
    ("ocidir_free", [_c_void_p], None, N),
    ("ocidir_strv_free", [strv], None, N),
    # 2. Digests
    ("ocidir_digest_max", [], _c_size_t, N),
    ("ocidir_digest_validate", [_c_char_p], _c_int, S),
    ("ocidir_digest_buffer", [_c_int, _c_void_p, _c_size_t, digest_buf], _c_int, S),
    ("ocidir_hash_backend", [], _c_char_p, N),
    # 3. Layout
    ("ocidir_open", [_c_int, _c_char_p, _c_uint, ctypes.POINTER(layout_p)], _c_int, S),
    ("ocidir_close", [layout_p], None, N),
    ("ocidir_is_readonly", [layout_p], _c_int, N),
    ("ocidir_resolver_uses_openat2", [], _c_int, N),
    # 4. Shared cache
    ("ocidir_add_blobdir_fd", [layout_p, _c_int, _c_uint], _c_int, S),
    # 5. Blobs
    ("ocidir_blob_writer_new", [layout_p, _c_int, ctypes.POINTER(blob_writer_p)], _c_int, S),
    ("ocidir_blob_writer_expect", [blob_writer_p, _c_char_p, _c_int64], _c_int, S),
    ("ocidir_blob_writer_write", [blob_writer_p, _c_void_p, _c_size_t], _c_int, S),
    ("ocidir_blob_writer_commit", [blob_writer_p, digest_buf, u64_out], _c_int, S),
    ("ocidir_blob_writer_abort", [blob_writer_p], None, N),
    ("ocidir_blob_put", [layout_p, _c_void_p, _c_size_t, digest_buf], _c_int, S),
    ("ocidir_blob_put_fd", [layout_p, _c_int, digest_buf, u64_out], _c_int, S),
    ("ocidir_blob_stat", [layout_p, _c_char_p, u64_out], _c_int, S),
    ("ocidir_blob_open", [layout_p, _c_char_p, _c_int64, ctypes.POINTER(blob_reader_p)], _c_int, S),
    ("ocidir_blob_reader_read", [blob_reader_p, _c_void_p, _c_size_t], ctypes.c_ssize_t, S),
    ("ocidir_blob_reader_size", [blob_reader_p], _c_uint64, N),
    ("ocidir_blob_reader_close", [blob_reader_p], None, N),
    ("ocidir_blob_read_all", [layout_p, _c_char_p, _c_int64, _c_size_t, buf_out, size_out], _c_int, S),
    ("ocidir_blob_open_fd", [layout_p, _c_char_p, ctypes.POINTER(_c_int)], _c_int, S),
    ("ocidir_blob_remove", [layout_p, _c_char_p], _c_int, S),
    # 6. Index and tags
    ("ocidir_tag_validate", [_c_char_p], _c_int, S),
    ("ocidir_set_json_limit", [layout_p, _c_size_t], _c_int, S),
    ("ocidir_tag_list", [layout_p, strv_out], _c_int, S),
    ("ocidir_resolve", [layout_p, _c_char_p, digest_buf, str_out, u64_out], _c_int, S),
    ("ocidir_tag_set", [layout_p, _c_char_p, _c_char_p, _c_uint], _c_int, S),
    ("ocidir_tag_remove", [layout_p, _c_char_p], _c_int, S),
    ("ocidir_index_add", [layout_p, _c_char_p], _c_int, S),
    # 7. Images
    ("ocidir_platform_default", [], _c_char_p, N),
    ("ocidir_image_open", [layout_p, _c_char_p, _c_char_p, ctypes.POINTER(image_p)], _c_int, S),
    ("ocidir_image_close", [image_p], None, N),
    ("ocidir_image_manifest", [image_p, digest_buf, buf_out, size_out], _c_int, S),
    ("ocidir_image_config_descriptor", [image_p, str_out, digest_buf, u64_out], _c_int, S),
    ("ocidir_image_config_is_empty", [image_p], _c_int, N),
    ("ocidir_image_artifact_type", [image_p], _c_char_p, N),
    ("ocidir_image_layer_count", [image_p], _c_size_t, N),
    ("ocidir_image_layer", [image_p, _c_size_t, str_out, digest_buf, u64_out], _c_int, S),
    ("ocidir_image_annotations", [image_p, _c_size_t, strv_out], _c_int, S),
    ("ocidir_image_config_strv", [image_p, _c_int, strv_out], _c_int, S),
    ("ocidir_image_config_string", [image_p, _c_int, str_out], _c_int, S),
    ("ocidir_image_config_labels", [image_p, strv_out], _c_int, S),
    ("ocidir_image_config_raw", [image_p, buf_out, size_out], _c_int, S),
    ("ocidir_referrers", [layout_p, _c_char_p, _c_char_p, strv_out], _c_int, S),
    # 8. Layers
    ("ocidir_compression_media_type", [_c_int], _c_char_p, N),
    ("ocidir_layer_writer_new", [layout_p, _c_int, _c_int, _c_int, ctypes.POINTER(layer_writer_p)], _c_int, S),
    ("ocidir_layer_writer_options_init", [ctypes.POINTER(LayerWriterOptions), _c_size_t], _c_int, S),
    ("ocidir_layer_writer_new_opts", [layout_p, ctypes.POINTER(LayerWriterOptions),
                                      ctypes.POINTER(layer_writer_p)], _c_int, S),
    ("ocidir_layer_writer_write", [layer_writer_p, _c_void_p, _c_size_t], _c_int, S),
    ("ocidir_layer_writer_commit", [layer_writer_p, digest_buf, u64_out, digest_buf], _c_int, S),
    ("ocidir_layer_writer_media_type", [layer_writer_p], _c_char_p, N),
    ("ocidir_layer_writer_abort", [layer_writer_p], None, N),
    ("ocidir_layer_open", [layout_p, _c_char_p, _c_char_p, _c_int64, _c_char_p, ctypes.POINTER(layer_reader_p)], _c_int, S),
    ("ocidir_image_layer_open", [image_p, _c_size_t, ctypes.POINTER(layer_reader_p)], _c_int, S),
    ("ocidir_layer_reader_options_init", [ctypes.POINTER(LayerReaderOptions), _c_size_t], _c_int, S),
    ("ocidir_layer_open_opts", [layout_p, _c_char_p, _c_char_p, _c_int64, _c_char_p,
                                ctypes.POINTER(LayerReaderOptions), ctypes.POINTER(layer_reader_p)], _c_int, S),
    ("ocidir_image_layer_open_opts", [image_p, _c_size_t, ctypes.POINTER(LayerReaderOptions),
                                      ctypes.POINTER(layer_reader_p)], _c_int, S),
    ("ocidir_layer_reader_read", [layer_reader_p, _c_void_p, _c_size_t], ctypes.c_ssize_t, S),
    ("ocidir_layer_reader_close", [layer_reader_p], None, N),
    # 9. Building images
    ("ocidir_builder_new", [layout_p, _c_char_p, ctypes.POINTER(builder_p)], _c_int, S),
    ("ocidir_builder_new_artifact", [layout_p, _c_char_p, ctypes.POINTER(builder_p)], _c_int, S),
    ("ocidir_builder_from", [layout_p, _c_char_p, _c_char_p, ctypes.POINTER(builder_p)], _c_int, S),
    ("ocidir_builder_set_created", [builder_p, _c_char_p], _c_int, S),
    ("ocidir_builder_add_layer", [builder_p, _c_char_p, _c_char_p, _c_uint64, _c_char_p, _c_char_p], _c_int, S),
    ("ocidir_builder_add_layer_writer", [builder_p, layer_writer_p, _c_char_p], _c_int, S),
    ("ocidir_add_layer_options_init", [ctypes.POINTER(AddLayerOptions), _c_size_t], _c_int, S),
    ("ocidir_builder_add_layer_opts", [builder_p, _c_char_p, _c_char_p, _c_uint64, _c_char_p,
                                       ctypes.POINTER(AddLayerOptions)], _c_int, S),
    ("ocidir_builder_add_layer_writer_opts", [builder_p, layer_writer_p, ctypes.POINTER(AddLayerOptions)],
     _c_int, S),
    ("ocidir_builder_set_config_strv", [builder_p, _c_int, strv], _c_int, S),
    ("ocidir_builder_set_config_string", [builder_p, _c_int, _c_char_p], _c_int, S),
    ("ocidir_builder_set_label", [builder_p, _c_char_p, _c_char_p], _c_int, S),
    ("ocidir_builder_set_annotation", [builder_p, _c_char_p, _c_char_p], _c_int, S),
    ("ocidir_builder_set_subject", [builder_p, _c_char_p], _c_int, S),
    ("ocidir_builder_commit", [builder_p, _c_char_p, _c_uint, digest_buf], _c_int, S),
    ("ocidir_builder_free", [builder_p], None, N),
]

# 10. Housekeeping (optional: absent from libraries that predate it).  The
# whole tier is declared only when the library has the options-struct ABI
# (ocidir_gc_options_init): an older library's ocidir_fsck, ocidir_gc, ...
# take other arguments and must not be called with these.
_HOUSEKEEPING_ABI_MARKER = "ocidir_gc_options_init"
_OPTIONAL_DECLARATIONS: list[tuple[str, list[Any], Any, bool]] = [
    ("ocidir_find_kind_name", [_c_int], _c_char_p, N),
    ("ocidir_find_kind_is_damage", [_c_int], _c_int, N),
    ("ocidir_report_count", [report_p], _c_size_t, N),
    ("ocidir_report_damage", [report_p], _c_size_t, N),
    ("ocidir_report_get", [report_p, _c_size_t, ctypes.POINTER(_c_int), ctypes.POINTER(_c_char_p),
                           u64_out, ctypes.POINTER(_c_char_p)], _c_int, S),
    ("ocidir_report_totals", [report_p, u64_out, u64_out], None, N),
    ("ocidir_report_free", [report_p], None, N),
    ("ocidir_fsck_options_init", [ctypes.POINTER(FsckOptions), _c_size_t], _c_int, S),
    ("ocidir_fsck", [layout_p, ctypes.POINTER(FsckOptions), ctypes.POINTER(report_p)], _c_int, S),
    ("ocidir_set_gc_grace", [layout_p, _c_int64], _c_int, S),
    ("ocidir_gc_options_init", [ctypes.POINTER(GcOptions), _c_size_t], _c_int, S),
    ("ocidir_gc", [layout_p, ctypes.POINTER(GcOptions), ctypes.POINTER(report_p)], _c_int, S),
    ("ocidir_cache_gc", [_c_int, ctypes.POINTER(layout_p), _c_size_t, ctypes.POINTER(GcOptions),
                         ctypes.POINTER(report_p)], _c_int, S),
    ("ocidir_clone_options_init", [ctypes.POINTER(CloneOptions), _c_size_t], _c_int, S),
    ("ocidir_clone", [layout_p, _c_int, _c_char_p, ctypes.POINTER(CloneOptions),
                      ctypes.POINTER(layout_p), ctypes.POINTER(report_p)], _c_int, S),
    ("ocidir_tag_remove_gc", [layout_p, _c_char_p, ctypes.POINTER(GcOptions), ctypes.POINTER(report_p)],
     _c_int, S),
    # 5. Blobs, with options (OCIDIR_PUT_VERIFY_EXISTING)
    ("ocidir_put_options_init", [ctypes.POINTER(PutOptions), _c_size_t], _c_int, S),
    ("ocidir_blob_put_opts", [layout_p, _c_void_p, _c_size_t, ctypes.POINTER(PutOptions), digest_buf],
     _c_int, S),
    ("ocidir_blob_put_fd_opts", [layout_p, _c_int, ctypes.POINTER(PutOptions), digest_buf, u64_out],
     _c_int, S),
    ("ocidir_blob_writer_new_opts", [layout_p, ctypes.POINTER(PutOptions), ctypes.POINTER(blob_writer_p)],
     _c_int, S),
    # 11. Unpacking
    ("ocidir_unpack_options_init", [ctypes.POINTER(UnpackOptions), _c_size_t], _c_int, S),
    ("ocidir_unpack", [image_p, _c_int, _c_char_p, ctypes.POINTER(UnpackOptions), ctypes.POINTER(report_p)],
     _c_int, S),
    # 12. Container runtime support
    ("ocidir_copy_options_init", [ctypes.POINTER(CopyOptions), _c_size_t], _c_int, S),
    ("ocidir_copy", [layout_p, _c_char_p, _c_char_p, layout_p, _c_char_p, ctypes.POINTER(CopyOptions),
                     ctypes.POINTER(report_p)], _c_int, S),
    ("ocidir_user_lookup", [_c_int, _c_char_p, ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint32)],
     _c_int, S),
]


class _Functions:
    """The declared functions, as attributes named without the `ocidir_` prefix."""

    def __getattr__(self, name: str) -> Any:  # declared by _declare(); for type checkers
        raise AttributeError(name)


fn = _Functions()


def _declare(table: Sequence[tuple[str, list[Any], Any, bool]], optional: bool, usable: bool = True) -> None:
    for name, argtypes, restype, checked in table:
        try:
            if not usable:
                raise AttributeError(name)
            f = getattr(lib, name)
        except AttributeError:
            if not optional:
                raise ImportError("libocidir at %s lacks %s; this binding needs %d.%d or newer, "
                                  "with the options-struct ABI"
                                  % (path, name, _MIN_VERSION // 10000, _MIN_VERSION // 100 % 100))
            setattr(fn, name[len("ocidir_"):],
                    _Missing(name, "not exported by" if usable else
                             "the options-struct ABI (%s) is missing from" % _HOUSEKEEPING_ABI_MARKER))
            continue
        f.argtypes = argtypes
        f.restype = restype
        if checked:
            f.errcheck = _check_status
        setattr(fn, name[len("ocidir_"):], f)


_declare(_DECLARATIONS, False)
_declare(_OPTIONAL_DECLARATIONS, True, hasattr(lib, _HOUSEKEEPING_ABI_MARKER))
del S, N

_version = lib.ocidir_version_number()
if _version // 10000 != _MAJOR or _version < _MIN_VERSION:
    raise ImportError("libocidir at %s is version %s; this binding needs %d.%d.x with x >= 0"
                      % (path, lib.ocidir_version().decode(), _MAJOR, _MIN_VERSION // 100 % 100))

DIGEST_MAX = lib.ocidir_digest_max()


def has(name: str) -> bool:
    """True when the loaded library exports `ocidir_<name>`."""
    return not isinstance(getattr(fn, name), _Missing)


# Helpers for memory the library hands out.

def take_string(addr: Optional[int]) -> Optional[str]:
    """A str from a char* the library allocated (None for NULL); frees it."""
    if not addr:
        return None
    try:
        return ctypes.string_at(addr).decode("utf-8")
    finally:
        fn.free(addr)


def take_strv(v: Any) -> Optional[list[str]]:
    """A list of str from a char** vector the library allocated (None for NULL); frees it."""
    if not v:
        return None
    try:
        out = []
        i = 0
        while v[i] is not None:
            out.append(v[i].decode("utf-8"))
            i += 1
        return out
    finally:
        fn.strv_free(v)


def take_kv(v: Any) -> dict[str, str]:
    """A dict from an alternating key/value vector (freed)."""
    items = take_strv(v) or []
    return dict(zip(items[0::2], items[1::2]))


def digest_buffer() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(DIGEST_MAX)


def make_strv(items: Optional[Sequence[str]]) -> Any:
    """A NULL-terminated char*[] for a list of str (None for None), kept alive by the caller."""
    if items is None:
        return None
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, s in enumerate(items):
        arr[i] = s.encode("utf-8")
    arr[len(items)] = None
    return ctypes.cast(arr, strv)
