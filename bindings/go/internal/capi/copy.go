package capi

/*
#include <stdint.h>
#include <ocidir.h>

extern int ocidirGoProgress(uint64_t, uint64_t, void *);

// Options built in C from scalars, as in housekeeping.go.
static int go_copy(ocidir_t *src, const char *ref, const char *platform, ocidir_t *dst, const char *tag,
                   unsigned flags, uintptr_t h, ocidir_report_t **out)
{
    ocidir_copy_options_t o = OCIDIR_COPY_OPTIONS_INIT;
    o.flags = flags;
    o.progress = h ? ocidirGoProgress : NULL;
    o.user = (void *)h;
    return ocidir_copy(src, ref, platform, dst, tag, &o, out);
}
*/
import "C"

// Flags of ocidir_copy_options_t.
const (
	CopyAllPlatforms = uint(C.OCIDIR_COPY_ALL_PLATFORMS)
	CopyNoHardlink   = uint(C.OCIDIR_COPY_NO_HARDLINK)
)

// Copy calls ocidir_copy; platform "" is NULL.
func Copy(src *Dir, ref, platform string, dst *Dir, tag string, flags uint, pr Progress) (*Report, error) {
	a := newCstrings("ocidir_copy")
	defer a.free()
	r, pl, t := a.str("ref", ref), a.opt("platform", platform), a.str("tag", tag)
	if a.err != nil {
		return nil, a.err
	}
	p, h := newProgress(pr)
	defer p.finish(h)
	var out *C.ocidir_report_t
	if err := a.call(func() C.int {
		return C.go_copy(src.p, r, pl, dst.p, t, C.unsigned(flags), C.uintptr_t(h), &out)
	}); err != nil {
		return nil, err
	}
	return takeReport(out), nil
}

// UserLookup calls ocidir_user_lookup.
func UserLookup(rootfsFD int, userspec string) (uid, gid uint32, err error) {
	a := newCstrings("ocidir_user_lookup")
	defer a.free()
	s := a.str("user", userspec)
	var u, g C.uint32_t
	if err := a.call(func() C.int { return C.ocidir_user_lookup(C.int(rootfsFD), s, &u, &g) }); err != nil {
		return 0, 0, err
	}
	return uint32(u), uint32(g), nil
}
