package capi

/*
#include <stdint.h>
#include <stdlib.h>
#include <ocidir.h>

extern int ocidirGoProgress(uint64_t, uint64_t, void *);

// Options built in C from scalars, as in housekeeping.go.  The id maps are
// Go memory without pointers, passed as direct arguments (allowed by the
// cgo pointer rules) and not kept by the library after the call.

static ocidir_put_options_t go_put_options(int alg, unsigned flags)
{
    ocidir_put_options_t o = OCIDIR_PUT_OPTIONS_INIT;
    o.alg = (ocidir_digest_alg_t)alg;
    o.flags = flags;
    return o;
}

static int go_blob_put_opts(ocidir_t *d, const void *buf, size_t len, int alg, unsigned flags, char *out)
{
    ocidir_put_options_t o = go_put_options(alg, flags);
    return ocidir_blob_put_opts(d, buf, len, &o, out);
}

static int go_blob_put_fd_opts(ocidir_t *d, int fd, int alg, unsigned flags, char *out, uint64_t *size)
{
    ocidir_put_options_t o = go_put_options(alg, flags);
    return ocidir_blob_put_fd_opts(d, fd, &o, out, size);
}

static int go_blob_writer_new_opts(ocidir_t *d, int alg, unsigned flags, ocidir_blob_writer_t **out)
{
    ocidir_put_options_t o = go_put_options(alg, flags);
    return ocidir_blob_writer_new_opts(d, &o, out);
}

static int go_unpack(const ocidir_image_t *img, int dirfd, const char *path, unsigned flags, int owner,
                     const ocidir_idmap_t *uids, size_t nuids, const ocidir_idmap_t *gids, size_t ngids,
                     int64_t fallback_uid, int64_t fallback_gid, uint64_t max_bytes, uint64_t max_entries,
                     uintptr_t h, ocidir_report_t **out)
{
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.flags = flags;
    o.owner_mode = owner;
    o.uid_map = uids;
    o.n_uid_map = nuids;
    o.gid_map = gids;
    o.n_gid_map = ngids;
    o.fallback_uid = fallback_uid;
    o.fallback_gid = fallback_gid;
    if (max_bytes)
        o.max_bytes = max_bytes;
    if (max_entries)
        o.max_entries = max_entries;
    o.progress = h ? ocidirGoProgress : NULL;
    o.user = (void *)h;
    return ocidir_unpack(img, dirfd, path, &o, out);
}
*/
import "C"

import "runtime"

// Flags and modes of ocidir.h.
const (
	PutVerifyExisting   = uint(C.OCIDIR_PUT_VERIFY_EXISTING)
	UnpackOwnerTar      = int(C.OCIDIR_UNPACK_OWNER_TAR)
	UnpackOwnerMap      = int(C.OCIDIR_UNPACK_OWNER_MAP)
	UnpackOwnerRootless = int(C.OCIDIR_UNPACK_OWNER_ROOTLESS)
	UnpackAllXattrs     = uint(C.OCIDIR_UNPACK_ALL_XATTRS)
	UnpackNoXattrs      = uint(C.OCIDIR_UNPACK_NO_XATTRS)
	UnpackNoSync        = uint(C.OCIDIR_UNPACK_NO_SYNC)
)

// BlobPutOpts calls ocidir_blob_put_opts.
func (d *Dir) BlobPutOpts(buf []byte, alg int, flags uint) (string, error) {
	var out digestBuf
	buf = ownCopy(buf)
	err := call("ocidir_blob_put_opts", func() C.int {
		return C.go_blob_put_opts(d.p, bufPtr(buf), C.size_t(len(buf)), C.int(alg), C.unsigned(flags), out.ptr())
	})
	runtime.KeepAlive(buf)
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// BlobPutFDOpts calls ocidir_blob_put_fd_opts.
func (d *Dir) BlobPutFDOpts(fd int, alg int, flags uint) (string, uint64, error) {
	var out digestBuf
	var size C.uint64_t
	if err := call("ocidir_blob_put_fd_opts", func() C.int {
		return C.go_blob_put_fd_opts(d.p, C.int(fd), C.int(alg), C.unsigned(flags), out.ptr(), &size)
	}); err != nil {
		return "", 0, err
	}
	return out.String(), uint64(size), nil
}

// BlobWriterNewOpts calls ocidir_blob_writer_new_opts.
func (d *Dir) BlobWriterNewOpts(alg int, flags uint) (*BlobWriter, error) {
	var w *C.ocidir_blob_writer_t
	if err := call("ocidir_blob_writer_new_opts", func() C.int {
		return C.go_blob_writer_new_opts(d.p, C.int(alg), C.unsigned(flags), &w)
	}); err != nil {
		return nil, err
	}
	return &BlobWriter{p: w}, nil
}

// IDMap is an ocidir_idmap_t.
type IDMap struct{ ContainerID, HostID, Size uint32 }

// UnpackOptions are the fields of ocidir_unpack_options_t (0 for MaxBytes
// and MaxEntries: the library's defaults; -1 for a fallback id: none).
type UnpackOptions struct {
	Flags                    uint
	Owner                    int
	UIDMap, GIDMap           []IDMap
	FallbackUID, FallbackGID int64
	MaxBytes, MaxEntries     uint64
	Progress
}

func idmaps(m []IDMap) []C.ocidir_idmap_t {
	out := make([]C.ocidir_idmap_t, len(m))
	for i, r := range m {
		out[i] = C.ocidir_idmap_t{container_id: C.uint32_t(r.ContainerID), host_id: C.uint32_t(r.HostID),
			size: C.uint32_t(r.Size)}
	}
	return out
}

func idmapPtr(m []C.ocidir_idmap_t) *C.ocidir_idmap_t {
	if len(m) == 0 {
		return nil
	}
	return &m[0]
}

// Unpack calls ocidir_unpack.
func (i *Image) Unpack(dirfd int, path string, o UnpackOptions) (*Report, error) {
	a := newCstrings("ocidir_unpack")
	defer a.free()
	pa := a.str("path", path)
	if a.err != nil {
		return nil, a.err
	}
	uids, gids := idmaps(o.UIDMap), idmaps(o.GIDMap)
	p, h := newProgress(o.Progress)
	defer p.finish(h)
	var r *C.ocidir_report_t
	err := a.call(func() C.int {
		return C.go_unpack(i.p, C.int(dirfd), pa, C.unsigned(o.Flags), C.int(o.Owner),
			idmapPtr(uids), C.size_t(len(uids)), idmapPtr(gids), C.size_t(len(gids)),
			C.int64_t(o.FallbackUID), C.int64_t(o.FallbackGID), C.uint64_t(o.MaxBytes),
			C.uint64_t(o.MaxEntries), C.uintptr_t(h), &r)
	})
	runtime.KeepAlive(uids)
	runtime.KeepAlive(gids)
	if err != nil {
		return nil, err
	}
	return takeReport(r), nil
}
