"""Interoperability with the real peer tools: what the binding writes,
skopeo and umoci read; what they write, the binding reads."""

import json
import shutil
import subprocess
from pathlib import Path

import ocidir
from conftest import build_image


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def test_skopeo_copies_and_umoci_unpacks_what_the_binding_built(tmp_path: Path, layout: ocidir.OciDir, layout_path: Path) -> None:
    digest, tar = build_image(layout, "app", files={"etc/motd": b"built from python\n"})
    out = subprocess.run(["skopeo", "inspect", "oci:%s:app" % layout_path], check=True,
                         capture_output=True, text=True).stdout
    info = json.loads(out)
    with layout.image("app") as img:
        assert info["Layers"] == [l.digest for l in img.layers]
    copy = tmp_path / "copy"
    _run("skopeo", "copy", "-q", "--preserve-digests", "oci:%s:app" % layout_path, "oci:%s:app" % copy)
    with ocidir.OciDir(copy, readonly=True) as c:
        assert c.resolve("app").digest == digest
        with c.image("app") as img, img.layer_reader(0) as r:
            assert r.read() == tar
    bundle = tmp_path / "bundle"
    _run("umoci", "unpack", "--image", "%s:app" % layout_path, str(bundle))
    assert (bundle / "rootfs" / "etc" / "motd").read_bytes() == b"built from python\n"
    shutil.rmtree(bundle)


def test_binding_reads_what_umoci_wrote(tmp_path: Path) -> None:
    root = tmp_path / "umoci"
    _run("umoci", "init", "--layout", str(root))
    _run("umoci", "new", "--image", "%s:base" % root)
    _run("umoci", "config", "--image", "%s:base" % root, "--config.entrypoint", "/bin/true",
         "--config.user", "nobody")
    with ocidir.OciDir(root) as d:
        assert d.tags() == ["base"]
        with d.image("base") as img:
            assert img.entrypoint == ["/bin/true"] and img.user == "nobody"
            assert len(img) == 0
        # And umoci reads a tag the binding moved.
        d.tag("again", d.resolve("base").digest)
    out = subprocess.run(["umoci", "ls", "--layout", str(root)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert sorted(out) == ["again", "base"]
