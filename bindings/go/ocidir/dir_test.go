package ocidir_test

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

func TestLoadedLibraryHasTheHeadersMajorVersion(t *testing.T) {
	n := ocidir.VersionNumber()
	if int(n/10000) != ocidir.HeaderVersionMajor {
		t.Fatalf("loaded library %d, compiled against major %d", n, ocidir.HeaderVersionMajor)
	}
	want := fmt.Sprintf("%d.%d.%d", n/10000, n/100%100, n%100)
	if ocidir.Version() != want {
		t.Fatalf("Version() = %q, VersionNumber() gives %q", ocidir.Version(), want)
	}
	if n < uint(ocidir.HeaderVersionMajor*10000+ocidir.HeaderVersionMinor*100) {
		t.Fatalf("loaded library %d is older than the header %d.%d", n, ocidir.HeaderVersionMajor, ocidir.HeaderVersionMinor)
	}
	if ocidir.HashBackend() == "" {
		t.Fatal("HashBackend() is empty")
	}
}

func TestCodeStringsAreTheLibrarysTexts(t *testing.T) {
	if got := ocidir.CodeNotFound.String(); got != "not found" {
		t.Fatalf("CodeNotFound.String() = %q", got)
	}
	if got := ocidir.Code(-999).String(); got != "unknown error" {
		t.Fatalf("Code(-999).String() = %q", got)
	}
	seen := map[string]bool{}
	for c := ocidir.CodeAmbiguous; c <= ocidir.CodeInvalid; c++ {
		s := c.String()
		if s == "unknown error" || seen[s] {
			t.Fatalf("code %d has text %q", int(c), s)
		}
		seen[s] = true
	}
}

// The resolver falls back to the component walk when the environment asks
// for it before the library is first used: checked in a child process.
func TestResolverUsesOpenat2FollowsTheFallbackVariable(t *testing.T) {
	if os.Getenv("OCIDIR_GO_RESOLVER_CHILD") == "1" {
		fmt.Printf("openat2=%v\n", ocidir.ResolverUsesOpenat2())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestResolverUsesOpenat2FollowsTheFallbackVariable$")
	cmd.Env = append(os.Environ(), "OCIDIR_GO_RESOLVER_CHILD=1", "OCIDIR_FORCE_RESOLVE_FALLBACK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "openat2=false") {
		t.Fatalf("with OCIDIR_FORCE_RESOLVE_FALLBACK=1 the child reports:\n%s", out)
	}
	// And the fallback resolver still opens layouts and reads blobs: the
	// whole blob test run again in a child with the variable set.
	cmd = exec.Command(os.Args[0], "-test.run=^TestPutStatReadBlob$")
	cmd.Env = append(os.Environ(), "OCIDIR_FORCE_RESOLVE_FALLBACK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("blob test under the fallback resolver: %v\n%s", err, out)
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l")

	_, err := ocidir.Open(path)
	wantErr(t, err, ocidir.ErrNotFound)
	_, err = ocidir.Open(path, ocidir.WithCreate(), ocidir.WithReadOnly())
	wantErr(t, err, ocidir.ErrInvalid)

	d, err := ocidir.Open(path, ocidir.WithCreate())
	must(t, err)
	for _, f := range []string{"oci-layout", "index.json", "blobs/sha256"} {
		if _, err := os.Stat(filepath.Join(path, f)); err != nil {
			t.Fatalf("WithCreate did not make %s: %v", f, err)
		}
	}
	if d.IsReadOnly() {
		t.Fatal("a writable handle says it is read-only")
	}
	dg, err := d.Put([]byte("x"))
	must(t, err)
	must(t, d.Close())
	must(t, d.Close()) // idempotent

	ro, err := ocidir.Open(path, ocidir.WithReadOnly())
	must(t, err)
	defer ro.Close()
	if !ro.IsReadOnly() {
		t.Fatal("WithReadOnly handle is not read-only")
	}
	_, err = ro.Put([]byte("y"))
	wantErr(t, err, ocidir.ErrReadOnly)
	wantErr(t, ro.RemoveBlob(dg), ocidir.ErrReadOnly)

	// WithDirFD: the path is relative to an open directory.
	df, err := os.Open(dir)
	must(t, err)
	defer df.Close()
	rel, err := ocidir.Open("l", ocidir.WithDirFD(int(df.Fd())), ocidir.WithReadOnly())
	must(t, err)
	defer rel.Close()
	if n, err := rel.Stat(dg); err != nil || n != 1 {
		t.Fatalf("Stat through WithDirFD = %d, %v", n, err)
	}

	// Not a layout.
	must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	_, err = ocidir.Open(filepath.Join(dir, "empty"))
	wantErr(t, err, ocidir.ErrFormat)
}

func TestOpenBlobSymlinkLeavingTheLayout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l")
	d, err := ocidir.Open(path, ocidir.WithCreate())
	must(t, err)
	d.Close()
	outside := filepath.Join(dir, "outside")
	must(t, os.Mkdir(outside, 0o755))
	must(t, os.Remove(filepath.Join(path, "blobs", "sha256")))
	must(t, os.Symlink(outside, filepath.Join(path, "blobs", "sha256")))

	_, err = ocidir.Open(path)
	wantErr(t, err, ocidir.ErrEscape)

	d, err = ocidir.Open(path, ocidir.WithFollowBlobSymlink())
	must(t, err)
	defer d.Close()
	dg, err := d.Put([]byte("through the link"))
	must(t, err)
	if _, err := os.Stat(filepath.Join(outside, dg.Encoded())); err != nil {
		t.Fatalf("blob not written through the followed symlink: %v", err)
	}
}

func TestErrorsCarryCodeMessageAndErrno(t *testing.T) {
	d, _ := newLayout(t)
	// A descriptor that is not open: the library names the OS error.
	err := d.AddBlobDirFD(1<<20, false)
	e := wantErr(t, err, ocidir.ErrInvalid)
	if e.Op != "ocidir_add_blobdir_fd" || !strings.Contains(e.Error(), e.Message) {
		t.Fatalf("error %q: Op %q", e.Error(), e.Op)
	}

	// A layout path through a regular file: an OS error (ENOTDIR) behind it,
	// reachable with errors.Is through Unwrap.
	f := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(f, []byte("x"), 0o644))
	_, err = ocidir.Open(filepath.Join(f, "layout"))
	var oe *ocidir.Error
	if !errors.As(err, &oe) {
		t.Fatalf("Open through a file: %v", err)
	}
	if oe.Errno != syscall.ENOTDIR || !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("Open through a file: errno %d (%v)", int(oe.Errno), err)
	}
	// A missing directory is ErrNotFound and, through its errno, fs.ErrNotExist.
	_, err = ocidir.Open(filepath.Join(t.TempDir(), "missing"))
	wantErr(t, err, ocidir.ErrNotFound)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing layout %v does not unwrap to fs.ErrNotExist", err)
	}
	// Without an OS cause there is nothing to unwrap.
	e = wantErr(t, ocidir.Digest("sha256:zz").Validate(), ocidir.ErrBadDigest)
	if e.Unwrap() != nil || e.Errno != 0 {
		t.Fatalf("a bad digest has an errno: %v", e.Unwrap())
	}
	if errors.Is(e, ocidir.ErrNotFound) {
		t.Fatal("ErrBadDigest matches ErrNotFound")
	}
}

