"""Module-level functions and how the library is found."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ocidir
from conftest import HELLO


def test_version_matches_the_loaded_library() -> None:
    major, minor, patch = (int(x) for x in ocidir.version().split("."))
    assert ocidir.version_number() == major * 10000 + minor * 100 + patch
    assert (major, minor) >= (0, 3)


def test_library_path_is_the_one_named_by_ocidir_library() -> None:
    assert os.path.realpath(ocidir.library_path) == os.path.realpath(os.environ["OCIDIR_LIBRARY"])


def test_hash_backend_is_named() -> None:
    assert ocidir.hash_backend()


def test_digest_hashes_bytes_and_buffers() -> None:
    assert ocidir.digest(b"hello") == HELLO
    assert ocidir.digest(bytearray(b"hello")) == HELLO
    assert ocidir.digest(memoryview(b"xhellox")[1:6]) == HELLO
    d512 = ocidir.digest(b"hello", ocidir.SHA512)
    assert d512.startswith("sha512:") and len(d512) == 7 + 128
    assert len(d512) < ocidir.DIGEST_MAX


def test_digest_rejects_an_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        ocidir.digest(b"x", "md5")


def test_validate_digest_accepts_valid_and_rejects_malformed() -> None:
    ocidir.validate_digest(HELLO)
    with pytest.raises(ocidir.BadDigest):
        ocidir.validate_digest("sha256:XYZ")
    with pytest.raises(ocidir.Unsupported):
        ocidir.validate_digest("blake3:abcdef")


def test_validate_tag_follows_the_ref_name_grammar() -> None:
    ocidir.validate_tag("v1.0-rc1")
    ocidir.validate_tag("library/alpine:3.18")
    with pytest.raises(ocidir.InvalidArgument):
        ocidir.validate_tag("bad tag")
    with pytest.raises(ValueError):
        ocidir.validate_tag("")


def test_platform_default_is_os_and_arch() -> None:
    parts = ocidir.platform_default().split("/")
    assert parts[0] == "linux" and len(parts) in (2, 3)


def test_compression_media_types() -> None:
    assert ocidir.compression_media_type("none") == "application/vnd.oci.image.layer.v1.tar"
    assert ocidir.compression_media_type("gzip").endswith("+gzip")
    assert ocidir.compression_media_type("zstd").endswith("+zstd")


def test_resolver_reports_a_bool_and_honours_the_fallback_switch() -> None:
    assert isinstance(ocidir.resolver_uses_openat2(), bool)
    env = dict(os.environ, OCIDIR_FORCE_RESOLVE_FALLBACK="1")
    out = subprocess.run([sys.executable, "-c", "import ocidir; print(ocidir.resolver_uses_openat2())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_strerror_names_codes() -> None:
    assert ocidir.strerror(ocidir.E_NOT_FOUND) == "not found"
    assert ocidir.strerror(-999) == "unknown error"


def _import_with(env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-c", "import ocidir"], env=env, capture_output=True, text=True)


def test_import_fails_clearly_when_ocidir_library_is_wrong(tmp_path: Path) -> None:
    env = dict(os.environ, OCIDIR_LIBRARY=str(tmp_path / "nope.so"))
    r = _import_with(env)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "nope.so" in r.stderr and "OCIDIR_LIBRARY" in r.stderr


def _copy_package(tmp_path: Path) -> Path:
    """A copy of the package's .py files in tmp_path/ocidir (no library beside them)."""
    pkg_src = os.path.dirname(ocidir.__file__)
    pkg = tmp_path / "ocidir"
    pkg.mkdir()
    for name in os.listdir(pkg_src):
        if name.endswith(".py"):
            (pkg / name).write_bytes(open(os.path.join(pkg_src, name), "rb").read())
    return pkg


def test_import_finds_a_library_next_to_the_package(tmp_path: Path) -> None:
    pkg = _copy_package(tmp_path)
    (pkg / "libocidir.so.0").write_bytes(open(ocidir.library_path, "rb").read())
    env = {k: v for k, v in os.environ.items() if k != "OCIDIR_LIBRARY"}
    env["PYTHONPATH"] = str(tmp_path)
    r = subprocess.run([sys.executable, "-c", "import ocidir; print(ocidir.library_path)"],
                       env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "libocidir.so.0")


def test_import_without_any_library_says_where_it_looked(tmp_path: Path) -> None:
    pkg = _copy_package(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("OCIDIR_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(tmp_path)
    # A find_library that finds nothing, whatever is installed on this machine.
    code = "import ctypes.util; ctypes.util.find_library = lambda n: None; import ocidir"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path))
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "OCIDIR_LIBRARY" in r.stderr
