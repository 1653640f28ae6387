package ocidir_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

// writeLayer writes b through a layer writer made with opts.
func writeLayer(t *testing.T, d *ocidir.Dir, opts *ocidir.LayerWriterOptions, b []byte) ocidir.LayerInfo {
	t.Helper()
	lw, err := d.NewLayerWriterWithOptions(opts)
	must(t, err)
	_, err = lw.Write(b)
	must(t, err)
	li, err := lw.Commit()
	must(t, err)
	return li
}

func TestLayerWriterOptions(t *testing.T) {
	d, path := newLayout(t)
	tarball := makeTar(t, map[string]string{"a": strings.Repeat("options ", 5000)})

	// nil: the library's defaults (gzip, sha256).
	li := writeLayer(t, d, nil, tarball)
	if li.MediaType != ocidir.CompressionGzip.MediaType() || li.Digest.Algorithm() != "sha256" {
		t.Fatalf("default options: %+v", li)
	}
	// sha512 blob digest; the diff_id stays sha256.
	li = writeLayer(t, d, &ocidir.LayerWriterOptions{Compression: ocidir.CompressionGzip, Algorithm: ocidir.SHA512}, tarball)
	if li.Digest.Algorithm() != "sha512" || len(li.Digest.Encoded()) != 128 || li.DiffID != sha256Of(tarball) {
		t.Fatalf("sha512 layer: %+v", li)
	}
	blob, err := d.ReadBlob(li.Digest, li.Size, 1<<30)
	must(t, err)
	if want, _ := ocidir.DigestOf(ocidir.SHA512, blob); want != li.Digest {
		t.Fatalf("the blob hashes to %s, the writer said %s", want, li.Digest)
	}
	if _, err := d.Stat(li.Digest); err != nil || !strings.Contains(blobPath(path, li.Digest), "/sha512/") {
		t.Fatalf("sha512 blob: %v", err)
	}
	r, err := d.OpenLayer(li.MediaType, li.Digest, li.Size, li.DiffID)
	must(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	must(t, err)
	if !bytes.Equal(got, tarball) {
		t.Fatal("the sha512 layer reads back different bytes")
	}

	// zstd with a window and long-distance matching reads back.
	li = writeLayer(t, d, &ocidir.LayerWriterOptions{Compression: ocidir.CompressionZstd, ZstdWindowLog: 20, ZstdLong: true}, tarball)
	if li.MediaType != ocidir.CompressionZstd.MediaType() {
		t.Fatalf("zstd layer: %+v", li)
	}
	r, err = d.OpenLayer(li.MediaType, li.Digest, li.Size, li.DiffID)
	must(t, err)
	got, err = io.ReadAll(r)
	r.Close()
	must(t, err)
	if !bytes.Equal(got, tarball) {
		t.Fatal("the zstd layer reads back different bytes")
	}

	// Refused: a zstd window out of range, zstd fields on gzip, an unknown algorithm.
	for _, o := range []ocidir.LayerWriterOptions{
		{Compression: ocidir.CompressionZstd, ZstdWindowLog: 9},
		{Compression: ocidir.CompressionZstd, ZstdWindowLog: 28},
		{Compression: ocidir.CompressionGzip, ZstdLong: true},
		{Compression: ocidir.CompressionGzip, Algorithm: 7},
	} {
		_, err := d.NewLayerWriterWithOptions(&o)
		wantErr(t, err, ocidir.ErrInvalid)
	}
}

func TestLayerReaderMaxSize(t *testing.T) {
	d, _ := newLayout(t)
	img := buildImage(t, d, "v1", map[string]string{"a": strings.Repeat("m", 20000)})
	tarball := makeTar(t, img.files)
	n := int64(len(tarball))
	l := img.layer

	// At the size: the whole stream, verified.
	r, err := d.OpenLayerWithOptions(l.MediaType, l.Digest, l.Size, l.DiffID, &ocidir.LayerReaderOptions{MaxSize: n})
	must(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	must(t, err)
	if int64(len(got)) != n {
		t.Fatalf("read %d of %d bytes", len(got), n)
	}
	// One byte less: ErrTooLarge, and nothing past the bound returned.
	r, err = d.OpenLayerWithOptions(l.MediaType, l.Digest, l.Size, l.DiffID, &ocidir.LayerReaderOptions{MaxSize: n - 1})
	must(t, err)
	got, err = io.ReadAll(r)
	r.Close()
	wantErr(t, err, ocidir.ErrTooLarge)
	if int64(len(got)) > n-1 {
		t.Fatalf("read %d bytes past a bound of %d", len(got), n-1)
	}
	// Through the image.
	im, err := d.OpenImage("v1", "")
	must(t, err)
	defer im.Close()
	r, err = im.OpenLayerWithOptions(0, &ocidir.LayerReaderOptions{MaxSize: 1024})
	must(t, err)
	_, err = io.ReadAll(r)
	r.Close()
	wantErr(t, err, ocidir.ErrTooLarge)
	r, err = im.OpenLayerWithOptions(0, nil)
	must(t, err)
	_, err = io.ReadAll(r)
	r.Close()
	must(t, err)
	_, err = im.OpenLayerWithOptions(0, &ocidir.LayerReaderOptions{MaxSize: -1})
	wantErr(t, err, ocidir.ErrInvalid)
}

func TestAddLayerAnnotations(t *testing.T) {
	d, _ := newLayout(t)
	lw, err := d.NewLayerWriter(ocidir.CompressionGzip, 0, 0)
	must(t, err)
	_, err = lw.Write(makeTar(t, map[string]string{"a": "1"}))
	must(t, err)
	l1, err := lw.Commit()
	must(t, err)

	b, err := d.NewBuilder("linux/amd64")
	must(t, err)
	defer b.Close()
	ann1 := map[string]string{"org.example.layer": "one", "org.example.z": "last", "org.example.a": "first"}
	must(t, b.AddLayerWithOptions(l1.MediaType, l1.Digest, l1.Size, l1.DiffID,
		&ocidir.AddLayerOptions{CreatedBy: "layer one", Annotations: ann1}))
	lw, err = d.NewLayerWriter(ocidir.CompressionZstd, 0, 0)
	must(t, err)
	_, err = lw.Write(makeTar(t, map[string]string{"b": "2"}))
	must(t, err)
	ann2 := map[string]string{"org.example.layer": "two"}
	must(t, b.AddLayerWriterWithOptions(lw, &ocidir.AddLayerOptions{Annotations: ann2}))
	if _, err := lw.Commit(); err == nil {
		t.Fatal("the writer was not finished by AddLayerWriterWithOptions")
	}
	must(t, b.AddLayerWithOptions(l1.MediaType, l1.Digest, l1.Size, l1.DiffID, nil))
	_, err = b.Commit("v1", 0)
	must(t, err)

	img, err := d.OpenImage("v1", "")
	must(t, err)
	defer img.Close()
	for i, want := range []map[string]string{ann1, ann2, {}} {
		got, err := img.LayerAnnotations(i)
		must(t, err)
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("layer %d annotations %v, want %v", i, got, want)
		}
	}
	if !strings.Contains(string(img.Manifest()), `"org.example.a":"first"`) &&
		!strings.Contains(string(img.Manifest()), `"org.example.a": "first"`) {
		t.Fatalf("manifest lacks the annotation: %s", img.Manifest())
	}
	// The history carries created_by of layer one.
	raw, err := img.ConfigRaw()
	must(t, err)
	if !strings.Contains(string(raw), "layer one") {
		t.Fatalf("config history lacks created_by: %s", raw)
	}
	// An empty key is refused, a NUL byte before C.
	err = b.AddLayerWithOptions(l1.MediaType, l1.Digest, l1.Size, l1.DiffID,
		&ocidir.AddLayerOptions{Annotations: map[string]string{"": "x"}})
	wantErr(t, err, ocidir.ErrInvalid)
	err = b.AddLayerWithOptions(l1.MediaType, l1.Digest, l1.Size, l1.DiffID,
		&ocidir.AddLayerOptions{Annotations: map[string]string{"k": "a\x00b"}})
	wantErr(t, err, ocidir.ErrInvalid)
}
