"""contrib/lxc/lxc-oci against Debian's own LXC and its stock OCI template.

Every container is made by the real `lxc-create -P <temporary lxcpath>`,
privileged and unprivileged (a `-f` config with `lxc.idmap`, so LXC runs the
template through lxc-usernsexec), from images that `ocidir import` makes,
that umoci makes (repack, its whiteouts, config), and that skopeo lays out
(as they were, and re-compressed to zstd).  Each comparison with the stock
template (/usr/share/lxc/templates/lxc-oci, umoci + jq + skopeo) asserts that
the rootfs trees and config lines are the same, except for the template's
fixes, each asserted as such.  A rootfs that is a mount point (lxc-create -B
dir --dir) is unpacked in place.  The mount-helper path (atomfs, puzzlefs
media types), which Debian 12's template lacks, is compared with LXC 6's
template (scripts/setup places it) through stub helpers that record their
arguments.

Our template runs with stubs named umoci and jq first on PATH that record
any call (the template, as the stock one, appends /usr/bin to PATH, so a PATH
merely lacking them would prove nothing): no test passes if either ran.

Needs root, lxc, uidmap, skopeo, umoci, jq, LXC 6's template (scripts/setup
installs them), mount (tmpfs), and
the ocidir subcommands copy, config, lxc-cmd, user, unpack, import, inspect,
gc: a missing one FAILS the tests that need it, naming it.

Environment (set by the CTest registration, tests/suites_lxc.cmake):
  OCIDIR_BIN    the ocidir tool under test
  LXC_OCI       contrib/lxc/lxc-oci
  LXC_OCI_GC    contrib/lxc/lxc-oci-cache-gc
"""
import ctypes
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
import io
import pathlib
import tempfile

import pytest

OCIDIR = os.environ.get("OCIDIR_BIN", "ocidir")
TEMPLATE = os.environ.get("LXC_OCI", os.path.join(os.path.dirname(__file__), "../../contrib/lxc/lxc-oci"))
CACHE_GC = os.environ.get("LXC_OCI_GC", os.path.join(os.path.dirname(__file__), "../../contrib/lxc/lxc-oci-cache-gc"))
STOCK = "/usr/share/lxc/templates/lxc-oci"

NEEDED_SUBCOMMANDS = ["copy", "config", "lxc-cmd", "user", "unpack", "import", "inspect", "gc", "init"]

# Entrypoint + Cmd with arguments LXC's splitter must give back exactly.
ENTRYPOINT = ["/bin/echo"]
CMD = ["a b", "daemon off;", "$HOME", "back\\slash", "it's", 'say "hi"', ""]
ENV = ["PATH=/usr/bin:/bin", "GREETING=hello world", "DOLLAR=$x"]


# --------------------------------------------------------------------------
# preconditions


def missing_subcommands():
    missing = []
    for sub in NEEDED_SUBCOMMANDS:
        r = subprocess.run([OCIDIR, sub, "--help"], capture_output=True, text=True)
        if r.returncode != 0:
            missing.append(sub)
    return missing


@pytest.fixture(scope="session", autouse=True)
def preconditions():
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (lxc-create -P with lxc.idmap)")
    for tool in ["lxc-create", "lxc-destroy", "newuidmap", "skopeo", "umoci", "jq", "getopt", "sha256sum"]:
        if not shutil.which(tool):
            problems.append(f"{tool} is not installed (scripts/setup installs it)")
    if not os.path.exists(STOCK):
        problems.append(f"{STOCK} is absent (apt-get install lxc)")
    if not os.access(OCIDIR, os.X_OK) and not shutil.which(OCIDIR):
        problems.append(f"the ocidir tool {OCIDIR} is absent")
    else:
        m = missing_subcommands()
        if m:
            problems.append("the ocidir tool lacks the subcommand(s) " + ", ".join(m) +
                            " (ocidir SUB --help fails) that contrib/lxc/lxc-oci uses")
    if problems:
        pytest.fail("precondition: " + "; ".join(problems), pytrace=False)


# --------------------------------------------------------------------------
# LXC's own parsing of lxc.execute.cmd


def lxc_config_value(line):
    """The value LXC's config parser keeps: trimmed, one outer pair of
    matching quotes stripped (src/lxc/confile.c parse_line)."""
    v = line.split("=", 1)[1].strip()
    if len(v) > 1 and v[0] in "'\"" and v[-1] == v[0]:
        v = v[1:-1]
    return v


def lxc_split_quoted(s):
    """lxc_string_split_quoted (src/lxc/string_utils.c): split on whitespace;
    a word starting with " or ' runs to the next same quote; no escapes."""
    out, state, start = [], " ", 0
    for i, c in enumerate(s):
        if state == " ":
            if c.isspace():
                continue
            start = i
            state = c if c in "'\"" else "a"
        elif state == "a":
            if c.isspace():
                out.append(s[start:i])
                state = " "
        elif c == state:
            out.append(s[start + 1:i])
            state = " "
    if state == "a":
        out.append(s[start:])
    return out


def test_splitter_model():
    assert lxc_split_quoted('/bin/echo "a b" \'it"s\' x\\y ""') == ["/bin/echo", "a b", 'it"s', "x\\y", ""]
    assert lxc_split_quoted('"/bin/echo"  "a b" ') == ["/bin/echo", "a b"]


