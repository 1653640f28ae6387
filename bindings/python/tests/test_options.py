"""The options of the extensible calls, as keyword arguments: layer writer
(alg, zstd_window_log, zstd_long), layer reader (max_size), builder
(annotations), and the options structs behind them."""

import ctypes
from typing import Any

import pytest

import ocidir
from ocidir import _lib
from conftest import GZIP_MT, TAR_MT, ZSTD_MT, make_tar, raised


@pytest.mark.parametrize("cls", [_lib.FsckOptions, _lib.GcOptions, _lib.CloneOptions,
                                 _lib.LayerWriterOptions, _lib.LayerReaderOptions, _lib.AddLayerOptions])
def test_options_structs_carry_their_size_and_the_library_defaults(cls: Any) -> None:
    o = cls()
    assert o.struct_size == ctypes.sizeof(cls)
    assert cls._fields_[0] == ("struct_size", ctypes.c_size_t)
    assert o.flags == 0


def test_options_defaults_are_the_library_ones() -> None:
    assert _lib.GcOptions().grace_seconds == _lib.GC_GRACE_HANDLE == -1
    w = _lib.LayerWriterOptions()
    assert (w.compression, w.level, w.threads, w.alg, w.zstd_window_log, w.zstd_long) == (1, 0, 0, 0, 0, 0)
    assert _lib.LayerReaderOptions().max_size == 0
    a = _lib.AddLayerOptions(created_by=b"x")
    assert a.created_by == b"x" and not a.annotations
    assert not _lib.FsckOptions().progress and _lib.FsckOptions().threads == 0


def test_sha512_layer_digest(layout: ocidir.OciDir) -> None:
    tar = make_tar({"a": b"alpha" * 1000})
    with layout.layer_writer("gzip", alg="sha512") as w:
        w.write(tar)
    assert w.digest is not None and w.size is not None  # committed
    assert w.digest.startswith("sha512:") and len(w.digest) == 7 + 128
    assert w.diff_id == ocidir.digest(tar)  # the diff_id stays sha256
    assert layout.stat(w.digest) == w.size
    with layout.open_layer(GZIP_MT, w.digest, w.size, w.diff_id) as r:
        assert r.read() == tar
    with layout.builder() as b:
        b.add_layer(GZIP_MT, w.digest, w.size, w.diff_id)
        b.commit("app")
    with layout.image("app") as img:
        assert img.layer(0).digest == w.digest
        with img.layer_reader(0) as r:
            assert r.read() == tar
    assert layout.fsck().ok
    with pytest.raises(ValueError):
        layout.layer_writer("gzip", alg="md5")


def test_zstd_window_and_long_distance_matching(layout: ocidir.OciDir) -> None:
    tar = make_tar({"a": bytes(range(256)) * 4096, "b": bytes(range(256)) * 4096})
    kws: list[dict[str, Any]] = [{"zstd_window_log": 20}, {"zstd_long": True}, {"zstd_long": True, "zstd_window_log": 24}]
    for kw in kws:
        with layout.layer_writer("zstd", **kw) as w:
            w.write(tar)
        assert w.digest is not None and w.size is not None  # committed
        with layout.open_layer(ZSTD_MT, w.digest, w.size, w.diff_id) as r:
            assert r.read() == tar, kw
    with pytest.raises(ocidir.InvalidArgument):
        layout.layer_writer("zstd", zstd_window_log=9)
    with pytest.raises(ocidir.InvalidArgument):
        layout.layer_writer("gzip", zstd_long=True)
    with pytest.raises(ocidir.InvalidArgument):
        layout.layer_writer("none", zstd_window_log=20)


def test_layer_reader_max_size_raises_too_large(layout: ocidir.OciDir) -> None:
    tar = make_tar({"a": b"x" * 5000})
    with layout.layer_writer("gzip") as w:
        w.write(tar)
    assert w.digest is not None and w.size is not None  # committed
    with layout.open_layer(GZIP_MT, w.digest, w.size, w.diff_id, max_size=len(tar) - 1) as r:
        with pytest.raises(ocidir.TooLarge) as e:
            r.read()
    assert raised(e).code == ocidir.E_TOO_LARGE
    with layout.open_layer(GZIP_MT, w.digest, w.size, w.diff_id, max_size=len(tar)) as r:
        assert r.read() == tar
    with pytest.raises(ValueError):
        layout.open_layer(GZIP_MT, w.digest, max_size=0)
    with layout.builder() as b:
        b.add_layer(GZIP_MT, w.digest, w.size, w.diff_id)
        b.commit("app")
    with layout.image("app") as img:
        with img.layer_reader(0, max_size=100) as r, pytest.raises(ocidir.TooLarge):
            r.read()
        with img.layer_reader(0, max_size=len(tar)) as r:
            assert r.read() == tar


def test_builder_layer_annotations_are_in_the_image(layout: ocidir.OciDir) -> None:
    tar = make_tar({"a": b"a"})
    blob = layout.put(tar)
    with layout.builder() as b:
        w = layout.layer_writer("gzip")
        w.write(make_tar({"b": b"b"}))
        b.add_layer_writer(w, created_by="writer", annotations={"org.example.from": "writer", "k": "v"})
        b.add_layer(TAR_MT, blob, len(tar), ocidir.digest(tar), created_by="blob",
                    annotations={"org.example.from": "blob"})
        b.add_layer(TAR_MT, blob, len(tar), ocidir.digest(tar))
        b.commit("app")
    with layout.image("app") as img:
        assert img.layer_annotations(0) == {"org.example.from": "writer", "k": "v"}
        assert img.layer_annotations(1) == {"org.example.from": "blob"}
        assert img.layer_annotations(2) == {}
        assert b'"created_by":"writer"' in img.config.replace(b" ", b"")
        assert b'"created_by":"blob"' in img.config.replace(b" ", b"")


def test_builder_annotations_are_checked(layout: ocidir.OciDir) -> None:
    tar = make_tar({"a": b"a"})
    blob = layout.put(tar)
    with layout.builder() as b:
        with pytest.raises(ocidir.InvalidArgument):
            b.add_layer(TAR_MT, blob, len(tar), ocidir.digest(tar), annotations={"": "empty key"})
        with pytest.raises(TypeError):
            b.add_layer(TAR_MT, blob, len(tar), ocidir.digest(tar), annotations={"k": 1})  # type: ignore[dict-item]  # the point: a wrong type is refused
        w = layout.layer_writer("none")
        w.write(tar)
        with pytest.raises(TypeError):
            b.add_layer_writer(w, annotations={"k": None})  # type: ignore[dict-item]  # the point: a wrong type is refused
        assert w.closed  # the writer is finished either way
