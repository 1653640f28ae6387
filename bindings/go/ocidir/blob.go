package ocidir

import (
	"os"
	"runtime"
	"strings"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// Digest is a content digest, "<algorithm>:<encoded>".
type Digest string

func (d Digest) String() string { return string(d) }

// Validate checks the digest against the image-spec grammar and the
// registered algorithms: nil for sha256/sha512, ErrUnsupported for a
// grammatical digest of another algorithm, ErrBadDigest otherwise.
func (d Digest) Validate() error { return wrap(capi.DigestValidate(string(d))) }

// Algorithm is the part before the colon ("" when there is none).
func (d Digest) Algorithm() string {
	if i := strings.IndexByte(string(d), ':'); i >= 0 {
		return string(d[:i])
	}
	return ""
}

// Encoded is the part after the colon ("" when there is none).
func (d Digest) Encoded() string {
	if i := strings.IndexByte(string(d), ':'); i >= 0 {
		return string(d[i+1:])
	}
	return ""
}

// Algorithm is a registered digest algorithm.
type Algorithm int

// The registered algorithms.
const (
	SHA256 Algorithm = 0
	SHA512 Algorithm = 1
)

// DigestOf hashes b and formats its digest.
func DigestOf(alg Algorithm, b []byte) (Digest, error) {
	s, err := capi.DigestBuffer(int(alg), b)
	return Digest(s), wrap(err)
}

// Descriptor names a blob: its media type, digest and size.
type Descriptor struct {
	MediaType string
	Digest    Digest
	Size      int64
}

// Put stores b as a sha256 blob and returns its digest.
func (d *Dir) Put(b []byte) (Digest, error) {
	raw, err := d.use("Dir.Put")
	if err != nil {
		return "", err
	}
	defer d.done()
	s, err := raw.BlobPut(b)
	return Digest(s), wrap(err)
}

// PutFile stores the content of f, from its current offset to its end, as a
// sha256 blob (copy_file_range where the kernel can).  f is not closed; its
// offset is left at the end.
func (d *Dir) PutFile(f *os.File) (Digest, int64, error) {
	raw, err := d.use("Dir.PutFile")
	if err != nil {
		return "", 0, err
	}
	defer d.done()
	sc, err := f.SyscallConn()
	if err != nil {
		return "", 0, err
	}
	var s string
	var n uint64
	var perr error
	if err := sc.Control(func(fd uintptr) { s, n, perr = raw.BlobPutFD(int(fd)) }); err != nil {
		return "", 0, err
	}
	return Digest(s), int64(n), wrap(perr)
}

// Stat returns the size of a blob present in the layout or an added blob
// directory, without verifying its content.
func (d *Dir) Stat(digest Digest) (int64, error) {
	raw, err := d.use("Dir.Stat")
	if err != nil {
		return 0, err
	}
	defer d.done()
	n, err := raw.BlobStat(string(digest))
	return int64(n), wrap(err)
}

// ReadBlob reads and verifies a whole blob.  size is the expected size (-1:
// unknown); a blob larger than maxLen fails with ErrTooLarge before anything
// is read.
func (d *Dir) ReadBlob(digest Digest, size, maxLen int64) ([]byte, error) {
	raw, err := d.use("Dir.ReadBlob")
	if err != nil {
		return nil, err
	}
	defer d.done()
	if maxLen < 0 {
		return nil, &Error{Op: "Dir.ReadBlob", Code: CodeInvalid, Message: "negative maxLen"}
	}
	b, err := raw.BlobReadAll(string(digest), size, uint64(maxLen))
	return b, wrap(err)
}

// OpenBlobFile returns a raw read-only *os.File of a blob, for mmap or
// sendfile.  Its content is NOT verified.  The caller closes it.
func (d *Dir) OpenBlobFile(digest Digest) (*os.File, error) {
	raw, err := d.use("Dir.OpenBlobFile")
	if err != nil {
		return nil, err
	}
	defer d.done()
	fd, err := raw.BlobOpenFD(string(digest))
	if err != nil {
		return nil, wrap(err)
	}
	return os.NewFile(uintptr(fd), string(digest)), nil
}

// RemoveBlob removes a blob from the layout's own blobs/ (never from an
// added blob directory).
func (d *Dir) RemoveBlob(digest Digest) error {
	raw, err := d.use("Dir.RemoveBlob")
	if err != nil {
		return err
	}
	defer d.done()
	return wrap(raw.BlobRemove(string(digest)))
}

// BlobWriter writes a blob; nothing is visible under its digest before
// Commit.  Calls are serialised; a writer is meant for one goroutine.
type BlobWriter struct{ s sink[*capi.BlobWriter] }

// Create starts a sha256 blob.
func (d *Dir) Create() (*BlobWriter, error) { return d.CreateAlg(SHA256) }

// CreateAlg starts a blob hashed with alg.
func (d *Dir) CreateAlg(alg Algorithm) (*BlobWriter, error) {
	raw, err := d.use("Dir.Create")
	if err != nil {
		return nil, err
	}
	defer d.done()
	w, err := raw.BlobWriterNew(int(alg))
	if err != nil {
		return nil, wrap(err)
	}
	d.lt.retain()
	bw := &BlobWriter{sink[*capi.BlobWriter]{raw: w, parent: d.lt}}
	runtime.SetFinalizer(bw, (*BlobWriter).Abort)
	return bw, nil
}

// Expect declares what the content must be, checked at Commit: digest ("":
// size only) and size (-1: unknown; writing past it fails at once).
func (w *BlobWriter) Expect(digest Digest, size int64) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.finished() {
		return closedError("BlobWriter.Expect", "blob writer")
	}
	return wrap(w.s.raw.Expect(string(digest), size))
}