# --------------------------------------------------------------------------
# helpers


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def make_tar(path, entries):
    """entries: (name, kind, uid, gid, mode, data-or-target)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, uid, gid, mode, data in entries:
            ti = tarfile.TarInfo(name)
            ti.uid, ti.gid, ti.mode, ti.mtime = uid, gid, mode, 1700000000
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            else:
                b = data.encode()
                ti.size = len(b)
                t.addfile(ti, io.BytesIO(b))


BASE_LAYER = [
    ("etc", "dir", 0, 0, 0o755, None),
    ("etc/passwd", "file", 0, 0, 0o644, "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"),
    ("etc/group", "file", 0, 0, 0o644, "root:x:0:\napp:x:1001:\n"),
    ("bin", "dir", 0, 0, 0o755, None),
    ("bin/tool", "file", 0, 0, 0o755, "#!/bin/sh\necho tool\n"),
    ("bin/link", "sym", 0, 0, 0o777, "tool"),
    ("home", "dir", 0, 0, 0o755, None),
]
USER_LAYER = [
    ("home/app", "dir", 1000, 1001, 0o750, None),
    ("home/app/notes", "file", 1000, 1001, 0o600, "mine\n"),
    ("srv", "dir", 0, 0, 0o755, None),
    ("srv/data", "file", 0, 0, 0o644, "data\n"),
]


def import_image(work, name, layers, *opts):
    layout = os.path.join(work, "img-" + name)
    tars = []
    for i, entries in enumerate(layers):
        p = os.path.join(work, f"{name}-{i}.tar")
        make_tar(p, entries)
        tars.append(p)
    run([OCIDIR, "--quiet", "init", layout])
    run([OCIDIR, "--quiet", "import", f"{layout}:{name}", *opts, *tars])
    return layout


@pytest.fixture(scope="module")
def work():
    # Under /tmp, every directory on the way searchable: LXC's user namespace
    # reaches it as the container's root.
    d = pathlib.Path(tempfile.mkdtemp(prefix="ocidir-lxc-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield from _work(d)
    if not os.environ.get("KEEP"):
        shutil.rmtree(d, ignore_errors=True)


def _work(d):
    fake = d / "fakebin"
    fake.mkdir()
    for tool in ["umoci", "jq"]:
        f = fake / tool
        f.write_text(f"#!/bin/sh\necho \"{tool} $*\" >> {d}/forbidden-calls\nexit 127\n")
        f.chmod(0o755)
    (d / "un.conf").write_text("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n")
    yield d


@pytest.fixture(scope="module")
def image(work):
    opts = []
    for a in ENTRYPOINT:
        opts += ["--entrypoint", a]
    for a in CMD:
        opts += ["--cmd", a]
    for e in ENV:
        opts += ["--env", e]
    opts += ["--user", "app", "--workdir", "/home/app"]
    return import_image(str(work), "full", [BASE_LAYER, USER_LAYER], *opts)


@pytest.fixture(scope="module")
def simple_image(work):
    """Arguments the stock template's JSON quoting happens to get right."""
    return import_image(str(work), "simple", [BASE_LAYER, USER_LAYER], "--entrypoint", "/bin/tool",
                        "--cmd", "a b", "--cmd", "c", "--env", "A=1", "--user", "app", "--workdir", "/srv")


def lxcpath(work, name):
    p = os.path.join(str(work), "lxcpath-" + name)
    os.makedirs(p, exist_ok=True)
    os.chmod(p, 0o755)
    return p


def ours_env(work, cache=None):
    env = dict(os.environ)
    env["PATH"] = f"{work}/fakebin:{os.path.dirname(os.path.abspath(OCIDIR))}:{env.get('PATH', '/usr/bin:/bin')}"
    env["OCIDIR_TOOL"] = os.path.abspath(OCIDIR)
    env["LXC_OCI_CACHE"] = cache or os.path.join(str(work), "cache")
    return env


