"""Every exception class, provoked through the library, with its code,
message, errno and built-in base."""

import errno
import json
import os
import pickle
import tempfile
from pathlib import Path

import pytest

import ocidir
from conftest import HELLO, MANIFEST_MT, blob_path, put_manifest, raised


def test_each_class_carries_its_code() -> None:
    expected = {
        ocidir.InvalidArgument: ocidir.E_INVALID, ocidir.IOFailure: ocidir.E_IO,
        ocidir.NotFound: ocidir.E_NOT_FOUND, ocidir.DigestMismatch: ocidir.E_DIGEST,
        ocidir.SizeMismatch: ocidir.E_SIZE, ocidir.BadDigest: ocidir.E_BAD_DIGEST,
        ocidir.FormatError: ocidir.E_FORMAT, ocidir.EscapeError: ocidir.E_ESCAPE,
        ocidir.AlreadyExists: ocidir.E_EXISTS, ocidir.OutOfMemory: ocidir.E_NOMEM,
        ocidir.Unsupported: ocidir.E_UNSUPPORTED, ocidir.ReadOnlyError: ocidir.E_READONLY,
        ocidir.StateError: ocidir.E_STATE, ocidir.TooLarge: ocidir.E_TOO_LARGE,
        ocidir.Ambiguous: ocidir.E_AMBIGUOUS, ocidir.Canceled: ocidir.E_CANCELED,
        ocidir.NotDurable: ocidir.E_NOT_DURABLE,
    }
    assert len(set(expected.values())) == 17
    assert (ocidir.E_CANCELED, ocidir.E_NOT_DURABLE) == (-16, -17)
    for cls, code in expected.items():
        assert issubclass(cls, ocidir.Error) and cls.code == code
        assert ocidir.errors.error_class(code) is cls
    assert ocidir.errors.error_class(-999) is ocidir.Error


def test_builtin_bases_let_idiomatic_except_clauses_work() -> None:
    assert issubclass(ocidir.NotFound, KeyError)
    assert issubclass(ocidir.ReadOnlyError, PermissionError)
    assert issubclass(ocidir.AlreadyExists, FileExistsError)
    assert issubclass(ocidir.IOFailure, OSError)
    assert issubclass(ocidir.InvalidArgument, ValueError)
    assert issubclass(ocidir.BadDigest, ValueError)
    assert issubclass(ocidir.OutOfMemory, MemoryError)
    assert issubclass(ocidir.Ambiguous, LookupError)
    assert issubclass(ocidir.NotDurable, OSError) and not issubclass(ocidir.NotDurable, ocidir.IOFailure)
    # A cancel is not an OS error, a bad value or a lookup failure.
    assert not issubclass(ocidir.Canceled, (OSError, ValueError, LookupError))


def test_new_codes_map_to_their_classes_with_the_library_text() -> None:
    for code, cls in ((ocidir.E_CANCELED, ocidir.Canceled), (ocidir.E_NOT_DURABLE, ocidir.NotDurable)):
        e = ocidir.errors.make_error(code, "what failed", 5)
        assert type(e) is cls and e.code == code and e.errno == 5 and str(e) == "what failed"
        assert pickle.loads(pickle.dumps(e)).code == code
        assert ocidir.strerror(code) != ocidir.strerror(-999)
    assert ocidir.NotDurable(ocidir.E_NOT_DURABLE, "fsync", 5).strerror == "fsync"


def test_errors_pickle_with_their_fields() -> None:
    e = ocidir.errors.make_error(ocidir.E_IO, "read x: Bad file descriptor", errno.EBADF)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is ocidir.IOFailure and e2.code == ocidir.E_IO
    assert e2.message == e.message and e2.errno == errno.EBADF


def test_invalid_argument_for_a_bad_tag(layout: ocidir.OciDir) -> None:
    m = put_manifest(layout)
    with pytest.raises(ocidir.InvalidArgument) as e:
        layout.tag("no spaces", m)
    assert raised(e).code == ocidir.E_INVALID and "no spaces" in str(e.value)


def test_io_failure_for_a_bad_fd_carries_errno(layout: ocidir.OciDir) -> None:
    with pytest.raises(ocidir.IOFailure) as e:
        layout.put_file(999999)
    assert raised(e).errno == errno.EBADF
    assert isinstance(e.value, OSError) and raised(e).message


