"""Housekeeping: fsck, gc, cache gc, clone, removing an image, reports."""

import os
from pathlib import Path

import pytest

import ocidir
from ocidir import FindKind
from conftest import blob_path, build_image


def test_fsck_of_a_sound_layout_finds_no_damage(layout: ocidir.OciDir) -> None:
    digest, _ = build_image(layout, "app")
    calls = []
    rep = layout.fsck(progress=lambda done, total: calls.append((done, total)))
    assert rep.ok and rep.damage == 0
    assert rep.blobs == 3  # manifest, config, layer
    with layout.image("app") as img:
        blobs = [digest, img.config_descriptor.digest, img.layer(0).digest]
    assert rep.bytes == sum(layout.stat(d) for d in blobs)
    # Called from this thread, ending with done == total.
    assert calls and calls[-1][0] == calls[-1][1] > 0


def test_fsck_reports_every_damaged_and_missing_blob(layout: ocidir.OciDir, layout_path: Path) -> None:
    build_image(layout, "app")
    with layout.image("app") as img:
        layer, cfg = img.layer(0), img.config_descriptor
    with open(blob_path(layout_path, layer.digest), "r+b") as f:
        f.seek(10)
        f.write(b"\xff\xff")
    os.unlink(blob_path(layout_path, cfg.digest))
    stray = layout.put(b"nobody references me")
    rep = layout.fsck(threads=2)
    assert not rep.ok and rep.damage == 2
    kinds = {(f.kind, f.subject) for f in rep}
    assert (FindKind.DIGEST, layer.digest) in kinds
    assert (FindKind.MISSING, cfg.digest) in kinds
    assert (FindKind.UNREFERENCED, stray) in kinds
    assert [f.subject for f in rep.of_kind(FindKind.MISSING)] == [cfg.digest]
    missing = rep.of_kind(FindKind.MISSING)[0]
    assert isinstance(missing.kind, FindKind)
    assert missing.is_damage and missing.kind.label == "missing" and missing.message
    assert not rep.of_kind(FindKind.UNREFERENCED)[0].is_damage


def test_an_exception_in_a_progress_callback_is_raised_after_the_run(layout: ocidir.OciDir) -> None:
    build_image(layout, "app")

    def progress(done: int, total: int) -> None:
        raise RuntimeError("stop reporting")

    with pytest.raises(RuntimeError, match="stop reporting"):
        layout.fsck(progress=progress)


def test_gc_grace_keyword_overrides_the_layout_grace_period(layout: ocidir.OciDir) -> None:
    stray = layout.put(b"garbage")
    assert [f.subject for f in layout.gc(dry_run=True).of_kind(FindKind.KEPT_RECENT)] == [stray]
    assert [f.subject for f in layout.gc(dry_run=True, grace=0).of_kind(FindKind.UNREFERENCED)] == [stray]
    assert [f.subject for f in layout.gc(grace=3600).of_kind(FindKind.KEPT_RECENT)] == [stray]
    assert stray in layout
    with pytest.raises(ValueError):
        layout.gc(grace=-1)
    assert [f.subject for f in layout.gc(grace=0).of_kind(FindKind.REMOVED)] == [stray]
    assert stray not in layout


def test_gc_removes_what_nothing_references_after_the_grace_period(layout: ocidir.OciDir) -> None:
    digest, _ = build_image(layout, "app")
    stray = layout.put(b"garbage")
    rep = layout.gc()
    assert [f.subject for f in rep.of_kind(FindKind.KEPT_RECENT)] == [stray]
    assert stray in layout
    layout.set_gc_grace(0)
    dry = layout.gc(dry_run=True)
    assert [f.subject for f in dry.of_kind(FindKind.UNREFERENCED)] == [stray]
    assert stray in layout
    rep = layout.gc()
    assert [f.subject for f in rep.of_kind(FindKind.REMOVED)] == [stray]
    assert stray not in layout and digest in layout
    layout.set_gc_grace(-1)  # back to the default
    kept = layout.put(b"fresh garbage")
    assert [f.subject for f in layout.gc().of_kind(FindKind.KEPT_RECENT)] == [kept]


