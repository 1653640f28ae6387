package ocidir_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

// ctx is the context of the calls a test does not cancel.
var ctx = context.Background()

// newLayout creates a fresh layout in a temporary directory.
func newLayout(t *testing.T) (*ocidir.Dir, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layout")
	d, err := ocidir.Open(path, ocidir.WithCreate())
	if err != nil {
		t.Fatalf("Open(%s, WithCreate): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err matches sentinel with errors.Is and is an *Error
// whose message is not empty.
func wantErr(t *testing.T, err, sentinel error) *ocidir.Error {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %v, want %v", err, sentinel)
	}
	var e *ocidir.Error
	if !errors.As(err, &e) || e.Message == "" {
		t.Fatalf("error %#v is not an *ocidir.Error with a message", err)
	}
	return e
}

// sha256Of is the digest computed by Go's own crypto/sha256.
func sha256Of(b []byte) ocidir.Digest {
	sum := sha256.Sum256(b)
	return ocidir.Digest("sha256:" + hex.EncodeToString(sum[:]))
}

// blobPath is where a sha256 blob lives in a layout.
func blobPath(layout string, d ocidir.Digest) string {
	return filepath.Join(layout, "blobs", d.Algorithm(), d.Encoded())
}

// makeTar builds a tar archive holding the given files.
func makeTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// tarFiles reads a tar stream fully and returns its regular files.
func tarFiles(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			must(t, err)
			out[strings.TrimPrefix(h.Name, "./")] = string(b)
		}
	}
}

// run runs a peer tool and fails the test with its output on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// builtImage is an image written by buildImage.
type builtImage struct {
	manifest ocidir.Digest
	layer    ocidir.LayerInfo
	files    map[string]string
}

// buildImage writes a one-layer gzip image for linux/amd64 tagged tag.
func buildImage(t *testing.T, d *ocidir.Dir, tag string, files map[string]string) builtImage {
	t.Helper()
	lw, err := d.NewLayerWriter(ocidir.CompressionGzip, 0, 0)
	must(t, err)
	_, err = lw.Write(makeTar(t, files))
	must(t, err)
	layer, err := lw.Commit()
	must(t, err)
	b, err := d.NewBuilder("linux/amd64")
	must(t, err)
	defer b.Close()
	must(t, b.SetCreated("2024-01-01T00:00:00Z"))
	must(t, b.AddLayer(layer.MediaType, layer.Digest, layer.Size, layer.DiffID, "test layer"))
	must(t, b.SetConfigStrings(ocidir.ConfigCmd, []string{"/bin/sh"}))
	m, err := b.Commit(tag, 0)
	must(t, err)
	return builtImage{manifest: m, layer: layer, files: files}
}

// fdCount is the number of open descriptors of this process.
func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	return len(ents)
}

// fileUID and fileGID are the owner of a file from Lstat.
func fileUID(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Uid) }
func fileGID(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Gid) }
