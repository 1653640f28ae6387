// Package ocidir reads and writes OCI image layout directories through
// libocidir, the C library: it opens a layout without ever resolving a path
// outside it, verifies every byte it reads against its digest, and publishes
// new blobs atomically and durably.  It can read from, and write into, a
// shared blob directory such as LXC's /var/cache/lxc.
//
// The API follows the tiers of ocidir.h:
//
//   - Layout: Open with WithCreate, WithReadOnly, WithFollowBlobSymlink,
//     WithDirFD; (*Dir).Close.
//   - Shared cache: (*Dir).AddBlobDir.
//   - Blobs: (*Dir).Create gives a *BlobWriter (an io.Writer with Expect,
//     Commit and Abort); Put, PutFile; OpenBlob gives a *BlobReader (an
//     io.ReadCloser that returns io.EOF only for content that matched its
//     digest); ReadBlob, Stat, OpenBlobFile, RemoveBlob; PutWithOptions,
//     PutFileWithOptions, CreateWithOptions (sha512, VerifyExisting).
//   - Index and tags: Tags, Resolve, SetTag, RemoveTag, AddIndexEntry.
//   - Images: OpenImage gives an *Image (manifest, config, layers,
//     annotations, labels); Referrers.
//   - Layers: NewLayerWriter (none, gzip, zstd; blob digest and diff_id in
//     one pass) and NewLayerWriterWithOptions (sha512 blob digest, zstd
//     window and long-distance matching); OpenLayer and (*Image).OpenLayer
//     (decompressed, verified), and their WithOptions forms (a bound on the
//     decompressed size).
//   - Building images: NewBuilder, NewArtifactBuilder, BuilderFrom;
//     (*Builder).AddLayerWithOptions and AddLayerWriterWithOptions give a
//     layer annotations.
//   - Housekeeping: Fsck, GC, CacheGC, Clone, RemoveTagGC, returning a
//     *Report.  Each takes a context.Context first and is canceled through
//     it, at the library's next progress call, with nothing half-done.
//   - Unpacking: (*Image).Unpack writes the image's root filesystem into a
//     directory (owners from the tar, shifted through id maps, or rootless),
//     verified, never outside it; context and progress as housekeeping.
//   - Container runtime support: Copy takes one image, with every blob it
//     references, from one layout into another and tags it there (one
//     platform or a whole index; verified; the tag written last);
//     UserLookup resolves a config's User against a root filesystem.
//
// Errors are *Error values carrying the library's code, message and errno;
// compare them with errors.Is against ErrNotFound, ErrDigest and the other
// sentinels, or against a syscall.Errno.  A call canceled through its
// context matches both ErrCanceled and the context's error
// (context.Canceled or context.DeadlineExceeded).
//
// Handles: every object has a Close (or Commit/Abort) that releases its C
// resources at once; a finalizer only backs up a forgotten Close.  A *Dir
// may be used from many goroutines at once.  Readers, writers and builders
// serialise their own calls, and objects made from a *Dir keep it alive:
// closing a *Dir that still has open images or readers frees it when the
// last of them is closed.
package ocidir
