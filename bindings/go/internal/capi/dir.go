package capi

/*
#include <stdlib.h>
#include <ocidir.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Dir is an ocidir_t.
type Dir struct{ p *C.ocidir_t }

// Open calls ocidir_open(dirfd, path, flags).
func Open(dirfd int, path string, flags uint) (*Dir, error) {
	const op = "ocidir_open"
	a := newCstrings(op)
	defer a.free()
	p := a.opt("path", path)
	if a.err != nil {
		return nil, a.err
	}
	defer lock()()
	var d *C.ocidir_t
	if err := check(op, C.ocidir_open(C.int(dirfd), p, C.unsigned(flags), &d)); err != nil {
		return nil, err
	}
	return &Dir{d}, nil
}

// Close calls ocidir_close.
func (d *Dir) Close() { C.ocidir_close(d.p) }

// IsReadOnly calls ocidir_is_readonly.
func (d *Dir) IsReadOnly() bool { return C.ocidir_is_readonly(d.p) != 0 }

// AddBlobdirFD calls ocidir_add_blobdir_fd.
func (d *Dir) AddBlobdirFD(fd int, flags uint) error {
	defer lock()()
	return check("ocidir_add_blobdir_fd", C.ocidir_add_blobdir_fd(d.p, C.int(fd), C.unsigned(flags)))
}

// BlobPut calls ocidir_blob_put.
func (d *Dir) BlobPut(buf []byte) (string, error) {
	var out digestBuf
	buf = ownCopy(buf)
	defer lock()()
	rc := C.ocidir_blob_put(d.p, bufPtr(buf), C.size_t(len(buf)), out.ptr())
	runtime.KeepAlive(buf)
	if err := check("ocidir_blob_put", rc); err != nil {
		return "", err
	}
	return out.String(), nil
}

// BlobPutFD calls ocidir_blob_put_fd.
func (d *Dir) BlobPutFD(fd int) (string, uint64, error) {
	var out digestBuf
	var size C.uint64_t
	defer lock()()
	if err := check("ocidir_blob_put_fd", C.ocidir_blob_put_fd(d.p, C.int(fd), out.ptr(), &size)); err != nil {
		return "", 0, err
	}
	return out.String(), uint64(size), nil
}

// BlobStat calls ocidir_blob_stat.
func (d *Dir) BlobStat(digest string) (uint64, error) {
	const op = "ocidir_blob_stat"
	a := newCstrings(op)
	defer a.free()
	p := a.str("digest", digest)
	if a.err != nil {
		return 0, a.err
	}
	var size C.uint64_t
	defer lock()()
	if err := check(op, C.ocidir_blob_stat(d.p, p, &size)); err != nil {
		return 0, err
	}
	return uint64(size), nil
}

// BlobReadAll calls ocidir_blob_read_all and copies the content into Go memory.
func (d *Dir) BlobReadAll(digest string, expectedSize int64, maxLen uint64) ([]byte, error) {
	const op = "ocidir_blob_read_all"
	a := newCstrings(op)
	defer a.free()
	p := a.str("digest", digest)
	if a.err != nil {
		return nil, a.err
	}
	var buf unsafe.Pointer
	var n C.size_t
	defer lock()()
	if err := check(op, C.ocidir_blob_read_all(d.p, p, C.int64_t(expectedSize), C.size_t(maxLen), &buf, &n)); err != nil {
		return nil, err
	}
	defer C.ocidir_free(buf)
	return C.GoBytes(buf, C.int(n)), nil
}

// BlobOpenFD calls ocidir_blob_open_fd.
func (d *Dir) BlobOpenFD(digest string) (int, error) {
	const op = "ocidir_blob_open_fd"
	a := newCstrings(op)
	defer a.free()
	p := a.str("digest", digest)
	if a.err != nil {
		return -1, a.err
	}
	var fd C.int
	defer lock()()
	if err := check(op, C.ocidir_blob_open_fd(d.p, p, &fd)); err != nil {
		return -1, err
	}
	return int(fd), nil
}

// BlobRemove calls ocidir_blob_remove.
func (d *Dir) BlobRemove(digest string) error {
	const op = "ocidir_blob_remove"
	a := newCstrings(op)
	defer a.free()
	p := a.str("digest", digest)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_blob_remove(d.p, p))
}

// BlobWriter is an ocidir_blob_writer_t.
type BlobWriter struct {
	p   *C.ocidir_blob_writer_t
	buf scratch
}

// BlobWriterNew calls ocidir_blob_writer_new.
func (d *Dir) BlobWriterNew(alg int) (*BlobWriter, error) {
	var w *C.ocidir_blob_writer_t
	defer lock()()
	if err := check("ocidir_blob_writer_new", C.ocidir_blob_writer_new(d.p, C.ocidir_digest_alg_t(alg), &w)); err != nil {
		return nil, err
	}
	return &BlobWriter{p: w}, nil
}

// Expect calls ocidir_blob_writer_expect ("" digest: size only).
func (w *BlobWriter) Expect(digest string, size int64) error {
	const op = "ocidir_blob_writer_expect"
	a := newCstrings(op)
	defer a.free()
	p := a.opt("digest", digest)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_blob_writer_expect(w.p, p, C.int64_t(size)))
}

// Write calls ocidir_blob_writer_write, in chunks through the scratch buffer.
func (w *BlobWriter) Write(buf []byte) error {
	defer lock()()
	for len(buf) > 0 {
		chunk := w.buf.get(len(buf))
		n := copy(chunk, buf)
		rc := C.ocidir_blob_writer_write(w.p, bufPtr(chunk), C.size_t(n))
		runtime.KeepAlive(chunk)
		if err := check("ocidir_blob_writer_write", rc); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// Commit calls ocidir_blob_writer_commit; the writer is gone afterwards.
func (w *BlobWriter) Commit() (string, uint64, error) {
	var out digestBuf
	var size C.uint64_t
	defer lock()()
	if err := check("ocidir_blob_writer_commit", C.ocidir_blob_writer_commit(w.p, out.ptr(), &size)); err != nil {
		return "", 0, err
	}
	return out.String(), uint64(size), nil
}

// Abort calls ocidir_blob_writer_abort.
func (w *BlobWriter) Abort() { C.ocidir_blob_writer_abort(w.p) }

// BlobReader is an ocidir_blob_reader_t.
type BlobReader struct {
	p   *C.ocidir_blob_reader_t
	buf scratch
}

// BlobOpen calls ocidir_blob_open.
func (d *Dir) BlobOpen(digest string, expectedSize int64) (*BlobReader, error) {
	const op = "ocidir_blob_open"
	a := newCstrings(op)
	defer a.free()
	p := a.str("digest", digest)
	if a.err != nil {
		return nil, a.err
	}
	var r *C.ocidir_blob_reader_t
	defer lock()()
	if err := check(op, C.ocidir_blob_open(d.p, p, C.int64_t(expectedSize), &r)); err != nil {
		return nil, err
	}
	return &BlobReader{p: r}, nil
}

// Read calls ocidir_blob_reader_read (len(buf) > 0) through the scratch
// buffer; 0 means verified end.
func (r *BlobReader) Read(buf []byte) (int, error) {
	chunk := r.buf.get(len(buf))
	defer lock()()
	n := C.ocidir_blob_reader_read(r.p, bufPtr(chunk), C.size_t(len(chunk)))
	if n < 0 {
		return 0, check("ocidir_blob_reader_read", C.int(n))
	}
	return copy(buf, chunk[:n]), nil
}

// Size calls ocidir_blob_reader_size.
func (r *BlobReader) Size() uint64 { return uint64(C.ocidir_blob_reader_size(r.p)) }

// Close calls ocidir_blob_reader_close.
func (r *BlobReader) Close() { C.ocidir_blob_reader_close(r.p) }

// SetJSONLimit calls ocidir_set_json_limit.
func (d *Dir) SetJSONLimit(max uint64) error {
	defer lock()()
	return check("ocidir_set_json_limit", C.ocidir_set_json_limit(d.p, C.size_t(max)))
}

// TagList calls ocidir_tag_list.
func (d *Dir) TagList() ([]string, error) {
	var v **C.char
	defer lock()()
	if err := check("ocidir_tag_list", C.ocidir_tag_list(d.p, &v)); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}

// Resolve calls ocidir_resolve.
func (d *Dir) Resolve(ref string) (digest, mediaType string, size uint64, err error) {
	const op = "ocidir_resolve"
	a := newCstrings(op)
	defer a.free()
	p := a.str("ref", ref)
	if a.err != nil {
		return "", "", 0, a.err
	}
	var out digestBuf
	var mt *C.char
	var sz C.uint64_t
	defer lock()()
	if err := check(op, C.ocidir_resolve(d.p, p, out.ptr(), &mt, &sz)); err != nil {
		return "", "", 0, err
	}
	mediaType, _ = takeString(mt)
	return out.String(), mediaType, uint64(sz), nil
}

// TagSet calls ocidir_tag_set.
func (d *Dir) TagSet(tag, digest string, flags uint) error {
	const op = "ocidir_tag_set"
	a := newCstrings(op)
	defer a.free()
	t, dg := a.str("tag", tag), a.str("digest", digest)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_tag_set(d.p, t, dg, C.unsigned(flags)))
}

// TagRemove calls ocidir_tag_remove.
func (d *Dir) TagRemove(tag string) error {
	const op = "ocidir_tag_remove"
	a := newCstrings(op)
	defer a.free()
	t := a.str("tag", tag)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_tag_remove(d.p, t))
}

// IndexAdd calls ocidir_index_add.
func (d *Dir) IndexAdd(digest string) error {
	const op = "ocidir_index_add"
	a := newCstrings(op)
	defer a.free()
	dg := a.str("digest", digest)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_index_add(d.p, dg))
}

// Referrers calls ocidir_referrers ("" artifact type: all).
func (d *Dir) Referrers(digest, artifactType string) ([]string, error) {
	const op = "ocidir_referrers"
	a := newCstrings(op)
	defer a.free()
	dg, at := a.str("digest", digest), a.opt("artifact type", artifactType)
	if a.err != nil {
		return nil, a.err
	}
	var v **C.char
	defer lock()()
	if err := check(op, C.ocidir_referrers(d.p, dg, at, &v)); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}
