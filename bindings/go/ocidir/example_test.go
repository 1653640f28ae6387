package ocidir_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

// The common path: create a layout, store a blob, build and tag an image,
// then read it back verified.
func Example() {
	tmp, err := os.MkdirTemp("", "ocidir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	d, err := ocidir.Open(filepath.Join(tmp, "layout"), ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// A layer: an (empty) tar stream, gzip-compressed as it is written.
	lw, err := d.NewLayerWriter(ocidir.CompressionGzip, 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := lw.Write(make([]byte, 1024)); err != nil { // two zero blocks: an empty tar
		log.Fatal(err)
	}
	b, err := d.NewBuilder("linux/amd64")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if err := b.AddLayerWriter(lw, "empty layer"); err != nil {
		log.Fatal(err)
	}
	if err := b.SetConfigStrings(ocidir.ConfigCmd, []string{"/bin/sh"}); err != nil {
		log.Fatal(err)
	}
	if _, err := b.Commit("latest", 0); err != nil {
		log.Fatal(err)
	}

	img, err := d.OpenImage("latest", "linux/amd64")
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()
	cmd, _ := img.ConfigStrings(ocidir.ConfigCmd)
	fmt.Println("cmd:", cmd)
	r, err := img.OpenLayer(0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r) // io.EOF only once digest and diff_id matched
	fmt.Println("layer bytes:", n, "error:", err)
	// Output:
	// cmd: [/bin/sh]
	// layer bytes: 1024 error: <nil>
}

// Errors compare with errors.Is; the message names what failed.
func ExampleError() {
	tmp, _ := os.MkdirTemp("", "ocidir-example")
	defer os.RemoveAll(tmp)
	d, err := ocidir.Open(filepath.Join(tmp, "layout"), ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	_, err = d.Stat("sha256:0000000000000000000000000000000000000000000000000000000000000000")
	var e *ocidir.Error
	fmt.Println(errors.Is(err, ocidir.ErrNotFound), errors.As(err, &e) && e.Code == ocidir.CodeNotFound)
	// Output: true true
}

// Housekeeping takes a context: GC with a grace period of its own, and a
// cancellation that matches both ErrCanceled and the context's error.
func ExampleDir_GC() {
	tmp, _ := os.MkdirTemp("", "ocidir-example")
	defer os.RemoveAll(tmp)
	d, err := ocidir.Open(filepath.Join(tmp, "layout"), ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Put([]byte("referenced by nothing")); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	_, err = d.GC(ctx, &ocidir.GCOptions{Progress: func(done, total uint64) { cancel() }})
	fmt.Println("canceled:", errors.Is(err, ocidir.ErrCanceled), errors.Is(err, context.Canceled))

	rep, err := d.GC(context.Background(), &ocidir.GCOptions{Grace: ocidir.Grace(0)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed:", rep.Count(ocidir.FindRemoved))
	// Output:
	// canceled: true true
	// removed: 1
}

// Unpack an image into a root filesystem directory: the destination must be
// absent or empty, and on any failure (a damaged layer, a cancellation)
// nothing of it is left.
func ExampleImage_Unpack() {
	tmp, err := os.MkdirTemp("", "ocidir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	d, err := ocidir.Open(filepath.Join(tmp, "layout"), ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// A one-layer image holding etc/hostname.
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	body := []byte("box\n")
	tw.WriteHeader(&tar.Header{Name: "etc/hostname", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	lw, err := d.NewLayerWriter(ocidir.CompressionZstd, 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := lw.Write(tarball.Bytes()); err != nil {
		log.Fatal(err)
	}
	b, err := d.NewBuilder("")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if err := b.AddLayerWriter(lw, "hostname"); err != nil {
		log.Fatal(err)
	}
	if _, err := b.Commit("box", 0); err != nil {
		log.Fatal(err)
	}

	img, err := d.OpenImage("box", "")
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()
	rootfs := filepath.Join(tmp, "rootfs")
	// OwnerRootless: files owned by the caller, the tar's owners kept in the
	// user.rootlesscontainers xattr, so this runs without privileges.
	rep, err := img.Unpack(context.Background(), rootfs, &ocidir.UnpackOptions{Owner: ocidir.OwnerRootless})
	if err != nil {
		log.Fatal(err)
	}
	hostname, _ := os.ReadFile(filepath.Join(rootfs, "etc", "hostname"))
	fmt.Printf("layers: %d, bytes: %d, etc/hostname: %q\n", rep.Blobs, rep.Bytes, hostname)

	_, err = img.Unpack(context.Background(), rootfs, nil)
	fmt.Println("again into a non-empty directory:", errors.Is(err, ocidir.ErrExists))
	// Output:
	// layers: 1, bytes: 4, etc/hostname: "box\n"
	// again into a non-empty directory: true
}

// Re-putting a blob with VerifyExisting repairs a stored copy whose content
// no longer matches its digest (what Fsck reports as FindDigest).
func ExampleDir_PutWithOptions() {
	tmp, _ := os.MkdirTemp("", "ocidir-example")
	defer os.RemoveAll(tmp)
	layout := filepath.Join(tmp, "layout")
	d, err := ocidir.Open(layout, ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	content := []byte("the blob's content")
	dg, _ := d.Put(content)
	// Damage the stored copy, keeping its size.
	p := filepath.Join(layout, "blobs", dg.Algorithm(), dg.Encoded())
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("THE BLOB'S CONTENT"), 0o644)

	_, err = d.ReadBlob(dg, -1, 1<<20)
	fmt.Println("damaged:", errors.Is(err, ocidir.ErrDigest))
	if _, err := d.PutWithOptions(content, &ocidir.PutOptions{VerifyExisting: true}); err != nil {
		log.Fatal(err)
	}
	got, err := d.ReadBlob(dg, -1, 1<<20)
	fmt.Printf("repaired: %q %v\n", got, err)
	// Output:
	// damaged: true
	// repaired: "the blob's content" <nil>
}

// Copy one image from a layout into another (here a fresh one) and tag it
// there; an unknown ref is ErrNotFound naming it, and writes no tag.
func ExampleCopy() {
	tmp, _ := os.MkdirTemp("", "ocidir-example")
	defer os.RemoveAll(tmp)
	src, err := ocidir.Open(filepath.Join(tmp, "src"), ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	b, err := src.NewBuilder("linux/amd64")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	manifest, err := b.Commit("app", 0) // an image without layers: manifest and config
	if err != nil {
		log.Fatal(err)
	}
	dst, err := ocidir.Open(filepath.Join(tmp, "dst"), ocidir.WithCreate())
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()

	rep, err := ocidir.Copy(context.Background(), src, "app", dst, "app-copy",
		&ocidir.CopyOptions{Platform: "linux/amd64"})
	if err != nil {
		log.Fatal(err)
	}
	desc, _ := dst.Resolve("app-copy")
	fmt.Println("blobs:", rep.Blobs, "same manifest:", desc.Digest == manifest)

	_, err = ocidir.Copy(context.Background(), src, "missing", dst, "x", nil)
	fmt.Println(errors.Is(err, ocidir.ErrNotFound))
	// Output:
	// blobs: 2 same manifest: true
	// true
}
