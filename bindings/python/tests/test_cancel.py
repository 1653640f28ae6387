"""Cancelling fsck, gc and clone by raising in the progress callback: the
exception raised is the one the caller sees, the C call stops with
OCIDIR_E_CANCELED and nothing is half-done."""

import ctypes
import os
from pathlib import Path
from typing import Callable, Optional

import pytest

import ocidir
from ocidir import FindKind, _lib
from conftest import build_image, make_tar, raised


class Stop(Exception):
    """The exception a test's progress callback raises."""


def _bulky_image(d: ocidir.OciDir, tag: str = "app", layers: int = 4, size: int = 2 << 20) -> str:
    """An image with `layers` uncompressed layers of `size` bytes each (each
    takes a while to hash, so fsck reports between them)."""
    with d.builder() as b:
        for i in range(layers):
            w = d.layer_writer("none")
            w.write(make_tar({"f%d" % i: bytes([i + 1]) * size}))
            b.add_layer_writer(w, created_by="layer %d" % i)
        return b.commit(tag)


class Bomb:
    """A progress callable recording its calls that raises a fresh Stop at
    the call for which `when(index, done, total)` is true."""

    def __init__(self, when: Callable[[int, int, int], bool]) -> None:
        self.when = when
        self.calls: list[tuple[int, int]] = []
        self.raised: Optional[Stop] = None
        self.raised_at: Optional[int] = None

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if self.raised is None and self.when(len(self.calls) - 1, done, total):
            self.raised_at = len(self.calls) - 1
            self.raised = Stop("stop at call %d (%d of %d)" % (len(self.calls) - 1, done, total))
            raise self.raised


def _calls(op: Callable[[ocidir.ProgressCallback], object]) -> list[tuple[int, int]]:
    """The progress calls of one uncancelled run of op(progress)."""
    calls: list[tuple[int, int]] = []
    op(lambda done, total: calls.append((done, total)))
    return calls