def create(work, lp, name, url, stock=False, unpriv=False, extra=(), cache=None, check=True,
           lxc_opts=(), path_first=None):
    """stock: False (ours), True (Debian 12's), or a template path (LXC 6's).
    lxc_opts: lxc-create's own options; path_first: a directory put first on
    PATH for either template (stub mount helpers)."""
    cmd = ["lxc-create", "-P", lp, "-n", name, *lxc_opts]
    if unpriv:
        cmd += ["-f", os.path.join(str(work), "un.conf")]
    if stock and "--no-cache" not in extra:
        # Not the host's /var/cache/lxc (the stock template's cache cannot be
        # moved); the cache plays no part in what is compared.
        extra = [*extra, "--no-cache"]
    template = (STOCK if stock is True else stock) if stock else os.path.abspath(TEMPLATE)
    cmd += ["-t", template, "--", "--url", url, *extra]
    env = None if stock else ours_env(work, cache)
    if path_first:
        env = dict(env or os.environ)
        env["PATH"] = path_first + ":" + env.get("PATH", "/usr/bin:/bin")
    r = run(cmd, check=False, env=env)
    if not stock:
        calls = os.path.join(str(work), "forbidden-calls")
        assert not os.path.exists(calls), "umoci or jq ran: " + open(calls).read()
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def tree(root):
    """relpath -> (type, mode, uid, gid, content sha256 or link target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                what = ("l", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                what = ("f", hashlib.sha256(open(p, "rb").read()).hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                what = ("d", None)
            else:
                what = ("o", None)
            out[rel] = (what[0], stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what[1])
    return out


def config_lines(lp, name):
    with open(os.path.join(lp, name, "config")) as f:
        # The lxcpath differs between the two containers compared.
        return [l.rstrip("\n").replace(lp, "LXCPATH") for l in f if l.strip() and not l.startswith("#")]


def execute_argv(lines):
    cmds = [l for l in lines if l.startswith("lxc.execute.cmd")]
    assert len(cmds) == 1, lines
    return lxc_split_quoted(lxc_config_value(cmds[0]))


def without_cmd(lines):
    return [l for l in lines if not l.startswith("lxc.execute.cmd")]


# --------------------------------------------------------------------------
# the comparisons with the stock template


@pytest.mark.parametrize("unpriv", [False, True], ids=["privileged", "unprivileged"])
def test_same_as_stock_except_the_fixes(work, image, unpriv):
    tag = "p" if not unpriv else "u"
    lp_ours, lp_stock = lxcpath(work, "ours-" + tag), lxcpath(work, "stock-" + tag)
    create(work, lp_ours, "c1", f"oci:{image}:full", unpriv=unpriv)
    create(work, lp_stock, "c1", f"oci:{image}:full", stock=True, unpriv=unpriv)

    ours = tree(os.path.join(lp_ours, "c1", "rootfs"))
    stock = tree(os.path.join(lp_stock, "c1", "rootfs"))
    assert set(ours) == set(stock)
    base = 100000 if unpriv else 0
    for rel in sorted(ours):
        o, s = ours[rel], stock[rel]
        if rel.startswith("home/app"):
            # The image's owner 1000:1001, kept by ours; the stock template's
            # umoci --rootless gives the container's root.
            assert o[2:4] == (base + 1000, base + 1001), (rel, o)
            if unpriv:
                assert s[2:4] == (base, base), (rel, s)
                assert o[:2] + o[4:] == s[:2] + s[4:], (rel, o, s)
                continue
        assert o == s, (rel, o, s)
    assert ours["bin/link"][0] == "l" and ours["bin/link"][4] == "tool"
    assert open(os.path.join(lp_ours, "c1", "rootfs/etc/hostname")).read() == "c1\n"

    lo, ls_ = config_lines(lp_ours, "c1"), config_lines(lp_stock, "c1")
    assert without_cmd(lo) == without_cmd(ls_)
    assert "lxc.init.uid = 1000" in lo and "lxc.init.gid = 1001" in lo and "lxc.init.cwd = /home/app" in lo
    assert [l for l in lo if l.startswith("lxc.environment")] == ["lxc.environment = " + e for e in ENV]
    # The fix: LXC's splitter gives back exactly Entrypoint + Cmd; the stock
    # template's JSON quoting does not (lxc/lxc#2195, #2246).
    assert execute_argv(lo) == ENTRYPOINT + CMD
    assert execute_argv(ls_) != ENTRYPOINT + CMD


def test_simple_arguments_same_command_as_stock(work, simple_image):
    lp_ours, lp_stock = lxcpath(work, "ours-s"), lxcpath(work, "stock-s")
    create(work, lp_ours, "s1", f"oci:{simple_image}:simple")
    create(work, lp_stock, "s1", f"oci:{simple_image}:simple", stock=True)
    lo, ls_ = config_lines(lp_ours, "s1"), config_lines(lp_stock, "s1")
    assert execute_argv(lo) == execute_argv(ls_) == ["/bin/tool", "a b", "c"]
    assert without_cmd(lo) == without_cmd(ls_)
    assert tree(os.path.join(lp_ours, "s1", "rootfs")) == tree(os.path.join(lp_stock, "s1", "rootfs"))


def test_dhcp_lines_as_stock(work, simple_image):
    lp_ours, lp_stock = lxcpath(work, "ours-d"), lxcpath(work, "stock-d")
    create(work, lp_ours, "d1", f"oci:{simple_image}:simple", extra=["--dhcp"])
    create(work, lp_stock, "d1", f"oci:{simple_image}:simple", stock=True, extra=["--dhcp"])
    lo, ls_ = config_lines(lp_ours, "d1"), config_lines(lp_stock, "d1")
    assert any(l.startswith("lxc.hook.start-host") for l in lo)
    assert without_cmd(lo) == without_cmd(ls_)


# --------------------------------------------------------------------------
# the other fixes


def test_image_without_env_cmd_user_workdir_or_etc(work):
    img = import_image(str(work), "bare", [[("srv", "dir", 0, 0, 0o755, None),
                                            ("srv/f", "file", 0, 0, 0o644, "x\n")]])
    lp = lxcpath(work, "bare")
    create(work, lp, "b1", f"oci:{img}:bare")
    lines = config_lines(lp, "b1")
    assert "lxc.execute.cmd = '/bin/sh'" in lines
    assert not any(l.startswith("lxc.environment") for l in lines)
    assert "lxc.init.uid = 0" in lines and "lxc.init.gid = 0" in lines and "lxc.init.cwd = /" in lines
    root = os.path.join(lp, "b1", "rootfs")
    assert open(os.path.join(root, "etc/hostname")).read() == "b1\n"
    assert "127.0.1.1   b1" in open(os.path.join(root, "etc/hosts")).read()
    assert open(os.path.join(root, "srv/f")).read() == "x\n"
    # The stock template fails on it.
    lps = lxcpath(work, "bare-stock")
    r = create(work, lps, "b1", f"oci:{img}:bare", stock=True, check=False)
    assert r.returncode != 0
    assert "Cannot iterate over null" in r.stdout + r.stderr


def test_corrupt_layer_fails_clearly_and_leaves_no_rootfs(work):
    # A layer of its own (no other image shares it, so no cache holds it).
    layer = USER_LAYER + [("srv/only-here", "file", 0, 0, 0o644, "corrupt image\n")]
    img = import_image(str(work), "corrupt", [BASE_LAYER, layer], "--entrypoint", "/bin/tool")
    info = json.loads(run([OCIDIR, "inspect", f"{img}:corrupt"]).stdout)
    digest = info["layers"][1]["digest"]
    blob = os.path.join(img, "blobs/sha256", digest.split(":")[1])
    data = bytearray(open(blob, "rb").read())
    data[len(data) // 2] ^= 0xFF
    os.chmod(blob, 0o644)
    open(blob, "wb").write(bytes(data))
    for cache_opt in ([], ["--no-cache"]):
        lp = lxcpath(work, "corrupt" + ("-nc" if cache_opt else ""))
        r = create(work, lp, "x1", f"oci:{img}:corrupt", extra=cache_opt, check=False)
        out = r.stdout + r.stderr
        assert r.returncode != 0, out
        assert digest.split(":")[1][:12] in out, out
        rootfs = os.path.join(lp, "x1", "rootfs")
        assert not os.path.exists(rootfs) or os.listdir(rootfs) == [], os.listdir(rootfs)
    cache = os.path.join(str(work), "cache", "sha256")
    assert not os.path.exists(os.path.join(cache, digest.split(":")[1]))


def test_unknown_user_name_fails(work):
    img = import_image(str(work), "nouser", [BASE_LAYER], "--user", "nobody-here")
    lp = lxcpath(work, "nouser")
    r = create(work, lp, "n1", f"oci:{img}:nouser", check=False)
    assert r.returncode != 0
    assert "nobody-here" in r.stdout + r.stderr


def test_hostname_not_written_through_a_symlink(work):
    victim = os.path.join(str(work), "victim")
    open(victim, "w").write("untouched\n")
    img = import_image(str(work), "evil", [[("etc", "dir", 0, 0, 0o755, None),
                                            ("etc/hostname", "sym", 0, 0, 0o777, victim),
                                            ("etc/hosts", "sym", 0, 0, 0o777, victim)]])
    lp = lxcpath(work, "evil")
    create(work, lp, "e1", f"oci:{img}:evil")
    assert open(victim).read() == "untouched\n"
    root = os.path.join(lp, "e1", "rootfs")
    assert not os.path.islink(os.path.join(root, "etc/hostname"))
    assert open(os.path.join(root, "etc/hostname")).read() == "e1\n"


# --------------------------------------------------------------------------
# the cache


def test_cache_shared_by_two_containers_and_collected(work, simple_image):
    cache = os.path.join(str(work), "cache-shared")
    lp = lxcpath(work, "shared")
    create(work, lp, "a", f"oci:{simple_image}:simple", cache=cache)
    create(work, lp, "b", f"oci:{simple_image}:simple", cache=cache)
    info = json.loads(run([OCIDIR, "inspect", f"{simple_image}:simple"]).stdout)
    layers = [l["digest"].split(":")[1] for l in info["layers"]]
    for hexd in layers:
        c = os.stat(os.path.join(cache, "sha256", hexd))
        for name in ("a", "b"):
            blobs = os.path.join(lp, name, "oci", "blobs", "sha256")
            assert os.path.isdir(blobs) and not os.path.islink(blobs)
            s = os.stat(os.path.join(blobs, hexd))
            # Stored once: the layout's blob is a hard link into the cache.
            assert (s.st_dev, s.st_ino) == (c.st_dev, c.st_ino)
    users = os.listdir(os.path.join(cache, ".users"))
    assert len(users) == 2
    # Each layout reads as a plain layout.
    for name in ("a", "b"):
        run([OCIDIR, "fsck", os.path.join(lp, name, "oci")])

    run(["lxc-destroy", "-P", lp, "-n", "a"])
    env = ours_env(work, cache)
    run([CACHE_GC, "--grace", "0", cache], env=env)
    assert len(os.listdir(os.path.join(cache, ".users"))) == 1
    for hexd in layers:
        assert os.path.exists(os.path.join(cache, "sha256", hexd)), "a blob of b was collected"
    run([OCIDIR, "fsck", os.path.join(lp, "b", "oci")])

    run(["lxc-destroy", "-P", lp, "-n", "b"])
    run([CACHE_GC, "--grace", "0", cache], env=env)
    assert os.listdir(os.path.join(cache, ".users")) == []
    for hexd in layers:
        assert not os.path.exists(os.path.join(cache, "sha256", hexd)), "an unused blob was kept"


def test_cache_on_another_filesystem_gets_the_symlink(work, simple_image):
    shm = "/dev/shm"
    assert os.stat(shm).st_dev != os.stat(str(work)).st_dev, "precondition: /dev/shm on the same filesystem as the test dir"
    cache = os.path.join(shm, f"lxc-oci-test-{os.getpid()}")
    try:
        lp = lxcpath(work, "othermnt")
        create(work, lp, "m1", f"oci:{simple_image}:simple", cache=cache)
        blobs = os.path.join(lp, "m1", "oci", "blobs", "sha256")
        assert os.path.islink(blobs) and os.readlink(blobs) == os.path.join(cache, "sha256")
        assert "lxc.init.cwd = /srv" in config_lines(lp, "m1")
        # Collecting keeps every blob the symlinked layout references.
        run([CACHE_GC, "--grace", "0", cache], env=ours_env(work, cache))
        run([OCIDIR, "--follow-blob-symlink", "fsck", os.path.join(lp, "m1", "oci")])
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def test_no_cache_keeps_blobs_in_the_layout(work, simple_image):
    cache = os.path.join(str(work), "cache-unused")
    lp = lxcpath(work, "nocache")
    create(work, lp, "n1", f"oci:{simple_image}:simple", extra=["--no-cache"], cache=cache)
    assert not os.path.exists(cache)
    blobs = os.path.join(lp, "n1", "oci", "blobs", "sha256")
    assert os.path.isdir(blobs) and not os.path.islink(blobs)
    run([OCIDIR, "fsck", os.path.join(lp, "n1", "oci")])


# --------------------------------------------------------------------------
# layers, platforms, ids


def test_whiteout_layer_same_rootfs_as_stock(work):
    wh = [("srv", "dir", 0, 0, 0o755, None), ("srv/.wh.data", "file", 0, 0, 0o644, ""),
          ("home/.wh..wh..opq", "file", 0, 0, 0o644, ""), ("home/new", "file", 0, 0, 0o644, "new\n")]
    img = import_image(str(work), "wh", [BASE_LAYER, USER_LAYER, wh], "--entrypoint", "/bin/tool")
    lp_ours, lp_stock = lxcpath(work, "ours-wh"), lxcpath(work, "stock-wh")
    create(work, lp_ours, "w1", f"oci:{img}:wh")
    create(work, lp_stock, "w1", f"oci:{img}:wh", stock=True)
    ours = tree(os.path.join(lp_ours, "w1", "rootfs"))
    assert "srv/data" not in ours and "home/app" not in ours and "home/new" in ours
    assert ours == tree(os.path.join(lp_stock, "w1", "rootfs"))


def put_json(layout, obj):
    data = json.dumps(obj).encode()
    r = subprocess.run([OCIDIR, "--quiet", "put", layout], input=data, capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip(), len(data)


def test_multi_platform_index_picks_this_machine_or_platform(work):
    layout = os.path.join(str(work), "img-multi")
    run([OCIDIR, "--quiet", "init", layout])
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    other = "s390x" if arch != "s390x" else "amd64"
    manifests = []
    for a in (other, arch):
        tarp = os.path.join(str(work), f"multi-{a}.tar")
        make_tar(tarp, [("srv", "dir", 0, 0, 0o755, None), ("srv/arch", "file", 0, 0, 0o644, a + "\n")])
        run([OCIDIR, "--quiet", "import", f"{layout}:{a}", "--platform", f"linux/{a}", "--cmd", "/bin/sh", tarp])
        line = [l for l in run([OCIDIR, "ls", layout]).stdout.splitlines() if l.startswith(a + "\t")][0]
        _, digest, mt = line.split("\t")
        size = os.path.getsize(os.path.join(layout, "blobs/sha256", digest.split(":")[1]))
        manifests.append({"mediaType": mt, "digest": digest, "size": size,
                          "platform": {"os": "linux", "architecture": a}})
    idx, _ = put_json(layout, {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                               "manifests": manifests})
    run([OCIDIR, "tag", layout, idx, "multi"])
    lp = lxcpath(work, "multi")
    create(work, lp, "here", f"oci:{layout}:multi")
    assert open(os.path.join(lp, "here/rootfs/srv/arch")).read() == arch + "\n"
    create(work, lp, "there", f"oci:{layout}:multi", extra=["--platform", f"linux/{other}"])
    assert open(os.path.join(lp, "there/rootfs/srv/arch")).read() == other + "\n"


def test_unprivileged_id_outside_the_container_range_fails(work):
    # uid 65536 is, inside lxc-usernsexec, the host's root: the stock
    # template squashes it (--rootless); ours must not chown a file to it.
    img = import_image(str(work), "outside", [BASE_LAYER + [("srv", "dir", 0, 0, 0o755, None),
                                                            ("srv/x", "file", 65536, 0, 0o644, "x\n")]])
    lp = lxcpath(work, "outside")
    r = create(work, lp, "o1", f"oci:{img}:outside", unpriv=True, check=False)
    assert r.returncode != 0
    assert "65536" in r.stdout + r.stderr
    rootfs = os.path.join(lp, "o1", "rootfs")
    assert not os.path.exists(rootfs) or os.listdir(rootfs) == []


def test_other_transport_through_skopeo_same_as_stock(work, simple_image):
    archive = os.path.join(str(work), "simple.oci.tar")
    run(["skopeo", "copy", f"oci:{simple_image}:simple", f"oci-archive:{archive}:simple"])
    lp_ours, lp_stock = lxcpath(work, "ours-arch"), lxcpath(work, "stock-arch")
    create(work, lp_ours, "a1", f"oci-archive:{archive}:simple")
    create(work, lp_stock, "a1", f"oci-archive:{archive}:simple", stock=True)
    lo, ls_ = config_lines(lp_ours, "a1"), config_lines(lp_stock, "a1")
    assert execute_argv(lo) == execute_argv(ls_) == ["/bin/tool", "a b", "c"]
    assert without_cmd(lo) == without_cmd(ls_)
    assert tree(os.path.join(lp_ours, "a1", "rootfs")) == tree(os.path.join(lp_stock, "a1", "rootfs"))
    assert not [n for n in os.listdir(os.path.join(lp_ours, "a1")) if n.startswith(".oci-staging")]


# An argument with both quote kinds needs quoting only when it also holds
# blanks (LXC splits `a"b'c` back as one word); with blanks it cannot be
# written at all.
@pytest.mark.parametrize("arg,shown", [("both 'kinds\" of quote", "kinds"), ("newline-arg\nsecond", "newline-arg")],
                         ids=["quotes", "newline"])
def test_inexpressible_argument_fails_naming_it(work, arg, shown):
    name = "inexpr-" + ("q" if "'" in arg else "n")
    img = import_image(str(work), name, [BASE_LAYER], "--entrypoint", "/bin/tool", "--cmd", arg)
    lp = lxcpath(work, name)
    r = create(work, lp, "i1", f"oci:{img}:{name}", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    # The message names the argument (however it escapes it).
    assert "lxc.execute.cmd" in out and shown in out, out
    rootfs = os.path.join(lp, "i1", "rootfs")
    assert not os.path.exists(rootfs) or os.listdir(rootfs) == []


def test_env_with_a_newline_fails(work):
    img = import_image(str(work), "envnl", [BASE_LAYER], "--cmd", "/bin/tool", "--env", "A=1\nlxc.init.uid = 0")
    lp = lxcpath(work, "envnl")
    r = create(work, lp, "v1", f"oci:{img}:envnl", check=False)
    assert r.returncode != 0
    assert "Env" in r.stdout + r.stderr


def test_run_outside_a_user_namespace_shifts_by_the_idmap(work, image):
    """Run as host root for a container with lxc.idmap (not through
    lxc-usernsexec), the template shifts the owners by the map itself."""
    path = os.path.join(str(work), "direct", "d1")
    rootfs = os.path.join(path, "rootfs")
    os.makedirs(rootfs)
    with open(os.path.join(path, "config"), "w") as f:
        f.write("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 200000 65536\n")
    r = run([os.path.abspath(TEMPLATE), "--name", "d1", "--path", path, "--rootfs", rootfs,
             "--mapped-uid", "65536", "--mapped-gid", "65536", "--url", f"oci:{image}:full"],
            check=False, env=ours_env(work))
    assert r.returncode == 0, r.stdout + r.stderr
    st = os.lstat(os.path.join(rootfs, "home/app/notes"))
    assert (st.st_uid, st.st_gid) == (101000, 201001)
    st = os.lstat(os.path.join(rootfs, "bin/tool"))
    assert (st.st_uid, st.st_gid) == (100000, 200000)
    lines = [l.strip() for l in open(os.path.join(path, "config"))]
    assert "lxc.include = /usr/share/lxc/config/userns.conf" in lines
    assert execute_argv(lines) == ENTRYPOINT + CMD


# --------------------------------------------------------------------------
# images other writers made: umoci (repack, its whiteouts, config) and skopeo
# (its layout writer; a zstd re-compression)


def write_tree(root, entries):
    """The entries of a make_tar list, made on disk (for umoci repack)."""
    for name, kind, uid, gid, mode, data in entries:
        p = os.path.join(root, name)
        if kind == "dir":
            os.makedirs(p, exist_ok=True)
        elif kind == "sym":
            os.symlink(data, p)
        else:
            with open(p, "w") as f:
                f.write(data)
        os.lchown(p, uid, gid)
        if kind != "sym":
            os.chmod(p, mode)


def image_owners(*layers):
    """rel -> (uid, gid) of the entries not owned by root, as the image has them."""
    return {e[0]: (e[2], e[3]) for entries in layers for e in entries if (e[2], e[3]) != (0, 0)}


UMOCI_TOP = [("srv/new", "file", 0, 0, 0o644, "new\n"), ("home/app/more", "file", 1000, 1001, 0o640, "more\n")]


@pytest.fixture(scope="module")
def umoci_image(work):
    """Two layers written by `umoci repack` (the second with umoci's own
    whiteout of srv/data), the config by `umoci config`."""
    layout = os.path.join(str(work), "img-umoci")
    bundle = os.path.join(str(work), "umoci-bundle")
    run(["umoci", "--log=error", "init", "--layout", layout])
    run(["umoci", "--log=error", "new", "--image", f"{layout}:um"])
    run(["umoci", "--log=error", "unpack", "--image", f"{layout}:um", bundle])
    root = os.path.join(bundle, "rootfs")
    write_tree(root, BASE_LAYER + USER_LAYER)
    run(["umoci", "--log=error", "repack", "--refresh-bundle", "--image", f"{layout}:um", bundle])
    os.remove(os.path.join(root, "srv/data"))
    write_tree(root, UMOCI_TOP)
    run(["umoci", "--log=error", "repack", "--image", f"{layout}:um", bundle])
    run(["umoci", "--log=error", "config", "--image", f"{layout}:um", "--config.entrypoint", "/bin/tool",
         "--config.cmd", "a b", "--config.cmd", "c", "--config.env", "A=1", "--config.user", "app",
         "--config.workingdir", "/srv"])
    man = layout_manifest(layout, "um")
    assert len(man["layers"]) == 2, man
    return layout


def layout_manifest(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        idx = json.load(f)
    d = [m["digest"] for m in idx["manifests"]
         if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    assert len(d) == 1, idx
    with open(os.path.join(layout, "blobs/sha256", d[0].split(":")[1])) as f:
        return json.load(f)


def layout_config(layout, tag):
    man = layout_manifest(layout, tag)
    with open(os.path.join(layout, "blobs/sha256", man["config"]["digest"].split(":")[1])) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def skopeo_image(work, image):
    """The ocidir-made image as skopeo's oci: writer lays it out (the blobs
    themselves taken as they are)."""
    layout = os.path.join(str(work), "img-skopeo")
    run(["skopeo", "copy", "--quiet", f"oci:{image}:full", f"oci:{layout}:full"])
    assert [l["digest"] for l in layout_manifest(layout, "full")["layers"]] == \
        [l["digest"] for l in layout_manifest(image, "full")["layers"]]
    return layout


@pytest.fixture(scope="module")
def skopeo_zstd_image(work, umoci_image):
    """The umoci image re-compressed by skopeo into zstd layers."""
    layout = os.path.join(str(work), "img-zstd")
    run(["skopeo", "copy", "--quiet", "--dest-compress-format", "zstd", f"oci:{umoci_image}:um", f"oci:{layout}:um"])
    types = [l["mediaType"] for l in layout_manifest(layout, "um")["layers"]]
    assert types == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2, types
    # The same layers as the gzip image, uncompressed.
    assert layout_config(layout, "um")["rootfs"] == layout_config(umoci_image, "um")["rootfs"]
    return layout


_stock_runs = {}


def stock_container(work, url, unpriv):
    """The stock template's container for the image (made once per module)."""
    key = (url, unpriv)
    if key not in _stock_runs:
        lp = lxcpath(work, f"stock-{len(_stock_runs)}")
        create(work, lp, "c1", url, stock=True, unpriv=unpriv)
        _stock_runs[key] = lp
    return _stock_runs[key]


