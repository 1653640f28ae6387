package ocidir

import (
	"io"
	"runtime"
	"sync"

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
type LayerWriter struct {
	mu     sync.Mutex
	raw    *capi.LayerWriter // nil after Commit, Abort or Builder.AddLayerWriter
	parent *lifetime
}

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
	lw := &LayerWriter{raw: w, parent: d.lt}
	runtime.SetFinalizer(lw, (*LayerWriter).Abort)
	return lw, nil
}

// MediaType is the media type of the layer being written ("" once finished).
func (w *LayerWriter) MediaType() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw == nil {
		return ""
	}
	return w.raw.MediaType()
}

// Write feeds uncompressed bytes.
func (w *LayerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw == nil {
		return 0, closedError("LayerWriter.Write", "layer writer")
	}
	if err := w.raw.Write(p); err != nil {
		return 0, wrap(err)
	}
	return len(p), nil
}

// Commit finishes the compressed stream and commits the blob.  The writer is
// finished whether Commit succeeds or fails.
func (w *LayerWriter) Commit() (LayerInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw == nil {
		return LayerInfo{}, closedError("LayerWriter.Commit", "layer writer")
	}
	mt := w.raw.MediaType()
	dg, n, diffID, err := w.raw.Commit()
	w.finish()
	if err != nil {
		return LayerInfo{}, wrap(err)
	}
	return LayerInfo{MediaType: mt, Digest: Digest(dg), Size: int64(n), DiffID: Digest(diffID)}, nil
}

// Abort discards the layer.  It does nothing once the writer is finished.
func (w *LayerWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw != nil {
		w.raw.Abort()
		w.finish()
	}
}

// Close is Abort, for defer.
func (w *LayerWriter) Close() error {
	w.Abort()
	return nil
}

// finish forgets the C writer (freed by commit, abort or the builder).
func (w *LayerWriter) finish() {
	w.raw = nil
	w.parent.release()
	runtime.SetFinalizer(w, nil)
}

// LayerReader is a decompressed layer stream: Read returns io.EOF only after
// the blob matched its digest and the stream its diff_id; otherwise an
// *Error (ErrDigest, ErrFormat, ...).  Errors are sticky.
type LayerReader struct {
	mu     sync.Mutex
	raw    *capi.LayerReader // nil after Close
	parent *lifetime
}

func newLayerReader(r *capi.LayerReader, parent *lifetime) *LayerReader {
	lr := &LayerReader{raw: r, parent: parent}
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.raw == nil {
		return 0, closedError("LayerReader.Read", "layer reader")
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.raw.Read(p)
	if err != nil {
		return 0, wrap(err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Close releases the reader.  Idempotent.
func (r *LayerReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.raw != nil {
		r.raw.Close()
		r.raw = nil
		r.parent.release()
		runtime.SetFinalizer(r, nil)
	}
	return nil
}