func TestDigests(t *testing.T) {
	data := []byte("hello, layout")
	got, err := ocidir.DigestOf(ocidir.SHA256, data)
	must(t, err)
	if got != sha256Of(data) {
		t.Fatalf("DigestOf(SHA256) = %s, crypto/sha256 says %s", got, sha256Of(data))
	}
	sum := sha512.Sum512(data)
	got, err = ocidir.DigestOf(ocidir.SHA512, data)
	must(t, err)
	if want := ocidir.Digest("sha512:" + hex.EncodeToString(sum[:])); got != want {
		t.Fatalf("DigestOf(SHA512) = %s, want %s", got, want)
	}
	if got.Algorithm() != "sha512" || len(got.Encoded()) != 128 || got.String() != string(got) {
		t.Fatalf("Algorithm/Encoded/String of %s", got)
	}
	empty, err := ocidir.DigestOf(ocidir.SHA256, nil)
	must(t, err)
	if empty != sha256Of(nil) {
		t.Fatalf("digest of nothing = %s", empty)
	}
	_, err = ocidir.DigestOf(ocidir.Algorithm(7), data)
	wantErr(t, err, ocidir.ErrInvalid)

	must(t, got.Validate())
	must(t, sha256Of(data).Validate())
	wantErr(t, ocidir.Digest("md5:d41d8cd98f00b204e9800998ecf8427e").Validate(), ocidir.ErrUnsupported)
	wantErr(t, ocidir.Digest("sha256:ABC").Validate(), ocidir.ErrBadDigest)
	wantErr(t, ocidir.Digest("../../etc/passwd").Validate(), ocidir.ErrBadDigest)
	// A NUL byte would cut the string short in C: refused before the call.
	wantErr(t, ocidir.Digest(string(sha256Of(data))+"\x00junk").Validate(), ocidir.ErrInvalid)
	if ocidir.Digest("nocolon").Algorithm() != "" || ocidir.Digest("nocolon").Encoded() != "" {
		t.Fatal("a digest without a colon has parts")
	}
}