def assert_same_except_owner_fix(ours, stock, owners, unpriv):
    """Every entry the same in type, mode, content, link target; owners as
    the image has them (shifted by the idmap) in ours; in the stock template's
    unprivileged container, its umoci --rootless makes them the container's
    root: the one difference, asserted as the fix."""
    assert set(ours) == set(stock), set(ours) ^ set(stock)
    base = 100000 if unpriv else 0
    for rel in sorted(ours):
        o, s = ours[rel], stock[rel]
        img = owners.get(rel, (0, 0))
        assert o[2:4] == (base + img[0], base + img[1]), (rel, o)
        if unpriv and img != (0, 0):
            assert s[2:4] == (base, base), (rel, s)
            assert o[:2] + o[4:] == s[:2] + s[4:], (rel, o, s)
        else:
            assert o == s, (rel, o, s)


WRITERS = {
    # fixture, tag, image owners, Entrypoint + Cmd
    "umoci": ("umoci_image", "um", image_owners(BASE_LAYER, USER_LAYER, UMOCI_TOP), ["/bin/tool", "a b", "c"]),
    "skopeo": ("skopeo_image", "full", image_owners(BASE_LAYER, USER_LAYER), ENTRYPOINT + CMD),
}


@pytest.mark.parametrize("unpriv", [False, True], ids=["privileged", "unprivileged"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_images_of_other_writers_same_as_stock_except_the_fixes(work, request, writer, unpriv):
    fixture, tag, owners, argv = WRITERS[writer]
    layout = request.getfixturevalue(fixture)
    url = f"oci:{layout}:{tag}"
    lp = lxcpath(work, f"ours-{writer}-{'u' if unpriv else 'p'}")
    create(work, lp, "c1", url, unpriv=unpriv)
    lp_stock = stock_container(work, url, unpriv)

    ours = tree(os.path.join(lp, "c1", "rootfs"))
    assert_same_except_owner_fix(ours, tree(os.path.join(lp_stock, "c1", "rootfs")), owners, unpriv)
    if writer == "umoci":
        # umoci's whiteout took srv/data away.
        assert "srv/data" not in ours and "srv/new" in ours
    lo, ls_ = config_lines(lp, "c1"), config_lines(lp_stock, "c1")
    assert without_cmd(lo) == without_cmd(ls_)
    assert execute_argv(lo) == argv
    if argv == ENTRYPOINT + CMD:
        # The fix: the stock template mis-splits these arguments.
        assert execute_argv(ls_) != argv
    else:
        assert execute_argv(ls_) == argv


@pytest.mark.parametrize("unpriv", [False, True], ids=["privileged", "unprivileged"])
def test_zstd_layers_same_rootfs_as_stock_on_the_gzip_twin(work, umoci_image, skopeo_zstd_image, unpriv):
    """umoci 0.4.7, the stock template's unpacker, cannot read zstd layers
    (`blob is not correct mediatype`); the same layers in gzip, through the
    stock template, give what ours must give from the zstd ones."""
    lp = lxcpath(work, f"ours-zstd-{'u' if unpriv else 'p'}")
    create(work, lp, "c1", f"oci:{skopeo_zstd_image}:um", unpriv=unpriv)
    lp_stock = stock_container(work, f"oci:{umoci_image}:um", unpriv)
    _, _, owners, argv = WRITERS["umoci"]
    assert_same_except_owner_fix(tree(os.path.join(lp, "c1", "rootfs")),
                                 tree(os.path.join(lp_stock, "c1", "rootfs")), owners, unpriv)
    lo, ls_ = config_lines(lp, "c1"), config_lines(lp_stock, "c1")
    assert without_cmd(lo) == without_cmd(ls_)
    assert execute_argv(lo) == execute_argv(ls_) == argv


# --------------------------------------------------------------------------
# a rootfs that is a mount point


_private_ns = []


def private_mount_namespace():
    """Move this test process (and so the lxc-create runs it starts) into a
    mount namespace of its own, every mount private: the mounts the tests
    make end with the process however it ends (even SIGKILL), and none is
    seen by the host."""
    if _private_ns:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        e = ctypes.get_errno()
        pytest.fail(f"precondition: unshare(CLONE_NEWNS): {os.strerror(e)}", pytrace=False)
    run(["mount", "--make-rprivate", "/"])
    _private_ns.append(True)


@pytest.fixture
def mounted_rootfs(work, request):
    """A tmpfs mounted on the rootfs directory, inside a parent tmpfs that is
    then made read-only: whatever a template writes beside the rootfs (a
    `rootfs.tmp`) fails.  Each mount undone after the test, and in any case
    gone with the test's private mount namespace."""
    base = os.path.join(str(work), f"mnt-{request.node.name.split('[')[-1].rstrip(']')}")
    parent = os.path.join(base, "parent")
    rootfs = os.path.join(parent, "rootfs")
    os.makedirs(parent)
    os.chmod(base, 0o755)
    private_mount_namespace()
    mounts = []
    try:
        run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0755", "tmpfs", parent])
        mounts.append(parent)
        os.mkdir(rootfs)
        run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0755", "tmpfs", rootfs])
        mounts.append(rootfs)
        run(["mount", "-o", "remount,ro", parent])
        yield parent, rootfs
    finally:
        for m in reversed(mounts):
            r = subprocess.run(["umount", m], capture_output=True, text=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", m], capture_output=True)


@pytest.mark.parametrize("unpriv", [False, True], ids=["privileged", "unprivileged"])
def test_rootfs_mount_point_unpacked_in_place(work, image, mounted_rootfs, unpriv):
    parent, rootfs = mounted_rootfs
    dev = os.stat(rootfs).st_dev
    assert dev != os.stat(parent).st_dev, "precondition: the rootfs is a mount point"
    if unpriv:
        # LXC's own part of an unprivileged creation (the rootfs owned by
        # the container's root) on a filesystem it did not make.
        os.chown(rootfs, 100000, 100000)
    u = "u" if unpriv else "p"
    url = f"oci:{image}:full"

    # The stock template unpacks into rootfs.tmp beside it: the read-only
    # parent refuses that, which shows the test can tell.
    lps = lxcpath(work, f"mnt-stock-{u}")
    r = create(work, lps, "m1", url, stock=True, unpriv=unpriv, lxc_opts=["-B", "dir", "--dir", rootfs], check=False)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "rootfs.tmp" in r.stdout + r.stderr, r.stdout + r.stderr
    assert os.path.ismount(rootfs)
    if unpriv:
        os.chown(rootfs, 100000, 100000)

    lp = lxcpath(work, f"mnt-{u}")
    create(work, lp, "m1", url, unpriv=unpriv, lxc_opts=["-B", "dir", "--dir", rootfs])
    assert os.path.ismount(rootfs)
    assert f"lxc.rootfs.path = dir:{rootfs}" in [l.replace(lp, "LXCPATH") for l in config_lines(lp, "m1")]
    # Unpacked straight onto the mount: every entry is on its device.
    ours = tree(rootfs)
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for n in dirnames + filenames:
            assert os.lstat(os.path.join(dirpath, n)).st_dev == dev, os.path.join(dirpath, n)
    # Nothing beside it (the parent is read-only anyway), nothing in the
    # container's directory but the config, the layout and the empty rootfs
    # directory lxc-create makes there whatever the rootfs.
    assert os.listdir(parent) == ["rootfs"]
    assert sorted(os.listdir(os.path.join(lp, "m1"))) == ["config", "oci", "rootfs"]
    assert os.listdir(os.path.join(lp, "m1", "rootfs")) == []
    # The image as the ordinary container has it.
    lp_plain = lxcpath(work, f"mnt-plain-{u}")
    create(work, lp_plain, "m1", url, unpriv=unpriv)
    assert ours == tree(os.path.join(lp_plain, "m1", "rootfs"))
    base = 100000 if unpriv else 0
    st = os.lstat(os.path.join(rootfs, "home/app/notes"))
    assert (st.st_uid, st.st_gid) == (base + 1000, base + 1001)


# --------------------------------------------------------------------------
# the mount-helper path (atomfs, puzzlefs media types), against LXC 6's
# template, which has it (Debian 12's lxc 5.0.2 does not): scripts/setup
# takes it from Debian 13's liblxc-common.

STOCK6 = "/usr/local/share/ocidir-tests/lxc6/lxc-oci"
SVC_PASSWD = "root:x:0:0::/root:/bin/sh\nsvc:x:1234:2345::/:/bin/sh\n"


@pytest.fixture(scope="module")
def stock6():
    if not os.access(STOCK6, os.X_OK):
        pytest.fail(f"precondition: {STOCK6} is absent (scripts/setup places LXC 6's OCI template there)",
                    pytrace=False)
    return STOCK6


@pytest.fixture(scope="module")
def helpers(work):
    """Stub mount helpers named atomfs, puzzlefs and other-helper: each
    records its arguments (tab-separated, a line a call) and, on `mount`,
    puts the image's /etc/passwd on the mount point, as the mount would."""
    d = os.path.join(str(work), "helperbin")
    os.makedirs(d)
    logdir = os.path.join(str(work), "helper-log")
    os.makedirs(logdir)
    os.chmod(logdir, 0o777)  # the container's root writes it, unprivileged
    passwd = os.path.join(str(work), "helper-passwd")
    with open(passwd, "w") as f:
        f.write(SVC_PASSWD)
    for name in ["atomfs", "puzzlefs", "other-helper"]:
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\n"
                    "{ printf '%s' \"${0##*/}\"; for a; do printf '\\t%s' \"$a\"; done; printf '\\n'; }"
                    f" >> {logdir}/calls\n"
                    f"if [ \"$1\" = mount ]; then mkdir -p \"$5/etc\" && cp {passwd} \"$5/etc/passwd\"; fi\n")
        os.chmod(p, 0o755)
    return d, os.path.join(logdir, "calls")


def helper_calls(log, lp):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        calls = [l.rstrip("\n").replace(lp, "LXCPATH").split("\t") for l in f]
    os.remove(log)
    return calls


def put_blob(layout, data):
    h = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs/sha256", h)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def helper_image(work, name, layers, config):
    """A layout with one manifest written by hand: `layers` (media type,
    bytes, annotations), config a dict or None (the empty descriptor, as
    PuzzleFS images have)."""
    layout = os.path.join(str(work), "img-" + name)
    run([OCIDIR, "--quiet", "init", layout])
    if config is None:
        cfg = {"mediaType": "application/vnd.oci.empty.v1+json", **put_blob(layout, b"{}")}
    else:
        cfg = {"mediaType": "application/vnd.oci.image.config.v1+json",
               **put_blob(layout, json.dumps(config).encode())}
    descs = []
    for mt, data, ann in layers:
        descs.append({"mediaType": mt, **put_blob(layout, data), **({"annotations": ann} if ann else {})})
    man = put_blob(layout, json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "config": cfg, "layers": descs}).encode())
    run([OCIDIR, "tag", layout, man["digest"], name])
    run([OCIDIR, "fsck", layout])
    return layout


