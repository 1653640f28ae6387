"""Shared fixtures: a fresh layout in tmp_path, tar streams, small images."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

import pytest

import ocidir

HELLO = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
MANIFEST_MT = "application/vnd.oci.image.manifest.v1+json"
INDEX_MT = "application/vnd.oci.image.index.v1+json"
TAR_MT = "application/vnd.oci.image.layer.v1.tar"
GZIP_MT = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_MT = "application/vnd.oci.image.layer.v1.tar+zstd"
EMPTY_MT = "application/vnd.oci.empty.v1+json"


@pytest.fixture
def layout_path(tmp_path: Path) -> Path:
    return tmp_path / "layout"


@pytest.fixture
def layout(layout_path: Path) -> Iterator[ocidir.OciDir]:
    with ocidir.OciDir(layout_path, create=True) as d:
        yield d


def make_tar(files: Mapping[str, bytes]) -> bytes:
    """A tar stream of {name: bytes}, deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
        return sorted(m.name for m in t.getmembers())


def blob_path(root: Union[str, "os.PathLike[str]"], digest: str) -> str:
    alg, hex_ = digest.split(":")
    return os.path.join(str(root), "blobs", alg, hex_)


def put_manifest(d: ocidir.OciDir, layers: Iterable[Mapping[str, Any]] = (), config_mt: str = EMPTY_MT,
                 extra: Optional[Mapping[str, Any]] = None) -> str:
    """A manifest blob with the empty config; returns its digest."""
    cfg = d.put(b"{}")
    m: dict[str, Any] = {"schemaVersion": 2, "mediaType": MANIFEST_MT,
         "config": {"mediaType": config_mt, "digest": cfg, "size": 2},
         "layers": list(layers)}
    if extra:
        m.update(extra)
    return d.put(json.dumps(m).encode())


def build_image(d: ocidir.OciDir, tag: Optional[str] = "latest", files: Optional[Mapping[str, bytes]] = None,
                compression: str = "gzip", platform: Optional[str] = None) -> tuple[str, bytes]:
    """An image with one layer holding `files`, tagged `tag`; returns
    (manifest digest, tar bytes)."""
    tar = make_tar(files or {"etc/hostname": b"box\n", "bin/hello": b"#!/bin/sh\necho hi\n"})
    with d.builder(platform) as b:
        b.set_created("2024-01-01T00:00:00Z")
        w = d.layer_writer(compression)
        w.write(tar)
        b.add_layer_writer(w, created_by="test")
        b.set_config(entrypoint=["/bin/hello"], cmd=["--loud"], env=["PATH=/bin", "A=b"],
                     user="1000:1000", working_dir="/srv", stop_signal="SIGTERM")
        b.set_label("org.example.label", "yes")
        b.set_annotation("org.example.note", "built by test")
        digest = b.commit(tag)
    return digest, tar


def raised(info: pytest.ExceptionInfo[Any]) -> ocidir.Error:
    """The ocidir.Error a pytest.raises() block caught (typed, for mypy)."""
    assert isinstance(info.value, ocidir.Error), info.value
    return info.value