func TestPutStatReadBlob(t *testing.T) {
	d, path := newLayout(t)
	data := bytes.Repeat([]byte("blob "), 1000)
	dg, err := d.Put(data)
	must(t, err)
	if dg != sha256Of(data) {
		t.Fatalf("Put = %s, want %s", dg, sha256Of(data))
	}
	if _, err := os.Stat(blobPath(path, dg)); err != nil {
		t.Fatalf("blob file: %v", err)
	}
	n, err := d.Stat(dg)
	must(t, err)
	if n != int64(len(data)) {
		t.Fatalf("Stat = %d", n)
	}
	b, err := d.ReadBlob(dg, int64(len(data)), 1<<20)
	must(t, err)
	if !bytes.Equal(b, data) {
		t.Fatal("ReadBlob returned other bytes")
	}
	_, err = d.ReadBlob(dg, -1, 100)
	wantErr(t, err, ocidir.ErrTooLarge)
	_, err = d.ReadBlob(dg, 3, 1<<20)
	wantErr(t, err, ocidir.ErrSize)
	_, err = d.ReadBlob(dg, -1, -1)
	wantErr(t, err, ocidir.ErrInvalid)
	missing := sha256Of([]byte("absent"))
	_, err = d.Stat(missing)
	e := wantErr(t, err, ocidir.ErrNotFound)
	if !strings.Contains(e.Message, missing.Encoded()) {
		t.Fatalf("not-found message %q does not name the digest", e.Message)
	}
	_, err = d.Stat("sha256:../../x")
	wantErr(t, err, ocidir.ErrBadDigest)

	// An empty blob.
	edg, err := d.Put(nil)
	must(t, err)
	b, err = d.ReadBlob(edg, 0, 10)
	must(t, err)
	if len(b) != 0 {
		t.Fatal("empty blob read back non-empty")
	}
}

func TestBlobWriter(t *testing.T) {
	d, _ := newLayout(t)
	data := bytes.Repeat([]byte{1, 2, 3}, 100000)

	w, err := d.Create()
	must(t, err)
	must(t, w.Expect(sha256Of(data), int64(len(data))))
	if n, err := io.Copy(w, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("io.Copy into BlobWriter: %d, %v", n, err)
	}
	dg, size, err := w.Commit()
	must(t, err)
	if dg != sha256Of(data) || size != int64(len(data)) {
		t.Fatalf("Commit = %s, %d", dg, size)
	}
	_, err = w.Write([]byte("late"))
	wantErr(t, err, ocidir.ErrState)
	_, _, err = w.Commit()
	wantErr(t, err, ocidir.ErrState)
	wantErr(t, w.Expect("", 1), ocidir.ErrState)
	must(t, w.Close()) // after commit: nothing to do

	// A wrong expected digest: commit fails, nothing is published.
	other := []byte("other content")
	w, err = d.Create()
	must(t, err)
	must(t, w.Expect(sha256Of([]byte("something else")), -1))
	_, err = w.Write(other)
	must(t, err)
	_, _, err = w.Commit()
	wantErr(t, err, ocidir.ErrDigest)
	_, err = d.Stat(sha256Of(other))
	wantErr(t, err, ocidir.ErrNotFound)

	// Writing past the expected size fails at once.
	w, err = d.Create()
	must(t, err)
	must(t, w.Expect("", 4))
	_, err = w.Write([]byte("12345"))
	wantErr(t, err, ocidir.ErrSize)
	w.Abort()
	w.Abort()

	// Abort publishes nothing.
	w, err = d.Create()
	must(t, err)
	_, err = w.Write([]byte("aborted"))
	must(t, err)
	must(t, w.Close())
	_, err = d.Stat(sha256Of([]byte("aborted")))
	wantErr(t, err, ocidir.ErrNotFound)

	// sha512.
	w, err = d.CreateAlg(ocidir.SHA512)
	must(t, err)
	_, err = w.Write(data)
	must(t, err)
	dg, _, err = w.Commit()
	must(t, err)
	want, err := ocidir.DigestOf(ocidir.SHA512, data)
	must(t, err)
	if dg != want {
		t.Fatalf("sha512 writer committed %s, want %s", dg, want)
	}
	if n, err := d.Stat(dg); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat(sha512 blob) = %d, %v", n, err)
	}
	// An expectation of the other algorithm is refused.
	w, err = d.CreateAlg(ocidir.SHA512)
	must(t, err)
	defer w.Close()
	wantErr(t, w.Expect(sha256Of(data), -1), ocidir.ErrInvalid)
}