// Write appends p.  After a failure only Abort is useful.
func (w *BlobWriter) Write(p []byte) (int, error) {
	return w.s.write("BlobWriter.Write", "blob writer", p)
}

// Commit checks the expectations, flushes the blob to disk and names it by
// its digest.  The writer is finished whether Commit succeeds or fails; on
// failure nothing is left behind.
func (w *BlobWriter) Commit() (Digest, int64, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.finished() {
		return "", 0, closedError("BlobWriter.Commit", "blob writer")
	}
	dg, n, err := w.s.raw.Commit()
	w.s.finish(w)
	return Digest(dg), int64(n), wrap(err)
}

// Abort discards everything written.  It does nothing after Commit or Abort.
func (w *BlobWriter) Abort() { w.s.abort(w) }

// Close is Abort, for defer: a committed writer is unaffected.
func (w *BlobWriter) Close() error {
	w.Abort()
	return nil
}

// BlobReader streams a blob and verifies it: Read returns io.EOF only after
// the whole content matched its digest, and an *Error (ErrDigest, ErrSize,
// ...) instead when it did not.  Errors are sticky.
type BlobReader struct {
	s    stream
	size int64
}

// OpenBlob opens a blob for verified reading.  size is the size the caller
// expects (from a descriptor), or -1; a file of another size fails here with
// ErrSize.
func (d *Dir) OpenBlob(digest Digest, size int64) (*BlobReader, error) {
	raw, err := d.use("Dir.OpenBlob")
	if err != nil {
		return nil, err
	}
	defer d.done()
	r, err := raw.BlobOpen(string(digest), size)
	if err != nil {
		return nil, wrap(err)
	}
	d.lt.retain()
	br := &BlobReader{s: stream{raw: r, parent: d.lt}, size: int64(r.Size())}
	runtime.SetFinalizer(br, (*BlobReader).Close)
	return br, nil
}

// Size is the blob's size as found when it was opened.
func (r *BlobReader) Size() int64 { return r.size }

// Read implements io.Reader.
func (r *BlobReader) Read(p []byte) (int, error) {
	return r.s.read("BlobReader.Read", "blob reader", p)
}

// Close releases the reader.  Idempotent.
func (r *BlobReader) Close() error {
	r.s.close(r)
	return nil
}

// PutOptions tune PutWithOptions, PutFileWithOptions and CreateWithOptions
// (ocidir_put_options_t); the zero value is a sha256 blob trusted when
// already stored at the same size.
type PutOptions struct {
	Alg Algorithm // SHA256 (the zero value) or SHA512
	// VerifyExisting re-hashes a blob already stored under the digest with
	// the same size and, when its content does not match its name, replaces
	// it with the new bytes (one rename over it): how a corrupted blob that
	// Fsck reported is repaired.  Without it such a blob is trusted as it is,
	// so that re-importing a layer does not read it a second time.
	VerifyExisting bool
}

func (o *PutOptions) flags() uint {
	if o.VerifyExisting {
		return capi.PutVerifyExisting
	}
	return 0
}

// PutWithOptions stores b as a blob with opts (nil: as Put) and returns its
// digest.  A failed flush of the directory after the blob was published is
// ErrNotDurable, with the digest returned.
func (d *Dir) PutWithOptions(b []byte, opts *PutOptions) (Digest, error) {
	if opts == nil {
		opts = &PutOptions{}
	}
	raw, err := d.use("Dir.PutWithOptions")
	if err != nil {
		return "", err
	}
	defer d.done()
	s, err := raw.BlobPutOpts(b, int(opts.Alg), opts.flags())
	return Digest(s), wrap(err)
}

// PutFileWithOptions is PutFile with opts (nil: as PutFile).
func (d *Dir) PutFileWithOptions(f *os.File, opts *PutOptions) (Digest, int64, error) {
	if opts == nil {
		opts = &PutOptions{}
	}
	raw, err := d.use("Dir.PutFileWithOptions")
	if err != nil {
		return "", 0, err
	}
	defer d.done()
	sc, err := f.SyscallConn()
	if err != nil {
		return "", 0, err
	}
	var s string
	var n uint64
	var perr error
	if err := sc.Control(func(fd uintptr) { s, n, perr = raw.BlobPutFDOpts(int(fd), int(opts.Alg), opts.flags()) }); err != nil {
		return "", 0, err
	}
	return Digest(s), int64(n), wrap(perr)
}

// CreateWithOptions starts a blob hashed with opts.Alg whose Commit honours
// opts.VerifyExisting (nil: as Create).
func (d *Dir) CreateWithOptions(opts *PutOptions) (*BlobWriter, error) {
	if opts == nil {
		opts = &PutOptions{}
	}
	raw, err := d.use("Dir.CreateWithOptions")
	if err != nil {
		return nil, err
	}
	defer d.done()
	w, err := raw.BlobWriterNewOpts(int(opts.Alg), opts.flags())
	if err != nil {
		return nil, wrap(err)
	}
	d.lt.retain()
	bw := &BlobWriter{sink[*capi.BlobWriter]{raw: w, parent: d.lt}}
	runtime.SetFinalizer(bw, (*BlobWriter).Abort)
	return bw, nil
}
