package ocidir

import (
	"context"
	"os"
	"time"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// FindKind is the kind of a report finding.  Values fixed.
type FindKind int

// Kinds FindLayout to FindIO are damage, the others notices; IsDamage asks
// the library, which also classifies kinds added after this package.
const (
	FindLayout            FindKind = 0  // oci-layout or index.json unreadable or invalid
	FindMissing           FindKind = 1  // a referenced blob exists nowhere
	FindDigest            FindKind = 2  // a blob's content does not hash to its name
	FindSize              FindKind = 3  // a blob's length is not its descriptor's size
	FindFormat            FindKind = 4  // invalid manifest/index/config, or not a regular file
	FindMediaType         FindKind = 5  // a descriptor's media type disagrees with the blob
	FindIO                FindKind = 6  // a blob could not be read
	FindUnsupported       FindKind = 7  // a descriptor of an unregistered algorithm
	FindUnreferenced      FindKind = 8  // a blob in the layout's blobs/ nothing references
	FindTemp              FindKind = 9  // a temporary file no live writer owns
	FindRemoved           FindKind = 10 // gc removed this blob or temporary file
	FindKeptRecent        FindKind = 11 // gc kept an unreferenced blob younger than the grace period
	FindCopied            FindKind = 12 // clone or copy copied this blob
	FindLinked            FindKind = 13 // clone or copy hard-linked this blob
	FindReflinked         FindKind = 14 // clone or copy reflinked this blob
	FindAbsentChild       FindKind = 15 // a manifest or index an image index lists is not stored
	FindSkipped           FindKind = 16 // a later step of a committed call could not run
	FindXattrSkipped      FindKind = 18 // unpack: an entry's xattr was not applied
	FindXattrUnsupported  FindKind = 19 // unpack: the destination refuses xattrs (reported once)
	FindDeviceSkipped     FindKind = 20 // unpack: a device node was not created (rootless)
	FindIncompleteCleared FindKind = 21 // unpack: a killed unpack's tree was cleared first
)

// String is the library's name of the kind ("missing", "digest", ...).
func (k FindKind) String() string { return capi.FindKindName(int(k)) }

// IsDamage reports whether the kind is damage rather than a notice
// (ocidir_find_kind_is_damage: false for kinds the library does not know).
func (k FindKind) IsDamage() bool { return capi.FindKindIsDamage(int(k)) }

// Finding is one entry of a report.
type Finding struct {
	Kind    FindKind
	Subject string // a digest, or a path relative to where it was found
	Size    int64  // the blob's size where known, else 0
	Message string // what is wrong and where it was referenced from
}

// Report is the result of Fsck, GC, CacheGC, Clone, RemoveTagGC, Copy and Image.Unpack.
type Report struct {
	Findings []Finding
	Damage   int   // findings that are damage
	Blobs    int64 // blobs visited (checked, kept or copied)
	Bytes    int64 // and their bytes
}

// Count returns the number of findings of kind k.
func (r *Report) Count(k FindKind) int {
	n := 0
	for _, f := range r.Findings {
		if f.Kind == k {
			n++
		}
	}
	return n
}

func goReport(r *capi.Report) *Report {
	if r == nil {
		return nil
	}
	out := &Report{Findings: make([]Finding, len(r.Findings)), Damage: r.Damage,
		Blobs: int64(r.Blobs), Bytes: int64(r.Bytes)}
	for i, f := range r.Findings {
		out.Findings[i] = Finding{Kind: FindKind(f.Kind), Subject: f.Subject, Size: int64(f.Size), Message: f.Message}
	}
	return out
}

// ProgressFunc receives done of total bytes, from the calling goroutine:
// once before the first blob, after blobs are done, and once at the end with
// done == total (total may grow).  It must not call back into the layout.
// A panic in it cancels the operation and is raised again when the
// operation has returned.
type ProgressFunc func(done, total uint64)

// Cancellation.  Fsck, GC, CacheGC, Clone, RemoveTagGC, Copy and Image.Unpack take a
// context.Context as their first argument.  A context already done fails the
// call at once, before any work; one that becomes done while the call runs
// is noticed at the next progress call of the library (see ProgressFunc),
// which then stops with nothing half-done: fsck returns no report, gc stops
// between two removals, clone and unpack remove what they created, copy
// writes no tag.  The error is then
// an *Error of CodeCanceled whose Cause is ctx.Err(), so both
// errors.Is(err, ErrCanceled) and errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) hold.  A context that becomes done after the
// last progress call does not undo a finished operation.  A nil context is
// taken as context.Background().

// run prepares a cancelable call: it fails at once for a context already
// done, else gives the raw layer's progress (the function, and ctx.Done()
// as the cancel channel; nil for a context that is never done).
func run(ctx context.Context, op string, fn ProgressFunc) (context.Context, capi.Progress, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return ctx, capi.Progress{}, &Error{Op: op, Code: CodeCanceled,
			Message: "canceled before it started: " + err.Error(), Cause: err}
	}
	return ctx, capi.Progress{Fn: fn, Cancel: ctx.Done()}, nil
}

