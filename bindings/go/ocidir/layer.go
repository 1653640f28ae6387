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
	return d.newLayerWriter("Dir.NewLayerWriter", func(raw *capi.Dir) (*capi.LayerWriter, error) {
		return raw.LayerWriterNew(int(c), level, threads)
	})
}

// LayerWriterOptions tune NewLayerWriterWithOptions.  The zero value is an
// uncompressed layer with a sha256 digest (CompressionNone is the zero
// Compression; pass a nil *LayerWriterOptions for the library's defaults:
// gzip, sha256).
type LayerWriterOptions struct {
	Compression Compression
	Level       int       // as NewLayerWriter; 0: the compression's default
	Threads     int       // as NewLayerWriter
	Algorithm   Algorithm // of the blob digest (SHA256 or SHA512); the diff_id is always sha256
	// zstd only (ErrInvalid with another compression):
	ZstdWindowLog int  // log2 of the window, 10..27; 0: zstd's for the level
	ZstdLong      bool // long-distance matching (zstd --long), window 2^27 unless ZstdWindowLog says otherwise
}

// NewLayerWriterWithOptions starts a layer with options (nil: gzip at its
// default level, one thread per CPU, sha256).  ErrInvalid for an unknown
// algorithm, a zstd window outside 10..27, or zstd fields set for another
// compression.
func (d *Dir) NewLayerWriterWithOptions(opts *LayerWriterOptions) (*LayerWriter, error) {
	if opts == nil {
		opts = &LayerWriterOptions{Compression: CompressionGzip, Algorithm: SHA256}
	}
	o := capi.LayerWriterOptions{Compression: int(opts.Compression), Level: opts.Level, Threads: opts.Threads,
		Alg: int(opts.Algorithm), ZstdWindowLog: opts.ZstdWindowLog, ZstdLong: opts.ZstdLong}
	return d.newLayerWriter("Dir.NewLayerWriterWithOptions", func(raw *capi.Dir) (*capi.LayerWriter, error) {
		return raw.LayerWriterNewOpts(o)
	})
}

func (d *Dir) newLayerWriter(op string, mk func(*capi.Dir) (*capi.LayerWriter, error)) (*LayerWriter, error) {
	raw, err := d.use(op)
	if err != nil {
		return nil, err
	}
	defer d.done()
	w, err := mk(raw)
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

// LayerReaderOptions tune OpenLayerWithOptions and
// (*Image).OpenLayerWithOptions; the zero value is the defaults.
type LayerReaderOptions struct {
	// MaxSize bounds the decompressed bytes (0: no bound).  A longer stream
	// fails with ErrTooLarge at the Read that would pass the bound; nothing
	// past it is returned.
	MaxSize int64
}

// raw gives the raw layer's options (nil: the defaults), ErrInvalid for a
// negative bound.
func (o *LayerReaderOptions) raw(op string) (capi.LayerReaderOptions, error) {
	if o == nil {
		return capi.LayerReaderOptions{}, nil
	}
	if o.MaxSize < 0 {
		return capi.LayerReaderOptions{}, &Error{Op: op, Code: CodeInvalid, Message: "negative MaxSize"}
	}
	return capi.LayerReaderOptions{MaxSize: uint64(o.MaxSize)}, nil
}

// OpenLayer opens a layer blob for decompressed reading; the compression
// comes from mediaType.  size is the descriptor's size (-1: unknown); diffID
// "" checks the blob digest only.
func (d *Dir) OpenLayer(mediaType string, digest Digest, size int64, diffID Digest) (*LayerReader, error) {
	return d.openLayer("Dir.OpenLayer", mediaType, digest, size, diffID, nil)
}

// OpenLayerWithOptions is OpenLayer with options (nil: the defaults).
func (d *Dir) OpenLayerWithOptions(mediaType string, digest Digest, size int64, diffID Digest,
	opts *LayerReaderOptions) (*LayerReader, error) {
	return d.openLayer("Dir.OpenLayerWithOptions", mediaType, digest, size, diffID, opts)
}

func (d *Dir) openLayer(op, mediaType string, digest Digest, size int64, diffID Digest,
	opts *LayerReaderOptions) (*LayerReader, error) {
	ro, err := opts.raw(op)
	if err != nil {
		return nil, err
	}
	raw, err := d.use(op)
	if err != nil {
		return nil, err
	}
	defer d.done()
	var r *capi.LayerReader
	if opts == nil {
		r, err = raw.LayerOpen(mediaType, string(digest), size, string(diffID))
	} else {
		r, err = raw.LayerOpenOpts(mediaType, string(digest), size, string(diffID), ro)
	}
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
