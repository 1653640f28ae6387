"""Tags, images, layers and the builder."""

import json
import os
from pathlib import Path

import pytest

import ocidir
from conftest import (EMPTY_MT, GZIP_MT, INDEX_MT, MANIFEST_MT, TAR_MT, ZSTD_MT, build_image,
                      make_tar, put_manifest, tar_names)


def test_tags_list_resolve_tag_untag(layout: ocidir.OciDir) -> None:
    assert layout.tags() == []
    m = put_manifest(layout)
    layout.tag("one", m)
    layout.tag("two", m)
    assert layout.tags() == ["one", "two"]
    desc = layout.resolve("one")
    assert desc == ocidir.Descriptor(MANIFEST_MT, m, layout.stat(m))
    assert layout.resolve(m).digest == m  # a digest names the blob directly
    layout.untag("one")
    assert layout.tags() == ["two"]
    with pytest.raises(KeyError):
        layout.untag("one")
    assert m in layout  # untagging keeps blobs


def test_tag_moves_in_place(layout: ocidir.OciDir) -> None:
    a = put_manifest(layout)
    b = put_manifest(layout, extra={"annotations": {"x": "y"}})
    layout.tag("first", a)
    layout.tag("second", a)
    layout.tag("first", b)
    assert layout.tags() == ["first", "second"]
    assert layout.resolve("first").digest == b


def test_tag_refuses_a_blob_that_is_not_a_manifest(layout: ocidir.OciDir) -> None:
    d = layout.put(b"not json at all")
    with pytest.raises(ocidir.FormatError):
        layout.tag("x", d)
    assert layout.tags() == []


def test_index_add_adds_an_untagged_entry_once(layout: ocidir.OciDir, layout_path: Path) -> None:
    m = put_manifest(layout)
    layout.index_add(m)
    layout.index_add(m)
    index = json.loads((layout_path / "index.json").read_text())
    assert [e["digest"] for e in index["manifests"]] == [m]
    assert layout.tags() == []


def test_builder_writes_an_image_read_back_through_every_accessor(layout: ocidir.OciDir) -> None:
    digest, tar = build_image(layout, "app")
    assert layout.resolve("app").digest == digest
    with layout.image("app") as img:
        assert img.digest == digest
        assert json.loads(img.manifest)["mediaType"] == MANIFEST_MT
        assert ocidir.digest(img.manifest) == digest
        cfg = img.config_descriptor
        assert cfg.media_type == "application/vnd.oci.image.config.v1+json"
        assert ocidir.digest(img.config) == cfg.digest and len(img.config) == cfg.size
        assert not img.config_is_empty and img.artifact_type is None
        assert img.entrypoint == ["/bin/hello"] and img.cmd == ["--loud"]
        assert img.env == ["PATH=/bin", "A=b"]
        assert img.user == "1000:1000" and img.working_dir == "/srv" and img.stop_signal == "SIGTERM"
        assert ocidir.platform_default().startswith(f"{img.os}/{img.architecture}")
        assert img.created == "2024-01-01T00:00:00Z"
        assert img.labels == {"org.example.label": "yes"}
        assert img.annotations == {"org.example.note": "built by test"}
        assert len(img) == 1
        layer = img.layer(0)
        assert layer.media_type == GZIP_MT and layer == img.layers[0] == img.layer(-1)
        assert img.diff_ids == [ocidir.digest(tar)]
        assert img.layer_annotations(0) == {}
        with img.layer_reader(0) as r:
            assert r.read() == tar
        with pytest.raises(ocidir.NotFound):
            img.layer(1)
        with pytest.raises(KeyError):
            img.layer_annotations(5)
    assert img.closed
    with pytest.raises(ValueError, match="closed"):
        img.digest


def test_absent_config_fields_are_none(layout: ocidir.OciDir) -> None:
    with layout.builder() as b:
        d = b.commit("bare")
    with layout.image(d) as img:
        assert img.entrypoint is None and img.user is None and img.variant is None
        assert img.created is None
        assert img.diff_ids == [] and img.labels == {} and img.annotations == {}


def test_image_for_a_missing_platform_lists_those_that_exist(layout: ocidir.OciDir) -> None:
    arm, _ = build_image(layout, None, platform="linux/arm64")
    index = {"schemaVersion": 2, "mediaType": INDEX_MT, "manifests": [
        {"mediaType": MANIFEST_MT, "digest": arm, "size": layout.stat(arm)}]}
    layout.tag("app", layout.put(json.dumps(index).encode()))
    with pytest.raises(ocidir.NotFound, match="linux/arm64"):
        layout.image("app", platform="linux/s390x")
    with layout.image("app", platform="linux/arm64") as img:
        assert (img.os, img.architecture) == ("linux", "arm64")
    with pytest.raises(ocidir.InvalidArgument):
        layout.image("app", platform="nonsense")


