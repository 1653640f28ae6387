package capi

/*
#include <stdint.h>
#include <ocidir.h>

extern void ocidirGoProgress(uint64_t, uint64_t, void *);

// The Go callback, when the handle is not 0.  The handle travels as an
// integer so that no Go pointer is ever handed to C.
static ocidir_progress_fn go_progress_fn(uintptr_t h) { return h ? ocidirGoProgress : NULL; }

static int go_fsck(ocidir_t *d, unsigned flags, unsigned threads, uintptr_t h, ocidir_report_t **out)
{
    return ocidir_fsck(d, flags, threads, go_progress_fn(h), (void *)h, out);
}

static int go_gc(ocidir_t *d, unsigned flags, uintptr_t h, ocidir_report_t **out)
{
    return ocidir_gc(d, flags, go_progress_fn(h), (void *)h, out);
}

static int go_cache_gc(int fd, ocidir_t *const *layouts, size_t n, unsigned flags, uintptr_t h,
                       ocidir_report_t **out)
{
    return ocidir_cache_gc(fd, layouts, n, flags, go_progress_fn(h), (void *)h, out);
}

static int go_clone(ocidir_t *src, int dirfd, const char *path, unsigned flags, uintptr_t h,
                    ocidir_t **out, ocidir_report_t **report_out)
{
    return ocidir_clone(src, dirfd, path, flags, go_progress_fn(h), (void *)h, out, report_out);
}
*/
import "C"

import "runtime"

// Finding kinds and flags of ocidir.h.
const (
	FindIO          = int(C.OCIDIR_FIND_IO)
	FindReflinked   = int(C.OCIDIR_FIND_REFLINKED)
	GCDryRun        = uint(C.OCIDIR_GC_DRY_RUN)
	GCGraceDefault  = int64(C.OCIDIR_GC_GRACE_DEFAULT)
	CloneNoHardlink = uint(C.OCIDIR_CLONE_NO_HARDLINK)
	RemoveGC        = uint(C.OCIDIR_REMOVE_GC)
)

// FindKindName returns ocidir_find_kind_name(kind).
func FindKindName(kind int) string { return C.GoString(C.ocidir_find_kind_name(C.int(kind))) }

// Finding is one entry of an ocidir_report_t.
type Finding struct {
	Kind    int
	Subject string
	Size    uint64
	Message string
}

// Report is an ocidir_report_t copied into Go memory.
type Report struct {
	Findings []Finding
	Damage   int
	Blobs    uint64
	Bytes    uint64
}

// takeReport copies a report and frees it; NULL gives nil.
func takeReport(r *C.ocidir_report_t) *Report {
	if r == nil {
		return nil
	}
	defer C.ocidir_report_free(r)
	n := int(C.ocidir_report_count(r))
	out := &Report{Findings: make([]Finding, 0, n), Damage: int(C.ocidir_report_damage(r))}
	for i := 0; i < n; i++ {
		var kind C.ocidir_find_kind_t
		var subject, message *C.char
		var size C.uint64_t
		if C.ocidir_report_get(r, C.size_t(i), &kind, &subject, &size, &message) != 0 {
			continue
		}
		out.Findings = append(out.Findings, Finding{
			Kind: int(kind), Subject: C.GoString(subject), Size: uint64(size), Message: C.GoString(message),
		})
	}
	var blobs, bytes C.uint64_t
	C.ocidir_report_totals(r, &blobs, &bytes)
	out.Blobs, out.Bytes = uint64(blobs), uint64(bytes)
	return out
}

// Fsck calls ocidir_fsck.
func (d *Dir) Fsck(flags, threads uint, fn func(done, total uint64)) (*Report, error) {
	p, h := newProgress(fn)
	defer p.finish(h)
	var r *C.ocidir_report_t
	if err := call("ocidir_fsck", func() C.int { return C.go_fsck(d.p, C.unsigned(flags), C.unsigned(threads), C.uintptr_t(h), &r) }); err != nil {
		return nil, err
	}
	return takeReport(r), nil
}

// SetGCGrace calls ocidir_set_gc_grace.
func (d *Dir) SetGCGrace(seconds int64) error {
	return call("ocidir_set_gc_grace", func() C.int { return C.ocidir_set_gc_grace(d.p, C.int64_t(seconds)) })
}

// GC calls ocidir_gc.
func (d *Dir) GC(flags uint, fn func(done, total uint64)) (*Report, error) {
	p, h := newProgress(fn)
	defer p.finish(h)
	var r *C.ocidir_report_t
	if err := call("ocidir_gc", func() C.int { return C.go_gc(d.p, C.unsigned(flags), C.uintptr_t(h), &r) }); err != nil {
		return nil, err
	}
	return takeReport(r), nil
}

// CacheGC calls ocidir_cache_gc.
func CacheGC(cacheFD int, layouts []*Dir, flags uint, fn func(done, total uint64)) (*Report, error) {
	// Go memory holding C pointers only, which the cgo pointer rules allow.
	arr := make([]*C.ocidir_t, len(layouts)+1)
	for i, d := range layouts {
		arr[i] = d.p
	}
	p, h := newProgress(fn)
	defer p.finish(h)
	var r *C.ocidir_report_t
	err := call("ocidir_cache_gc", func() C.int {
		return C.go_cache_gc(C.int(cacheFD), &arr[0], C.size_t(len(layouts)), C.unsigned(flags), C.uintptr_t(h), &r)
	})
	runtime.KeepAlive(arr)
	if err != nil {
		return nil, err
	}
	return takeReport(r), nil
}

// Clone calls ocidir_clone; the new layout is returned open.
func (d *Dir) Clone(dirfd int, path string, flags uint, fn func(done, total uint64)) (*Dir, *Report, error) {
	a := newCstrings("ocidir_clone")
	defer a.free()
	pa := a.str("path", path)
	if a.err != nil {
		return nil, nil, a.err
	}
	p, h := newProgress(fn)
	defer p.finish(h)
	var out *C.ocidir_t
	var r *C.ocidir_report_t
	if err := a.call(func() C.int {
		return C.go_clone(d.p, C.int(dirfd), pa, C.unsigned(flags), C.uintptr_t(h), &out, &r)
	}); err != nil {
		return nil, nil, err
	}
	return &Dir{out}, takeReport(r), nil
}

// ImageRemove calls ocidir_image_remove.
func (d *Dir) ImageRemove(tag string, flags uint) (*Report, error) {
	a := newCstrings("ocidir_image_remove")
	defer a.free()
	t := a.str("tag", tag)
	var r *C.ocidir_report_t
	if err := a.call(func() C.int { return C.ocidir_image_remove(d.p, t, C.unsigned(flags), &r) }); err != nil {
		return nil, err
	}
	return takeReport(r), nil
}