@pytest.fixture(scope="module")
def atomfs_image(work):
    data = b"hsqs not really a squashfs"
    return helper_image(work, "sq", [("application/vnd.stacker.image.layer.squashfs+zstd+verity", data, None)],
                        {"architecture": "amd64", "os": "linux",
                         "config": {"Entrypoint": ["/bin/svc"], "Cmd": ["-f", "a b"], "Env": ["A=1", "B=two words"],
                                    "User": "svc", "WorkingDir": "/srv"},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest()]}})


@pytest.fixture(scope="module")
def puzzlefs_image(work):
    return helper_image(work, "pz", [
        ("application/vnd.puzzlefs.image.rootfs.v1", b"puzzlefs metadata, not really",
         {"io.puzzlefsoci.puzzlefs.puzzlefs_verity_root_hash": "ab" * 32}),
        ("application/vnd.puzzlefs.image.filedata.v1", b"puzzlefs file data, not really", None)], None)


def expected_calls(helper, name):
    return [[helper, "mount", "--persist", f"LXCPATH/{name}/upper", f"LXCPATH/{name}/oci:{name}",
             f"LXCPATH/{name}/rootfs"],
            [helper, "umount", f"LXCPATH/{name}/rootfs"]]


HELPER_CASES = {
    # fixture, helper, unprivileged, Entrypoint + Cmd, lxc.init uid gid cwd
    "atomfs": ("atomfs_image", "atomfs", False, ["/bin/svc", "-f", "a b"], ("1234", "2345", "/srv")),
    "puzzlefs": ("puzzlefs_image", "puzzlefs", False, ["/bin/sh"], ("0", "0", "/")),
    "puzzlefs-unprivileged": ("puzzlefs_image", "puzzlefs", True, ["/bin/sh"], ("0", "0", "/")),
}


