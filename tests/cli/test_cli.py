"""The ocidir command-line tool, driven as a user drives it.

The binary comes from $OCIDIR_CLI (set by ctest).  Every successful command
is also checked to write nothing on stderr: stderr is a pipe here, so no
progress bar may appear.  skopeo and umoci read what `import` writes (never
skipped).
"""

import hashlib
import io
import json
import os
import pty
import select
import shutil
import subprocess
import tarfile

import pytest

CLI = os.environ["OCIDIR_CLI"]
HEX = "0123456789abcdef" * 4
COMMANDS = ["init", "put", "cat", "ls", "inspect", "import", "export", "tag", "untag", "fsck", "gc", "rm", "clone",
            "unpack", "config", "lxc-cmd", "user", "copy"]
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
TAR = "application/vnd.oci.image.layer.v1.tar"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def run(*args, stdin=None, input=None, cwd=None):
    return subprocess.run([CLI, *map(str, args)], stdin=stdin, input=input, capture_output=True, cwd=cwd)


def ok(*args, **kw):
    """Run; it must succeed and write nothing on stderr.  Returns stdout."""
    r = run(*args, **kw)
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    assert r.stderr == b"", (args, r.stderr)
    return r.stdout


def fails(status, *args, **kw):
    """Run; it must exit with `status` and one line on stderr.  Returns that line."""
    r = run(*args, **kw)
    assert r.returncode == status, (args, r.returncode, r.stdout, r.stderr)
    err = r.stderr.decode()
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("ocidir"), err
    return err


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_path(layout, digest):
    alg, hexpart = digest.split(":")
    return os.path.join(layout, "blobs", alg, hexpart)


