package capi

/*
#include <stdint.h>
#include <ocidir.h>

extern int ocidirGoProgress(uint64_t, uint64_t, void *);

// The options structs are built here, in C, from scalars: the progress
// handle travels as an integer and becomes the `user` pointer only in C, so
// that no Go pointer (nor an integer posing as one) is ever in Go memory
// handed to C.  Handle 0: no callback.

static int go_fsck(ocidir_t *d, unsigned flags, unsigned threads, uintptr_t h, ocidir_report_t **out)
{
    ocidir_fsck_options_t o = OCIDIR_FSCK_OPTIONS_INIT;
    o.flags = flags;
    o.threads = threads;
    o.progress = h ? ocidirGoProgress : NULL;
    o.user = (void *)h;
    return ocidir_fsck(d, &o, out);
}

static ocidir_gc_options_t go_gc_options(unsigned flags, int64_t grace, uintptr_t h)
{
    ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
    o.flags = flags;
    o.grace_seconds = grace;
    o.progress = h ? ocidirGoProgress : NULL;
    o.user = (void *)h;
    return o;
}

static int go_gc(ocidir_t *d, unsigned flags, int64_t grace, uintptr_t h, ocidir_report_t **out)
{
    ocidir_gc_options_t o = go_gc_options(flags, grace, h);
    return ocidir_gc(d, &o, out);
}

static int go_cache_gc(int fd, ocidir_t *const *layouts, size_t n, unsigned flags, int64_t grace,
                       uintptr_t h, ocidir_report_t **out)
{
    ocidir_gc_options_t o = go_gc_options(flags, grace, h);
    return ocidir_cache_gc(fd, layouts, n, &o, out);
}

static int go_tag_remove_gc(ocidir_t *d, const char *tag, unsigned flags, int64_t grace, uintptr_t h,
                            ocidir_report_t **out)
{
    ocidir_gc_options_t o = go_gc_options(flags, grace, h);
    return ocidir_tag_remove_gc(d, tag, &o, out);
}

static int go_clone(ocidir_t *src, int dirfd, const char *path, unsigned flags, uintptr_t h,
                    ocidir_t **out, ocidir_report_t **report_out)
{
    ocidir_clone_options_t o = OCIDIR_CLONE_OPTIONS_INIT;
    o.flags = flags;
    o.progress = h ? ocidirGoProgress : NULL;
    o.user = (void *)h;
    return ocidir_clone(src, dirfd, path, &o, out, report_out);
}
*/
import "C"

import "runtime"

// Finding kinds and flags of ocidir.h.
const (
	FindReflinked   = int(C.OCIDIR_FIND_REFLINKED)
	GCDryRun        = uint(C.OCIDIR_GC_DRY_RUN)
	GCGraceDefault  = int64(C.OCIDIR_GC_GRACE_DEFAULT)
	GCGraceHandle   = int64(C.OCIDIR_GC_GRACE_HANDLE)
	CloneNoHardlink = uint(C.OCIDIR_CLONE_NO_HARDLINK)
)

// FindKindName returns ocidir_find_kind_name(kind).
func FindKindName(kind int) string { return C.GoString(C.ocidir_find_kind_name(C.int(kind))) }

// FindKindIsDamage returns ocidir_find_kind_is_damage(kind) != 0.
func FindKindIsDamage(kind int) bool { return C.ocidir_find_kind_is_damage(C.int(kind)) != 0 }

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
func (d *Dir) Fsck(flags, threads uint, pr Progress) (*Report, error) {
	p, h := newProgress(pr)
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

// GCOptions are the fields of ocidir_gc_options_t.
type GCOptions struct {
	Flags uint
	Grace int64 // seconds, or GCGraceHandle
	Progress
}

// GC calls ocidir_gc.
func (d *Dir) GC(o GCOptions) (*Report, error) {
	p, h := newProgress(o.Progress)
	defer p.finish(h)
	var r *C.ocidir_report_t
	if err := call("ocidir_gc", func() C.int {
		return C.go_gc(d.p, C.unsigned(o.Flags), C.int64_t(o.Grace), C.uintptr_t(h), &r)
	}); err != nil {
		return nil, err
	}
	return takeReport(r), nil
}

// CacheGC calls ocidir_cache_gc.
func CacheGC(cacheFD int, layouts []*Dir, o GCOptions) (*Report, error) {
	// Go memory holding C pointers only, which the cgo pointer rules allow.
	arr := make([]*C.ocidir_t, len(layouts)+1)
	for i, d := range layouts {
		arr[i] = d.p
	}
	p, h := newProgress(o.Progress)
	defer p.finish(h)
	var r *C.ocidir_report_t
	err := call("ocidir_cache_gc", func() C.int {
		return C.go_cache_gc(C.int(cacheFD), &arr[0], C.size_t(len(layouts)), C.unsigned(o.Flags),
			C.int64_t(o.Grace), C.uintptr_t(h), &r)
	})
	runtime.KeepAlive(arr)
	if err != nil {
		return nil, err
	}
	return takeReport(r), nil
}

// TagRemoveGC calls ocidir_tag_remove_gc.
func (d *Dir) TagRemoveGC(tag string, o GCOptions) (*Report, error) {
	a := newCstrings("ocidir_tag_remove_gc")
	defer a.free()
	t := a.str("tag", tag)
	if a.err != nil {
		return nil, a.err
	}
	p, h := newProgress(o.Progress)
	defer p.finish(h)
	var r *C.ocidir_report_t
	if err := a.call(func() C.int {
		return C.go_tag_remove_gc(d.p, t, C.unsigned(o.Flags), C.int64_t(o.Grace), C.uintptr_t(h), &r)
	}); err != nil {
		return nil, err
	}
	return takeReport(r), nil
}

// Clone calls ocidir_clone; the new layout is returned open.
func (d *Dir) Clone(dirfd int, path string, flags uint, pr Progress) (*Dir, *Report, error) {
	a := newCstrings("ocidir_clone")
	defer a.free()
	pa := a.str("path", path)
	if a.err != nil {
		return nil, nil, a.err
	}
	p, h := newProgress(pr)
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