@pytest.mark.parametrize("case", list(HELPER_CASES))
def test_mount_helper_same_calls_and_config_as_lxc6(work, request, stock6, helpers, case):
    fixture, helper, unpriv, argv, (uid, gid, cwd) = HELPER_CASES[case]
    layout = request.getfixturevalue(fixture)
    tag = os.path.basename(layout)[len("img-"):]
    bindir, log = helpers
    helper_calls(log, "")
    lp_stock, lp = lxcpath(work, f"h6-{case}"), lxcpath(work, f"h-{case}")
    create(work, lp_stock, "h1", f"oci:{layout}:{tag}", stock=stock6, unpriv=unpriv, path_first=bindir)
    calls_stock = helper_calls(log, lp_stock)
    create(work, lp, "h1", f"oci:{layout}:{tag}", unpriv=unpriv, path_first=bindir)
    calls = helper_calls(log, lp)
    assert calls == calls_stock == expected_calls(helper, "h1")

    lo, ls_ = config_lines(lp, "h1"), config_lines(lp_stock, "h1")
    assert "lxc.hook.version = 1" in lo
    assert (f"lxc.hook.pre-mount = {helper} mount --persist LXCPATH/h1/upper"
            " ${LXC_ROOTFS_PATH}/../oci:${LXC_NAME} ${LXC_ROOTFS_PATH}") in lo
    assert "lxc.rootfs.path = dir:LXCPATH/h1/rootfs" in lo
    assert [f"lxc.init.uid = {uid}", f"lxc.init.gid = {gid}", f"lxc.init.cwd = {cwd}"] == lo[-3:]
    assert execute_argv(lo) == execute_argv(ls_) == argv
    if fixture == "puzzlefs_image":
        # An image without Env (PuzzleFS's has no config at all): LXC 6's
        # template writes one empty `lxc.environment =` line (a value that
        # sets no variable); ours none.
        assert "lxc.environment = " in ls_
        ls_ = [l for l in ls_ if l != "lxc.environment = "]
    assert without_cmd(lo) == without_cmd(ls_)
    # What both wrote into the mounted rootfs: hostname, hosts.
    assert tree(os.path.join(lp, "h1", "rootfs")) == tree(os.path.join(lp_stock, "h1", "rootfs"))
    assert open(os.path.join(lp, "h1", "rootfs/etc/hostname")).read() == "h1\n"
    # The container's layout is a plain one the helper can read at start.
    blobs = os.path.join(lp, "h1", "oci", "blobs", "sha256")
    assert os.path.isdir(blobs) and not os.path.islink(blobs)
    run([OCIDIR, "fsck", os.path.join(lp, "h1", "oci")])