def make_tar(path, files):
    """A tar of {name: bytes}, with fixed owners and times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            t.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


@pytest.fixture
def layout(tmp_path):
    d = tmp_path / "layout"
    ok("init", d)
    return str(d)


@pytest.fixture
def image(tmp_path, layout):
    """An image v1 of two gzip layers, with config fields set."""
    t1 = make_tar(tmp_path / "base.tar", {"etc/hello": b"hello\n", "bin/tool": b"#!/bin/sh\necho tool\n"})
    t2 = make_tar(tmp_path / "top.tar", {"etc/top": b"top layer\n"})
    out = ok("import", f"{layout}:v1", "--entrypoint", "/bin/tool", "--entrypoint", "-x", "--cmd", "run",
             "--env", "PATH=/bin", "--env", "GREETING=hello world", "--workdir", "/work", "--user", "1000:1000",
             "--label", "org.example.a=1", "--created", "2024-01-01T00:00:00Z",
             tmp_path / "base.tar", tmp_path / "top.tar")
    digest = out.decode().strip()
    assert out.decode() == digest + "\n"
    return {"layout": layout, "digest": digest, "tars": [t1, t2], "tar_paths": [tmp_path / "base.tar", tmp_path / "top.tar"]}


def inspect(ref, *opts):
    return json.loads(ok("inspect", ref, *opts))


# ---- help and usage ---------------------------------------------------------

@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_on_every_subcommand_exits_0_on_stdout(cmd):
    for args in ([cmd, "--help"], [cmd, "-h"], ["--json", cmd, "--help"]):
        out = ok(*args).decode()
        assert out.startswith(f"Usage: ocidir {cmd}"), out


def test_main_help_lists_every_command():
    out = ok("--help").decode()
    assert out.startswith("Usage: ocidir")
    for cmd in COMMANDS:
        assert f"\n  {cmd} " in out, cmd
    assert ok("--version").decode().startswith("ocidir ")


@pytest.mark.parametrize("args", [
    [],
    ["bogus"],
    ["--frob"],
    ["--blobdir"],
    ["ls"],
    ["ls", "a", "b"],
    ["ls", "--frob", "a"],
    ["init"],
    ["cat", "DIR"],
    ["cat", "DIR", "sha256:zz"],
    ["cat", "DIR", "not-a-digest"],
    ["inspect", "DIR"],
    ["inspect", "DIR:"],
    ["inspect", ":v1"],
    ["inspect", "DIR:bad tag"],
    ["inspect", "DIR:sha256:short"],
    ["import", "DIR:v1"],
    ["import", "DIR:sha256:" + HEX, "x.tar"],
    ["import", "DIR:v1", "--compression", "lz4", "x.tar"],
    ["import", "DIR:v1", "--level", "high", "x.tar"],
    ["import", "DIR:v1", "--env", "NOEQUALS", "x.tar"],
    ["import", "DIR:v1", "--label", "=v", "x.tar"],
    ["import", "DIR:v1", "--cmd"],
    ["export", "DIR:v1"],
    ["export", "DIR:v1", "--layer", "-1"],
    ["tag", "DIR", "v1"],
    ["tag", "DIR", "v1", "bad tag"],
    ["untag", "DIR", "bad tag"],
    ["fsck"],
    ["gc", "a", "b"],
    ["gc", "--grace", "soon", "a"],
    ["clone", "a"],
    ["rm", "DIR"],
    ["rm", "DIR", "sha256:" + HEX],
    ["rm", "--grace", "-5", "DIR", "v1"],
])
def test_usage_errors_exit_2_with_a_hint(args):
    err = fails(2, *args)
    assert "--help" in err


def test_global_options_after_the_command(image):
    layout = image["layout"]
    assert ok("ls", "--json", layout) == ok("--json", "ls", layout)
    assert json.loads(ok("ls", layout, "--json"))[0]["tag"] == "v1"


# ---- init, put, cat ---------------------------------------------------------

def test_init_creates_a_layout_and_keeps_an_existing_one(tmp_path):
    d = tmp_path / "new" / "layout"
    os.makedirs(d.parent)
    assert ok("init", d) == b""
    assert json.loads((d / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"
    index = (d / "index.json").read_bytes()
    ok("init", d)
    assert (d / "index.json").read_bytes() == index


def test_put_from_file_and_stdin_prints_the_digest_and_cat_gives_the_bytes(tmp_path, layout):
    data = os.urandom(300000)
    f = tmp_path / "data"
    f.write_bytes(data)
    assert ok("put", layout, f).decode() == sha256(data) + "\n"
    assert ok("put", layout, input=data).decode() == sha256(data) + "\n"
    assert ok("put", layout, "-", input=b"x").decode() == sha256(b"x") + "\n"
    assert ok("cat", layout, sha256(data)) == data
    with open(f, "rb") as fh:  # a regular file on stdin
        assert ok("put", layout, stdin=fh).decode() == sha256(data) + "\n"


def test_put_with_blobdir_writes_into_the_first_blobdir(tmp_path, layout):
    cache1, cache2 = tmp_path / "c1", tmp_path / "c2"
    os.makedirs(cache1 / "sha256")
    os.makedirs(cache2 / "sha256")
    digest = ok("--blobdir", cache1, "--blobdir", cache2, "put", layout, input=b"cached").decode().strip()
    hexpart = digest.split(":")[1]
    assert (cache1 / "sha256" / hexpart).read_bytes() == b"cached"
    assert not (cache2 / "sha256" / hexpart).exists()
    assert not os.path.exists(blob_path(layout, digest))
    # Found there for reading; not without it.
    assert ok("cat", "--blobdir", cache2, "--blobdir", cache1, layout, digest) == b"cached"
    assert "not found" in fails(1, "cat", layout, digest)


def test_put_of_a_missing_file_and_a_missing_layout_fail(tmp_path, layout):
    assert "nope" in fails(1, "put", layout, tmp_path / "nope")
    err = fails(1, "put", tmp_path / "nolayout", input=b"x")
    assert "nolayout" in err
    err = fails(1, "--blobdir", tmp_path / "nocache", "put", layout, input=b"x")
    assert "--blobdir" in err and "nocache" in err


def test_cat_of_a_missing_blob_fails_naming_it(layout):
    digest = "sha256:" + HEX
    err = fails(1, "cat", layout, digest)
    assert digest in err and "not found" in err


def test_cat_of_an_unsupported_algorithm_fails_with_status_1(layout):
    assert "blake3" in fails(1, "cat", layout, "blake3:" + HEX)


def test_cat_of_a_corrupted_blob_exits_1_and_says_the_output_is_corrupt(layout):
    data = b"A" * 100000
    digest = ok("put", layout, input=data).decode().strip()
    path = blob_path(layout, digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:  # flip one byte, same size
        f.seek(5000)
        f.write(b"B")
    r = run("cat", layout, digest)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.count("\n") == 1 and digest in err and "incomplete or corrupt" in err


# ---- ls, tag, untag -----------------------------------------------------------

def test_ls_lists_tags_in_text_and_json(image):
    layout, digest = image["layout"], image["digest"]
    ok("tag", layout, "v1", "v2")
    ok("tag", layout, digest, "by-digest")
    assert ok("ls", layout).decode().splitlines() == [
        f"{t}\t{digest}\t{MANIFEST}" for t in ("v1", "v2", "by-digest")]
    entries = json.loads(ok("--json", "ls", layout))
    size = os.path.getsize(blob_path(layout, digest))
    assert entries == [{"tag": t, "digest": digest, "mediaType": MANIFEST, "size": size}
                       for t in ("v1", "v2", "by-digest")]


def test_ls_of_an_empty_layout(layout):
    assert ok("ls", layout) == b""
    assert json.loads(ok("--json", "ls", layout)) == []


def test_untag_removes_the_entry_and_unknown_tags_fail(image):
    layout = image["layout"]
    ok("tag", layout, "v1", "v2")
    assert ok("untag", layout, "v1") == b""
    assert [e["tag"] for e in json.loads(ok("--json", "ls", layout))] == ["v2"]
    assert "v1" in fails(1, "untag", layout, "v1")
    assert "nope" in fails(1, "tag", layout, "nope", "v3")


# ---- inspect, import, export -------------------------------------------------------

def test_inspect_describes_manifest_config_and_layers(image):
    layout, digest = image["layout"], image["digest"]
    info = inspect(f"{layout}:v1")
    assert info["ref"] == "v1" and "index" not in info
    assert info["digest"] == digest and info["mediaType"] == MANIFEST
    manifest = open(blob_path(layout, digest), "rb").read()
    assert info["size"] == len(manifest) and sha256(manifest) == digest
    cfg = info["config"]
    assert cfg["mediaType"] == "application/vnd.oci.image.config.v1+json" and cfg["empty"] is False
    assert cfg["Entrypoint"] == ["/bin/tool", "-x"] and cfg["Cmd"] == ["run"]
    assert cfg["Env"] == ["PATH=/bin", "GREETING=hello world"]
    assert cfg["User"] == "1000:1000" and cfg["WorkingDir"] == "/work"
    assert cfg["Labels"] == {"org.example.a": "1"} and cfg["created"] == "2024-01-01T00:00:00Z"
    raw = json.loads(open(blob_path(layout, cfg["digest"]), "rb").read())
    assert info["platform"]["os"] == raw["os"] and info["platform"]["architecture"] == raw["architecture"]
    assert [l["mediaType"] for l in info["layers"]] == [GZIP, GZIP]
    assert [l["diffID"] for l in info["layers"]] == [sha256(t) for t in image["tars"]]
    for l in info["layers"]:
        blob = open(blob_path(layout, l["digest"]), "rb").read()
        assert sha256(blob) == l["digest"] and len(blob) == l["size"] and l["annotations"] == {}
    assert info["annotations"] == {}
    # The same through a digest ref.
    assert inspect(f"{layout}:{digest}")["layers"] == info["layers"]


def test_inspect_of_an_unknown_tag_fails_naming_it(layout):
    err = fails(1, "inspect", f"{layout}:nope")
    assert "nope" in err and "not found" in err


def test_import_compressions_and_platform(tmp_path, layout):
    tar = make_tar(tmp_path / "l.tar", {"f": b"data" * 1000})
    for comp, media in (("zstd", ZSTD), ("none", TAR), ("gzip", GZIP)):
        ok("import", f"{layout}:{comp}", "--compression", comp, "--level", "0" if comp == "none" else "3",
           "--platform", "linux/arm64/v8", tmp_path / "l.tar")
        info = inspect(f"{layout}:{comp}", "--platform", "linux/arm64")
        assert info["layers"][0]["mediaType"] == media
        assert info["layers"][0]["diffID"] == sha256(tar)
        assert info["platform"] == {"os": "linux", "architecture": "arm64", "variant": "v8"}
        assert "created" not in info["config"] or info["config"]["created"] is None
    assert inspect(f"{layout}:none")["layers"][0]["digest"] == sha256(tar)
    # Without --created the same inputs give the same digest.
    a = ok("import", f"{layout}:a", tmp_path / "l.tar")
    assert ok("import", f"{layout}:b", tmp_path / "l.tar") == a


def test_import_zstd_layer_passes_zstd_t_and_is_reproducible(tmp_path, layout):
    # Several of libzstd's 8 MiB jobs: text, so that it compresses.
    data = b"".join(b"line %d of a file in a layer\n" % i for i in range(600000))
    tar = make_tar(tmp_path / "l.tar", {"big": data, "small": b"x"})
    if shutil.which("zstd") is None:
        pytest.fail("zstd(1) is needed (Debian's zstd package)")
    digests = []
    for tag in ("z1", "z2"):
        ok("import", f"{layout}:{tag}", "--compression", "zstd", tmp_path / "l.tar")
        layer = inspect(f"{layout}:{tag}")["layers"][0]
        assert layer["mediaType"] == ZSTD and layer["diffID"] == sha256(tar)
        blob = blob_path(layout, layer["digest"])
        subprocess.run(["zstd", "-q", "-t", blob], check=True)
        out = subprocess.run(["zstd", "-q", "-dc", blob], check=True, capture_output=True).stdout
        assert sha256(out) == layer["diffID"]
        digests.append(layer["digest"])
    # Compressed by libzstd workers, one per CPU, whose output depends on
    # neither timing nor their number: the same tar, the same blob.
    assert digests[0] == digests[1]


def test_import_failures(tmp_path, layout):
    assert "missing.tar" in fails(1, "import", f"{layout}:v1", tmp_path / "missing.tar")
    make_tar(tmp_path / "l.tar", {"f": b"x"})
    err = fails(1, "import", f"{layout}:v1", "--compression", "gzip", "--level", "42", tmp_path / "l.tar")
    assert "42" in err or "level" in err
    assert "nolayout" in fails(1, "import", f"{tmp_path}/nolayout:v1", tmp_path / "l.tar")
    assert ok("ls", layout) == b""  # nothing tagged by the failures


def test_json_strings_are_escaped(tmp_path, layout):
    make_tar(tmp_path / "l.tar", {"f": b"x"})
    value = 'quote" back\\slash\nnew\ttab\x01ctl \u00e9t\u00e9 \u2603 \U0001f600'
    ok("import", f"{layout}:v1", "--label", f"k={value}", "--env", f"E={value}", "--user", value,
       tmp_path / "l.tar")
    cfg = inspect(f"{layout}:v1")["config"]
    assert cfg["Labels"] == {"k": value} and cfg["Env"] == [f"E={value}"] and cfg["User"] == value


def test_export_writes_each_layer_decompressed(image):
    layout = image["layout"]
    for i, tar in enumerate(image["tars"]):
        assert ok("export", f"{layout}:v1", "--layer", i) == tar
    err = fails(1, "export", f"{layout}:v1", "--layer", 2)
    assert "2" in err


def test_export_of_a_corrupted_layer_exits_1(image):
    layout = image["layout"]
    layer = inspect(f"{layout}:v1")["layers"][0]["digest"]
    path = blob_path(layout, layer)
    os.chmod(path, 0o644)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    r = run("export", f"{layout}:v1", "--layer", 0)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.count("\n") == 1 and "incomplete or corrupt" in err and layer in err


# ---- DIR:REF splitting through the tool ----------------------------------------------------

def test_dir_ref_with_colons_in_the_path_and_digest_refs(tmp_path):
    parent = tmp_path / "a:b"
    os.makedirs(parent)
    layout = str(parent / "lay:out")
    ok("init", layout)
    make_tar(tmp_path / "l.tar", {"f": b"x"})
    digest = ok("import", f"{layout}:v1", tmp_path / "l.tar").decode().strip()
    assert inspect(f"{layout}:v1")["digest"] == digest
    assert inspect(f"{layout}:{digest}")["digest"] == digest
    # '@' is not special: "DIR@sha256:<hex>" is the directory "DIR@sha256".
    err = fails(1, "inspect", f"{layout}@{digest}")
    assert f"{layout}@sha256" in err


# ---- escaping symlinks -------------------------------------------------------------------

def test_escaping_blob_symlink_needs_the_flag(image, tmp_path):
    layout = image["layout"]
    outside = tmp_path / "outside"
    os.makedirs(outside)
    shutil.move(os.path.join(layout, "blobs", "sha256"), outside / "sha256")
    os.symlink(outside / "sha256", os.path.join(layout, "blobs", "sha256"))
    err = fails(1, "ls", layout)
    assert "--follow-blob-symlink" in err
    assert "--follow-blob-symlink" in fails(1, "cat", layout, image["digest"])
    assert ok("--follow-blob-symlink", "ls", layout).decode().startswith("v1\t")
    assert sha256(ok("cat", "--follow-blob-symlink", layout, image["digest"])) == image["digest"]
    assert ok("export", "--follow-blob-symlink", f"{layout}:v1", "--layer", 1) == image["tars"][1]


# ---- fsck, gc, clone ---------------------------------------------------------------------

def test_fsck_of_a_sound_layout(image):
    layout = image["layout"]
    report = json.loads(ok("--json", "fsck", layout))
    assert report["damage"] == 0 and report["findings"] == []
    blobs = os.listdir(os.path.join(layout, "blobs", "sha256"))
    assert report["blobs"] == len(blobs) == 4
    assert report["bytes"] == sum(os.path.getsize(os.path.join(layout, "blobs", "sha256", b)) for b in blobs)
    assert "0 damaged" in ok("fsck", layout).decode()
    assert ok("fsck", "--quiet", layout) == b""


def test_fsck_reports_a_corrupted_and_a_missing_blob(image):
    layout = image["layout"]
    layers = [l["digest"] for l in inspect(f"{layout}:v1")["layers"]]
    p0 = blob_path(layout, layers[0])
    os.chmod(p0, 0o644)
    data = bytearray(open(p0, "rb").read())
    data[10] ^= 1
    open(p0, "wb").write(bytes(data))
    os.unlink(blob_path(layout, layers[1]))
    r = run("--json", "fsck", layout)
    assert r.returncode == 1
    assert r.stderr.decode().count("\n") == 1 and "damage" in r.stderr.decode()
    report = json.loads(r.stdout)
    assert report["damage"] == 2
    kinds = {f["subject"]: f["kind"] for f in report["findings"] if f["damage"]}
    assert kinds == {layers[0]: "digest", layers[1]: "missing"}
    assert all(f["message"] for f in report["findings"])
    text = run("fsck", layout)
    assert text.returncode == 1
    assert f"digest\t{layers[0]}\t" in text.stdout.decode()
    assert f"missing\t{layers[1]}\t" in text.stdout.decode()


def test_gc_dry_run_grace_and_removal(image):
    layout = image["layout"]
    stray = ok("put", layout, input=b"unreferenced").decode().strip()
    dry = json.loads(ok("--json", "gc", "--dry-run", "--grace", "0", layout))
    assert dry["dryRun"] is True and dry["removed"] == []
    assert [f["subject"] for f in dry["wouldRemove"]] == [stray]
    assert dry["wouldRemove"][0]["size"] == len(b"unreferenced")
    assert os.path.exists(blob_path(layout, stray))
    kept = json.loads(ok("--json", "gc", layout))  # default grace: too young to go
    assert [f["subject"] for f in kept["keptRecent"]] == [stray] and kept["removed"] == []
    assert os.path.exists(blob_path(layout, stray))
    done = json.loads(ok("gc", "--json", "--grace", "0", layout))
    assert [f["subject"] for f in done["removed"]] == [stray] and done["bytesRemoved"] == len(b"unreferenced")
    assert not os.path.exists(blob_path(layout, stray))
    assert json.loads(ok("--json", "fsck", layout))["damage"] == 0
    assert ok("gc", "--grace", "0", layout).decode() == "removed 0 files (0 bytes)\n"


def test_gc_after_untag_and_of_a_shared_cache(tmp_path, layout):
    cache = tmp_path / "cache"
    os.makedirs(cache / "sha256")
    make_tar(tmp_path / "a.tar", {"a": b"a"})
    make_tar(tmp_path / "b.tar", {"b": b"b"})
    ok("--blobdir", cache, "import", f"{layout}:a", tmp_path / "a.tar", tmp_path / "b.tar")
    ok("--blobdir", cache, "import", f"{layout}:b", "--cmd", "b", tmp_path / "a.tar")
    assert os.listdir(os.path.join(layout, "blobs", "sha256")) == []
    before = set(os.listdir(cache / "sha256"))
    ok("untag", layout, "a")
    text = ok("gc", "--dry-run", "--grace", "0", "--cache", cache, layout).decode().splitlines()
    assert text[-1].startswith("would remove 3 files")
    assert set(os.listdir(cache / "sha256")) == before
    done = json.loads(ok("--json", "gc", "--grace", "0", "--cache", cache, layout))
    gone = {f["subject"].split(":")[1] for f in done["removed"]}
    assert len(gone) == 3 and set(os.listdir(cache / "sha256")) == before - gone
    assert json.loads(ok("--json", "--blobdir", cache, "fsck", layout))["damage"] == 0


def test_gc_of_a_damaged_graph_fails(image):
    layout = image["layout"]
    os.unlink(blob_path(layout, image["digest"]))
    err = fails(1, "gc", "--grace", "0", layout)
    assert image["digest"] in err


def test_rm_drops_the_tag_and_with_gc_the_blobs(image):
    layout = image["layout"]
    blobs_dir = os.path.join(layout, "blobs", "sha256")
    all_blobs = set(os.listdir(blobs_dir))
    ok("tag", layout, "v1", "v2")
    assert ok("rm", layout, "v1") == b""
    assert set(os.listdir(blobs_dir)) == all_blobs
    assert [e["tag"] for e in json.loads(ok("--json", "ls", layout))] == ["v2"]
    report = json.loads(ok("--json", "rm", "--gc", "--grace", "0", layout, "v2"))
    assert {f["subject"].split(":")[1] for f in report["removed"]} == all_blobs
    assert os.listdir(blobs_dir) == [] and ok("ls", layout) == b""
    err = fails(1, "rm", layout, "v2")
    assert "v2" in err and "not found" in err


def test_clone_copies_index_and_blobs(image, tmp_path):
    layout, dst = image["layout"], tmp_path / "clone"
    summary = json.loads(ok("--json", "clone", layout, dst))
    assert summary["blobs"] == 4 == summary["copied"] + summary["linked"] + summary["reflinked"]
    assert (dst / "index.json").read_bytes() == open(os.path.join(layout, "index.json"), "rb").read()
    assert json.loads(ok("--json", "fsck", dst))["damage"] == 0
    assert ok("export", f"{dst}:v1", "--layer", 0) == image["tars"][0]
    assert "cloned 4 blobs" in ok("clone", "--no-hardlink", layout, tmp_path / "clone2").decode()
    assert "clone" in fails(1, "clone", layout, dst)  # not empty


# ---- progress -----------------------------------------------------------------------------

def run_with_pty_stderr(*args):
    """Run with stderr on a terminal; returns (status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    term = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        term += chunk
    out = p.stdout.read()
    status = p.wait()
    os.close(master)
    return status, out, term


def test_progress_bar_on_a_terminal_only(tmp_path, layout):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(24 << 20)
    f.close()
    digest = sha256(b"\0" * (24 << 20))
    status, out, term = run_with_pty_stderr("put", layout, big)
    assert status == 0 and out.decode() == digest + "\n"
    assert b"\r" in term and b"put [" in term and b"100%" in term and term.endswith(b"\n"), term
    status, out, term = run_with_pty_stderr("--quiet", "put", layout, big)
    assert status == 0 and term == b""
    # A pipe: nothing at all.
    assert ok("put", layout, big).decode() == digest + "\n"


def test_fsck_clone_import_progress_on_a_terminal(image, tmp_path):
    layout = image["layout"]
    for cmd, args in (("fsck", [layout]), ("clone", [layout, tmp_path / "c"]),
                      ("import", [f"{layout}:v9", *image["tar_paths"]])):
        status, out, term = run_with_pty_stderr(cmd, *args)
        assert status == 0, (cmd, term)
        assert f"{cmd} [".encode() in term and b"100%" in term and term.endswith(b"\n"), (cmd, term)


# ---- interop --------------------------------------------------------------------------------

def test_import_result_is_read_by_skopeo_and_umoci(image, tmp_path):
    layout, digest = image["layout"], image["digest"]
    info = inspect(f"{layout}:v1")
    sk = subprocess.run(["skopeo", "inspect", f"oci:{layout}:v1"], capture_output=True, check=True)
    js = json.loads(sk.stdout)
    assert js["Digest"] == digest
    assert js["Layers"] == [l["digest"] for l in info["layers"]]
    assert "GREETING=hello world" in js["Env"]
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:v1", bundle], capture_output=True, check=True)
    assert (bundle / "rootfs" / "etc" / "hello").read_bytes() == b"hello\n"
    assert (bundle / "rootfs" / "etc" / "top").read_bytes() == b"top layer\n"
    cfg = json.loads((bundle / "config.json").read_text())
    assert cfg["process"]["args"] == ["/bin/tool", "-x", "run"] and cfg["process"]["cwd"] == "/work"


# ---- unpack ------------------------------------------------------------------
# `ocidir unpack [--platform OS/ARCH[/VARIANT]] [--uid-map M]... [--gid-map M]...
# [--rootless] DIR:REF DEST`: 0 on success, 1 with one line naming the layer,
# the entry and the reason, 2 on a usage error.

MARKER = ".ocidir-unpack-incomplete"


def owned_tar(path, entries):
    """A tar of (name, type, bytes-or-target, uid, gid) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, uid, gid in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mtime = uid, gid, 1000000000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            elif kind == "chr":
                info.type, info.mode, info.devmajor, info.devminor = tarfile.CHRTYPE, 0o666, 1, 3
                t.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                t.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


def layer_digests(ref):
    return [l["digest"] for l in inspect(ref)["layers"]]


def test_unpack_success_makes_the_tree_and_prints_nothing(image, tmp_path):
    dest = tmp_path / "rootfs"
    assert ok("unpack", f"{image['layout']}:v1", dest) == b""
    assert (dest / "etc/hello").read_bytes() == b"hello\n"
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\necho tool\n"
    assert (dest / "etc/top").read_bytes() == b"top layer\n"
    assert sorted(os.listdir(dest)) == ["bin", "etc"]
    st = os.lstat(dest / "etc/hello")
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtime) == (0o644, 0, 0, 0)
    # An existing empty directory is used in place; a non-empty one is refused.
    empty = tmp_path / "empty"
    empty.mkdir()
    ok("unpack", f"{image['layout']}:v1", empty)
    assert (empty / "etc/top").exists()
    err = fails(1, "unpack", f"{image['layout']}:v1", dest)
    assert err.startswith("ocidir unpack: ") and "not empty" in err and str(dest) in err


def test_unpack_failure_is_one_line_naming_layer_entry_and_reason(tmp_path, layout):
    owned_tar(tmp_path / "ok.tar", [("fine", "file", b"ok", 0, 0)])
    owned_tar(tmp_path / "evil.tar", [("a", "dir", b"", 0, 0), ("new\nline/../../evil", "file", b"x", 0, 0)])
    ok("import", f"{layout}:bad", tmp_path / "ok.tar", tmp_path / "evil.tar")
    bad_layer = layer_digests(f"{layout}:bad")[1]
    dest = tmp_path / "rootfs"
    err = fails(1, "unpack", f"{layout}:bad", dest)
    assert err.startswith("ocidir unpack: "), err
    assert f"layer {bad_layer}" in err, err
    assert 'entry "new\\nline/../../evil"' in err, err  # the newline escaped: still one line
    assert '".." component' in err, err
    assert not dest.exists()  # what the call created is gone
    assert not (tmp_path / "evil").exists()
    # A missing tag and a missing layout fail with status 1 too.
    assert "nosuch" in fails(1, "unpack", f"{layout}:nosuch", dest)
    assert "nolayout" in fails(1, "unpack", f"{tmp_path}/nolayout:v1", dest)


@pytest.mark.parametrize("args", [
    ["unpack"],
    ["unpack", "DIR:v1"],
    ["unpack", "DIR:v1", "dest", "extra"],
    ["unpack", "DIR", "dest"],
    ["unpack", "--frob", "DIR:v1", "dest"],
    ["unpack", "DIR:v1", "dest", "--platform"],
    ["unpack", "--uid-map", "0:1000", "DIR:v1", "dest"],
    ["unpack", "--uid-map", "a:b:c", "DIR:v1", "dest"],
    ["unpack", "--uid-map", "0:1000:0", "DIR:v1", "dest"],
    ["unpack", "--uid-map", "0:1000:1:", "DIR:v1", "dest"],
    ["unpack", "--gid-map", "-1:0:1", "DIR:v1", "dest"],
    ["unpack", "--gid-map", "0:4294967296:1", "DIR:v1", "dest"],
    ["unpack", "--rootless", "--uid-map", "0:1000:1", "DIR:v1", "dest"],
    ["unpack", "--rootless=yes", "DIR:v1", "dest"],
])
def test_unpack_usage_errors_exit_2(args):
    err = fails(2, *args)
    assert "--help" in err and err.startswith("ocidir"), err


def test_unpack_help_shows_the_exact_syntax():
    out = ok("unpack", "--help").decode()
    assert out.startswith("Usage: ocidir unpack [--platform OS/ARCH[/VARIANT]] [--uid-map M]... [--gid-map M]...\n"
                          "                     [--rootless] DIR:REF DEST\n"), out


def test_unpack_json_prints_the_report(tmp_path, layout):
    owned_tar(tmp_path / "l.tar", [("dev", "dir", b"", 0, 0), ("dev/null", "chr", b"", 0, 0),
                                   ("f", "file", b"12345", 0, 0)])
    ok("import", f"{layout}:dev", tmp_path / "l.tar")
    rep = json.loads(ok("--json", "unpack", f"{layout}:dev", tmp_path / "a"))
    assert rep == {"layers": 1, "bytes": 5, "findings": []}
    # Rootless: the device is skipped, and the report says so.
    rep = json.loads(ok("unpack", "--json", "--rootless", f"{layout}:dev", tmp_path / "b"))
    assert rep["layers"] == 1 and rep["bytes"] == 5
    assert [(f["kind"], f["subject"]) for f in rep["findings"]] == [("device-skipped", "dev/null")], rep
    assert not (tmp_path / "b/dev/null").exists()
    # Without --json the notices go to stderr, one line each, and the status is 0.
    r = run("unpack", "--rootless", f"{layout}:dev", tmp_path / "c")
    assert r.returncode == 0 and r.stdout == b""
    assert r.stderr.decode().count("\n") == 1 and "device-skipped" in r.stderr.decode()


def test_unpack_rootless_owns_files_and_keeps_the_owner_in_an_xattr(tmp_path, layout):
    owned_tar(tmp_path / "l.tar", [("home", "dir", b"", 0, 0), ("home/u", "file", b"u", 1000, 1001),
                                   ("rootfile", "file", b"r", 0, 0)])
    ok("import", f"{layout}:own", tmp_path / "l.tar")
    dest = tmp_path / "rootfs"
    ok("unpack", "--rootless", f"{layout}:own", dest)
    st = os.lstat(dest / "home/u")
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    # protobuf Resource{uid=1000, gid=1001}: field 1 and 2 as varints.
    assert os.getxattr(dest / "home/u", "user.rootlesscontainers") == bytes([0x08, 0xe8, 0x07, 0x10, 0xe9, 0x07])
    with pytest.raises(OSError):
        os.getxattr(dest / "rootfile", "user.rootlesscontainers")  # root:root has none


def test_unpack_uid_and_gid_maps_shift_ids_and_repeat(tmp_path, layout):
    if os.geteuid() != 0:
        pytest.fail("needs root: --uid-map chowns to the mapped ids")
    owned_tar(tmp_path / "l.tar", [("a", "file", b"a", 0, 0), ("b", "file", b"b", 1000, 5),
                                   ("c", "file", b"c", 1005, 70000)])
    ok("import", f"{layout}:ids", tmp_path / "l.tar")
    dest = tmp_path / "rootfs"
    ok("unpack", "--uid-map", "0:100000:1000", "--uid-map", "1000:300000:10",
       "--gid-map", "0:200000:65536", "--gid-map", "65536:400000:10000", f"{layout}:ids", dest)
    ids = {n: (os.lstat(dest / n).st_uid, os.lstat(dest / n).st_gid) for n in "abc"}
    assert ids == {"a": (100000, 200000), "b": (300000, 200005), "c": (300005, 404464)}, ids
    # An id outside every range fails, naming the entry and the id.
    err = fails(1, "unpack", "--uid-map", "0:100000:1000", "--gid-map", "0:200000:65536", f"{layout}:ids",
                tmp_path / "r2")
    assert '"b"' in err and "1000" in err, err
    assert not (tmp_path / "r2").exists()


def test_unpack_reuses_the_tree_of_a_killed_unpack(image, tmp_path):
    dest = tmp_path / "rootfs"
    (dest / "half").mkdir(parents=True)
    (dest / "half/file").write_bytes(b"partial")
    (dest / MARKER).write_bytes(b"")
    rep = json.loads(ok("--json", "unpack", f"{image['layout']}:v1", dest))
    assert [(f["kind"], f["subject"]) for f in rep["findings"]] == [("incomplete-cleared", str(dest))], rep
    assert sorted(os.listdir(dest)) == ["bin", "etc"]
    # Text mode: status 0, the notice on stderr.
    shutil.rmtree(dest)
    dest.mkdir()
    (dest / MARKER).write_bytes(b"")
    r = run("unpack", f"{image['layout']}:v1", dest)
    assert r.returncode == 0 and "incomplete-cleared" in r.stderr.decode(), r.stderr
    # A complete tree is not touched.
    assert "not empty" in fails(1, "unpack", f"{image['layout']}:v1", dest)


def test_unpack_progress_on_a_terminal_only(image, tmp_path):
    status, out, term = run_with_pty_stderr("unpack", f"{image['layout']}:v1", tmp_path / "a")
    assert status == 0 and out == b""
    assert b"unpack [" in term and b"100%" in term and term.endswith(b"\n"), term
    status, out, term = run_with_pty_stderr("--quiet", "unpack", f"{image['layout']}:v1", tmp_path / "b")
    assert status == 0 and term == b""
    assert ok("unpack", f"{image['layout']}:v1", tmp_path / "c") == b""  # a pipe: nothing


# ---- import checks that its input is a tar ------------------------------------

def test_import_refuses_a_file_that_is_not_a_tar(tmp_path, layout):
    junk = tmp_path / "j.tar"
    junk.write_bytes(b"junk")
    before = sorted(os.listdir(os.path.join(layout, "blobs", "sha256")))
    err = fails(1, "import", f"{layout}:t", junk)
    assert str(junk) in err and "not a tar stream" in err and "at byte 0" in err, err
    # A tar damaged after its first entry: the offset of the bad header.
    data = bytearray(make_tar(tmp_path / "good.tar", {"a": b"a" * 10, "b": b"b"}))
    hdr = data.find(b"b\0", 512)  # the second entry's header (after pax headers of none)
    hdr -= hdr % 512
    data[hdr + 20] ^= 0xff
    (tmp_path / "bad.tar").write_bytes(bytes(data))
    err = fails(1, "import", f"{layout}:t", tmp_path / "bad.tar")
    assert str(tmp_path / "bad.tar") in err and f"at byte {hdr}" in err and "checksum" in err, err
    # Truncated inside an entry's content.
    (tmp_path / "cut.tar").write_bytes(bytes(make_tar(tmp_path / "g2.tar", {"big": b"z" * 5000}))[:2000])
    err = fails(1, "import", f"{layout}:t", tmp_path / "cut.tar")
    assert str(tmp_path / "cut.tar") in err and "at byte 2000" in err, err
    # Nothing stored, nothing tagged.
    assert sorted(os.listdir(os.path.join(layout, "blobs", "sha256"))) == before
    assert ok("ls", layout) == b""


def test_import_accepts_every_gnu_tar_format_with_sparse_files_and_long_names(tmp_path, layout):
    """The tar check refuses no tar GNU tar writes: v7, ustar, oldgnu (sparse
    headers with extension blocks), gnu and posix (pax sparse), with long names,
    hard links, symlinks, FIFOs; each unpacks to the same sparse file."""
    if shutil.which("tar") is None:
        pytest.fail("GNU tar is needed (Debian's tar package)")
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d/f").write_bytes(b"hi\n")
    os.link(src / "d/f", src / "d/h")
    os.symlink("f", src / "d/s")
    os.mkfifo(src / "fifo")
    long_dir = src / ("x" * 120)
    long_dir.mkdir()
    (long_dir / ("y" * 120)).write_bytes(b"long")
    with open(src / "sparse", "wb") as f:  # 12 data regions: more than an old-GNU header holds
        for i in range(12):
            f.seek(i << 20)
            f.write(b"data%d" % i)
    sparse = (src / "sparse").read_bytes()
    for fmt in ("v7", "ustar", "oldgnu", "gnu", "posix"):
        tar = tmp_path / f"{fmt}.tar"
        sparse_opt = [] if fmt in ("v7", "ustar") else ["--sparse"]  # v7 and ustar have no sparse form
        subprocess.run(["tar", f"--format={fmt}", *sparse_opt, "-cf", tar, "-C", src, "."], capture_output=True)
        assert tar.stat().st_size > 0, fmt
        ok("import", f"{layout}:{fmt}", tar)
        dest = tmp_path / f"out-{fmt}"
        ok("unpack", f"{layout}:{fmt}", dest)
        assert (dest / "sparse").read_bytes() == sparse, fmt
        assert (dest / "d/f").read_bytes() == b"hi\n", fmt


# ---- config, lxc-cmd, user, copy (what LXC's template reads) ---------------

def test_config_prints_each_field_one_value_per_line(image):
    ref = f"{image['layout']}:v1"
    assert ok("config", ref, "entrypoint") == b"/bin/tool\n-x\n"
    assert ok("config", ref, "cmd") == b"run\n"
    assert ok("config", ref, "env") == b"PATH=/bin\nGREETING=hello world\n"
    assert ok("config", ref, "user") == b"1000:1000\n"
    assert ok("config", ref, "workdir") == b"/work\n"
    assert ok("config", ref, "labels") == b"org.example.a=1\n"
    assert ok("config", ref, "os") == b"linux\n"
    assert ok("config", "--platform", "linux/" + ok("config", ref, "architecture").decode().strip(), ref, "cmd") == b"run\n"


def test_config_null_separated(image):
    ref = f"{image['layout']}:v1"
    assert ok("config", "-0", ref, "env") == b"PATH=/bin\0GREETING=hello world\0"
    assert ok("config", ref, "--null", "entrypoint") == b"/bin/tool\0-x\0"


def test_config_absent_fields_print_nothing_and_exit_0(tmp_path, layout):
    make_tar(tmp_path / "l.tar", {"f": b"x"})
    ok("import", f"{layout}:bare", tmp_path / "l.tar")
    for field in ("entrypoint", "cmd", "env", "user", "workdir", "stopsignal", "labels", "variant"):
        assert ok("config", f"{layout}:bare", field) == b"", field


def test_config_value_with_a_newline_needs_null(tmp_path, layout):
    make_tar(tmp_path / "l.tar", {"f": b"x"})
    ok("import", f"{layout}:nl", "--env", "A=one\ntwo", tmp_path / "l.tar")
    assert "newline" in fails(1, "config", f"{layout}:nl", "env")
    assert ok("config", "-0", f"{layout}:nl", "env") == b"A=one\ntwo\0"


def test_config_failures(image, layout):
    assert "bogus" in fails(2, "config", f"{image['layout']}:v1", "bogus")
    fails(2, "config", f"{image['layout']}:v1")
    assert "nosuch" in fails(1, "config", f"{layout}:nosuch", "cmd")


def lxc_split(value):
    """LXC's parsing of `lxc.execute.cmd = VALUE`: one outer quote pair
    stripped, then lxc_string_split_quoted (no escapes)."""
    v = value.strip()
    if len(v) > 1 and v[0] in "\"'" and v[-1] == v[0]:
        v = v[1:-1]
    words, state, start = [], " ", 0
    for i, c in enumerate(v):
        if state == " ":
            if c.isspace():
                continue
            start, state = i, (c if c in "\"'" else "a")
        elif state == "a":
            if c.isspace():
                words.append(v[start:i])
                state = " "
        elif c == state:
            words.append(v[start + 1:i])
            state = " "
    if state == "a":
        words.append(v[start:])
    return words


def import_cmd(tmp_path, layout, tag, entrypoint, cmd):
    make_tar(tmp_path / "l.tar", {"f": b"x"})
    args = []
    for a in entrypoint:
        args += ["--entrypoint", a]
    for a in cmd:
        args += ["--cmd", a]
    ok("import", f"{layout}:{tag}", *args, tmp_path / "l.tar")


def test_lxc_cmd_round_trips_through_lxcs_splitter(tmp_path, layout, image):
    assert ok("lxc-cmd", f"{image['layout']}:v1") == b"'/bin/tool -x run'\n"
    cases = [
        (["nginx"], ["-g", "daemon off;"]),
        (["/bin/sh", "-c"], ["echo \"hi there\" $HOME \\n"]),
        ([], ["echo", "it's", "a\\b", "", "x y"]),
        (["'q'"], ["\"dq\""]),
    ]
    for i, (ep, cmd) in enumerate(cases):
        import_cmd(tmp_path, layout, f"c{i}", ep, cmd)
        out = ok("lxc-cmd", f"{layout}:c{i}").decode()
        assert out.endswith("\n") and out.count("\n") == 1
        assert lxc_split(out[:-1]) == ep + cmd, out


def test_lxc_cmd_refuses_what_lxc_cannot_express(tmp_path, layout):
    import_cmd(tmp_path, layout, "both", ["/bin/sh", "-c"], ["echo \"it's\""])
    err = fails(1, "lxc-cmd", f"{layout}:both")
    assert "Cmd[0]" in err and "both quote kinds" in err
    import_cmd(tmp_path, layout, "nl", ["a\nb"], [])
    assert 'Entrypoint[0] "a\\nb"' in fails(1, "lxc-cmd", f"{layout}:nl")
    import_cmd(tmp_path, layout, "none", [], [])
    assert "empty" in fails(1, "lxc-cmd", f"{layout}:none")
    fails(2, "lxc-cmd")


@pytest.fixture
def rootfs(tmp_path):
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    (r / "etc/group").write_text("root:x:0:\nwheel:x:10:app\n")
    return r


def test_user_resolves_names_and_numbers(rootfs):
    assert ok("user", rootfs, "app") == b"1000 1001\n"
    assert ok("user", rootfs, "app:wheel") == b"1000 10\n"
    assert ok("user", rootfs, "1000") == b"1000 1001\n"
    assert ok("user", rootfs, "4242") == b"4242 0\n"
    assert ok("user", rootfs, "4242:7") == b"4242 7\n"
    assert ok("user", rootfs, "") == b"0 0\n"


def test_user_failures(rootfs, tmp_path):
    assert "ghost" in fails(1, "user", rootfs, "ghost")
    assert "nogroup" in fails(1, "user", rootfs, "app:nogroup")
    os.unlink(rootfs / "etc/passwd")
    (tmp_path / "outside-passwd").write_text("spy:x:5:5:::\n")
    os.symlink("../../outside-passwd", rootfs / "etc/passwd")
    assert "spy" in fails(1, "user", rootfs, "spy")  # the link resolves inside the rootfs
    assert "missing" in fails(1, "user", tmp_path / "missing", "app")
    fails(2, "user", rootfs)


def multi_layout(tmp_path, layout):
    """Tag `multi` on an index of linux/amd64 and linux/arm64 images."""
    make_tar(tmp_path / "a.tar", {"f": b"amd"})
    make_tar(tmp_path / "b.tar", {"f": b"arm"})
    da = ok("import", f"{layout}:a", "--platform", "linux/amd64", "--cmd", "amd", tmp_path / "a.tar").decode().strip()
    db = ok("import", f"{layout}:b", "--platform", "linux/arm64", "--cmd", "arm", tmp_path / "b.tar").decode().strip()
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": MANIFEST, "digest": d, "size": os.path.getsize(blob_path(layout, d)),
         "platform": {"os": "linux", "architecture": arch}} for d, arch in ((da, "amd64"), (db, "arm64"))]}
    (tmp_path / "index.json").write_text(json.dumps(idx))
    di = ok("put", layout, tmp_path / "index.json").decode().strip()
    ok("tag", layout, di, "multi")
    return da, db, di


def test_copy_one_platform_and_all_platforms(tmp_path, layout):
    da, db, di = multi_layout(tmp_path, layout)
    dst = tmp_path / "dst"
    out = ok("copy", "--json", "--platform", "linux/arm64", f"{layout}:multi", f"{dst}:app")
    assert json.loads(out)["blobs"] == 3
    assert ok("ls", dst).decode().split("\t")[:2] == ["app", db]
    assert ok("config", f"{dst}:app", "cmd") == b"arm\n"
    assert not os.path.exists(blob_path(dst, da))
    ok("fsck", dst)
    ok("copy", "--quiet", "--all-platforms", f"{layout}:multi", f"{dst}:all")
    assert os.path.exists(blob_path(dst, da)) and os.path.exists(blob_path(dst, di))
    assert ok("config", "--platform", "linux/amd64", f"{dst}:all", "cmd") == b"amd\n"
    ok("fsck", dst)


def test_copy_into_a_blobdir(tmp_path, layout):
    _, db, _ = multi_layout(tmp_path, layout)
    cache = tmp_path / "cache"
    cache.mkdir()
    dst = tmp_path / "dst"
    ok("copy", "--quiet", "--blobdir", cache, "--platform", "linux/arm64", f"{layout}:multi", f"{dst}:app")
    assert os.path.exists(cache / "sha256" / db.split(":")[1])
    assert os.listdir(dst / "blobs" / "sha256") == []
    assert ok("config", "--blobdir", cache, f"{dst}:app", "cmd") == b"arm\n"


def test_copy_of_a_corrupt_blob_fails_and_leaves_no_tag(tmp_path, image):
    layout = image["layout"]
    layer = inspect(f"{layout}:v1")["layers"][0]["digest"]
    p = blob_path(layout, layer)
    data = bytearray(open(p, "rb").read())
    data[len(data) // 2] ^= 0x20
    os.unlink(p)
    open(p, "wb").write(bytes(data))
    dst = tmp_path / "dst"
    err = fails(1, "copy", f"{layout}:v1", f"{dst}:app")
    assert layer in err
    assert ok("ls", dst) == b""


def test_copy_usage_errors(layout, tmp_path):
    fails(2, "copy", f"{layout}:v1")
    fails(2, "copy", "--platform", "linux/amd64", "--all-platforms", f"{layout}:v1", f"{tmp_path}/d:x")
    fails(2, "copy", f"{layout}:v1", f"{tmp_path}/d:bad tag")
    assert "nosuch" in fails(1, "copy", f"{layout}:nosuch", f"{tmp_path}/d:x")
