"""The shared-cache scenario (LXC's /var/cache/lxc) and use from many threads."""

import os
import threading
from pathlib import Path
from typing import Callable

import pytest

import ocidir
from conftest import HELLO, blob_path, build_image


def _cache(tmp_path: Path, name: str = "cache") -> Path:
    c = tmp_path / name
    (c / "sha256").mkdir(parents=True)
    return c


def test_shared_cache_holds_the_blobs_of_two_layouts(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    with ocidir.OciDir(tmp_path / "a", create=True) as a, ocidir.OciDir(tmp_path / "b", create=True) as b:
        a.add_blobdir(cache, write=True)
        digest, tar = build_image(a, "app")
        # Every blob went to the cache, none into the layout.
        assert os.listdir(tmp_path / "a" / "blobs" / "sha256") == []
        assert (cache / "sha256" / digest.split(":")[1]).is_file()
        # A second layout reads them through the cache and tags them.
        fd = os.open(cache, os.O_RDONLY | os.O_DIRECTORY)
        try:
            b.add_blobdir(fd)
        finally:
            os.close(fd)  # the library keeps its own duplicate
        b.tag("app", digest)
        with b.image("app") as img, img.layer_reader(0) as r:
            assert r.read() == tar
        assert os.listdir(tmp_path / "b" / "blobs" / "sha256") == []
        # remove() never touches the cache.
        with pytest.raises(ocidir.NotFound):
            b.remove(digest)
        assert digest in b


def test_reads_look_in_each_added_directory(tmp_path: Path, layout: ocidir.OciDir) -> None:
    first, second = _cache(tmp_path, "first"), _cache(tmp_path, "second")
    (second / "sha256" / HELLO.split(":")[1]).write_bytes(b"hello")
    layout.add_blobdir(first)
    assert HELLO not in layout
    layout.add_blobdir(second)
    assert layout.read(HELLO) == b"hello"


def test_write_target_on_a_read_only_layout_is_refused(tmp_path: Path, layout_path: Path) -> None:
    ocidir.OciDir(layout_path, create=True).close()
    with ocidir.OciDir(layout_path, readonly=True) as ro:
        with pytest.raises(ocidir.ReadOnlyError):
            ro.add_blobdir(_cache(tmp_path), write=True)
        ro.add_blobdir(tmp_path / "cache")


def test_add_blobdir_refuses_a_file(tmp_path: Path, layout: ocidir.OciDir) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"")
    fd = os.open(f, os.O_RDONLY)
    try:
        with pytest.raises(ocidir.InvalidArgument):
            layout.add_blobdir(fd)
    finally:
        os.close(fd)


def test_follow_blob_symlink_into_a_cache(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    root = tmp_path / "lxc"
    ocidir.OciDir(root, create=True).close()
    os.rmdir(root / "blobs" / "sha256")
    os.symlink(cache / "sha256", root / "blobs" / "sha256")
    with pytest.raises(ocidir.EscapeError, match="follow"):
        ocidir.OciDir(root)
    with ocidir.OciDir(root, follow_blob_symlink=True) as d:
        assert d.put(b"hello") == HELLO
    assert (cache / "sha256" / HELLO.split(":")[1]).read_bytes() == b"hello"


def _run_threads(n: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            target(i)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_one_layout_serves_writers_and_readers_in_many_threads(layout: ocidir.OciDir) -> None:
    def work(i: int) -> None:
        for j in range(20):
            data = ("thread %d blob %d " % (i, j)).encode() * 1000
            with layout.open_writer() as w:
                w.write(data[:500])
                w.write(data[500:])
            assert w.digest == ocidir.digest(data)
            with layout.open_blob(w.digest) as r:
                assert r.read() == data
            assert layout.read(layout.put(data)) == data

    _run_threads(8, work)
    assert len(os.listdir(os.path.dirname(blob_path(os.fsdecode(layout.path or ""), HELLO)))) == 8 * 20


def test_error_messages_belong_to_the_thread_that_failed(layout: ocidir.OciDir) -> None:
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        missing = ocidir.digest(b"missing %d" % i)
        barrier.wait()
        for _ in range(50):
            with pytest.raises(ocidir.NotFound) as e:
                layout.stat(missing)
            assert missing in str(e.value)

    _run_threads(8, work)


def test_tags_set_from_many_threads_are_all_kept(layout: ocidir.OciDir) -> None:
    digest, _ = build_image(layout, None)

    def work(i: int) -> None:
        layout.tag("t%d" % i, digest)

    _run_threads(8, work)
    assert sorted(layout.tags()) == sorted("t%d" % i for i in range(8))