def _index_at(position: str, n: int) -> int:
    assert n >= 3, "need at least 3 progress calls to have a middle one, got %d" % n
    return {"first": 0, "middle": n // 2, "last": n - 1}[position]


def _assert_clean(path: Path) -> None:
    with ocidir.OciDir(path, readonly=True) as d:
        rep = d.fsck()
    assert rep.ok, [f.message for f in rep if f.is_damage]
    assert not rep.of_kind(FindKind.TEMP)


# -- fsck ---------------------------------------------------------------------

def _fsck_when(position: str) -> Callable[[int, int, int], bool]:
    # fsck hashes on worker threads and reports when jobs complete, so its
    # call count varies between runs: the positions are found by the values.
    whens: dict[str, Callable[[int, int, int], bool]] = {
        "first": lambda i, done, total: i == 0,
        "middle": lambda i, done, total: i > 0 and done < total,
        "last": lambda i, done, total: done == total,
    }
    return whens[position]


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_fsck_is_canceled_by_an_exception_from_progress(layout: ocidir.OciDir, layout_path: Path, position: str) -> None:
    _bulky_image(layout)
    bomb = Bomb(_fsck_when(position))
    with pytest.raises(Stop) as e:
        layout.fsck(threads=1, progress=bomb)
    assert e.value is bomb.raised, "the exception the callback raised, re-raised as is"
    # No call after the one that raised: the library stopped there.
    assert bomb.raised_at is not None and len(bomb.calls) == bomb.raised_at + 1
    if position == "last":
        assert bomb.calls[-1][0] == bomb.calls[-1][1] > 0
    # The handle still works and the layout is untouched.
    assert layout.fsck(threads=1).ok
    _assert_clean(layout_path)


def test_fsck_canceled_at_its_final_call(layout: ocidir.OciDir) -> None:
    # An empty layout has nothing to hash: its only progress call is the
    # final one (done == total), and raising there still cancels.
    bomb = Bomb(lambda i, done, total: True)
    with pytest.raises(Stop) as e:
        layout.fsck(progress=bomb)
    assert e.value is bomb.raised and len(bomb.calls) == 1
    assert bomb.calls[0][0] == bomb.calls[0][1]
    assert layout.fsck().ok


# -- gc -----------------------------------------------------------------------

def _gc_layout(path: Path) -> tuple[str, list[str]]:
    """A layout with an image and four unreferenced blobs; returns (image
    digest, the strays)."""
    with ocidir.OciDir(path, create=True) as d:
        digest, _ = build_image(d, "app")
        strays = [d.put(("garbage %d" % i).encode() * 100) for i in range(4)]
    return digest, strays


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_gc_is_canceled_by_an_exception_from_progress(tmp_path: Path, position: str) -> None:
    ref = tmp_path / "ref"
    _gc_layout(ref)
    with ocidir.OciDir(ref) as d:
        n = len(_calls(lambda p: d.gc(grace=0, progress=p)))
    assert n == 4 + 2, "one call at the start, one per removal, one at the end"
    k = _index_at(position, n)

    path = tmp_path / "layout"
    digest, strays = _gc_layout(path)
    bomb = Bomb(lambda i, done, total: i == k)
    with ocidir.OciDir(path) as d:
        with pytest.raises(Stop) as e:
            d.gc(grace=0, progress=bomb)
        assert e.value is bomb.raised and len(bomb.calls) == k + 1
        left = [s for s in strays if s in d]
        # The call after the k-th removal raised: k blobs are gone, no more.
        assert len(left) == len(strays) - min(k, len(strays))
        assert digest in d and d.tags() == ["app"]
        with d.image("app") as img, img.layer_reader(0) as r:
            r.read()
    _assert_clean(path)


def test_untag_gc_and_cache_gc_are_canceled_by_an_exception_from_progress(tmp_path: Path) -> None:
    path = tmp_path / "layout"
    _, strays = _gc_layout(path)
    with ocidir.OciDir(path) as d:
        bomb = Bomb(lambda i, done, total: i == 0)
        with pytest.raises(Stop) as e:
            d.untag_gc("app", grace=0, progress=bomb)
        assert e.value is bomb.raised
        assert d.tags() == [] and all(s in d for s in strays)  # the tag went, no blob did
    _assert_clean(path)

    cache = tmp_path / "cache"
    (cache / "sha256").mkdir(parents=True)
    with ocidir.OciDir(tmp_path / "a", create=True) as a:
        a.add_blobdir(cache, write=True)
        orphan = a.put(b"orphan")
        bomb = Bomb(lambda i, done, total: i == 0)
        with pytest.raises(Stop) as e:
            ocidir.cache_gc(cache, [a], grace=0, progress=bomb)
        assert e.value is bomb.raised and orphan in a
        assert [f.subject for f in ocidir.cache_gc(cache, [a], grace=0).of_kind(FindKind.REMOVED)] == [orphan]


# -- clone --------------------------------------------------------------------

@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_clone_is_canceled_by_an_exception_from_progress(tmp_path: Path, layout: ocidir.OciDir, layout_path: Path, position: str) -> None:
    _bulky_image(layout, layers=3, size=1 << 16)
    out = tmp_path / "out"
    out.mkdir()
    calls = []
    new, _ = layout.clone(out / "ref", progress=lambda done, total: calls.append((done, total)))
    new.close()
    n = len(calls)
    assert n == 3 + 2 + 2, "start, manifest, config, 3 layers, end"
    k = _index_at(position, n)

    bomb = Bomb(lambda i, done, total: i == k)
    with pytest.raises(Stop) as e:
        layout.clone(out / "clone", progress=bomb)
    assert e.value is bomb.raised and len(bomb.calls) == k + 1
    if position == "last":
        assert bomb.calls[-1][0] == bomb.calls[-1][1] > 0
    # No destination left, and no temporary tree beside it.
    assert sorted(os.listdir(out)) == ["ref"]
    _assert_clean(layout_path)
    # A later clone to the same place works.
    new, rep = layout.clone(out / "clone")
    with new:
        assert new.tags() == ["app"] and rep.ok


def test_clone_into_an_empty_directory_canceled_leaves_it_empty(tmp_path: Path, layout: ocidir.OciDir) -> None:
    build_image(layout, "app")
    dest = tmp_path / "empty"
    dest.mkdir()
    bomb = Bomb(lambda i, done, total: done == total)
    with pytest.raises(Stop):
        layout.clone(dest, progress=bomb)
    assert dest.is_dir() and os.listdir(dest) == []
    assert sorted(os.listdir(tmp_path)) == sorted(["empty", "layout"])


# -- what does not cancel, and the library's own Canceled ------------------------

def test_a_callback_returning_true_does_not_cancel(layout: ocidir.OciDir) -> None:
    build_image(layout, "app")
    calls: list[int] = []

    def progress(done: int, total: int) -> bool:
        calls.append(done)
        return True

    assert layout.fsck(progress=progress).ok and calls
    new, rep = layout.clone(os.fsdecode(layout.path or "") + "-clone", progress=progress)
    new.close()
    assert rep.ok


def test_keyboard_interrupt_in_progress_cancels_and_propagates(tmp_path: Path) -> None:
    path = tmp_path / "layout"
    _, strays = _gc_layout(path)
    with ocidir.OciDir(path) as d:
        def progress(done: int, total: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            d.gc(grace=0, progress=progress)
        assert all(s in d for s in strays)


def test_a_c_callback_returning_non_zero_raises_canceled(layout: ocidir.OciDir) -> None:
    # Without a Python exception behind it, the library's code maps to Canceled.
    build_image(layout, "app")
    cb = _lib.progress_fn(lambda done, total, user: 1)
    opts = _lib.FsckOptions(progress=cb)
    out = _lib.report_p()
    with pytest.raises(ocidir.Canceled) as e:
        _lib.fn.fsck(layout._p(), ctypes.byref(opts), ctypes.byref(out))
    assert raised(e).code == ocidir.E_CANCELED == -16
    assert "cancel" in raised(e).message and not out