// wrapCtx is wrap, with the context's error as the Cause of a cancellation
// the context brought about.
func wrapCtx(ctx context.Context, err error) error {
	err = wrap(err)
	if e, ok := err.(*Error); ok && e.Code == CodeCanceled && e.Cause == nil {
		e.Cause = ctx.Err()
	}
	return err
}

// FsckOptions tune Fsck; the zero value is fine.
type FsckOptions struct {
	Threads  int // hashing threads; 0: one per online CPU
	Progress ProgressFunc
}

// Fsck checks the layout completely (every reachable blob hashed in full)
// and reports every finding.  It fails only when the check could not run,
// or was canceled through ctx (ErrCanceled, no report); look at
// Report.Damage for what it found.  Never writes anything.
func (d *Dir) Fsck(ctx context.Context, opts *FsckOptions) (*Report, error) {
	const op = "Dir.Fsck"
	if opts == nil {
		opts = &FsckOptions{}
	}
	if opts.Threads < 0 {
		return nil, &Error{Op: op, Code: CodeInvalid, Message: "negative thread count"}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, err
	}
	raw, err := d.use(op)
	if err != nil {
		return nil, err
	}
	defer d.done()
	r, err := raw.Fsck(0, uint(opts.Threads), pr)
	return goReport(r), wrapCtx(ctx, err)
}

// DefaultGCGrace is the grace period of GC unless SetGCGrace changes it.
const DefaultGCGrace = time.Duration(capi.GCGraceDefault) * time.Second

// SetGCGrace sets the grace period of GC on this handle (whole seconds): an
// unreferenced blob modified less than grace ago is kept.  0 turns it off;
// a negative value restores DefaultGCGrace.
func (d *Dir) SetGCGrace(grace time.Duration) error {
	raw, err := d.use("Dir.SetGCGrace")
	if err != nil {
		return err
	}
	defer d.done()
	secs := int64(grace / time.Second)
	if grace < 0 {
		secs = -1
	}
	return wrap(raw.SetGCGrace(secs))
}

// GCOptions tune GC, CacheGC and RemoveTagGC; the zero value removes, with
// the handle's grace period.
type GCOptions struct {
	DryRun bool // report what would be removed, remove nothing
	// Grace, when not nil, is the grace period of this call (whole seconds,
	// truncated; >= 0) instead of the handle's (SetGCGrace; for CacheGC,
	// that of layouts[0]).  Grace(0) removes every unreferenced blob however
	// new.
	Grace    *time.Duration
	Progress ProgressFunc
}

// Grace returns a pointer to d, for GCOptions.Grace.
func Grace(d time.Duration) *time.Duration { return &d }

// raw gives the raw layer's options, or ErrInvalid for a negative grace.
func (o *GCOptions) raw(op string, pr capi.Progress) (capi.GCOptions, error) {
	ro := capi.GCOptions{Grace: capi.GCGraceHandle, Progress: pr}
	if o.DryRun {
		ro.Flags |= capi.GCDryRun
	}
	if o.Grace != nil {
		if *o.Grace < 0 {
			return ro, &Error{Op: op, Code: CodeInvalid, Message: "negative grace period " + o.Grace.String()}
		}
		ro.Grace = int64(*o.Grace / time.Second)
	}
	return ro, nil
}