def test_gc_on_a_read_only_layout_runs_only_dry(layout_path: Path) -> None:
    with ocidir.OciDir(layout_path, create=True) as d:
        d.put(b"garbage")
    with ocidir.OciDir(layout_path, readonly=True) as ro:
        ro.set_gc_grace(0)
        with pytest.raises(ocidir.ReadOnlyError):
            ro.gc()
        assert len(ro.gc(dry_run=True).of_kind(FindKind.UNREFERENCED)) == 1


def test_cache_gc_keeps_what_any_layout_references(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "sha256").mkdir(parents=True)
    with ocidir.OciDir(tmp_path / "a", create=True) as a, ocidir.OciDir(tmp_path / "b", create=True) as b:
        a.add_blobdir(cache, write=True)
        b.add_blobdir(cache, write=True)
        da, _ = build_image(a, "a", files={"a": b"a"})
        db, _ = build_image(b, "b", files={"b": b"b"})
        orphan = a.put(b"orphan")
        assert ocidir.cache_gc(cache, [a, b], dry_run=True).of_kind(FindKind.KEPT_RECENT)
        assert [f.subject for f in ocidir.cache_gc(cache, [a, b], dry_run=True, grace=0)
                .of_kind(FindKind.UNREFERENCED)] == [orphan]
        a.set_gc_grace(0)
        dry = ocidir.cache_gc(cache, [a, b], dry_run=True)
        assert [f.subject for f in dry.of_kind(FindKind.UNREFERENCED)] == [orphan]
        rep = ocidir.cache_gc(str(cache), [a, b])
        assert [f.subject for f in rep.of_kind(FindKind.REMOVED)] == [orphan]
        assert orphan not in a and da in a and db in b
        with pytest.raises(ValueError):
            ocidir.cache_gc(cache, [])


def test_clone_makes_a_whole_new_layout(tmp_path: Path, layout: ocidir.OciDir, layout_path: Path) -> None:
    digest, tar = build_image(layout, "app")
    new, rep = layout.clone(tmp_path / "clone")
    with new:
        assert new.tags() == ["app"] and not new.readonly
        with new.image("app") as img, img.layer_reader(0) as r:
            assert r.read() == tar
    taken = {FindKind.COPIED, FindKind.LINKED, FindKind.REFLINKED}
    assert len([f for f in rep if f.kind in taken]) == 3 and rep.ok
    assert (tmp_path / "clone" / "index.json").read_bytes() == (layout_path / "index.json").read_bytes()
    _, rep2 = layout.clone(tmp_path / "copied", no_hardlink=True)
    assert not rep2.of_kind(FindKind.LINKED)
    with pytest.raises(ocidir.AlreadyExists):
        layout.clone(tmp_path / "clone")


def test_clone_of_a_damaged_layout_names_the_missing_blob(tmp_path: Path, layout: ocidir.OciDir, layout_path: Path) -> None:
    build_image(layout, "app")
    layer = layout.image("app").layer(0).digest
    os.unlink(blob_path(layout_path, layer))
    with pytest.raises(ocidir.NotFound, match=layer):
        layout.clone(tmp_path / "clone")
    assert not (tmp_path / "clone" / "index.json").exists()


def test_untag_gc_drops_the_tag_and_collects_its_blobs(layout: ocidir.OciDir) -> None:
    keep, _ = build_image(layout, "keep", files={"k": b"k"})
    gone, _ = build_image(layout, "gone", files={"g": b"g"})
    rep = layout.untag_gc("gone", grace=0)
    assert layout.tags() == ["keep"]
    assert gone in {f.subject for f in rep.of_kind(FindKind.REMOVED)}
    assert gone not in layout and keep in layout
    with pytest.raises(KeyError):
        layout.untag_gc("gone")


def test_untag_gc_dry_run_and_the_layout_grace_period(layout: ocidir.OciDir) -> None:
    keep, _ = build_image(layout, "keep", files={"k": b"k"})
    gone, _ = build_image(layout, "gone", files={"g": b"g"})
    # The handle's grace period (the default hour) keeps the fresh blobs.
    rep = layout.untag_gc("gone")
    assert layout.tags() == ["keep"] and gone in layout
    assert gone in {f.subject for f in rep.of_kind(FindKind.KEPT_RECENT)}
    layout.untag_gc("keep", dry_run=True, grace=0)
    assert layout.tags() == [] and keep in layout
    assert not hasattr(layout, "remove_image")
