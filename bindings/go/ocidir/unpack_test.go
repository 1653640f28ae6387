package ocidir_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

const motd = "hello from the layer\n"

// rootfsTar is a tar with a directory, a file in it and a symlink to it.
func rootfsTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: "etc/", Mode: 0o755, Typeflag: tar.TypeDir}))
	must(t, tw.WriteHeader(&tar.Header{Name: "etc/motd", Mode: 0o640, Size: int64(len(motd)), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(motd))
	must(t, err)
	must(t, tw.WriteHeader(&tar.Header{Name: "motd", Linkname: "etc/motd", Typeflag: tar.TypeSymlink}))
	must(t, tw.Close())
	return buf.Bytes()
}

// rootfsImage writes a one-layer image of rootfsTar and opens it.
func rootfsImage(t *testing.T, d *ocidir.Dir, c ocidir.Compression) (*ocidir.Image, ocidir.LayerInfo) {
	t.Helper()
	lw, err := d.NewLayerWriter(c, 0, 0)
	must(t, err)
	_, err = lw.Write(rootfsTar(t))
	must(t, err)
	layer, err := lw.Commit()
	must(t, err)
	b, err := d.NewBuilder("")
	must(t, err)
	defer b.Close()
	must(t, b.AddLayer(layer.MediaType, layer.Digest, layer.Size, layer.DiffID, "rootfs"))
	_, err = b.Commit("rootfs", 0)
	must(t, err)
	img, err := d.OpenImage("rootfs", "")
	must(t, err)
	t.Cleanup(func() { img.Close() })
	return img, layer
}

func TestUnpackWritesTheTree(t *testing.T) {
	d, _ := newLayout(t)
	img, _ := rootfsImage(t, d, ocidir.CompressionGzip)
	dst := filepath.Join(t.TempDir(), "rootfs")
	var calls [][2]uint64
	rep, err := img.Unpack(ctx, dst, &ocidir.UnpackOptions{NoSync: true,
		Progress: func(done, total uint64) { calls = append(calls, [2]uint64{done, total}) }})
	must(t, err)
	if rep == nil || rep.Damage != 0 || rep.Blobs != 1 || rep.Bytes != int64(len(motd)) {
		t.Fatalf("report %+v, want no damage, 1 layer, %d bytes", rep, len(motd))
	}
	if len(calls) == 0 || calls[len(calls)-1][0] != calls[len(calls)-1][1] {
		t.Fatalf("progress calls %v: none, or the last one is not done == total", calls)
	}
	ents, err := os.ReadDir(dst)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "etc,motd" {
		t.Fatalf("destination holds %v, want [etc motd]", names)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "etc")); err != nil || !fi.IsDir() {
		t.Fatalf("etc: %v %v, want a directory", fi, err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "etc", "motd"))
	must(t, err)
	if string(b) != motd {
		t.Fatalf("etc/motd holds %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "etc", "motd")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("etc/motd: %v %v, want mode 0640", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "motd")); err != nil || l != "etc/motd" {
		t.Fatalf("motd: readlink %q %v, want etc/motd", l, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, ocidir.UnpackMarker)); !os.IsNotExist(err) {
		t.Fatalf("the marker is still there: %v", err)
	}
}

func TestUnpackRootlessAndMapped(t *testing.T) {
	d, _ := newLayout(t)
	img, _ := rootfsImage(t, d, ocidir.CompressionZstd)
	dst := filepath.Join(t.TempDir(), "rootless")
	_, err := img.Unpack(ctx, dst, &ocidir.UnpackOptions{Owner: ocidir.OwnerRootless, NoSync: true})
	must(t, err)
	if fi, err := os.Lstat(filepath.Join(dst, "etc", "motd")); err != nil || fileUID(fi) != os.Getuid() {
		t.Fatalf("rootless etc/motd: %v, want owned by %d", err, os.Getuid())
	}
	if os.Getuid() != 0 {
		t.Fatalf("precondition: the id-mapping part needs root (CAP_CHOWN over the mapped ids); uid %d", os.Getuid())
	}
	dst = filepath.Join(t.TempDir(), "mapped")
	_, err = img.Unpack(ctx, dst, &ocidir.UnpackOptions{Owner: ocidir.OwnerMap, NoSync: true,
		UIDMap: []ocidir.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GIDMap: []ocidir.IDMap{{ContainerID: 0, HostID: 200000, Size: 65536}}})
	must(t, err)
	fi, err := os.Lstat(filepath.Join(dst, "etc", "motd"))
	must(t, err)
	if fileUID(fi) != 100000 || fileGID(fi) != 200000 {
		t.Fatalf("mapped etc/motd owned by %d:%d, want 100000:200000", fileUID(fi), fileGID(fi))
	}
	dst = filepath.Join(t.TempDir(), "unmapped")
	_, err = img.Unpack(ctx, dst, &ocidir.UnpackOptions{Owner: ocidir.OwnerMap,
		UIDMap: []ocidir.IDMap{{ContainerID: 1000, HostID: 100000, Size: 1}},
		GIDMap: []ocidir.IDMap{{ContainerID: 0, HostID: 0, Size: 1}}})
	wantErr(t, err, ocidir.ErrInvalid)
	wantAbsent(t, dst)
	_, err = img.Unpack(ctx, dst, &ocidir.UnpackOptions{Owner: ocidir.OwnerMap, NoSync: true,
		UIDMap:      []ocidir.IDMap{{ContainerID: 1000, HostID: 100000, Size: 1}},
		GIDMap:      []ocidir.IDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		FallbackUID: ocidir.ID(12345)})
	must(t, err)
	fi, err = os.Lstat(filepath.Join(dst, "etc", "motd"))
	must(t, err)
	if fileUID(fi) != 12345 {
		t.Fatalf("fallback uid: owned by %d, want 12345", fileUID(fi))
	}
}

func wantAbsent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		ents, _ := os.ReadDir(path)
		t.Fatalf("%s is left behind (%v, %d entries)", path, err, len(ents))
	}
}

