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
	a := newCstrings("ocidir_open")
	defer a.free()
	p := a.opt("path", path)
	var d *C.ocidir_t
	if err := a.call(func() C.int { return C.ocidir_open(C.int(dirfd), p, C.unsigned(flags), &d) }); err != nil {
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
	return call("ocidir_add_blobdir_fd", func() C.int { return C.ocidir_add_blobdir_fd(d.p, C.int(fd), C.unsigned(flags)) })
}

// BlobPut calls ocidir_blob_put.
func (d *Dir) BlobPut(buf []byte) (string, error) {
	var out digestBuf
	buf = ownCopy(buf)
	err := call("ocidir_blob_put", func() C.int {
		return C.ocidir_blob_put(d.p, bufPtr(buf), C.size_t(len(buf)), out.ptr())
	})
	runtime.KeepAlive(buf)
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// BlobPutFD calls ocidir_blob_put_fd.
func (d *Dir) BlobPutFD(fd int) (string, uint64, error) {
	var out digestBuf
	var size C.uint64_t
	if err := call("ocidir_blob_put_fd", func() C.int { return C.ocidir_blob_put_fd(d.p, C.int(fd), out.ptr(), &size) }); err != nil {
		return "", 0, err
	}
	return out.String(), uint64(size), nil
}

// BlobStat calls ocidir_blob_stat.
func (d *Dir) BlobStat(digest string) (uint64, error) {
	a := newCstrings("ocidir_blob_stat")
	defer a.free()
	p := a.str("digest", digest)
	var size C.uint64_t
	if err := a.call(func() C.int { return C.ocidir_blob_stat(d.p, p, &size) }); err != nil {
		return 0, err
	}
	return uint64(size), nil
}

// BlobReadAll calls ocidir_blob_read_all and copies the content into Go memory.
func (d *Dir) BlobReadAll(digest string, expectedSize int64, maxLen uint64) ([]byte, error) {
	a := newCstrings("ocidir_blob_read_all")
	defer a.free()
	p := a.str("digest", digest)
	var buf unsafe.Pointer
	var n C.size_t
	if err := a.call(func() C.int {
		return C.ocidir_blob_read_all(d.p, p, C.int64_t(expectedSize), C.size_t(maxLen), &buf, &n)
	}); err != nil {
		return nil, err
	}
	defer C.ocidir_free(buf)
	return C.GoBytes(buf, C.int(n)), nil
}

// BlobOpenFD calls ocidir_blob_open_fd.
func (d *Dir) BlobOpenFD(digest string) (int, error) {
	a := newCstrings("ocidir_blob_open_fd")
	defer a.free()
	p := a.str("digest", digest)
	var fd C.int
	if err := a.call(func() C.int { return C.ocidir_blob_open_fd(d.p, p, &fd) }); err != nil {
		return -1, err
	}
	return int(fd), nil
}

// BlobRemove calls ocidir_blob_remove.
func (d *Dir) BlobRemove(digest string) error {
	a := newCstrings("ocidir_blob_remove")
	defer a.free()
	p := a.str("digest", digest)
	return a.call(func() C.int { return C.ocidir_blob_remove(d.p, p) })
}

// BlobWriter is an ocidir_blob_writer_t.
type BlobWriter struct {
	p   *C.ocidir_blob_writer_t
	buf scratch
}

// BlobWriterNew calls ocidir_blob_writer_new.
func (d *Dir) BlobWriterNew(alg int) (*BlobWriter, error) {
	var w *C.ocidir_blob_writer_t
	if err := call("ocidir_blob_writer_new", func() C.int {
		return C.ocidir_blob_writer_new(d.p, C.ocidir_digest_alg_t(alg), &w)
	}); err != nil {
		return nil, err
	}
	return &BlobWriter{p: w}, nil
}

// Expect calls ocidir_blob_writer_expect ("" digest: size only).
func (w *BlobWriter) Expect(digest string, size int64) error {
	a := newCstrings("ocidir_blob_writer_expect")
	defer a.free()
	p := a.opt("digest", digest)
	return a.call(func() C.int { return C.ocidir_blob_writer_expect(w.p, p, C.int64_t(size)) })
}

// Write calls ocidir_blob_writer_write, in chunks through the scratch buffer.
func (w *BlobWriter) Write(buf []byte) error {
	return writeChunks("ocidir_blob_writer_write", &w.buf, buf, func(p unsafe.Pointer, n C.size_t) C.int {
		return C.ocidir_blob_writer_write(w.p, p, n)
	})
}

// Commit calls ocidir_blob_writer_commit; the writer is gone afterwards.
func (w *BlobWriter) Commit() (string, uint64, error) {
	var out digestBuf
	var size C.uint64_t
	if err := call("ocidir_blob_writer_commit", func() C.int {
		return C.ocidir_blob_writer_commit(w.p, out.ptr(), &size)
	}); err != nil {
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
	a := newCstrings("ocidir_blob_open")
	defer a.free()
	p := a.str("digest", digest)
	var r *C.ocidir_blob_reader_t
	if err := a.call(func() C.int { return C.ocidir_blob_open(d.p, p, C.int64_t(expectedSize), &r) }); err != nil {
		return nil, err
	}
	return &BlobReader{p: r}, nil
}

// Read calls ocidir_blob_reader_read (len(buf) > 0) through the scratch
// buffer; 0 means verified end.
func (r *BlobReader) Read(buf []byte) (int, error) {
	return readChunk("ocidir_blob_reader_read", &r.buf, buf, func(p unsafe.Pointer, n C.size_t) C.ssize_t {
		return C.ocidir_blob_reader_read(r.p, p, n)
	})
}

// Size calls ocidir_blob_reader_size.
func (r *BlobReader) Size() uint64 { return uint64(C.ocidir_blob_reader_size(r.p)) }

// Close calls ocidir_blob_reader_close.
func (r *BlobReader) Close() { C.ocidir_blob_reader_close(r.p) }

// SetJSONLimit calls ocidir_set_json_limit.
func (d *Dir) SetJSONLimit(max uint64) error {
	return call("ocidir_set_json_limit", func() C.int { return C.ocidir_set_json_limit(d.p, C.size_t(max)) })
}

// TagList calls ocidir_tag_list.
func (d *Dir) TagList() ([]string, error) {
	var v **C.char
	if err := call("ocidir_tag_list", func() C.int { return C.ocidir_tag_list(d.p, &v) }); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}

// Resolve calls ocidir_resolve.
func (d *Dir) Resolve(ref string) (digest, mediaType string, size uint64, err error) {
	a := newCstrings("ocidir_resolve")
	defer a.free()
	p := a.str("ref", ref)
	var out digestBuf
	var mt *C.char
	var sz C.uint64_t
	if err := a.call(func() C.int { return C.ocidir_resolve(d.p, p, out.ptr(), &mt, &sz) }); err != nil {
		return "", "", 0, err
	}
	mediaType, _ = takeString(mt)
	return out.String(), mediaType, uint64(sz), nil
}

// TagSet calls ocidir_tag_set.
func (d *Dir) TagSet(tag, digest string, flags uint) error {
	a := newCstrings("ocidir_tag_set")
	defer a.free()
	t, dg := a.str("tag", tag), a.str("digest", digest)
	return a.call(func() C.int { return C.ocidir_tag_set(d.p, t, dg, C.unsigned(flags)) })
}

// TagRemove calls ocidir_tag_remove.
func (d *Dir) TagRemove(tag string) error {
	a := newCstrings("ocidir_tag_remove")
	defer a.free()
	t := a.str("tag", tag)
	return a.call(func() C.int { return C.ocidir_tag_remove(d.p, t) })
}

// IndexAdd calls ocidir_index_add.
func (d *Dir) IndexAdd(digest string) error {
	a := newCstrings("ocidir_index_add")
	defer a.free()
	dg := a.str("digest", digest)
	return a.call(func() C.int { return C.ocidir_index_add(d.p, dg) })
}

// Referrers calls ocidir_referrers ("" artifact type: all).
func (d *Dir) Referrers(digest, artifactType string) ([]string, error) {
	a := newCstrings("ocidir_referrers")
	defer a.free()
	dg, at := a.str("digest", digest), a.opt("artifact type", artifactType)
	var v **C.char
	if err := a.call(func() C.int { return C.ocidir_referrers(d.p, dg, at, &v) }); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}