func TestBlobReaderReportsBadContentAtEOF(t *testing.T) {
	d, path := newLayout(t)
	data := bytes.Repeat([]byte("verified "), 5000)
	dg, err := d.Put(data)
	must(t, err)

	r, err := d.OpenBlob(dg, int64(len(data)))
	must(t, err)
	if r.Size() != int64(len(data)) {
		t.Fatalf("Size = %d", r.Size())
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	got, err := io.ReadAll(r)
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("reader returned other bytes")
	}
	must(t, r.Close())
	must(t, r.Close())
	_, err = r.Read(make([]byte, 1))
	wantErr(t, err, ocidir.ErrState)

	_, err = d.OpenBlob(dg, 5)
	wantErr(t, err, ocidir.ErrSize)

	// Same length, one byte changed on disk: every byte is handed out, but
	// the end is an ErrDigest, never io.EOF.
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 1
	p := blobPath(path, dg)
	must(t, os.Remove(p))
	must(t, os.WriteFile(p, bad, 0o444))
	r, err = d.OpenBlob(dg, -1)
	must(t, err)
	defer r.Close()
	got, err = io.ReadAll(r)
	wantErr(t, err, ocidir.ErrDigest)
	if len(got) > len(bad) {
		t.Fatalf("read %d bytes of a %d-byte blob", len(got), len(bad))
	}
	// Sticky.
	_, err = r.Read(make([]byte, 10))
	wantErr(t, err, ocidir.ErrDigest)
	_, err = d.ReadBlob(dg, -1, 1<<20)
	wantErr(t, err, ocidir.ErrDigest)

	// Not a regular file: refused without blocking.
	fifo := sha256Of([]byte("fifo"))
	must(t, syscall.Mkfifo(blobPath(path, fifo), 0o644))
	_, err = d.OpenBlob(fifo, -1)
	wantErr(t, err, ocidir.ErrFormat)
}

func TestPutFileOpenBlobFileRemoveBlob(t *testing.T) {
	d, path := newLayout(t)
	data := bytes.Repeat([]byte("file content "), 10000)
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.WriteFile(src, append([]byte("SKIP"), data...), 0o644))
	f, err := os.Open(src)
	must(t, err)
	defer f.Close()
	_, err = f.Seek(4, io.SeekStart)
	must(t, err)
	dg, n, err := d.PutFile(f)
	must(t, err)
	if dg != sha256Of(data) || n != int64(len(data)) {
		t.Fatalf("PutFile = %s, %d", dg, n)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != int64(4+len(data)) {
		t.Fatalf("PutFile left the offset at %d", off)
	}

	bf, err := d.OpenBlobFile(dg)
	must(t, err)
	got, err := io.ReadAll(bf)
	must(t, err)
	must(t, bf.Close())
	if !bytes.Equal(got, data) {
		t.Fatal("OpenBlobFile gave other bytes")
	}
	_, err = d.OpenBlobFile(sha256Of([]byte("nope")))
	wantErr(t, err, ocidir.ErrNotFound)

	must(t, d.RemoveBlob(dg))
	if _, err := os.Stat(blobPath(path, dg)); !os.IsNotExist(err) {
		t.Fatalf("blob file still there: %v", err)
	}
	wantErr(t, d.RemoveBlob(dg), ocidir.ErrNotFound)
}

func TestSharedBlobDirForReadingAndWriting(t *testing.T) {
	d, path := newLayout(t)
	cacheDir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(cacheDir, "sha256"), 0o755))
	cache, err := os.Open(cacheDir)
	must(t, err)
	must(t, d.AddBlobDir(cache, true))
	must(t, cache.Close()) // the library keeps its own duplicate

	data := []byte("into the cache")
	dg, err := d.Put(data)
	must(t, err)
	if _, err := os.Stat(filepath.Join(cacheDir, "sha256", dg.Encoded())); err != nil {
		t.Fatalf("blob not in the write-target cache: %v", err)
	}
	if _, err := os.Stat(blobPath(path, dg)); !os.IsNotExist(err) {
		t.Fatal("blob written into the layout too")
	}
	got, err := d.ReadBlob(dg, -1, 1<<20)
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("read back other bytes from the cache")
	}
	// Never removed from an added directory.
	wantErr(t, d.RemoveBlob(dg), ocidir.ErrNotFound)

	// A second layout reads the same cache (read-only use).
	d2, _ := newLayout(t)
	_, err = d2.Stat(dg)
	wantErr(t, err, ocidir.ErrNotFound)
	cf, err := os.Open(cacheDir)
	must(t, err)
	defer cf.Close()
	must(t, d2.AddBlobDirFD(int(cf.Fd()), false))
	if n, err := d2.Stat(dg); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat through the added cache = %d, %v", n, err)
	}
	// Read-only handles cannot get a write target.
	ro, err := ocidir.Open(path, ocidir.WithReadOnly())
	must(t, err)
	defer ro.Close()
	wantErr(t, ro.AddBlobDir(cf, true), ocidir.ErrReadOnly)
}
