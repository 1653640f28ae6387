package ocidir

import (
	"context"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// OwnerMode says who owns the files Unpack writes (OCIDIR_UNPACK_OWNER_*).
type OwnerMode int

const (
	// OwnerTar: lchown to the tar's uid/gid (real root, or root of a user
	// namespace mapping the image's ids).  An id the namespace does not map
	// is ErrInvalid unless a fallback id is set.
	OwnerTar OwnerMode = OwnerMode(capi.UnpackOwnerTar)
	// OwnerMap: shift the tar's ids through UIDMap/GIDMap; an id outside
	// every range takes the fallback, or is ErrInvalid.
	OwnerMap OwnerMode = OwnerMode(capi.UnpackOwnerMap)
	// OwnerRootless: the caller owns every file; each entry's owner from the
	// tar is kept in the user.rootlesscontainers xattr (as umoci
	// --rootless); device nodes are skipped (FindDeviceSkipped).
	OwnerRootless OwnerMode = OwnerMode(capi.UnpackOwnerRootless)
)

// IDMap is one range of an id map, as umoci's --uid-map CONTAINER:HOST:SIZE.
type IDMap struct {
	ContainerID uint32 // first id in the image (the tar's uid/gid)
	HostID      uint32 // the id written to disk for it
	Size        uint32 // number of ids in the range (>= 1)
}

// UnpackMarker is the file at the root of the destination while Unpack
// runs (OCIDIR_UNPACK_MARKER): a tree holding it is incomplete.
const UnpackMarker = ".ocidir-unpack-incomplete"

// UnpackOptions tune Unpack (ocidir_unpack_options_t); the zero value
// unpacks with the tar's owners, the library's bounds, the default xattr
// namespaces and a final syncfs.
type UnpackOptions struct {
	Owner          OwnerMode
	UIDMap, GIDMap []IDMap // OwnerMap: the ranges
	// FallbackUID / FallbackGID, when not nil, is the id of an entry whose id
	// the namespace (OwnerTar) or the map (OwnerMap) does not cover; nil
	// makes such an entry ErrInvalid.
	FallbackUID, FallbackGID *uint32
	MaxBytes                 uint64 // bound on file bytes written; 0: 1 TiB (ErrTooLarge past it)
	MaxEntries               uint64 // bound on tar entries; 0: 2^24 (ErrTooLarge past it)
	AllXattrs                bool   // also apply security.selinux, system.nfs4_acl, trusted.*
	NoXattrs                 bool   // apply no xattr (each skipped one is a finding)
	NoSync                   bool   // skip the final syncfs: success does not mean on disk
	// Progress receives compressed layer bytes: at the start, as each layer
	// finishes and every 256 entries.
	Progress ProgressFunc
}

// ID returns a pointer to id, for UnpackOptions.FallbackUID/FallbackGID.
func ID(id uint32) *uint32 { return &id }

func fallback(id *uint32) int64 {
	if id == nil {
		return -1
	}
	return int64(*id)
}

func rawIDMaps(m []IDMap) []capi.IDMap {
	out := make([]capi.IDMap, len(m))
	for i, r := range m {
		out[i] = capi.IDMap{ContainerID: r.ContainerID, HostID: r.HostID, Size: r.Size}
	}
	return out
}

// Unpack applies the image's layers, in order, onto the directory path,
// which must be absent (it is created, mode 0755) or an empty directory;
// anything else is ErrExists and nothing is touched.  Every layer is
// verified against its digest and DiffID; nothing is ever written outside
// path.  It returns the report of what was skipped (FindXattrSkipped,
// FindXattrUnsupported, FindDeviceSkipped) with Blobs the layers applied
// and Bytes the file bytes written.
//
// On any failure (ErrDigest for a damaged layer naming its digest,
// ErrFormat or ErrEscape for a hostile entry, ErrTooLarge, ErrNotDurable
// when only the final syncfs failed, with the tree complete) everything
// the call created is removed, so path is again absent or empty; the same
// holds for a cancellation through ctx, noticed at the next progress call
// (ErrCanceled with ctx.Err() as its Cause; see Cancellation above).
func (img *Image) Unpack(ctx context.Context, path string, opts *UnpackOptions) (*Report, error) {
	const op = "Image.Unpack"
	if opts == nil {
		opts = &UnpackOptions{}
	}
	ctx, pr, err := run(ctx, op, opts.Progress)
	if err != nil {
		return nil, err
	}
	ro := capi.UnpackOptions{
		Owner: int(opts.Owner), UIDMap: rawIDMaps(opts.UIDMap), GIDMap: rawIDMaps(opts.GIDMap),
		FallbackUID: fallback(opts.FallbackUID), FallbackGID: fallback(opts.FallbackGID),
		MaxBytes: opts.MaxBytes, MaxEntries: opts.MaxEntries, Progress: pr,
	}
	if opts.AllXattrs {
		ro.Flags |= capi.UnpackAllXattrs
	}
	if opts.NoXattrs {
		ro.Flags |= capi.UnpackNoXattrs
	}
	if opts.NoSync {
		ro.Flags |= capi.UnpackNoSync
	}
	raw, err := img.use(op)
	if err != nil {
		return nil, err
	}
	defer img.done()
	r, err := raw.Unpack(atFDCWD, path, ro)
	if err != nil {
		return nil, wrapCtx(ctx, err)
	}
	return goReport(r), nil
}