def test_image_through_a_nested_index_picks_the_platform(layout: ocidir.OciDir) -> None:
    amd, _ = build_image(layout, None, platform="linux/amd64", files={"a": b"amd"})
    arm, _ = build_image(layout, None, platform="linux/arm64/v8", files={"a": b"arm"})
    index = {"schemaVersion": 2, "mediaType": INDEX_MT, "manifests": [
        {"mediaType": MANIFEST_MT, "digest": amd, "size": layout.stat(amd),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": MANIFEST_MT, "digest": arm, "size": layout.stat(arm),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
    idx = layout.put(json.dumps(index).encode())
    layout.tag("multi", idx)
    assert layout.resolve("multi").media_type == INDEX_MT
    with layout.image("multi", "linux/arm64") as img:
        assert img.digest == arm
        with img.layer_reader(0) as r:
            assert tar_names(r.read()) == ["a"]
    with layout.image("multi", "linux/amd64") as img:
        assert img.digest == amd


@pytest.mark.parametrize("compression,media_type", [("none", TAR_MT), ("gzip", GZIP_MT), ("zstd", ZSTD_MT)])
def test_layer_writer_and_open_layer_round_trip(layout: ocidir.OciDir, compression: str, media_type: str) -> None:
    files = {"f%d" % i: bytes([i]) * 1000 for i in range(20)}
    files["random"] = os.urandom(300000)  # larger than a read chunk: readall grows its buffer
    tar = make_tar(files)
    with layout.layer_writer(compression) as w:
        assert w.media_type == media_type
        w.write(tar[:100])
        w.write(memoryview(tar)[100:])
    assert w.digest is not None and w.size is not None  # committed
    assert w.diff_id == ocidir.digest(tar) and w.size == layout.stat(w.digest)
    with layout.open_layer(media_type, w.digest, w.size, w.diff_id) as r:
        assert r.read() == tar


def test_layer_writer_with_level_and_threads(layout: ocidir.OciDir) -> None:
    tar = make_tar({"big": bytes(200000)})
    w = layout.layer_writer("zstd", level=19, threads=2)
    w.write(tar)
    d = w.commit()
    assert w.digest == d and w.diff_id == ocidir.digest(tar)
    with pytest.raises(ocidir.InvalidArgument):
        layout.layer_writer("gzip", level=42)
    with pytest.raises(ValueError):
        layout.layer_writer("lz4")


def test_layer_reader_raises_digest_mismatch_for_a_wrong_diff_id(layout: ocidir.OciDir) -> None:
    tar = make_tar({"x": b"y"})
    with layout.layer_writer("gzip") as w:
        w.write(tar)
    assert w.digest is not None and w.size is not None  # committed
    with layout.open_layer(GZIP_MT, w.digest, w.size, ocidir.digest(b"other")) as r:
        with pytest.raises(ocidir.DigestMismatch, match="diff_id"):
            r.read()


def test_layer_writer_aborted_by_an_exception_leaves_no_blob(layout: ocidir.OciDir) -> None:
    with pytest.raises(RuntimeError):
        with layout.layer_writer("none") as w:
            w.write(b"x" * 1024)
            raise RuntimeError
    assert w.digest is None and w.closed


def test_builder_add_layer_from_an_existing_blob(layout: ocidir.OciDir) -> None:
    tar = make_tar({"hello": b"world"})
    with layout.layer_writer("gzip") as w:
        w.write(tar)
    with layout.builder() as b:
        assert w.digest is not None and w.size is not None  # committed
        b.add_layer(GZIP_MT, w.digest, w.size, w.diff_id, "added by digest")
        with pytest.raises(ocidir.SizeMismatch):
            b.add_layer(GZIP_MT, w.digest, w.size + 1, w.diff_id)
        with pytest.raises(ocidir.InvalidArgument):
            b.add_layer(GZIP_MT, w.digest, w.size)  # an image layer needs its diff_id
        d = b.commit("t")
    with layout.image(d) as img:
        assert img.layers == [ocidir.Descriptor(GZIP_MT, w.digest, w.size)]
        assert json.loads(img.config)["history"][0]["created_by"] == "added by digest"


def test_builder_commit_without_replace_and_untagged(layout: ocidir.OciDir) -> None:
    with layout.builder() as b:
        d = b.commit("t")
        with pytest.raises(ocidir.AlreadyExists):
            b.commit("t", replace=False)
        assert b.commit("t") == d  # same inputs, same digest
        assert b.commit(None) == d
        b.set_config(user="root", env=None)
        assert b.commit("t2") != d
    assert layout.tags() == ["t", "t2"]
    with pytest.raises(TypeError):
        layout.builder().set_config(diff_ids=["x"])


def test_builder_from_keeps_the_image_and_changes_it(layout: ocidir.OciDir) -> None:
    base, tar = build_image(layout, "base")
    with layout.builder_from("base") as b:
        b.set_config(cmd=["--quiet"])
        b.set_label("org.example.label", None)
        b.set_annotation("org.example.note", None)
        derived = b.commit("derived")
    with layout.image("derived") as img:
        assert img.entrypoint == ["/bin/hello"] and img.cmd == ["--quiet"]
        assert img.labels == {} and img.annotations == {}
        assert img.diff_ids == [ocidir.digest(tar)]
    assert derived != base


def test_artifact_and_referrers(layout: ocidir.OciDir) -> None:
    subject, _ = build_image(layout, "app")
    sig = layout.put(b"signature bytes")
    with layout.artifact_builder("application/vnd.example.signature") as b:
        b.add_layer("application/octet-stream", sig, len(b"signature bytes"))
        b.set_subject(subject)
        b.set_created("2024-01-01T00:00:00Z")
        ref = b.commit(None)
    with layout.image(ref) as img:
        assert img.config_is_empty and img.config == b"{}"
        assert img.config_descriptor.media_type == EMPTY_MT
        assert img.artifact_type == "application/vnd.example.signature"
        assert img.annotations["org.opencontainers.image.created"] == "2024-01-01T00:00:00Z"
        with pytest.raises(ocidir.NotFound):
            img.entrypoint  # no image config
    assert layout.referrers(subject) == [ref]
    assert layout.referrers(subject, "application/vnd.example.signature") == [ref]
    assert layout.referrers(subject, "application/vnd.example.other") == []


def test_builder_and_image_are_closed_with_their_layout(layout_path: Path) -> None:
    d = ocidir.OciDir(layout_path, create=True)
    build_image(d, "app")
    img = d.image("app")
    b = d.builder()
    d.close()
    assert img.closed and b.closed
    with pytest.raises(ValueError):
        b.commit("x")
