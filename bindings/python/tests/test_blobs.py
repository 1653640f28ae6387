"""Blobs: put, files, verified readers, committing writers, stat, read, remove."""

import io
import os
from pathlib import Path

import pytest

import ocidir
from conftest import HELLO, blob_path


def test_open_creates_a_layout_and_reopens_it(layout_path: Path) -> None:
    with ocidir.OciDir(layout_path, create=True) as d:
        assert not d.readonly and not d.closed
    assert (layout_path / "oci-layout").is_file() and (layout_path / "index.json").is_file()
    with ocidir.OciDir(layout_path, readonly=True) as d:
        assert d.readonly
    assert d.closed


def test_open_relative_to_dir_fd_and_dir_fd_itself(layout: ocidir.OciDir, layout_path: Path) -> None:
    digest = layout.put(b"hello")
    fd = os.open(layout_path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with ocidir.OciDir("layout", dir_fd=fd) as d:
            assert d.read(digest) == b"hello"
    finally:
        os.close(fd)
    fd = os.open(layout_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with ocidir.OciDir(None, dir_fd=fd) as d:
            assert digest in d
    finally:
        os.close(fd)


def test_put_returns_the_digest_and_read_gives_the_bytes(layout: ocidir.OciDir) -> None:
    assert layout.put(b"hello") == HELLO
    assert layout.read(HELLO) == b"hello"
    assert layout.read(HELLO, size=5) == b"hello"
    assert layout.put(b"") == ocidir.digest(b"")
    assert layout.read(ocidir.digest(b"")) == b""


def test_put_accepts_bytearray_and_memoryview(layout: ocidir.OciDir) -> None:
    assert layout.put(bytearray(b"hello")) == HELLO
    assert layout.put(memoryview(b"..hello..")[2:7]) == HELLO


def test_stat_gives_the_size_and_contains_tests_presence(layout: ocidir.OciDir) -> None:
    layout.put(b"hello")
    assert layout.stat(HELLO) == 5
    assert HELLO in layout
    assert ocidir.digest(b"other") not in layout


def test_put_file_from_path_fd_and_file_objects(layout: ocidir.OciDir, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    whole = ocidir.digest(b"0123456789")
    assert layout.put_file(src) == whole
    assert layout.put_file(str(src)) == whole
    with open(src, "rb") as f:
        f.read(4)  # the buffered object has read ahead; its position counts
        assert layout.put_file(f) == ocidir.digest(b"456789")
        assert f.read() == b""
    fd = os.open(src, os.O_RDONLY)
    try:
        os.lseek(fd, 8, os.SEEK_SET)
        assert layout.put_file(fd) == ocidir.digest(b"89")
    finally:
        os.close(fd)
    assert layout.put_file(io.BytesIO(b"in memory")) == ocidir.digest(b"in memory")
    with open(src, "r") as text, pytest.raises(TypeError):
        layout.put_file(text)  # type: ignore[arg-type]  # the point: a text file is refused


def test_put_file_from_a_pipe(layout: ocidir.OciDir) -> None:
    r, w = os.pipe()
    os.write(w, b"through a pipe")
    os.close(w)
    with os.fdopen(r, "rb", buffering=0) as f:
        assert layout.put_file(f) == ocidir.digest(b"through a pipe")


def test_open_blob_streams_verified_content(layout: ocidir.OciDir) -> None:
    data = os.urandom(300000)
    digest = layout.put(data)
    with layout.open_blob(digest) as r:
        assert isinstance(r, io.RawIOBase) and r.readable() and not r.seekable()
        assert r.size == len(data)
        assert r.read(10) == data[:10]
        assert r.read() == data[10:]
        assert r.read() == b""


def test_readinto_fills_the_callers_buffer(layout: ocidir.OciDir) -> None:
    digest = layout.put(b"hello world")
    buf = bytearray(5)
    with layout.open_blob(digest) as r:
        assert r.readinto(buf) == 5 and buf == b"hello"
        view = memoryview(buf)[1:4]
        assert r.readinto(view) == 3 and buf == b"h woo"
        assert r.readinto(bytearray(0)) == 0
        rest = bytearray(100)
        assert r.readinto(rest) == 3 and rest[:3] == b"rld"
        assert r.readinto(rest) == 0


def test_blob_reader_works_under_buffered_and_text_wrappers(layout: ocidir.OciDir) -> None:
    digest = layout.put(b"line one\nline two\n")
    with io.TextIOWrapper(io.BufferedReader(layout.open_blob(digest))) as t:
        assert t.readlines() == ["line one\n", "line two\n"]


def test_open_blob_with_wrong_size_is_size_mismatch(layout: ocidir.OciDir) -> None:
    layout.put(b"hello")
    with pytest.raises(ocidir.SizeMismatch):
        layout.open_blob(HELLO, size=4)
    with pytest.raises(ocidir.SizeMismatch):
        layout.read(HELLO, size=6)


def test_reader_raises_digest_mismatch_at_the_end_of_bad_content(layout: ocidir.OciDir, layout_path: Path) -> None:
    layout.put(b"hello")
    path = blob_path(layout_path, HELLO)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"J")
    with layout.open_blob(HELLO) as r:
        assert r.read(5) == b"Jello"  # bytes are handed out as read
        with pytest.raises(ocidir.DigestMismatch) as e:
            r.read(5)
        assert HELLO in str(e.value)
        with pytest.raises(ocidir.DigestMismatch):  # errors are sticky
            r.read(5)
    with pytest.raises(ocidir.DigestMismatch):
        layout.read(HELLO)


def test_read_with_max_len_is_too_large(layout: ocidir.OciDir) -> None:
    layout.put(b"hello")
    with pytest.raises(ocidir.TooLarge):
        layout.read(HELLO, max_len=4)
    assert layout.read(HELLO, max_len=5) == b"hello"


def test_writer_close_commits(layout: ocidir.OciDir) -> None:
    with layout.open_writer() as w:
        assert w.writable()
        w.write(b"hel")
        assert w.write(bytearray(b"lo")) == 2
    assert w.closed and w.digest == HELLO and w.size == 5
    assert layout.read(HELLO) == b"hello"


def test_writer_commit_returns_the_digest_and_sha512(layout: ocidir.OciDir) -> None:
    w = layout.open_writer(ocidir.SHA512)
    w.write(b"hello")
    d = w.commit()
    assert d == ocidir.digest(b"hello", ocidir.SHA512)
    assert w.commit() == d and w.closed
    assert layout.read(d) == b"hello"


def test_writer_with_an_exception_aborts(layout: ocidir.OciDir, layout_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with layout.open_writer() as w:
            w.write(b"hello")
            raise RuntimeError("stop")
    assert w.closed and w.digest is None
    assert HELLO not in layout
    assert os.listdir(layout_path / "blobs" / "sha256") == []


def test_writer_abort_and_dropping_leave_nothing(layout: ocidir.OciDir, layout_path: Path) -> None:
    w = layout.open_writer()
    w.write(b"hello")
    w.abort()
    assert w.closed
    w.abort()  # harmless twice
    w = layout.open_writer()
    w.write(b"hello")
    del w
    assert HELLO not in layout
    assert os.listdir(layout_path / "blobs" / "sha256") == []


def test_writer_expectations_are_checked(layout: ocidir.OciDir) -> None:
    with layout.open_writer(digest=HELLO, size=5) as w:
        w.write(b"hello")
    assert w.digest == HELLO
    w = layout.open_writer(digest=HELLO)
    w.write(b"jello")
    with pytest.raises(ocidir.DigestMismatch):
        w.close()
    assert w.closed and HELLO in layout
    w = layout.open_writer()
    w.expect(size=2)
    with pytest.raises(ocidir.SizeMismatch):
        w.write(b"abc")
    with pytest.raises(ocidir.StateError):  # the writer is poisoned
        w.write(b"a")
    w.abort()


def test_writer_works_under_a_buffered_wrapper(layout: ocidir.OciDir) -> None:
    raw = layout.open_writer()
    with io.BufferedWriter(raw) as b:
        for _ in range(1000):
            b.write(b"0123456789")
    assert raw.size == 10000 and raw.digest == ocidir.digest(b"0123456789" * 1000)


def test_remove_deletes_the_blob(layout: ocidir.OciDir) -> None:
    layout.put(b"hello")
    layout.remove(HELLO)
    assert HELLO not in layout
    with pytest.raises(KeyError):
        layout.remove(HELLO)


def test_open_blob_fd_gives_a_raw_fd(layout: ocidir.OciDir) -> None:
    layout.put(b"hello")
    fd = layout.open_blob_fd(HELLO)
    try:
        assert os.read(fd, 100) == b"hello"
    finally:
        os.close(fd)


def test_closed_objects_raise_value_error(layout_path: Path) -> None:
    d = ocidir.OciDir(layout_path, create=True)
    digest = d.put(b"hello")
    r = d.open_blob(digest)
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r.read(1)
    w = d.open_writer()
    w.abort()
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x")
    d.close()
    d.close()  # harmless twice
    with pytest.raises(ValueError, match="closed"):
        d.put(b"x")
    with pytest.raises(ValueError, match="closed"):
        d.tags()


def test_closing_the_layout_closes_its_readers_and_aborts_its_writers(layout_path: Path) -> None:
    d = ocidir.OciDir(layout_path, create=True)
    digest = d.put(b"hello")
    r = d.open_blob(digest)
    w = d.open_writer()
    w.write(b"never committed")
    d.close()
    assert r.closed and w.closed and w.digest is None
    with pytest.raises(ValueError):
        r.read()
    with ocidir.OciDir(layout_path) as d2:
        assert d2.stat(digest) == 5
        assert ocidir.digest(b"never committed") not in d2


def test_a_reader_keeps_its_layout_alive(layout_path: Path) -> None:
    def reader() -> ocidir.BlobReader:
        d = ocidir.OciDir(layout_path, create=True)
        return d.open_blob(d.put(b"hello"))
    r = reader()  # the OciDir is referenced only by the reader
    import gc
    gc.collect()
    assert r.read() == b"hello"
    r.close()
