package ocidir

import (
	"runtime"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// Compression of a layer.
type Compression int

// The compressions of ocidir.h.
const (
	CompressionNone Compression = 0 // application/vnd.oci.image.layer.v1.tar
	CompressionGzip Compression = 1 // application/vnd.oci.image.layer.v1.tar+gzip
	CompressionZstd Compression = 2 // application/vnd.oci.image.layer.v1.tar+zstd
)

// MediaType is the layer media type for c ("" for an unknown value).
func (c Compression) MediaType() string { return capi.CompressionMediaType(int(c)) }

// LayerInfo describes a committed layer.
type LayerInfo struct {
	MediaType string
	Digest    Digest // of the compressed blob
	Size      int64  // of the compressed blob
	DiffID    Digest // sha256 of the uncompressed stream
}

// LayerWriter compresses a tar stream into a blob, computing the blob
// digest and the diff_id in one pass.  Calls are serialised.
type LayerWriter struct{ s sink[*capi.LayerWriter] }

// NewLayerWriter starts a layer.  level 0 picks the default (gzip 6, zstd
// 3); threads > 0 (zstd only) compresses in worker threads.
func (d *Dir) NewLayerWriter(c Compression, level, threads int) (*LayerWriter, error) {
	raw, err := d.use("Dir.NewLayerWriter")
	if err != nil {
		return nil, err
	}
	defer d.done()
	w, err := raw.LayerWriterNew(int(c), level, threads)
	if err != nil {
		return nil, wrap(err)
	}
	d.lt.retain()
	lw := &LayerWriter{sink[*capi.LayerWriter]{raw: w, parent: d.lt}}
	runtime.SetFinalizer(lw, (*LayerWriter).Abort)
	return lw, nil
}

// MediaType is the media type of the layer being written ("" once finished).
func (w *LayerWriter) MediaType() string {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.finished() {
		return ""
	}
	return w.s.raw.MediaType()
}

// Write feeds uncompressed bytes.
func (w *LayerWriter) Write(p []byte) (int, error) {
	return w.s.write("LayerWriter.Write", "layer writer", p)
}

// Commit finishes the compressed stream and commits the blob.  The writer is
// finished whether Commit succeeds or fails.
func (w *LayerWriter) Commit() (LayerInfo, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.finished() {
		return LayerInfo{}, closedError("LayerWriter.Commit", "layer writer")
	}
	mt := w.s.raw.MediaType()
	dg, n, diffID, err := w.s.raw.Commit()
	w.s.finish(w)
	if err != nil {
		return LayerInfo{}, wrap(err)
	}
	return LayerInfo{MediaType: mt, Digest: Digest(dg), Size: int64(n), DiffID: Digest(diffID)}, nil
}

// Abort discards the layer.  It does nothing once the writer is finished.
func (w *LayerWriter) Abort() { w.s.abort(w) }

// Close is Abort, for defer.
func (w *LayerWriter) Close() error {
	w.Abort()
	return nil
}

// LayerReader is a decompressed layer stream: Read returns io.EOF only after
// the blob matched its digest and the stream its diff_id; otherwise an
// *Error (ErrDigest, ErrFormat, ...).  Errors are sticky.
type LayerReader struct{ s stream }

func newLayerReader(r *capi.LayerReader, parent *lifetime) *LayerReader {
	lr := &LayerReader{stream{raw: r, parent: parent}}
	runtime.SetFinalizer(lr, (*LayerReader).Close)
	return lr
}

// OpenLayer opens a layer blob for decompressed reading; the compression
// comes from mediaType.  size is the descriptor's size (-1: unknown); diffID
// "" checks the blob digest only.
func (d *Dir) OpenLayer(mediaType string, digest Digest, size int64, diffID Digest) (*LayerReader, error) {
	raw, err := d.use("Dir.OpenLayer")
	if err != nil {
		return nil, err
	}
	defer d.done()
	r, err := raw.LayerOpen(mediaType, string(digest), size, string(diffID))
	if err != nil {
		return nil, wrap(err)
	}
	d.lt.retain()
	return newLayerReader(r, d.lt), nil
}

// Read implements io.Reader.
func (r *LayerReader) Read(p []byte) (int, error) {
	return r.s.read("LayerReader.Read", "layer reader", p)
}

// Close releases the reader.  Idempotent.
func (r *LayerReader) Close() error {
	r.s.close(r)
	return nil
}
