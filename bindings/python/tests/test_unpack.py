"""Unpacking an image into a directory (Image.unpack) and re-putting blobs
with verify_existing."""

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

import ocidir
from conftest import TAR_MT, blob_path, raised


def _rootfs_tar() -> bytes:
    """A tar with a directory, a file in it and a symlink to the file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo("etc")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        t.addfile(d)
        data = b"hello from the layer\n"
        f = tarfile.TarInfo("etc/motd")
        f.size, f.mode, f.mtime = len(data), 0o640, 0
        t.addfile(f, io.BytesIO(data))
        s = tarfile.TarInfo("motd")
        s.type, s.linkname, s.mtime = tarfile.SYMTYPE, "etc/motd", 0
        t.addfile(s)
    return buf.getvalue()


def _build(layout: ocidir.OciDir, compression: str = "gzip") -> str:
    with layout.builder() as b:
        w = layout.layer_writer(compression)
        w.write(_rootfs_tar())
        b.add_layer_writer(w)
        return b.commit("rootfs")


def test_unpack_writes_the_tree_and_returns_the_report(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    dest = tmp_path / "rootfs"
    calls = []
    with layout.image("rootfs") as img:
        rep = img.unpack(dest, progress=lambda done, total: calls.append((done, total)), no_sync=True)
    assert isinstance(rep, ocidir.Report) and rep.ok
    assert rep.blobs == 1                      # layers applied
    assert rep.bytes == len(b"hello from the layer\n")
    assert sorted(os.listdir(dest)) == ["etc", "motd"]
    assert (dest / "etc").is_dir()
    assert (dest / "etc" / "motd").read_bytes() == b"hello from the layer\n"
    assert os.stat(dest / "etc" / "motd").st_mode & 0o777 == 0o640
    assert os.readlink(dest / "motd") == "etc/motd"
    assert not (dest / ocidir.UNPACK_MARKER).exists()
    assert calls and calls[-1][0] == calls[-1][1]


def test_unpack_relative_to_dir_fd_in_rootless_mode(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout, "zstd")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with layout.image("rootfs") as img:
            img.unpack("rel", dir_fd=fd, owner="rootless", no_sync=True)
    finally:
        os.close(fd)
    assert (tmp_path / "rel" / "etc" / "motd").read_bytes() == b"hello from the layer\n"
    assert os.stat(tmp_path / "rel" / "etc" / "motd").st_uid == os.getuid()


def test_unpack_of_a_corrupt_layer_raises_digest_mismatch_and_leaves_nothing(layout: ocidir.OciDir, layout_path: Path, tmp_path: Path) -> None:
    _build(layout, "none")
    with layout.image("rootfs") as img:
        layer = img.layer(0)
        assert layer.media_type == TAR_MT
        path = blob_path(layout_path, layer.digest)
        data = bytearray(open(path, "rb").read())
        at = data.index(b"hello from the layer")
        data[at] ^= 0x20                          # same size, another content
        os.chmod(path, 0o644)
        with open(path, "r+b") as f:
            f.write(data)
        dest = tmp_path / "rootfs"
        with pytest.raises(ocidir.DigestMismatch) as e:
            img.unpack(dest, no_sync=True)
    assert raised(e).code == ocidir.E_DIGEST
    assert layer.digest in raised(e).message
    assert not dest.exists()


def test_unpack_into_a_non_empty_directory_is_exists(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "keep").write_bytes(b"x")
    with layout.image("rootfs") as img:
        with pytest.raises(ocidir.AlreadyExists) as e:
            img.unpack(dest)
    assert raised(e).code == ocidir.E_EXISTS
    assert os.listdir(dest) == ["keep"]


def test_unpack_into_an_empty_directory_uses_it(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    dest = tmp_path / "empty"
    dest.mkdir()
    with layout.image("rootfs") as img:
        img.unpack(dest, no_sync=True)
    assert (dest / "etc" / "motd").is_file()


class Stop(Exception):
    pass


def test_unpack_canceled_at_the_first_progress_call_leaves_nothing(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    dest = tmp_path / "rootfs"
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        raise Stop()

    with layout.image("rootfs") as img:
        with pytest.raises(Stop):
            img.unpack(dest, progress=progress)
    assert len(calls) == 1
    assert not dest.exists()


def test_unpack_options_are_checked(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    with layout.image("rootfs") as img:
        with pytest.raises(ValueError):
            img.unpack(tmp_path / "a", owner="nobody")
        with pytest.raises(ValueError):
            img.unpack(tmp_path / "a", max_bytes=0)
        with pytest.raises(TypeError):
            img.unpack(tmp_path / "a", owner="map", uid_map=[(0, 1)])  # type: ignore[list-item]  # refused
        with pytest.raises(ocidir.TooLarge):
            img.unpack(tmp_path / "a", max_entries=1)
    assert not (tmp_path / "a").exists()


def test_unpack_map_mode_shifts_ids(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    dest = tmp_path / "mapped"
    with layout.image("rootfs") as img:
        img.unpack(dest, owner="map", uid_map=[(0, 100000, 65536)], gid_map=[(0, 200000, 65536)],
                   no_sync=True)
    st = os.lstat(dest / "etc" / "motd")
    assert (st.st_uid, st.st_gid) == (100000, 200000)


def test_unpack_map_mode_without_a_fallback_rejects_an_unmapped_id(layout: ocidir.OciDir, tmp_path: Path) -> None:
    _build(layout)
    dest = tmp_path / "mapped"
    with layout.image("rootfs") as img:
        with pytest.raises(ocidir.InvalidArgument):
            img.unpack(dest, owner="map", uid_map=[(1000, 100000, 1)], gid_map=[(0, 0, 1)])
        assert not dest.exists()
        img.unpack(dest, owner="map", uid_map=[(1000, 100000, 1)], gid_map=[(0, 0, 1)],
                   fallback_uid=12345, no_sync=True)
    assert os.lstat(dest / "etc" / "motd").st_uid == 12345


# -- blob put options ---------------------------------------------------------

def _corrupt_same_size(root: Path, digest: str) -> str:
    path = blob_path(root, digest)
    data = bytearray(open(path, "rb").read())
    data[0] ^= 0xFF
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("how", ["put", "put_file", "writer"])
def test_verify_existing_repairs_a_same_size_corrupted_blob(layout: ocidir.OciDir, layout_path: Path, tmp_path: Path, how: str) -> None:
    content = b"the real content of the blob"
    digest = layout.put(content)
    path = _corrupt_same_size(layout_path, digest)
    src = tmp_path / "src"
    src.write_bytes(content)

    def put(**kw: Any) -> str:
        if how == "put":
            return layout.put(content, **kw)
        if how == "put_file":
            return layout.put_file(src, **kw)
        with layout.open_writer(**kw) as w:
            w.write(content)
        return w.commit()

    assert put() == digest                           # trusted: same size
    assert open(path, "rb").read() != content
    with pytest.raises(ocidir.DigestMismatch):
        layout.read(digest)
    assert put(verify_existing=True) == digest       # re-hashed and replaced
    assert open(path, "rb").read() == content
    assert layout.read(digest) == content


def test_put_with_sha512(layout: ocidir.OciDir, tmp_path: Path) -> None:
    d = layout.put(b"hello", alg="sha512")
    assert d == ocidir.digest(b"hello", "sha512") and d.startswith("sha512:")
    src = tmp_path / "src"
    src.write_bytes(b"file")
    assert layout.put_file(src, alg=ocidir.SHA512) == ocidir.digest(b"file", "sha512")
    assert layout.put_file(io.BytesIO(b"stream"), alg="sha512", verify_existing=True) == \
        ocidir.digest(b"stream", "sha512")
    with layout.open_writer("sha512", verify_existing=True) as w:
        w.write(b"hello")
    assert w.digest == d
    with pytest.raises(ValueError):
        layout.put(b"x", alg="md5")


def test_not_durable_maps_to_an_oserror_that_is_not_an_io_failure() -> None:
    cls = ocidir.errors.error_class(ocidir.E_NOT_DURABLE)
    assert cls is ocidir.NotDurable
    assert issubclass(cls, OSError) and not issubclass(cls, ocidir.IOFailure)
