"""Copying one image between layouts (ocidir.copy) and resolving an image's
User against a root filesystem (ocidir.user_lookup)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Optional

import pytest

import ocidir
from ocidir import FindKind
from conftest import INDEX_MT, blob_path, build_image, raised

TAKEN = {FindKind.COPIED, FindKind.LINKED, FindKind.REFLINKED}


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[ocidir.OciDir]:
    with ocidir.OciDir(tmp_path / "dst", create=True) as d:
        yield d


def image_blobs(d: ocidir.OciDir, ref: str, platform: Optional[str] = None) -> list[str]:
    """The manifest, config and layer digests of an image."""
    with d.image(ref, platform) as img:
        return [img.digest, img.config_descriptor.digest] + [l.digest for l in img.layers]


def two_platform_index(d: ocidir.OciDir, tag: str) -> tuple[str, str, str]:
    """An index tagged `tag` over a linux/amd64 and a linux/arm64 image with
    different layers; returns (index, amd64 manifest, arm64 manifest)."""
    amd, _ = build_image(d, None, platform="linux/amd64", files={"which": b"amd64\n"})
    arm, _ = build_image(d, None, platform="linux/arm64", files={"which": b"arm64\n"})
    manifests = []
    for digest, arch in ((amd, "amd64"), (arm, "arm64")):
        manifests.append({"mediaType": d.resolve(digest).media_type, "digest": digest, "size": d.stat(digest),
                          "platform": {"os": "linux", "architecture": arch}})
    index = d.put(json.dumps({"schemaVersion": 2, "mediaType": INDEX_MT, "manifests": manifests}).encode())
    d.tag(tag, index)
    return index, amd, arm


def test_copy_tags_the_same_manifest_with_every_blob_verified(
        layout: ocidir.OciDir, dst: ocidir.OciDir, tmp_path: Path) -> None:
    digest, tar = build_image(layout, "app")
    blobs = image_blobs(layout, "app")
    calls: list[tuple[int, int]] = []
    rep = ocidir.copy(layout, "app", dst, "copied", progress=lambda done, total: calls.append((done, total)))
    assert dst.tags() == ["copied"]
    assert dst.resolve("copied").digest == digest
    # One finding per blob taken, each naming its blob; totals over the image.
    assert sorted(f.subject for f in rep if f.kind in TAKEN) == sorted(blobs) and rep.ok
    assert rep.blobs == 3 and rep.bytes == sum(layout.stat(b) for b in blobs)
    for b in blobs:
        assert os.path.isfile(blob_path(tmp_path / "dst", b))
    check = dst.fsck()
    assert check.ok and check.blobs == 3 and not check.of_kind(FindKind.UNREFERENCED)
    with dst.image("copied") as img, img.layer_reader(0) as r:
        assert r.read() == tar
    assert calls and calls[-1][0] == calls[-1][1] == rep.bytes
    # Again: dst has every blob, so nothing is taken, and the tag stays.
    again = ocidir.copy(layout, "app", dst, "copied", no_hardlink=True)
    assert not [f for f in again if f.kind in TAKEN] and again.blobs == 3
    assert dst.resolve("copied").digest == digest


def test_copy_without_hard_links_and_by_digest(layout: ocidir.OciDir, dst: ocidir.OciDir) -> None:
    digest, _ = build_image(layout, "app")
    rep = ocidir.copy(layout, digest, dst, "by-digest", no_hardlink=True)
    assert not rep.of_kind(FindKind.LINKED)
    assert len([f for f in rep if f.kind in TAKEN]) == 3
    assert dst.resolve("by-digest").digest == digest and dst.fsck().ok


def test_copy_within_one_layout_adds_a_tag(layout: ocidir.OciDir) -> None:
    digest, _ = build_image(layout, "app")
    rep = ocidir.copy(layout, "app", layout, "app-2")
    assert not [f for f in rep if f.kind in TAKEN]
    assert layout.tags() == ["app", "app-2"] and layout.resolve("app-2").digest == digest


def test_copy_picks_the_platform_of_an_index(layout: ocidir.OciDir, dst: ocidir.OciDir) -> None:
    index, amd, arm = two_platform_index(layout, "multi")
    arm_blobs = image_blobs(layout, "multi", "linux/arm64")
    rep = ocidir.copy(layout, "multi", dst, "arm", platform="linux/arm64")
    assert dst.resolve("arm").digest == arm
    assert sorted(f.subject for f in rep if f.kind in TAKEN) == sorted(arm_blobs)
    amd_layer = image_blobs(layout, "multi", "linux/amd64")[2]
    assert amd not in dst and amd_layer not in dst and index not in dst
    with dst.image("arm", "linux/arm64") as img:
        assert img.architecture == "arm64"
    assert dst.fsck().ok


def test_copy_all_platforms_takes_the_whole_index(layout: ocidir.OciDir, dst: ocidir.OciDir) -> None:
    index, amd, arm = two_platform_index(layout, "multi")
    rep = ocidir.copy(layout, "multi", dst, "all", all_platforms=True)
    desc = dst.resolve("all")
    assert desc.digest == index and desc.media_type == INDEX_MT
    every = {index} | set(image_blobs(layout, "multi", "linux/amd64")) | set(image_blobs(layout, "multi", "linux/arm64"))
    assert every <= {f.subject for f in rep if f.kind in TAKEN}
    assert all(b in dst for b in every)
    check = dst.fsck()
    assert check.ok and not check.of_kind(FindKind.UNREFERENCED)
    for platform, digest in (("linux/amd64", amd), ("linux/arm64", arm)):
        with dst.image("all", platform) as img:
            assert img.digest == digest
    with pytest.raises(ocidir.InvalidArgument):
        ocidir.copy(layout, "multi", dst, "both", platform="linux/arm64", all_platforms=True)
    with pytest.raises(ocidir.NotFound) as info:
        ocidir.copy(layout, "multi", dst, "none", platform="linux/s390x")
    assert "s390x" in raised(info).message
    assert dst.tags() == ["all"]


def test_copy_of_an_unknown_ref_names_it_and_writes_no_tag(layout: ocidir.OciDir, dst: ocidir.OciDir) -> None:
    build_image(layout, "app")
    with pytest.raises(ocidir.NotFound) as info:
        ocidir.copy(layout, "no-such-ref", dst, "copied")
    e = raised(info)
    assert e.code == ocidir.E_NOT_FOUND and "no-such-ref" in e.message
    with pytest.raises(ocidir.InvalidArgument):
        ocidir.copy(layout, "app", dst, "-not a tag")
    assert dst.tags() == []


def test_copy_of_a_damaged_blob_names_it_and_writes_no_tag(
        layout: ocidir.OciDir, layout_path: Path, dst: ocidir.OciDir) -> None:
    build_image(layout, "app")
    layer = image_blobs(layout, "app")[2]
    with open(blob_path(layout_path, layer), "r+b") as f:
        f.seek(10)
        f.write(b"\xff\xff")
    with pytest.raises(ocidir.DigestMismatch, match=layer.split(":")[1]):
        ocidir.copy(layout, "app", dst, "copied")
    assert dst.tags() == [] and layer not in dst


def test_copy_into_a_read_only_layout_is_refused(layout: ocidir.OciDir, tmp_path: Path) -> None:
    build_image(layout, "app")
    with ocidir.OciDir(tmp_path / "ro", create=True):
        pass
    with ocidir.OciDir(tmp_path / "ro", readonly=True) as ro:
        with pytest.raises(ocidir.ReadOnlyError):
            ocidir.copy(layout, "app", ro, "copied")


def test_copy_into_a_shared_blob_directory(layout: ocidir.OciDir, dst: ocidir.OciDir, tmp_path: Path) -> None:
    digest, _ = build_image(layout, "app")
    blobs = image_blobs(layout, "app")
    cache = tmp_path / "cache"
    (cache / "sha256").mkdir(parents=True)
    dst.add_blobdir(cache, write=True)
    rep = ocidir.copy(layout, "app", dst, "cached")
    assert sorted(f.subject for f in rep if f.kind in TAKEN) == sorted(blobs)
    for b in blobs:
        assert (cache / "sha256" / b.split(":")[1]).is_file()
        assert not os.path.exists(blob_path(tmp_path / "dst", b))
    assert dst.resolve("cached").digest == digest and dst.fsck().ok
    # A second layout on the same cache takes nothing.
    with ocidir.OciDir(tmp_path / "other", create=True) as other:
        other.add_blobdir(cache, write=True)
        again = ocidir.copy(layout, "app", other, "cached")
        assert not [f for f in again if f.kind in TAKEN] and other.fsck().ok


def test_an_exception_in_progress_cancels_the_copy_before_the_tag(layout: ocidir.OciDir, dst: ocidir.OciDir) -> None:
    build_image(layout, "app")

    def progress(done: int, total: int) -> None:
        raise RuntimeError("stop copying")

    with pytest.raises(RuntimeError, match="stop copying"):
        ocidir.copy(layout, "app", dst, "copied", progress=progress)
    assert dst.tags() == []


def test_copy_on_a_closed_layout_raises_value_error(layout: ocidir.OciDir, tmp_path: Path) -> None:
    build_image(layout, "app")
    closed = ocidir.OciDir(tmp_path / "closed", create=True)
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        ocidir.copy(layout, "app", closed, "copied")


# ---------------------------------------------------------------------------
# user_lookup


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1001:App:/home/app:/bin/sh\n"
        "broken:x:12:notanumber::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nstaff:x:50:app\napp:x:1001:\n")
    return root


def test_user_lookup_resolves_names_and_numbers(rootfs: Path) -> None:
    assert ocidir.user_lookup(rootfs, "") == (0, 0)
    assert ocidir.user_lookup(rootfs, "app") == (1000, 1001)
    assert ocidir.user_lookup(str(rootfs), "app:staff") == (1000, 50)
    assert ocidir.user_lookup(rootfs, "1000") == (1000, 1001)
    assert ocidir.user_lookup(rootfs, "4321") == (4321, 0)
    assert ocidir.user_lookup(rootfs, "4321:77") == (4321, 77)
    fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert ocidir.user_lookup(fd, "app:app") == (1000, 1001)
        os.fstat(fd)  # borrowed, not closed
    finally:
        os.close(fd)


def test_user_lookup_failures_name_what_is_missing(rootfs: Path) -> None:
    with pytest.raises(ocidir.NotFound) as info:
        ocidir.user_lookup(rootfs, "nobody-here")
    e = raised(info)
    assert e.code == ocidir.E_NOT_FOUND and "nobody-here" in e.message
    with pytest.raises(ocidir.NotFound, match="no-group"):
        ocidir.user_lookup(rootfs, "app:no-group")
    with pytest.raises(ocidir.NotFound):
        ocidir.user_lookup(rootfs, "broken")  # a malformed line never matches
    with pytest.raises(ocidir.InvalidArgument):
        ocidir.user_lookup(rootfs, "4294967295")


def test_user_lookup_never_reads_outside_the_rootfs(rootfs: Path, tmp_path: Path) -> None:
    # An absolute symlink climbing out resolves inside the rootfs.
    (rootfs / "real").mkdir()
    (rootfs / "real" / "passwd").write_text("inside:x:7:8::/:/bin/sh\n")
    os.unlink(rootfs / "etc" / "passwd")
    os.symlink("/../../../real/passwd", rootfs / "etc" / "passwd")
    assert ocidir.user_lookup(rootfs, "inside") == (7, 8)
    # A symlink to a file outside: that path is looked up inside, where it is absent.
    outside = tmp_path / "outside-passwd"
    outside.write_text("outside:x:9:9::/:/bin/sh\n")
    os.unlink(rootfs / "etc" / "passwd")
    os.symlink(str(outside), rootfs / "etc" / "passwd")
    with pytest.raises(ocidir.NotFound):
        ocidir.user_lookup(rootfs, "outside")