func TestUnpackCorruptLayerIsDigestErrorAndLeavesNothing(t *testing.T) {
	d, layout := newLayout(t)
	img, layer := rootfsImage(t, d, ocidir.CompressionNone)
	p := blobPath(layout, layer.Digest)
	b, err := os.ReadFile(p)
	must(t, err)
	i := bytes.Index(b, []byte(motd))
	if i < 0 {
		t.Fatal("the uncompressed layer does not hold the file's content")
	}
	b[i] ^= 0x20 // same size, another content
	must(t, os.Chmod(p, 0o644))
	must(t, os.WriteFile(p, b, 0o644))
	dst := filepath.Join(t.TempDir(), "rootfs")
	rep, err := img.Unpack(ctx, dst, nil)
	e := wantErr(t, err, ocidir.ErrDigest)
	if !strings.Contains(e.Message, string(layer.Digest)) {
		t.Fatalf("message %q does not name the layer %s", e.Message, layer.Digest)
	}
	if rep != nil {
		t.Fatalf("a failed unpack returned a report %+v", rep)
	}
	wantAbsent(t, dst)
}

func TestUnpackIntoNonEmptyDirectoryIsExists(t *testing.T) {
	d, _ := newLayout(t)
	img, _ := rootfsImage(t, d, ocidir.CompressionGzip)
	dst := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dst, "keep"), []byte("x"), 0o644))
	_, err := img.Unpack(ctx, dst, nil)
	wantErr(t, err, ocidir.ErrExists)
	ents, err := os.ReadDir(dst)
	must(t, err)
	if len(ents) != 1 || ents[0].Name() != "keep" {
		t.Fatalf("the destination was touched: %v", ents)
	}
	// An empty directory is used in place.
	empty := t.TempDir()
	_, err = img.Unpack(ctx, empty, &ocidir.UnpackOptions{NoSync: true})
	must(t, err)
	if _, err := os.Stat(filepath.Join(empty, "etc", "motd")); err != nil {
		t.Fatal(err)
	}
}

func TestUnpackCanceledAtFirstProgressCallLeavesNothing(t *testing.T) {
	d, _ := newLayout(t)
	img, _ := rootfsImage(t, d, ocidir.CompressionGzip)
	for _, emptyDir := range []bool{false, true} {
		parent := t.TempDir()
		dst := filepath.Join(parent, "rootfs")
		if emptyDir {
			must(t, os.Mkdir(dst, 0o755))
		}
		cctx, c := newCanceler(atCall(1))
		rep, err := img.Unpack(cctx, dst, &ocidir.UnpackOptions{Progress: c.progress})
		wantCanceled(t, "unpack canceled at the first call", err, c, rep)
		if emptyDir {
			ents, err := os.ReadDir(dst)
			must(t, err)
			if len(ents) != 0 {
				t.Fatalf("the empty destination holds %d entries after the cancel", len(ents))
			}
		} else {
			wantAbsent(t, dst)
		}
		ents, err := os.ReadDir(parent)
		must(t, err)
		if len(ents) != map[bool]int{false: 0, true: 1}[emptyDir] {
			t.Fatalf("the parent holds %d entries after the cancel", len(ents))
		}
	}
	// A context done before the call fails at once.
	done, cancel := context.WithCancel(ctx)
	cancel()
	dst := filepath.Join(t.TempDir(), "never")
	_, err := img.Unpack(done, dst, nil)
	wantErr(t, err, ocidir.ErrCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v is not context.Canceled", err)
	}
	wantAbsent(t, dst)
}