def test_not_found_for_a_missing_blob_and_tag(layout: ocidir.OciDir) -> None:
    with pytest.raises(KeyError) as e:
        layout.stat(HELLO)
    assert isinstance(e.value, ocidir.NotFound) and HELLO in str(e.value)
    assert raised(e).errno == 0 or raised(e).errno == errno.ENOENT
    with pytest.raises(KeyError, match="nosuchtag"):
        layout.resolve("nosuchtag")


def test_not_found_for_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ocidir.NotFound):
        ocidir.OciDir(tmp_path / "absent")


def test_digest_mismatch_for_corrupt_content(layout: ocidir.OciDir, layout_path: Path) -> None:
    layout.put(b"hello")
    with open(blob_path(layout_path, HELLO), "wb") as f:
        f.write(b"jello")
    with pytest.raises(ocidir.DigestMismatch, match=HELLO):
        layout.read(HELLO)


def test_size_mismatch_for_a_wrong_expected_size(layout: ocidir.OciDir) -> None:
    layout.put(b"hello")
    with pytest.raises(ocidir.SizeMismatch, match=HELLO):
        layout.open_blob(HELLO, size=1)


def test_bad_digest_for_a_malformed_digest(layout: ocidir.OciDir) -> None:
    with pytest.raises(ocidir.BadDigest) as e:
        layout.stat("sha256:../../etc/passwd")
    assert isinstance(e.value, ValueError)


def test_format_error_for_a_directory_without_layout(tmp_path: Path) -> None:
    with pytest.raises(ocidir.FormatError, match="oci-layout"):
        ocidir.OciDir(tmp_path)


def test_escape_error_for_a_blob_symlink_leading_outside(layout: ocidir.OciDir, layout_path: Path) -> None:
    os.symlink("/etc/hostname", blob_path(layout_path, HELLO))
    with pytest.raises(ocidir.EscapeError, match=HELLO):
        layout.open_blob_fd(HELLO)


def test_already_exists_for_a_tag_without_replace(layout: ocidir.OciDir) -> None:
    m = put_manifest(layout)
    layout.tag("stable", m)
    with pytest.raises(FileExistsError, match="stable") as e:
        layout.tag("stable", m, replace=False)
    assert isinstance(e.value, ocidir.AlreadyExists)


def test_out_of_memory_when_a_whole_read_cannot_be_allocated() -> None:
    # A sparse 256 TiB blob on tmpfs: larger than any address space.
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        with ocidir.OciDir(os.path.join(tmp, "l"), create=True) as d:
            p = blob_path(os.path.join(tmp, "l"), HELLO)
            with open(p, "wb") as f:
                f.truncate(1 << 48)
            with pytest.raises(MemoryError) as e:
                d.read(HELLO)
            assert isinstance(e.value, ocidir.OutOfMemory) and HELLO in str(e.value)
            os.unlink(p)


def test_unsupported_for_an_unregistered_algorithm(layout: ocidir.OciDir) -> None:
    with pytest.raises(ocidir.Unsupported, match="blake3:abcdef"):
        layout.stat("blake3:abcdef")


def test_read_only_error_is_a_permission_error(layout_path: Path) -> None:
    ocidir.OciDir(layout_path, create=True).close()
    with ocidir.OciDir(layout_path, readonly=True) as ro:
        with pytest.raises(PermissionError, match="read-only") as e:
            ro.put(b"x")
        assert isinstance(e.value, ocidir.ReadOnlyError)
        with pytest.raises(ocidir.ReadOnlyError):
            ro.open_writer()


def test_state_error_for_expect_after_write(layout: ocidir.OciDir) -> None:
    w = layout.open_writer()
    w.write(b"x")
    with pytest.raises(ocidir.StateError):
        w.expect(size=1)
    w.abort()


def test_too_large_for_a_json_document_over_the_limit(layout: ocidir.OciDir) -> None:
    m = put_manifest(layout)
    layout.tag("t", m)
    layout.set_json_limit(16)
    with pytest.raises(ocidir.TooLarge):
        layout.tags()
    layout.set_json_limit(0)
    assert layout.tags() == ["t"]


def test_ambiguous_for_a_tag_on_two_entries(layout: ocidir.OciDir, layout_path: Path) -> None:
    m = put_manifest(layout)
    entry = {"mediaType": MANIFEST_MT, "digest": m, "size": layout.stat(m),
             "annotations": {"org.opencontainers.image.ref.name": "twice"}}
    (layout_path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry, entry]}))
    with pytest.raises(ocidir.Ambiguous) as e:
        layout.resolve("twice")
    assert "twice" in str(e.value) and m in str(e.value)
    assert isinstance(e.value, LookupError)