// GC removes what nothing in index.json references from the layout's own
// blobs/ (never an added blob directory), with stray temporary files.  A
// damaged graph is not swept: GC fails with the code of the damage.  A
// cancellation through ctx stops between two removals (ErrCanceled, no
// report): what was removed is gone, the rest stays, the layout is
// consistent.
func (d *Dir) GC(ctx context.Context, opts *GCOptions) (*Report, error) {
	const op = "Dir.GC"
	if opts == nil {
		opts = &GCOptions{}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, err
	}
	ro, err := opts.raw(op, pr)
	if err != nil {
		return nil, err
	}
	raw, err := d.use(op)
	if err != nil {
		return nil, err
	}
	defer d.done()
	r, err := raw.GC(ro)
	return goReport(r), wrapCtx(ctx, err)
}

// CacheGC collects a shared blob directory used by the given layouts: the
// blobs none of them references are reported and, without DryRun, removed.
// A layout left out loses its blobs.  The grace period is that of
// layouts[0] unless opts.Grace is set.  Cancellation as GC.
func CacheGC(ctx context.Context, cache *os.File, layouts []*Dir, opts *GCOptions) (*Report, error) {
	const op = "CacheGC"
	if opts == nil {
		opts = &GCOptions{}
	}
	if len(layouts) == 0 {
		return nil, &Error{Op: op, Code: CodeInvalid, Message: "no layouts given"}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, err
	}
	ro, err := opts.raw(op, pr)
	if err != nil {
		return nil, err
	}
	raws := make([]*capi.Dir, 0, len(layouts))
	for _, d := range layouts {
		raw, err := d.use(op)
		if err != nil {
			for _, u := range layouts[:len(raws)] {
				u.done()
			}
			return nil, err
		}
		raws = append(raws, raw)
	}
	defer func() {
		for _, d := range layouts {
			d.done()
		}
	}()
	sc, err := cache.SyscallConn()
	if err != nil {
		return nil, err
	}
	var r *capi.Report
	var gerr error
	if err := sc.Control(func(fd uintptr) { r, gerr = capi.CacheGC(int(fd), raws, ro) }); err != nil {
		return nil, err
	}
	return goReport(r), wrapCtx(ctx, gerr)
}

// CloneOptions tune Clone.
type CloneOptions struct {
	NoHardlink bool // reflink or copy only
	Progress   ProgressFunc
}

// Clone makes a new layout at path (absent, or an empty directory) with the
// same index.json and every reachable blob, reflinked, hard-linked or
// copied, each verified.  It returns the new layout, open for writing.  A
// cancellation through ctx (ErrCanceled) removes everything the clone
// created: path is again absent (or the empty directory it was).
func (d *Dir) Clone(ctx context.Context, path string, opts *CloneOptions) (*Dir, *Report, error) {
	const op = "Dir.Clone"
	if opts == nil {
		opts = &CloneOptions{}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, nil, err
	}
	raw, err := d.use(op)
	if err != nil {
		return nil, nil, err
	}
	defer d.done()
	var flags uint
	if opts.NoHardlink {
		flags |= capi.CloneNoHardlink
	}
	nd, r, err := raw.Clone(atFDCWD, path, flags, pr)
	if err != nil {
		return nil, nil, wrapCtx(ctx, err)
	}
	return newDir(nd), goReport(r), nil
}

// RemoveTagGC removes tag from index.json (as RemoveTag), then collects what
// became unreferenced (as GC with opts) and returns the gc's report.  The
// index is rewritten before any blob is removed, so a crash never leaves a
// tag naming a missing blob.  A context done before the call removes
// nothing; a cancellation while it runs stops the gc between two removals
// (ErrCanceled) with the tag already removed.
func (d *Dir) RemoveTagGC(ctx context.Context, tag string, opts *GCOptions) (*Report, error) {
	const op = "Dir.RemoveTagGC"
	if opts == nil {
		opts = &GCOptions{}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, err
	}
	ro, err := opts.raw(op, pr)
	if err != nil {
		return nil, err
	}
	raw, err := d.use(op)
	if err != nil {
		return nil, err
	}
	defer d.done()
	r, err := raw.TagRemoveGC(tag, ro)
	return goReport(r), wrapCtx(ctx, err)
}