func TestUnpackBoundsAndClosedImage(t *testing.T) {
	d, _ := newLayout(t)
	img, _ := rootfsImage(t, d, ocidir.CompressionGzip)
	dst := filepath.Join(t.TempDir(), "rootfs")
	_, err := img.Unpack(ctx, dst, &ocidir.UnpackOptions{MaxEntries: 1})
	wantErr(t, err, ocidir.ErrTooLarge)
	wantAbsent(t, dst)
	img.Close()
	_, err = img.Unpack(ctx, dst, nil)
	wantErr(t, err, ocidir.ErrState)
}

// corruptSameSize flips the first byte of a stored blob.
func corruptSameSize(t *testing.T, layout string, dg ocidir.Digest) string {
	t.Helper()
	p := blobPath(layout, dg)
	b, err := os.ReadFile(p)
	must(t, err)
	b[0] ^= 0xff
	must(t, os.Chmod(p, 0o644))
	must(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestPutVerifyExistingRepairsSameSizeCorruption(t *testing.T) {
	content := []byte("the real content of the blob")
	for _, how := range []string{"put", "file", "writer"} {
		t.Run(how, func(t *testing.T) {
			d, layout := newLayout(t)
			dg, err := d.Put(content)
			must(t, err)
			p := corruptSameSize(t, layout, dg)
			put := func(o *ocidir.PutOptions) ocidir.Digest {
				switch how {
				case "put":
					got, err := d.PutWithOptions(content, o)
					must(t, err)
					return got
				case "file":
					src := filepath.Join(t.TempDir(), "src")
					must(t, os.WriteFile(src, content, 0o644))
					f, err := os.Open(src)
					must(t, err)
					defer f.Close()
					got, n, err := d.PutFileWithOptions(f, o)
					must(t, err)
					if n != int64(len(content)) {
						t.Fatalf("size %d", n)
					}
					return got
				}
				w, err := d.CreateWithOptions(o)
				must(t, err)
				_, err = w.Write(content)
				must(t, err)
				got, _, err := w.Commit()
				must(t, err)
				return got
			}
			if got := put(nil); got != dg {
				t.Fatalf("digest %s, want %s", got, dg)
			}
			if b, _ := os.ReadFile(p); bytes.Equal(b, content) {
				t.Fatal("without VerifyExisting the same-size blob was replaced")
			}
			_, err = d.ReadBlob(dg, -1, 1<<20)
			wantErr(t, err, ocidir.ErrDigest)
			if got := put(&ocidir.PutOptions{VerifyExisting: true}); got != dg {
				t.Fatalf("digest %s, want %s", got, dg)
			}
			b, err := d.ReadBlob(dg, -1, 1<<20)
			must(t, err)
			if !bytes.Equal(b, content) {
				t.Fatalf("repaired blob holds %q", b)
			}
		})
	}
}

func TestPutWithOptionsSHA512(t *testing.T) {
	d, _ := newLayout(t)
	want, err := ocidir.DigestOf(ocidir.SHA512, []byte("hello"))
	must(t, err)
	got, err := d.PutWithOptions([]byte("hello"), &ocidir.PutOptions{Alg: ocidir.SHA512})
	must(t, err)
	if got != want || got.Algorithm() != "sha512" {
		t.Fatalf("got %s, want %s", got, want)
	}
	w, err := d.CreateWithOptions(&ocidir.PutOptions{Alg: ocidir.SHA512, VerifyExisting: true})
	must(t, err)
	_, err = w.Write([]byte("hello"))
	must(t, err)
	got, _, err = w.Commit()
	must(t, err)
	if got != want {
		t.Fatalf("writer: got %s, want %s", got, want)
	}
	_, err = d.PutWithOptions([]byte("x"), &ocidir.PutOptions{Alg: 7})
	wantErr(t, err, ocidir.ErrInvalid)
}

func TestErrNotDurableMapping(t *testing.T) {
	e := &ocidir.Error{Code: ocidir.CodeNotDurable, Message: "flush failed"}
	if !errors.Is(e, ocidir.ErrNotDurable) || errors.Is(e, ocidir.ErrIO) {
		t.Fatalf("errors.Is(NotDurable): ErrNotDurable %v, ErrIO %v", errors.Is(e, ocidir.ErrNotDurable),
			errors.Is(e, ocidir.ErrIO))
	}
}
