package ocidir

import (
	"context"
	"os"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// CopyOptions tune Copy (ocidir_copy_options_t); the zero value copies the
// manifest for this machine's platform, hard-linking where it can.
type CopyOptions struct {
	// Platform ("os/arch[/variant]") picks the manifest of an index, as
	// OpenImage does; "" is this machine's (PlatformDefault).  Must be ""
	// with AllPlatforms.
	Platform string
	// AllPlatforms copies what ref names as it is: an index with every
	// manifest and index beneath it.  One it lists that src lacks fails the
	// copy (ErrNotFound).
	AllPlatforms bool
	NoHardlink   bool // reflink or copy only
	// Progress receives blob bytes (total: the sum of every descriptor's
	// size): at the start, as blobs are taken and once at the end.
	Progress ProgressFunc
}

// Copy copies one image, and every blob it references, from src into dst
// (open for writing; it may be src itself, under another tag) and tags it
// tag there.  ref is a tag or a digest in src.  Each blob dst lacks is
// reflinked where the filesystems allow, else hard-linked from src's blobs/
// (not with NoHardlink), else copied, and verified as it is taken; it goes
// where dst writes new blobs (its blobs/, or the directory added with
// AddBlobDir(f, true): a shared cache).  A blob dst already has is verified
// instead.  The tag is written last, after every blob is in place and
// flushed: on any failure but ErrNotDurable the tag is unchanged.
//
// The report has a FindCopied, FindLinked or FindReflinked finding per blob
// taken; Blobs and Bytes count every blob of the image.  Errors:
// ErrNotFound (no such ref or platform in src, or a blob missing there; the
// message names it), ErrDigest / ErrSize (a damaged blob, named),
// ErrReadOnly (dst read-only), ErrInvalid (a bad tag, Platform with
// AllPlatforms), ErrAmbiguous, ErrCanceled (through ctx, as Clone: no tag
// written).
func Copy(ctx context.Context, src *Dir, ref string, dst *Dir, tag string, opts *CopyOptions) (*Report, error) {
	const op = "Copy"
	if opts == nil {
		opts = &CopyOptions{}
	}
	if src == nil || dst == nil {
		return nil, &Error{Op: op, Code: CodeInvalid, Message: "nil layout"}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, err
	}
	rawSrc, err := src.use(op)
	if err != nil {
		return nil, err
	}
	defer src.done()
	rawDst, err := dst.use(op)
	if err != nil {
		return nil, err
	}
	defer dst.done()
	var flags uint
	if opts.AllPlatforms {
		flags |= capi.CopyAllPlatforms
	}
	if opts.NoHardlink {
		flags |= capi.CopyNoHardlink
	}
	r, err := capi.Copy(rawSrc, ref, opts.Platform, rawDst, tag, flags, pr)
	if err != nil {
		return nil, wrapCtx(ctx, err)
	}
	return goReport(r), nil
}

// UserLookup resolves an image config's User ("user[:group]", each a name
// or a decimal number; "" is root) against the root filesystem's own
// etc/passwd and etc/group, as a runtime does before starting the
// container's process.  The files are opened beneath rootfs as if it were
// "/" (a symlink inside resolves inside it; nothing outside is read).
//
//	NAME        the passwd entry's uid and primary gid
//	NUMBER      that uid; the gid of the first passwd entry with it, else 0
//	USER:GROUP  the user as above, with GROUP's gid (a number, or a name
//	            from etc/group)
//
// Errors: ErrNotFound (a name in neither file, or the file missing; the
// message names it), ErrInvalid (a malformed spec, a number above
// 4294967294), ErrTooLarge (a file or line past the library's bounds),
// ErrFormat (not a regular file), ErrEscape.  rootfs may be closed
// afterwards.
func UserLookup(rootfs *os.File, user string) (uid, gid uint32, err error) {
	if rootfs == nil {
		return 0, 0, &Error{Op: "UserLookup", Code: CodeInvalid, Message: "nil rootfs directory"}
	}
	sc, err := rootfs.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var lerr error
	if err := sc.Control(func(fd uintptr) { uid, gid, lerr = UserLookupFD(int(fd), user) }); err != nil {
		return 0, 0, err
	}
	return uid, gid, lerr
}

// UserLookupFD is UserLookup with a raw directory descriptor (not closed).
func UserLookupFD(fd int, user string) (uid, gid uint32, err error) {
	uid, gid, err = capi.UserLookup(fd, user)
	return uid, gid, wrap(err)
}