def test_mount_helper_option_names_the_helper(work, stock6, helpers, puzzlefs_image):
    """--mount-helper HELPER: ours runs HELPER; LXC 6's template documents the
    option so but overwrites it with the media type's default."""
    bindir, log = helpers
    helper_calls(log, "")
    lp_stock, lp = lxcpath(work, "h6-opt"), lxcpath(work, "h-opt")
    url = f"oci:{puzzlefs_image}:pz"
    create(work, lp_stock, "h1", url, stock=stock6, path_first=bindir, extra=["--mount-helper", "other-helper"])
    assert helper_calls(log, lp_stock) == expected_calls("puzzlefs", "h1")
    create(work, lp, "h1", url, path_first=bindir, extra=["--mount-helper", "other-helper"])
    assert helper_calls(log, lp) == expected_calls("other-helper", "h1")
    assert any(l.startswith("lxc.hook.pre-mount = other-helper mount --persist") for l in config_lines(lp, "h1"))


def test_missing_mount_helper_fails_naming_it(work, puzzlefs_image):
    lp = lxcpath(work, "h-missing")
    r = create(work, lp, "h1", f"oci:{puzzlefs_image}:pz", extra=["--mount-helper", "no-such-helper-here"],
               check=False)
    assert r.returncode != 0
    assert "no-such-helper-here" in r.stdout + r.stderr


def test_mount_helper_mount_undone_when_the_creation_fails(work, helpers):
    """A failure after the helper mounted the image (here the User lookup in
    the mounted rootfs) unmounts it before anything is removed, and leaves
    the rootfs empty."""
    data = b"hsqs another not-squashfs"
    layout = helper_image(work, "sqbad", [("application/vnd.stacker.image.layer.squashfs+zstd+verity", data, None)],
                          {"architecture": "amd64", "os": "linux",
                           "config": {"Cmd": ["/bin/sh"], "User": "nobody-here"},
                           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest()]}})
    bindir, log = helpers
    helper_calls(log, "")
    lp = lxcpath(work, "h-fail")
    r = create(work, lp, "h1", f"oci:{layout}:sqbad", path_first=bindir, check=False)
    assert r.returncode != 0
    assert "nobody-here" in r.stdout + r.stderr
    assert helper_calls(log, lp) == expected_calls("atomfs", "h1")
    rootfs = os.path.join(lp, "h1", "rootfs")
    assert not os.path.exists(rootfs) or os.listdir(rootfs) == []
