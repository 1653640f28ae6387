package ocidir

import (
	"os"
	"time"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// FindKind is the kind of a report finding.  Values fixed.
type FindKind int

// Kinds up to FindIO are damage; the others are notices.
const (
	FindLayout       FindKind = 0  // oci-layout or index.json unreadable or invalid
	FindMissing      FindKind = 1  // a referenced blob exists nowhere
	FindDigest       FindKind = 2  // a blob's content does not hash to its name
	FindSize         FindKind = 3  // a blob's length is not its descriptor's size
	FindFormat       FindKind = 4  // invalid manifest/index/config, or not a regular file
	FindMediaType    FindKind = 5  // a descriptor's media type disagrees with the blob
	FindIO           FindKind = 6  // a blob could not be read
	FindUnsupported  FindKind = 7  // a descriptor of an unregistered algorithm
	FindUnreferenced FindKind = 8  // a blob in the layout's blobs/ nothing references
	FindTemp         FindKind = 9  // a temporary file no live writer owns
	FindRemoved      FindKind = 10 // gc removed this blob or temporary file
	FindKeptRecent   FindKind = 11 // gc kept an unreferenced blob younger than the grace period
	FindCopied       FindKind = 12 // clone copied this blob
	FindLinked       FindKind = 13 // clone hard-linked this blob
	FindReflinked    FindKind = 14 // clone reflinked this blob
)

// String is the library's name of the kind ("missing", "digest", ...).
func (k FindKind) String() string { return capi.FindKindName(int(k)) }

// IsDamage reports whether the kind is damage rather than a notice.
func (k FindKind) IsDamage() bool { return k >= 0 && int(k) <= capi.FindIO }

// Finding is one entry of a report.
type Finding struct {
	Kind    FindKind
	Subject string // a digest, or a path relative to where it was found
	Size    int64  // the blob's size where known, else 0
	Message string // what is wrong and where it was referenced from
}

// Report is the result of Fsck, GC, CacheGC, Clone and RemoveImage.
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

// ProgressFunc receives done of total bytes, from the calling goroutine, a
// few times per second and once at the end (total may grow).  It must not
// call back into the layout.  A panic in it is raised again when the
// operation has returned.
type ProgressFunc func(done, total uint64)

// FsckOptions tune Fsck; the zero value is fine.
type FsckOptions struct {
	Threads  int // hashing threads; 0: one per online CPU
	Progress ProgressFunc
}

// Fsck checks the layout completely (every reachable blob hashed in full)
// and reports every finding.  It fails only when the check could not run;
// look at Report.Damage for what it found.  Never writes anything.
func (d *Dir) Fsck(opts *FsckOptions) (*Report, error) {
	if opts == nil {
		opts = &FsckOptions{}
	}
	raw, err := d.use("Dir.Fsck")
	if err != nil {
		return nil, err
	}
	defer d.done()
	if opts.Threads < 0 {
		return nil, &Error{Op: "Dir.Fsck", Code: CodeInvalid, Message: "negative thread count"}
	}
	r, err := raw.Fsck(0, uint(opts.Threads), opts.Progress)
	return goReport(r), wrap(err)
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

// GCOptions tune GC and CacheGC; the zero value removes.
type GCOptions struct {
	DryRun   bool // report what would be removed, remove nothing
	Progress ProgressFunc
}

func (o *GCOptions) flags() uint {
	if o.DryRun {
		return capi.GCDryRun
	}
	return 0
}

// GC removes what nothing in index.json references from the layout's own
// blobs/ (never an added blob directory), with stray temporary files.  A
// damaged graph is not swept: GC fails with the code of the damage.
func (d *Dir) GC(opts *GCOptions) (*Report, error) {
	if opts == nil {
		opts = &GCOptions{}
	}
	raw, err := d.use("Dir.GC")
	if err != nil {
		return nil, err
	}
	defer d.done()
	r, err := raw.GC(opts.flags(), opts.Progress)
	return goReport(r), wrap(err)
}

// CacheGC collects a shared blob directory used by the given layouts: the
// blobs none of them references are reported and, without DryRun, removed.
// A layout left out loses its blobs.  The grace period is that of layouts[0].
func CacheGC(cache *os.File, layouts []*Dir, opts *GCOptions) (*Report, error) {
	const op = "CacheGC"
	if opts == nil {
		opts = &GCOptions{}
	}
	if len(layouts) == 0 {
		return nil, &Error{Op: op, Code: CodeInvalid, Message: "no layouts given"}
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
	if err := sc.Control(func(fd uintptr) { r, gerr = capi.CacheGC(int(fd), raws, opts.flags(), opts.Progress) }); err != nil {
		return nil, err
	}
	return goReport(r), wrap(gerr)
}

// CloneOptions tune Clone.
type CloneOptions struct {
	NoHardlink bool // reflink or copy only
	Progress   ProgressFunc
}

// Clone makes a new layout at path (absent, or an empty directory) with the
// same index.json and every reachable blob, reflinked, hard-linked or
// copied, each verified.  It returns the new layout, open for writing.
func (d *Dir) Clone(path string, opts *CloneOptions) (*Dir, *Report, error) {
	if opts == nil {
		opts = &CloneOptions{}
	}
	raw, err := d.use("Dir.Clone")
	if err != nil {
		return nil, nil, err
	}
	defer d.done()
	var flags uint
	if opts.NoHardlink {
		flags |= capi.CloneNoHardlink
	}
	nd, r, err := raw.Clone(atFDCWD, path, flags, opts.Progress)
	if err != nil {
		return nil, nil, wrap(err)
	}
	return newDir(nd), goReport(r), nil
}

// RemoveImage drops tag from index.json and, with gc, then collects what
// became unreferenced (the report is nil without gc).  The index is
// rewritten before any blob is removed.
func (d *Dir) RemoveImage(tag string, gc bool) (*Report, error) {
	raw, err := d.use("Dir.RemoveImage")
	if err != nil {
		return nil, err
	}
	defer d.done()
	var flags uint
	if gc {
		flags |= capi.RemoveGC
	}
	r, err := raw.ImageRemove(tag, flags)
	return goReport(r), wrap(err)
}
