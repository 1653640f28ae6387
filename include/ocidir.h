/*
 * libocidir - read and write OCI image layout directories safely.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Introduction
 * ============
 *
 * An OCI image layout is a directory holding `oci-layout`, `index.json` and
 * content-addressed blobs under `blobs/<alg>/<hex>`.  This library opens such
 * a directory through a file descriptor and never lets a lookup inside it
 * escape: every path is resolved beneath the layout root (or beneath a shared
 * blob directory the caller handed in) with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), or with a component-by-component O_NOFOLLOW walk on
 * kernels without openat2.
 *
 * The API comes in tiers, each declared below with its types:
 *
 *   1. Conventions: versions, error codes, error details, memory.
 *   2. Digests: validation and hashing of "<alg>:<hex>" strings.
 *   3. Layout: opening or creating a layout directory.
 *   4. Shared cache: adding external blob directories (LXC's /var/cache/lxc)
 *      for reading and as the place new blobs are written.
 *   5. Blobs: streaming writers that publish a blob atomically and durably,
 *      verified streaming readers, whole-blob reads, raw fds, removal.
 *   6. Index and tags: listing, resolving, setting and removing tags in
 *      `index.json`, under a cross-process lock, published atomically.
 *   7. Images: the manifest for a platform (through nested indexes), its
 *      config and layers, read through an image handle.
 *   8. Layers: compressing writers (none, gzip, zstd) that compute the blob
 *      digest and the diff_id in one pass; decompressing readers that verify
 *      both.
 *   9. Building images: a builder that writes config, manifest and tag in an
 *      order that a crash cannot break; artifacts and referrers.
 *  10. Housekeeping: fsck, gc (of a layout and of a shared cache), clone,
 *      removing an image.
 *  11. Unpacking: an image's layers into a root filesystem.
 *  12. Container runtime support: copying one image between layouts, and
 *      resolving a config's User inside a root filesystem.
 *
 * Conventions
 * -----------
 *
 * - Every function that can fail returns `int`: 0 on success, a negative
 *   OCIDIR_E_* code on failure.  Out-parameters come last and are written
 *   only on success, with one exception: OCIDIR_E_NOT_DURABLE reports a
 *   change that was made and is visible (a blob published, index.json
 *   replaced) but whose flush to disk failed, and the out-parameters that
 *   describe the change (digests, sizes; the layout and report of
 *   ocidir_clone()) are written then too; each function that can return it
 *   says which.  A handle or vector out-parameter (`**out`, `***out`) must
 *   not be NULL (OCIDIR_E_INVALID, naming it) unless the function says it
 *   may be (the reports of gc, cache gc, clone, tag_remove_gc and unpack,
 *   and the layout of clone: NULL then means "not wanted").  A digest,
 *   size, media-type or borrowed-buffer out-parameter may be NULL, except
 *   where the function says it must not be (ocidir_digest_buffer()'s
 *   digest_out, ocidir_blob_read_all()'s buf_out, ocidir_blob_open_fd()'s
 *   fd_out).  Data buffers filled by the read calls are not
 *   out-parameters in this sense.
 * - After a failure, ocidir_last_error() gives a message naming what failed
 *   (which digest, which path, the OS error text) and ocidir_last_errno() the
 *   errno behind an OCIDIR_E_IO.
 * - No C++ exception and no abort ever crosses this API.  Allocation failure
 *   is OCIDIR_E_NOMEM.
 * - Memory handed out is freed with ocidir_free(); string vectors with
 *   ocidir_strv_free(); reports with ocidir_report_free().
 * - Releasing objects: the verb pairs with the verb that made the object.
 *   What is opened (ocidir_open(), ocidir_image_open(), ocidir_blob_open(),
 *   ocidir_layer_open()) is closed with the matching *_close.  What is made
 *   new (builders) is released with *_free.  A writer (*_writer_new) ends
 *   with *_commit, which publishes it and frees it, or *_abort, which
 *   discards and frees it.  Every *_close / *_free / *_abort accepts NULL.
 * - Options: the calls that are likely to grow take a pointer to an options
 *   struct (ocidir_fsck_options_t, ...).  Each such struct starts with
 *   `size_t struct_size`, set to sizeof() of the struct as the caller was
 *   compiled; initialise it with its OCIDIR_*_OPTIONS_INIT macro or its
 *   ocidir_*_options_init() function, then set the fields wanted.  A NULL
 *   pointer means every default.  The library reads the fields that fit in
 *   `struct_size` and uses defaults for fields added after the caller was
 *   built; a caller built against a newer header that sets a field this
 *   library does not know gets OCIDIR_E_INVALID instead of the option being
 *   ignored.  This pattern (the one of the kernel's openat2() and clone3()
 *   structs) was chosen over setter functions on an opaque object because a
 *   struct is filled in one expression in C, in one call from ctypes and cgo,
 *   needs no allocation, and still lets fields be added without breaking the
 *   ABI.  The short forms kept beside them (ocidir_layer_writer_new(),
 *   ocidir_layer_open(), ocidir_builder_add_layer(), the contract's blob
 *   calls) are fixed and will not grow.
 * - Progress callbacks (ocidir_progress_fn) return int: non-zero cancels the
 *   operation, which then returns OCIDIR_E_CANCELED with nothing half-done.
 * - ABI: every exported symbol carries the version node of the release that
 *   added it (OCIDIR_0.5 for this series).  Before 1.0 the SONAME is
 *   libocidir.so.0 and a minor release may change the ABI; it then renames
 *   the version node, so a program built against another 0.x release fails
 *   to load with a message naming the node instead of misbehaving.  From 1.0
 *   on, the SONAME is libocidir.so.1, the ABI only grows (new symbols in new
 *   nodes OCIDIR_1.1, ...; new options fields at the end of their structs),
 *   and an incompatible change would bump the SONAME.
 * - Every fd the library opens has O_CLOEXEC.  An fd passed in is never
 *   closed by the library; it keeps a duplicate when it needs one.
 * - Thread safety: one ocidir_t may be used from many threads at once, for
 *   reads and for independent blob writers.  A reader or writer object
 *   belongs to one thread at a time.
 *
 * Security model
 * --------------
 *
 * A layout's content is untrusted.  A digest is validated against the
 * registered algorithms (sha256, sha512) before it becomes a path, so a
 * digest can never name anything but `<alg>/<hex>`.  Lookups never leave the
 * directory they start in (no `..`, absolute or escaping symlinks, no /proc
 * magic links): such a lookup fails with OCIDIR_E_ESCAPE.  Blobs that are not
 * regular files are refused without being opened for reading, so a FIFO or a
 * device never blocks or triggers side effects.  Every byte read through a
 * reader is hashed, and a reader reports a clean end only for content that
 * matches its digest.  New blobs appear under their digest only complete,
 * verified and flushed to disk.
 */
#ifndef OCIDIR_H
#define OCIDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * 1. Conventions
 * ====================================================================== */

/* Symbol visibility.  Define OCIDIR_API before including this header to
 * override it (for example to empty for a static build). */
#ifndef OCIDIR_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define OCIDIR_API __attribute__((visibility("default")))
#else
#define OCIDIR_API
#endif
#endif

#define OCIDIR_VERSION_MAJOR 0
#define OCIDIR_VERSION_MINOR 5
#define OCIDIR_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH */
#define OCIDIR_VERSION_NUMBER \
    (OCIDIR_VERSION_MAJOR * 10000 + OCIDIR_VERSION_MINOR * 100 + OCIDIR_VERSION_PATCH)

/**
 * The version of the library actually loaded, as "MAJOR.MINOR.PATCH".
 * @return static text; never NULL.
 */
OCIDIR_API const char *ocidir_version(void);

/** Run-time twin of OCIDIR_VERSION_NUMBER, for bindings. */
OCIDIR_API unsigned ocidir_version_number(void);

/* Error codes.  Values are fixed and part of the ABI. */
#define OCIDIR_OK              0   /* success */
#define OCIDIR_E_INVALID     (-1)  /* bad argument: NULL where not allowed, unknown flag */
#define OCIDIR_E_IO          (-2)  /* an OS call failed; see ocidir_last_errno() */
#define OCIDIR_E_NOT_FOUND   (-3)  /* no such blob, tag, platform or file */
#define OCIDIR_E_DIGEST      (-4)  /* content does not hash to its digest */
#define OCIDIR_E_SIZE        (-5)  /* content length differs from the expected size */
#define OCIDIR_E_BAD_DIGEST  (-6)  /* digest string malformed */
#define OCIDIR_E_FORMAT      (-7)  /* not an OCI layout, malformed JSON, not a regular file */
#define OCIDIR_E_ESCAPE      (-8)  /* a path would resolve outside its directory */
#define OCIDIR_E_EXISTS      (-9)  /* already exists where that is an error */
#define OCIDIR_E_NOMEM      (-10)  /* out of memory */
#define OCIDIR_E_UNSUPPORTED (-11) /* unregistered digest algorithm, unsupported version */
#define OCIDIR_E_READONLY   (-12)  /* a write on a handle opened read-only */
#define OCIDIR_E_STATE      (-13)  /* object used after commit/abort/close, or out of order */
#define OCIDIR_E_TOO_LARGE  (-14)  /* content larger than the caller's or the library's limit */
#define OCIDIR_E_AMBIGUOUS  (-15)  /* a tag names several index.json entries; none is guessed */
#define OCIDIR_E_CANCELED   (-16)  /* a progress callback returned non-zero; nothing half-done is left */
#define OCIDIR_E_NOT_DURABLE (-17) /* the change is published (visible) but flushing it to disk failed:
                                      it may not survive a crash; ocidir_last_errno() has the errno */

/**
 * Static English text for an error code ("not found", ...).
 * @return never NULL; an unknown code gives "unknown error".
 */
OCIDIR_API const char *ocidir_strerror(int code);

/**
 * Detail of the last failure in the calling thread: what failed, which digest
 * or path, and the OS error text.  Successful calls do not clear it.
 * @return thread-local text, valid until the next failing call in this
 *         thread; "" if nothing has failed in this thread yet.  Never NULL.
 */
OCIDIR_API const char *ocidir_last_error(void);

/**
 * The OS errno behind the last OCIDIR_E_IO (or other OS-caused failure) in
 * the calling thread; 0 when the last failure had no OS cause.
 */
OCIDIR_API int ocidir_last_errno(void);

/** Free memory the library handed out.  NULL is accepted. */
OCIDIR_API void ocidir_free(void *p);

/** Free a NULL-terminated string vector the library handed out, and each
 *  string in it.  NULL is accepted. */
OCIDIR_API void ocidir_strv_free(char **v);

/* ======================================================================
 * 2. Digests
 * ====================================================================== */

typedef enum { OCIDIR_SHA256 = 0, OCIDIR_SHA512 = 1 } ocidir_digest_alg_t;

/* Size of a buffer that holds any digest this library produces, including
 * the NUL ("sha512:" + 128 hex + NUL = 136). */
#define OCIDIR_DIGEST_MAX 136

/** Run-time twin of OCIDIR_DIGEST_MAX, for bindings. */
OCIDIR_API size_t ocidir_digest_max(void);

/**
 * Check a digest string against the image-spec grammar
 * (`algorithm ":" encoded`, algorithm `[a-z0-9]+([+._-][a-z0-9]+)*`, encoded
 * `[a-zA-Z0-9=_-]+`) and the registered algorithms: `sha256` takes exactly 64
 * and `sha512` exactly 128 lowercase hex digits.
 *
 * @param digest NUL-terminated digest string.
 * @return 0 for a valid sha256/sha512 digest;
 *         OCIDIR_E_UNSUPPORTED for a grammatical digest of another algorithm
 *         (a manifest may mention one; only fetching it fails);
 *         OCIDIR_E_BAD_DIGEST for anything else (including a registered
 *         algorithm with a wrong encoding);
 *         OCIDIR_E_INVALID if digest is NULL.
 * Never touches the filesystem.
 */
OCIDIR_API int ocidir_digest_validate(const char *digest);

/**
 * Hash a buffer and format its digest.
 * @param alg        OCIDIR_SHA256 or OCIDIR_SHA512 (else OCIDIR_E_INVALID).
 * @param buf        the bytes; may be NULL only when len is 0.
 * @param digest_out receives "<alg>:<hex>" and a NUL; must not be NULL.
 */
OCIDIR_API int ocidir_digest_buffer(ocidir_digest_alg_t alg, const void *buf, size_t len,
                                    char digest_out[OCIDIR_DIGEST_MAX]);

/**
 * Name of the hash implementation in use: "libsodium" or "libcrypto"
 * (OpenSSL 3).  libsodium is always compiled in, libcrypto when the build
 * found it; the build's CMake option OCIDIR_HASH_BACKEND (auto, sodium,
 * openssl; auto prefers libcrypto) picks the default.  The environment
 * variable OCIDIR_HASH_BACKEND ("sodium" or "libsodium", "openssl" or
 * "libcrypto"; empty or unset: the default), read once per process before
 * the first hash, overrides it.  If it names a backend that is not compiled
 * in, this returns "none" and every operation that hashes fails with
 * OCIDIR_E_UNSUPPORTED, naming the variable.
 * @return static text; never NULL.
 */
OCIDIR_API const char *ocidir_hash_backend(void);

/**
 * Name of the gzip decoder in use for reading gzip layers: "isal" (ISA-L's
 * igzip inflate, several times faster than zlib on x86-64) or "zlib".  zlib
 * is always compiled in, ISA-L when the build found libisal; the build's
 * CMake option OCIDIR_INFLATE (auto, zlib, isal; auto prefers ISA-L) picks
 * the default.  The environment variable OCIDIR_INFLATE ("zlib" or "isal";
 * empty or unset: the default), read once per process before the first
 * gzip layer is opened, overrides it.  Both decoders check every member's
 * CRC-32 and ISIZE, read concatenated members, and fail with the same codes
 * (OCIDIR_E_FORMAT for corrupt or truncated data and for trailing garbage
 * after a member).  If the variable names a decoder that is not compiled
 * in, this returns "none" and opening a gzip layer fails with
 * OCIDIR_E_UNSUPPORTED, naming the variable.  Compressing uses zlib on one
 * thread, and libdeflate (when the build found it; else zlib) for parallel
 * gzip.  Thread-safe.
 * @return static text; never NULL.
 */
OCIDIR_API const char *ocidir_inflate_backend(void);

/* ======================================================================
 * 3. Layout
 * ====================================================================== */

/** An open layout directory.  Opaque. */
typedef struct ocidir ocidir_t;

/* Create oci-layout, index.json and blobs/sha256 if absent. */
#define OCIDIR_OPEN_CREATE (1u << 0)
/* No writes; never creates or removes anything. */
#define OCIDIR_OPEN_RDONLY (1u << 1)
/* Accept blobs/<alg> being a symlink that leads outside the layout (e.g. to a
 * shared cache).  It is opened once, at ocidir_open(), and everything beneath
 * it stays confined to it.  A /proc magic link on the way (such as a target
 * "/proc/self/cwd/...") is refused with OCIDIR_E_ESCAPE where openat2 is used
 * (ocidir_resolver_uses_openat2()). */
#define OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK (1u << 2)

/**
 * Open (or create) an OCI image layout.
 *
 * @param dirfd AT_FDCWD or an open directory fd (not closed, not kept: the
 *              library opens the layout directory itself).
 * @param path  the layout directory, relative to dirfd or absolute; NULL or
 *              "" means dirfd itself.  This path is the caller's choice and
 *              is followed like any path; everything *inside* the layout is
 *              then resolved beneath it.
 * @param flags OCIDIR_OPEN_* bits.
 * @param out   receives the handle; must not be NULL.
 *
 * @return 0, or:
 *   OCIDIR_E_INVALID     unknown flag, out NULL, or CREATE together with RDONLY;
 *   OCIDIR_E_NOT_FOUND   the directory does not exist (without CREATE);
 *   OCIDIR_E_FORMAT      no `oci-layout`, or one that is not a JSON object with
 *                        a string `imageLayoutVersion`; no `index.json` or no
 *                        `blobs/` directory; one of them not a regular
 *                        file / directory;
 *   OCIDIR_E_UNSUPPORTED a well-formed `oci-layout` whose version is not 1.x;
 *   OCIDIR_E_ESCAPE      `blobs/sha256` (or `blobs/sha512`) is a symlink that
 *                        leads outside the layout and
 *                        OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK was not given (the
 *                        message names both ways out: that flag, or opening
 *                        the directory yourself and passing it to
 *                        ocidir_add_blobdir_fd());
 *   OCIDIR_E_NOT_DURABLE (CREATE) a missing file was created, but flushing
 *                        its directory failed (the message names it); no
 *                        handle is returned, and opening again is safe;
 *   OCIDIR_E_IO          an OS call failed.
 *
 * With CREATE, a fresh layout gets `{"imageLayoutVersion":"1.0.0"}`, the empty
 * index and `blobs/sha256/`; each file is published atomically (written in
 * full, flushed, then named) so a crash never leaves a half-written one, and
 * two processes creating the same layout at once both succeed.  Existing
 * files are validated, never overwritten.
 *
 * A writable open removes temporary files that crashed writers left in the
 * layout's blob directories; a file still owned by a live writer (in any
 * process) is never touched.
 */
OCIDIR_API int ocidir_open(int dirfd, const char *path, unsigned flags, ocidir_t **out);

/** Close a layout handle and every fd it holds.  NULL is accepted.  All
 *  readers and writers made from it must be closed or committed first. */
OCIDIR_API void ocidir_close(ocidir_t *d);

/** Non-zero if the handle was opened with OCIDIR_OPEN_RDONLY. */
OCIDIR_API int ocidir_is_readonly(const ocidir_t *d);

/**
 * Bound on the size of any JSON document read through this handle
 * (`index.json`, manifests, indexes, configs).  The default is 64 MiB; a
 * larger document is OCIDIR_E_TOO_LARGE before it is read.  Not safe to call
 * while other threads use the handle.
 * @param max_bytes the new bound (>= 2); 0 restores the default.
 * @return 0, or OCIDIR_E_INVALID (d NULL, max_bytes 1).
 */
OCIDIR_API int ocidir_set_json_limit(ocidir_t *d, size_t max_bytes);

/** Non-zero if the library resolves paths with openat2(2) in this process;
 *  zero when it uses the O_NOFOLLOW component walk (kernel without openat2,
 *  a seccomp filter refusing it, or OCIDIR_FORCE_RESOLVE_FALLBACK=1 set in
 *  the environment when the library was first used). */
OCIDIR_API int ocidir_resolver_uses_openat2(void);

/* ======================================================================
 * 4. Shared cache: external blob directories
 * ====================================================================== */

/* New blobs are written into this directory, not into the layout's blobs/. */
#define OCIDIR_BLOBDIR_WRITE (1u << 0)

/**
 * Add an external blob directory, laid out like a layout's `blobs/`: it holds
 * `sha256/<hex>` (and `sha512/<hex>`).  This is the shape of skopeo's
 * `--dest-shared-blob-dir` and of LXC's `/var/cache/lxc`.
 *
 * Reads look in the layout's own `blobs/` first, then in each added directory
 * in the order added.  Every lookup is confined beneath `fd`.
 *
 * With OCIDIR_BLOBDIR_WRITE, new blobs are created inside this directory,
 * temporary file included, so a commit never crosses a mount.  The last
 * directory added with the flag is the write target.  Adding it removes
 * temporary files that crashed writers left in its `sha256/` and `sha512/`
 * (never one a live writer owns).
 *
 * Nothing in an added directory is ever removed by ocidir_blob_remove().
 *
 * @param fd    an open directory fd; the library keeps a duplicate
 *              (F_DUPFD_CLOEXEC) and never closes the caller's.
 * @param flags 0 or OCIDIR_BLOBDIR_WRITE.
 * @return 0, or OCIDIR_E_INVALID (d NULL, fd not a directory, unknown flag),
 *         OCIDIR_E_READONLY (WRITE on a read-only handle), OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_add_blobdir_fd(ocidir_t *d, int fd, unsigned flags);

/* ======================================================================
 * 5. Blobs
 * ====================================================================== */

/** A blob being written.  Opaque; belongs to one thread at a time. */
typedef struct ocidir_blob_writer ocidir_blob_writer_t;

/*
 * Blob put options (a versioned struct, see the conventions).
 *
 * When a commit finds a blob of its digest already stored under its name, it
 * compares that file's size with the number of bytes just written and
 * verified.  A file of another size (truncated, say) is replaced by the new
 * bytes with one rename over it, so that the name never stops naming a
 * complete blob.  A file of the same size is by default trusted without
 * being read again: re-hashing it would make every re-import of a layer cost
 * a second full read of it.  OCIDIR_PUT_VERIFY_EXISTING re-hashes such a
 * file and replaces it in the same way when its content does not match its
 * name; this is the call that repairs a corrupted blob of the right size
 * (ocidir_fsck() finds them).
 *
 * A blob that is not yet stored gets the mode 0644 minus the process umask
 * (as open(2) with O_CREAT gives it), owned by the calling user.
 */
#define OCIDIR_PUT_VERIFY_EXISTING (1u << 0) /* re-hash an existing same-size blob; replace it if it does not match */
typedef struct {
    size_t struct_size;      /* sizeof(ocidir_put_options_t) as the caller compiled it */
    ocidir_digest_alg_t alg; /* the digest algorithm; default OCIDIR_SHA256 */
    unsigned flags;          /* OCIDIR_PUT_* bits; default 0 */
} ocidir_put_options_t;
#define OCIDIR_PUT_OPTIONS_INIT { sizeof(ocidir_put_options_t), OCIDIR_SHA256, 0 }

/**
 * Fill `opts` with the defaults (OCIDIR_SHA256, no flags), for callers that
 * cannot use OCIDIR_PUT_OPTIONS_INIT (bindings).
 * @param struct_size sizeof(*opts) as the caller compiled it.
 * @return 0, or OCIDIR_E_INVALID (opts NULL, or struct_size smaller than the
 *         struct_size field).  Thread-safe (touches only *opts).
 */
OCIDIR_API int ocidir_put_options_init(ocidir_put_options_t *opts, size_t struct_size);

/**
 * Start writing a blob.  The content is hashed as it is written into a
 * temporary file created in the target blob directory itself (the layout's
 * `blobs/<alg>/`, the followed symlinked one, or the write-target blob
 * directory): an unnamed O_TMPFILE where the filesystem supports it, else a
 * uniquely named `.ocidir-tmp-*` file held under flock(2) while it lives.
 * Nothing is visible under `blobs/<alg>/<hex>` before a successful commit.
 *
 * @param alg OCIDIR_SHA256 or OCIDIR_SHA512.
 * @param out receives the writer; must not be NULL.
 * @return 0, OCIDIR_E_INVALID, OCIDIR_E_READONLY, OCIDIR_E_ESCAPE (the blob
 *         directory resolves outside its root), OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_blob_writer_new(ocidir_t *d, ocidir_digest_alg_t alg,
                                      ocidir_blob_writer_t **out);

/**
 * ocidir_blob_writer_new() with options: the algorithm is `opts->alg` and the
 * commit honours `opts->flags` (see ocidir_put_options_t).  NULL opts means
 * the defaults (sha256, no flags).  ocidir_blob_writer_new(d, alg, out) is
 * this call with opts { alg, 0 }.
 * @return as ocidir_blob_writer_new(); OCIDIR_E_INVALID also for an unknown
 *         algorithm or flag, a struct_size smaller than its field, or
 *         non-zero bytes past the struct this library knows.
 */
OCIDIR_API int ocidir_blob_writer_new_opts(ocidir_t *d, const ocidir_put_options_t *opts,
                                           ocidir_blob_writer_t **out);

/**
 * Declare what the content must be.  Checked at commit.
 * @param digest the expected digest, or NULL to check the size only.  A digest
 *               of another algorithm than the writer's is OCIDIR_E_INVALID.
 * @param size   the expected length, or -1 for unknown.  Writing more than
 *               this many bytes fails at once with OCIDIR_E_SIZE.
 * @return 0, OCIDIR_E_INVALID, OCIDIR_E_BAD_DIGEST, OCIDIR_E_UNSUPPORTED,
 *         OCIDIR_E_STATE (after a write, or a second expect).
 */
OCIDIR_API int ocidir_blob_writer_expect(ocidir_blob_writer_t *w, const char *digest,
                                         int64_t size);

/**
 * Append bytes.  On failure the writer is poisoned: later writes and commit
 * fail with OCIDIR_E_STATE; only abort is useful.
 *
 * Threads: a write of 256 KiB or more, when the process may run on more
 * than one CPU, is written to the file by a helper thread of the writer's
 * (started at the first such write, joined at the commit or abort) while the
 * calling thread hashes the same bytes; the call returns once both are
 * done, so `buf` is the caller's again on return, and nothing is copied.
 * Smaller writes are coalesced in the writer's buffer.  A layer writer's
 * blob writes the same way.
 * @return 0, OCIDIR_E_INVALID (buf NULL with len > 0), OCIDIR_E_SIZE (past the
 *         expected size), OCIDIR_E_STATE, OCIDIR_E_IO (e.g. ENOSPC).
 */
OCIDIR_API int ocidir_blob_writer_write(ocidir_blob_writer_t *w, const void *buf, size_t len);

/**
 * Finish: check the expectations, flush the data to disk, give the file its
 * name `<alg>/<hex>` without replacing anything, flush the directory.  A
 * crash at any moment leaves either no blob or the whole blob.
 *
 * If a file of that digest already exists under the name, it is kept when
 * its size is the size just written (and, with OCIDIR_PUT_VERIFY_EXISTING,
 * when its content hashes to its name); otherwise it is replaced by the new,
 * verified bytes with one rename over it: a reader opening the name finds
 * the old file or the new one, never nothing.  A kept blob's modification
 * time is set to now (gc's grace period counts from this commit).
 *
 * The writer is freed whether commit succeeds or fails.  On failure other
 * than OCIDIR_E_NOT_DURABLE nothing is left behind (no new blob, no
 * temporary file; an existing blob is as it was).
 *
 * @param digest_out receives the digest; may be NULL.
 * @param size_out   receives the length; may be NULL.
 * @return 0, OCIDIR_E_DIGEST / OCIDIR_E_SIZE (expectation not met),
 *         OCIDIR_E_STATE (the writer failed earlier), OCIDIR_E_FORMAT
 *         (something other than a regular file, e.g. a symlink or a FIFO,
 *         has the blob's name; nothing is stored), OCIDIR_E_NOT_FOUND (an
 *         existing blob of that digest was removed, by a concurrent gc, each
 *         time the commit tried to keep or replace it: write it again),
 *         OCIDIR_E_IO;
 *         OCIDIR_E_NOT_DURABLE: the blob was published (or repaired, or
 *         found and kept) under its name, complete, verified and its data
 *         flushed, and readers see it; only the flush of the directory failed (the message names the
 *         directory and the errno, also in ocidir_last_errno()), so after a
 *         crash the name may be absent (or name the replaced file) again.
 *         digest_out and size_out are written in this case too; committing
 *         the same content again is safe.
 */
OCIDIR_API int ocidir_blob_writer_commit(ocidir_blob_writer_t *w,
                                         char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out);

/** Discard everything written and free the writer.  NULL is accepted. */
OCIDIR_API void ocidir_blob_writer_abort(ocidir_blob_writer_t *w);

/**
 * Store a buffer as a sha256 blob (writer_new + write + commit).
 * @param digest_out receives the digest; may be NULL.
 * @return as ocidir_blob_writer_commit(), and OCIDIR_E_INVALID (buf NULL
 *         with len > 0).
 */
OCIDIR_API int ocidir_blob_put(ocidir_t *d, const void *buf, size_t len,
                               char digest_out[OCIDIR_DIGEST_MAX]);

/**
 * ocidir_blob_put() with options: `opts->alg` and `opts->flags` (NULL: the
 * defaults, which make it ocidir_blob_put()).
 * @return as ocidir_blob_put(); OCIDIR_E_INVALID also for an unknown
 *         algorithm or flag or a bad struct_size.
 */
OCIDIR_API int ocidir_blob_put_opts(ocidir_t *d, const void *buf, size_t len,
                                    const ocidir_put_options_t *opts,
                                    char digest_out[OCIDIR_DIGEST_MAX]);

/**
 * Store the content of `fd`, from its current offset to its end, as a sha256
 * blob.  The fd is not closed; its offset is left at the end.  Regular files
 * are copied with copy_file_range(2) where the kernel can (reflinks on
 * filesystems that share extents), and the digest is computed over the
 * copy, so it always describes the bytes stored even if the source changes
 * meanwhile.  Other fds (pipes, sockets) are read and written.  The copy is
 * hashed with read(2), never through a shared mapping, so a temporary file
 * truncated by another process is an error (OCIDIR_E_IO), not a SIGBUS.
 * @param digest_out may be NULL; @param size_out may be NULL.
 * @return as ocidir_blob_writer_commit(); OCIDIR_E_IO also when reading `fd`
 *         fails or the temporary copy shrinks while it is hashed.
 */
OCIDIR_API int ocidir_blob_put_fd(ocidir_t *d, int fd, char digest_out[OCIDIR_DIGEST_MAX],
                                  uint64_t *size_out);

/**
 * ocidir_blob_put_fd() with options: `opts->alg` and `opts->flags` (NULL:
 * the defaults, which make it ocidir_blob_put_fd()).
 * @return as ocidir_blob_put_fd(); OCIDIR_E_INVALID also for an unknown
 *         algorithm or flag or a bad struct_size.
 */
OCIDIR_API int ocidir_blob_put_fd_opts(ocidir_t *d, int fd, const ocidir_put_options_t *opts,
                                       char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out);

/** A verified blob stream.  Opaque; belongs to one thread at a time. */
typedef struct ocidir_blob_reader ocidir_blob_reader_t;

/**
 * Size of a blob present in the layout's own `blobs/` or an added directory.
 * @param size_out may be NULL.
 * @return 0; OCIDIR_E_NOT_FOUND if absent everywhere; OCIDIR_E_FORMAT if the
 *         entry is not a regular file; OCIDIR_E_ESCAPE; OCIDIR_E_BAD_DIGEST;
 *         OCIDIR_E_UNSUPPORTED.  Does not verify the content.
 */
OCIDIR_API int ocidir_blob_stat(ocidir_t *d, const char *digest, uint64_t *size_out);

/**
 * Open a blob for verified streaming.
 * @param expected_size the size the caller expects (from a descriptor), or -1.
 *                      A file of another size fails here with OCIDIR_E_SIZE.
 * @param out receives the reader; must not be NULL.
 * @return 0, OCIDIR_E_NOT_FOUND, OCIDIR_E_SIZE, OCIDIR_E_FORMAT (not a regular
 *         file: FIFO, socket, device or directory; never blocks),
 *         OCIDIR_E_ESCAPE, OCIDIR_E_BAD_DIGEST, OCIDIR_E_UNSUPPORTED, OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_blob_open(ocidir_t *d, const char *digest, int64_t expected_size,
                                ocidir_blob_reader_t **out);

/**
 * Read up to len bytes (len > 0; a zero len is OCIDIR_E_INVALID and leaves
 * the reader as it was).
 * @return bytes read (> 0); 0 at the end, only once the whole content hashed to
 *         its digest; or a negative code: OCIDIR_E_DIGEST (the content does
 *         not match), OCIDIR_E_SIZE (the file is shorter or longer than when
 *         it was opened), OCIDIR_E_IO, OCIDIR_E_INVALID.  Errors are sticky:
 *         every later call returns the same code.  Bytes past the blob's size
 *         are never handed out.
 */
OCIDIR_API ssize_t ocidir_blob_reader_read(ocidir_blob_reader_t *r, void *buf, size_t len);

/** Size of the blob being read (as found at open). */
OCIDIR_API uint64_t ocidir_blob_reader_size(const ocidir_blob_reader_t *r);

/** Close a reader.  NULL is accepted. */
OCIDIR_API void ocidir_blob_reader_close(ocidir_blob_reader_t *r);

/**
 * Read and verify a whole blob into memory.
 * @param expected_size as for ocidir_blob_open(), or -1.
 * @param max_len       a blob larger than this is OCIDIR_E_TOO_LARGE, before
 *                      anything is read.
 * @param buf_out       receives the content (freed with ocidir_free(); an empty
 *                      blob gives a valid 1-byte allocation); must not be NULL.
 * @param len_out       receives the length; may be NULL.
 * @return as ocidir_blob_open() and ocidir_blob_reader_read(), plus
 *         OCIDIR_E_TOO_LARGE and OCIDIR_E_NOMEM.  Nothing is written to the
 *         out-parameters unless the content verified.
 */
OCIDIR_API int ocidir_blob_read_all(ocidir_t *d, const char *digest, int64_t expected_size,
                                    size_t max_len, void **buf_out, size_t *len_out);

/**
 * A raw, read-only fd of a blob (O_RDONLY | O_CLOEXEC), for mmap, sendfile
 * or fs-verity ioctls.  Its content is NOT verified by the library.  The
 * file type is checked (regular files only) before it is opened.
 * @param fd_out receives the fd; the caller closes it.  Must not be NULL.
 */
OCIDIR_API int ocidir_blob_open_fd(ocidir_t *d, const char *digest, int *fd_out);

/**
 * Remove a blob from the layout's own `blobs/<alg>/` and flush the directory.
 * Never modifies an added directory or the target of a followed
 * `blobs/<alg>` symlink: a blob that lives only there is OCIDIR_E_NOT_FOUND
 * with a message saying where it lives.
 * @return 0, OCIDIR_E_NOT_FOUND, OCIDIR_E_READONLY, OCIDIR_E_BAD_DIGEST,
 *         OCIDIR_E_UNSUPPORTED, OCIDIR_E_ESCAPE, OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_blob_remove(ocidir_t *d, const char *digest);

/* ======================================================================
 * 6. Index and tags
 * ====================================================================== */

/*
 * A tag is the `org.opencontainers.image.ref.name` annotation of an
 * `index.json` entry.  Its grammar is the image-spec's:
 * `component ("/" component)*`, component `[A-Za-z0-9]+(([-._:@+]|--)[A-Za-z0-9]+)*`.
 * A ref is a tag, or a digest ("sha256:<hex>", "sha512:<hex>") naming a
 * manifest or index blob directly.
 *
 * Every change to `index.json` is a read-modify-write done while holding an
 * exclusive flock(2) on `.ocidir.lock` in the layout root (a file created
 * once and never replaced, so the lock survives the replacement of
 * `index.json`), and is published atomically: a temporary file is written and
 * fsync'd, renamed over `index.json`, and the directory is fsync'd.  Readers
 * take no lock: they always see the old or the new `index.json`, whole.  The
 * new `index.json` keeps the permission bits of the one it replaces (its
 * owner is the writing user).
 *
 * Every call that changes `index.json` may return OCIDIR_E_NOT_DURABLE: the
 * new `index.json` was renamed into place, so every reader sees the change,
 * but flushing the layout directory failed (the message names it and the
 * errno, also in ocidir_last_errno()).  Its content was flushed before the
 * rename, so after a crash `index.json` is the old or the new one, whole.
 * On any other failure `index.json` is unchanged.
 * Entries this library does not understand are kept as they are, but the
 * file itself is written back in canonical JSON (sorted keys, no whitespace).
 * A temporary file left by a writer that crashed (`.ocidir-index-*`) is
 * removed by the next update, or by a writable ocidir_open() when no writer
 * holds the lock.
 *
 * In documents read from the layout (index.json, manifests, indexes), a
 * descriptor whose digest does not fit the digest grammar is a schema
 * violation: OCIDIR_E_FORMAT.  A digest passed as an argument is
 * OCIDIR_E_BAD_DIGEST.
 *
 * Nested indexes: every reader of the graph (ocidir_image_open(),
 * ocidir_referrers(), the checks of ocidir_tag_set() and ocidir_index_add(),
 * ocidir_fsck(), ocidir_gc(), ocidir_cache_gc(), ocidir_clone()) walks it the
 * same way and follows indexes at most OCIDIR_MAX_INDEX_DEPTH levels deep.
 * An index's level is the length of the longest chain of indexes that leads
 * to it, itself included: an index that `index.json` (or the ref) names is at
 * level 1, an index it lists at level 2.  An index above the limit is never
 * read and is OCIDIR_E_FORMAT for every one of them (fsck: a
 * OCIDIR_FIND_FORMAT finding naming it; gc and clone refuse the layout; an
 * image search refuses it when the search reaches it).
 */

/** The deepest level of nested indexes any function follows (see above). */
#define OCIDIR_MAX_INDEX_DEPTH 16

/** Fail instead of moving a tag that already exists (OCIDIR_E_EXISTS). */
#define OCIDIR_TAG_NOREPLACE (1u << 0)

/** The annotation that carries a tag. */
#define OCIDIR_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/**
 * Check a tag against the ref.name grammar.
 * @return 0, or OCIDIR_E_INVALID (NULL or not grammatical).
 */
OCIDIR_API int ocidir_tag_validate(const char *tag);

/**
 * The tags in `index.json`, in file order, each once.
 * @param tags_out receives a NULL-terminated vector (freed with
 *                 ocidir_strv_free()); an index without tags gives an empty
 *                 vector.  Must not be NULL.
 * @return 0, OCIDIR_E_FORMAT (index.json malformed), OCIDIR_E_TOO_LARGE,
 *         OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_tag_list(ocidir_t *d, char ***tags_out);

/**
 * Resolve a ref to the descriptor of a manifest or an index.  A tag is looked
 * up in `index.json` only (no blob is read); a digest names a blob directly,
 * whose media type is then read from the blob itself (verified).  A ref of a
 * registered digest's form is always a digest, even where another tool wrote
 * a tag of that spelling (ocidir_tag_set() refuses to write one).
 *
 * Memory: a thread that looks up a tag keeps the lookup's JSON parser for
 * its next lookup (through this call, ocidir_image_open(),
 * ocidir_image_ref_descriptor() or any other that resolves a tag), so that
 * its buffers are not allocated and faulted in again each time.  Their size
 * follows the largest `index.json` of at most 32 MiB the thread has read
 * (a larger one gets a parser freed after the call); they are freed when the
 * thread exits.
 * @param digest_out     the descriptor's digest; may be NULL.
 * @param media_type_out the descriptor's media type (freed with ocidir_free());
 *                       may be NULL.
 * @param size_out       the descriptor's size; may be NULL.
 * @return 0; OCIDIR_E_NOT_FOUND (no such tag, or no such blob);
 *         OCIDIR_E_AMBIGUOUS (several entries carry the tag; the message lists
 *         their digests); OCIDIR_E_INVALID (a ref that is neither a tag nor a
 *         digest); OCIDIR_E_FORMAT; OCIDIR_E_BAD_DIGEST; OCIDIR_E_UNSUPPORTED.
 */
OCIDIR_API int ocidir_resolve(ocidir_t *d, const char *ref, char digest_out[OCIDIR_DIGEST_MAX],
                              char **media_type_out, uint64_t *size_out);

/**
 * Point a tag at a manifest or index blob that is present (in the layout or
 * an added directory).  The blob is read and verified, its media type taken
 * from its `mediaType` field (an image manifest when absent and it has
 * `config`, an index when it has `manifests`).  An existing entry with that
 * tag is replaced in place (its position kept); otherwise the entry is
 * appended.  Under the index lock, the blob and every blob it references
 * (config, layers, nested manifests and indexes, to OCIDIR_MAX_INDEX_DEPTH)
 * that was present when the call began must still be present: a concurrent
 * gc may have removed one meanwhile.  A referenced blob absent from the start
 * does not stop the call (an index may be stored without all its platforms:
 * fsck, gc and clone treat such an index as a notice,
 * OCIDIR_FIND_ABSENT_CHILD, not as damage).  An index nesting indexes deeper
 * than OCIDIR_MAX_INDEX_DEPTH is refused (OCIDIR_E_FORMAT).
 *
 * Moving a tag keeps what the caller did not ask to change.  When the tag's
 * entry already names `digest`, the entry is kept whole (its `platform`,
 * `annotations`, `urls`, `artifactType` and fields this library does not
 * know); only `mediaType` and `size` are set from the blob.  When the tag
 * moves to another digest, the entry's annotations other than the ref name
 * are kept (they were attached to the tag, not to the blob), and every
 * descriptor field is the new blob's: `platform` is dropped, because it
 * described the old manifest (set it again with another tool when needed).
 * @param flags 0 or OCIDIR_TAG_NOREPLACE.
 * @return 0; OCIDIR_E_INVALID (bad tag grammar, a tag spelled like a
 *         registered digest such as "sha256:<64 hex>", unknown flag);
 *         OCIDIR_E_EXISTS (NOREPLACE and the tag exists); OCIDIR_E_AMBIGUOUS
 *         (several entries carry it already); OCIDIR_E_NOT_FOUND (no such
 *         blob, or a blob it references was removed while the call ran);
 *         OCIDIR_E_BAD_DIGEST / OCIDIR_E_UNSUPPORTED (the digest
 *         argument); OCIDIR_E_FORMAT (the blob is not a manifest or index,
 *         or it nests indexes deeper than OCIDIR_MAX_INDEX_DEPTH);
 *         OCIDIR_E_READONLY; OCIDIR_E_IO; OCIDIR_E_NOT_DURABLE (the
 *         change is made, see above).  On any other failure `index.json` is
 *         unchanged.
 */
OCIDIR_API int ocidir_tag_set(ocidir_t *d, const char *tag, const char *digest, unsigned flags);

/**
 * Remove the `index.json` entry that carries `tag` (the whole entry, as
 * umoci does; blobs are not touched).
 * @return 0; OCIDIR_E_NOT_FOUND; OCIDIR_E_AMBIGUOUS; OCIDIR_E_INVALID;
 *         OCIDIR_E_READONLY; OCIDIR_E_FORMAT; OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_tag_remove(ocidir_t *d, const char *tag);

/**
 * Add an untagged `index.json` entry for a manifest or index blob that is
 * present (verified as for ocidir_tag_set()).  Nothing changes when an
 * untagged entry with that digest exists already.
 * @return as ocidir_tag_set().
 */
OCIDIR_API int ocidir_index_add(ocidir_t *d, const char *digest);

/* ======================================================================
 * 7. Images
 * ====================================================================== */

/**
 * An image: one manifest, its config and its layers.  Immutable.  The
 * ocidir_t it was opened from must stay open until the image is closed (the
 * same holds for builders).
 */
typedef struct ocidir_image ocidir_image_t;

/**
 * The platform of the running machine in Go's names ("linux/amd64",
 * "linux/arm64", "linux/arm/v7"), as a static string.
 */
OCIDIR_API const char *ocidir_platform_default(void);

/**
 * Open the image that `ref` names for a platform.
 *
 * When the ref names an index, its entries are searched in order, through
 * nested indexes (depth-first, at most OCIDIR_MAX_INDEX_DEPTH levels: a
 * deeper index the search reaches is OCIDIR_E_FORMAT), and the first manifest whose
 * platform matches wins.  An entry without `platform` is matched by reading
 * its manifest's config (`os`, `architecture`, `variant`).  A platform matches
 * when os and architecture are equal and, if the wanted platform names a
 * variant, the variants are equal too (arm64 and arm64/v8 are the same, as
 * containerd has it).  When the ref names a manifest
 * directly, its config's platform is not checked.
 *
 * The manifest and config are read whole, verified against their digests and
 * sizes, and checked against the image-spec (media-type confusion, negative
 * sizes, malformed digests, inline `data` that does not match).
 *
 * @param platform "os/arch[/variant]", or NULL for ocidir_platform_default().
 * @param out      receives the image (ocidir_image_close()); must not be NULL.
 * @return 0; OCIDIR_E_NOT_FOUND (no such tag or blob, or no manifest for the
 *         platform: the message lists the platforms that exist);
 *         OCIDIR_E_AMBIGUOUS; OCIDIR_E_INVALID (bad ref or platform string);
 *         OCIDIR_E_FORMAT (malformed JSON or schema); OCIDIR_E_DIGEST;
 *         OCIDIR_E_SIZE; OCIDIR_E_TOO_LARGE; OCIDIR_E_UNSUPPORTED; OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_image_open(ocidir_t *d, const char *ref, const char *platform,
                                 ocidir_image_t **out);

/** Close an image.  NULL is accepted. */
OCIDIR_API void ocidir_image_close(ocidir_image_t *img);

/**
 * The manifest's digest (copied into digest_out) and its raw, verified bytes
 * (borrowed: valid until ocidir_image_close()).
 * @param buf_out, len_out may be NULL.
 */
OCIDIR_API int ocidir_image_manifest(const ocidir_image_t *img, char digest_out[OCIDIR_DIGEST_MAX],
                                     const void **buf_out, size_t *len_out);

/**
 * The descriptor the image's ref named when it was opened: the index.json
 * entry of a tag, or what the blob of a digest is.  It is the manifest's when
 * the ref named the manifest, the index's when the ref named an index the
 * manifest was chosen from.  (The same as ocidir_resolve() of the ref at
 * ocidir_image_open() time, without reading index.json again.)
 * Thread-safe on a shared image (it only reads).
 * @param digest_out receives the digest; may be NULL.
 * @param media_type_out freed with ocidir_free(); may be NULL.
 * @param size_out may be NULL.
 * @return 0; OCIDIR_E_INVALID (img NULL); OCIDIR_E_NOMEM.
 */
OCIDIR_API int ocidir_image_ref_descriptor(const ocidir_image_t *img, char digest_out[OCIDIR_DIGEST_MAX],
                                           char **media_type_out, uint64_t *size_out);

/**
 * The manifest's config descriptor.
 * @param media_type_out freed with ocidir_free(); may be NULL.
 * @param digest_out, size_out may be NULL.
 */
OCIDIR_API int ocidir_image_config_descriptor(const ocidir_image_t *img, char **media_type_out,
                                              char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out);

/**
 * 1 when the config is the empty descriptor (`application/vnd.oci.empty.v1+json`,
 * as artifacts and PuzzleFS images use), 0 otherwise.
 */
OCIDIR_API int ocidir_image_config_is_empty(const ocidir_image_t *img);

/** The manifest's `artifactType`, borrowed, or NULL when absent. */
OCIDIR_API const char *ocidir_image_artifact_type(const ocidir_image_t *img);

/** Number of layers in the manifest. */
OCIDIR_API size_t ocidir_image_layer_count(const ocidir_image_t *img);

/**
 * Layer `index` (0-based, in manifest order).
 * @param media_type_out freed with ocidir_free(); may be NULL.
 * @param digest_out, size_out may be NULL.
 * @return 0, or OCIDIR_E_NOT_FOUND for an index past the end.
 */
OCIDIR_API int ocidir_image_layer(const ocidir_image_t *img, size_t index, char **media_type_out,
                                  char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out);

/* The `layer` argument of ocidir_image_annotations() that means the manifest. */
#define OCIDIR_MANIFEST ((size_t)-1)

/**
 * Annotations as a NULL-terminated vector of alternating keys and values
 * ("k1", "v1", "k2", "v2", ..., NULL), sorted by key, freed with
 * ocidir_strv_free().
 * @param layer the layer index, or (size_t)-1 (OCIDIR_MANIFEST) for the
 *              manifest's own annotations.
 * @return 0 (an empty vector when there are none), OCIDIR_E_NOT_FOUND (no such layer).
 */
OCIDIR_API int ocidir_image_annotations(const ocidir_image_t *img, size_t layer, char ***kv_out);

/** The config fields with accessors.  Values fixed. */
typedef enum {
    OCIDIR_CONFIG_ENTRYPOINT = 0,   /* config.Entrypoint   string array */
    OCIDIR_CONFIG_CMD = 1,          /* config.Cmd          string array */
    OCIDIR_CONFIG_ENV = 2,          /* config.Env          string array ("K=V") */
    OCIDIR_CONFIG_DIFF_IDS = 3,     /* rootfs.diff_ids     string array */
    OCIDIR_CONFIG_USER = 4,         /* config.User         string */
    OCIDIR_CONFIG_WORKING_DIR = 5,  /* config.WorkingDir   string */
    OCIDIR_CONFIG_OS = 6,           /* os                  string */
    OCIDIR_CONFIG_ARCHITECTURE = 7, /* architecture        string */
    OCIDIR_CONFIG_VARIANT = 8,      /* variant             string */
    OCIDIR_CONFIG_CREATED = 9,      /* created             string */
    OCIDIR_CONFIG_STOP_SIGNAL = 10  /* config.StopSignal   string */
} ocidir_config_field_t;

/**
 * A string-array config field (ENTRYPOINT, CMD, ENV, DIFF_IDS).
 * @param strv_out receives a NULL-terminated vector (ocidir_strv_free()), or
 *                 NULL when the field is absent or null (an empty array gives
 *                 an empty vector).  Must not be NULL.
 * @return 0; OCIDIR_E_INVALID (not an array field); OCIDIR_E_NOT_FOUND (the
 *         image has no parsed config: empty descriptor or a config of another
 *         media type).
 */
OCIDIR_API int ocidir_image_config_strv(const ocidir_image_t *img, ocidir_config_field_t field,
                                        char ***strv_out);

/**
 * A string config field (USER, WORKING_DIR, OS, ARCHITECTURE, VARIANT,
 * CREATED, STOP_SIGNAL).
 * @param str_out receives a copy (ocidir_free()), or NULL when absent.  Must
 *                not be NULL.
 * @return as ocidir_image_config_strv().
 */
OCIDIR_API int ocidir_image_config_string(const ocidir_image_t *img, ocidir_config_field_t field,
                                          char **str_out);

/**
 * config.Labels as alternating keys and values, sorted by key (see
 * ocidir_image_annotations()); an empty vector when there are none.
 */
OCIDIR_API int ocidir_image_config_labels(const ocidir_image_t *img, char ***kv_out);

/**
 * The raw, verified config bytes (borrowed: valid until ocidir_image_close()),
 * for every field without an accessor, whatever the config's media type (the
 * empty descriptor gives its two bytes `{}`).
 * @param buf_out, len_out may be NULL.
 */
OCIDIR_API int ocidir_image_config_raw(const ocidir_image_t *img, const void **buf_out, size_t *len_out);

/**
 * The manifests whose `subject` is `digest` (OCI referrers), found among the
 * manifests that `index.json` lists, directly or through nested indexes (at
 * most OCIDIR_MAX_INDEX_DEPTH levels: a deeper one is OCIDIR_E_FORMAT).
 * @param artifact_type only those with this artifactType (or, when absent,
 *                      config media type); NULL for all.
 * @param digests_out   NULL-terminated vector of digests (ocidir_strv_free()),
 *                      in index order, each once.
 */
OCIDIR_API int ocidir_referrers(ocidir_t *d, const char *digest, const char *artifact_type,
                                char ***digests_out);

/* ======================================================================
 * 8. Layers
 * ====================================================================== */

typedef enum {
    OCIDIR_COMPRESSION_NONE = 0, /* application/vnd.oci.image.layer.v1.tar */
    OCIDIR_COMPRESSION_GZIP = 1, /* application/vnd.oci.image.layer.v1.tar+gzip */
    OCIDIR_COMPRESSION_ZSTD = 2  /* application/vnd.oci.image.layer.v1.tar+zstd */
} ocidir_compression_t;

/** The layer media type for a compression, static; NULL for an unknown value. */
OCIDIR_API const char *ocidir_compression_media_type(ocidir_compression_t c);

/** A compressing layer writer.  Belongs to one thread at a time. */
typedef struct ocidir_layer_writer ocidir_layer_writer_t;

/**
 * Start a layer.  The uncompressed (tar) stream written to it is hashed for
 * the diff_id while the compressed stream is written to a blob writer (the
 * blob digest), in one pass.  An uncompressed layer with a sha256 blob digest
 * is hashed once: its blob is the tar stream, so the diff_id is the blob
 * digest (a sha512 blob is hashed with both algorithms).
 * @param level   compression level; 0 picks the default (gzip 6, zstd 3).
 *                gzip takes 1..9, zstd 1..19, none only 0; other values are
 *                OCIDIR_E_INVALID.
 * @param threads must be 0 for none.  zstd: worker threads, 0..64 (0:
 *                compress in the calling thread; both digests are always
 *                computed on the calling thread); zstd's multithreaded
 *                output differs from its single-threaded output, so the
 *                same tar gives the same blob digest only with the same
 *                level and the same choice of 0 or > 0 threads (1 worker
 *                or 8, the same blob).  gzip: 0..64 (0: one
 *                per online CPU); 1 compresses in the calling thread as one
 *                zlib stream; 0 or more than 1 cut the input into blocks
 *                (512 KiB compressed with libdeflate when the library was
 *                built with it, else 128 KiB with zlib) compressed in
 *                parallel and joined into one gzip member (as pigz does),
 *                whose bytes depend on the level and that deflate library
 *                only, not on the number of threads or the machine.  gzip
 *                output has no name and mtime 0, so the same tar, level,
 *                choice of 1 or not 1 thread and library build give the same
 *                blob digest.
 * @return 0, OCIDIR_E_INVALID, OCIDIR_E_UNSUPPORTED (unknown compression),
 *         OCIDIR_E_READONLY, OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_layer_writer_new(ocidir_t *d, ocidir_compression_t compression, int level,
                                       int threads, ocidir_layer_writer_t **out);

/** Options of ocidir_layer_writer_new_opts(); see "Options" above. */
typedef struct {
    size_t struct_size;               /* sizeof(ocidir_layer_writer_options_t) */
    ocidir_compression_t compression; /* default OCIDIR_COMPRESSION_GZIP */
    int level;                        /* as ocidir_layer_writer_new(); default 0 */
    int threads;                      /* as ocidir_layer_writer_new(); default 0 */
    ocidir_digest_alg_t alg;          /* the blob digest's algorithm (the diff_id is
                                         always sha256); default OCIDIR_SHA256 */
    int zstd_window_log;              /* zstd only: log2 of the window, 10..27; 0 (the
                                         default) takes zstd's for the level.  A reader
                                         accepts windows up to 2^27 (128 MiB). */
    int zstd_long;                    /* zstd only: non-zero enables long-distance
                                         matching (as `zstd --long`); window 2^27 unless
                                         zstd_window_log says otherwise */
    unsigned flags;                   /* OCIDIR_LAYER_WRITER_* flags; default 0 */
} ocidir_layer_writer_options_t;

/**
 * Flag of ocidir_layer_writer_options_t: check that the uncompressed input is
 * a tar stream, as it streams through (no second pass, no buffering beyond one
 * 512-byte block and a pax header's records).  What is checked: each header
 * block's checksum (the unsigned sum, or the historic signed one), that its
 * size field is a non-negative octal or base-256 number, the content it
 * announces (a pax "size" record overrides the next header's field; types 1-6,
 * links, devices, directories and FIFOs, carry none; an old-GNU sparse
 * header's extension blocks are followed), up to the first all-zero block,
 * the end of the archive; the bytes after that end are not examined.  An
 * empty stream, and one that ends on a header boundary without end blocks,
 * pass (libarchive reads both as complete archives).  Not checked: names,
 * modes, owners, the ustar magic, pax record syntax.
 *
 * ocidir_layer_writer_write() fails with OCIDIR_E_FORMAT at the first block
 * that is not a tar header where one is due, naming its byte offset in the
 * uncompressed stream ("layer writer: not a tar stream: at byte N: header
 * checksum mismatch ..."); ocidir_layer_writer_commit() fails with
 * OCIDIR_E_FORMAT when the stream stops inside a header or inside announced
 * content.  Either way the writer is failed and nothing is stored.
 */
#define OCIDIR_LAYER_WRITER_CHECK_TAR (1u << 0)

#define OCIDIR_LAYER_WRITER_OPTIONS_INIT \
    { sizeof(ocidir_layer_writer_options_t), OCIDIR_COMPRESSION_GZIP, 0, 0, OCIDIR_SHA256, 0, 0, 0 }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID (NULL, or struct_size too small). */
OCIDIR_API int ocidir_layer_writer_options_init(ocidir_layer_writer_options_t *opts, size_t struct_size);

/**
 * Start a layer with options (the extensible form of
 * ocidir_layer_writer_new(); NULL options are the defaults: gzip, level 6,
 * one thread per CPU, sha256).
 * @return as ocidir_layer_writer_new(), and OCIDIR_E_INVALID for a bad
 *         options struct, an unknown algorithm, a zstd window outside 10..27,
 *         zstd fields set for another compression, or unknown flags (known:
 *         OCIDIR_LAYER_WRITER_CHECK_TAR).
 */
OCIDIR_API int ocidir_layer_writer_new_opts(ocidir_t *d, const ocidir_layer_writer_options_t *opts,
                                            ocidir_layer_writer_t **out);

/** Feed uncompressed bytes.  @return 0, OCIDIR_E_IO, OCIDIR_E_STATE,
 *  OCIDIR_E_FORMAT (OCIDIR_LAYER_WRITER_CHECK_TAR: not a tar stream; the
 *  writer is failed, only abort is possible). */
OCIDIR_API int ocidir_layer_writer_write(ocidir_layer_writer_t *w, const void *buf, size_t len);

/**
 * Finish the compressed stream and commit the blob.  Frees the writer whether
 * it succeeds or fails.
 * @param digest_out  the blob digest; may be NULL.
 * @param size_out    the blob (compressed) size; may be NULL.
 * @param diff_id_out the sha256 of the uncompressed stream; may be NULL.
 * @return 0, OCIDIR_E_STATE (the writer failed earlier), OCIDIR_E_IO, and
 *         the codes of ocidir_blob_writer_commit(); nothing is written to
 *         the out-parameters on failure, except with OCIDIR_E_NOT_DURABLE
 *         (the blob is published, not flushed), where all three are written
 *         as on success.
 */
OCIDIR_API int ocidir_layer_writer_commit(ocidir_layer_writer_t *w, char digest_out[OCIDIR_DIGEST_MAX],
                                          uint64_t *size_out, char diff_id_out[OCIDIR_DIGEST_MAX]);

/** The media type of the layer being written (static). */
OCIDIR_API const char *ocidir_layer_writer_media_type(const ocidir_layer_writer_t *w);

/** Discard a layer writer.  NULL is accepted. */
OCIDIR_API void ocidir_layer_writer_abort(ocidir_layer_writer_t *w);

/** A decompressing, verifying layer stream.  Belongs to one thread at a time. */
typedef struct ocidir_layer_reader ocidir_layer_reader_t;

/**
 * Open a layer blob for decompressed reading.  The compression is taken from
 * the media type (`…tar`, `…tar+gzip`, `…tar+zstd`, and the Docker
 * `…rootfs.diff.tar.gzip` types).  A compressed layer's reader runs a
 * second thread, from here to ocidir_layer_reader_close(): it reads the blob
 * ahead (hashing it for the blob digest) and hashes the decompressed bytes
 * (for the diff_id), while ocidir_layer_reader_read() decompresses in the
 * calling thread; its errors are returned by the read they concern.  About
 * 1.5 MiB of buffers, whatever the layer's size.
 * @param size    the descriptor's size, or -1.
 * @param diff_id the expected sha256 of the uncompressed stream, or NULL to
 *                check the blob digest only.
 * @return 0, OCIDIR_E_UNSUPPORTED (media type not a known tar layer),
 *         OCIDIR_E_IO (the thread cannot start), and the codes of
 *         ocidir_blob_open().
 */
OCIDIR_API int ocidir_layer_open(ocidir_t *d, const char *media_type, const char *digest,
                                 int64_t size, const char *diff_id, ocidir_layer_reader_t **out);

/**
 * Open layer `index` of an image: its media type, digest and size from the
 * manifest, its diff_id from the config (when the config is an image config).
 */
OCIDIR_API int ocidir_image_layer_open(const ocidir_image_t *img, size_t index,
                                       ocidir_layer_reader_t **out);

/** Options of the layer readers; see "Options" above. */
typedef struct {
    size_t struct_size;  /* sizeof(ocidir_layer_reader_options_t) */
    uint64_t max_size;   /* bound on the decompressed bytes; 0 (the default): none.
                            A stream longer than this fails with OCIDIR_E_TOO_LARGE
                            at the read that would pass it (nothing past the bound
                            is returned). */
    unsigned flags;      /* none yet: 0 */
} ocidir_layer_reader_options_t;

#define OCIDIR_LAYER_READER_OPTIONS_INIT { sizeof(ocidir_layer_reader_options_t), 0, 0 }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID. */
OCIDIR_API int ocidir_layer_reader_options_init(ocidir_layer_reader_options_t *opts, size_t struct_size);

/** ocidir_layer_open() with options (NULL: the defaults). */
OCIDIR_API int ocidir_layer_open_opts(ocidir_t *d, const char *media_type, const char *digest, int64_t size,
                                      const char *diff_id, const ocidir_layer_reader_options_t *opts,
                                      ocidir_layer_reader_t **out);

/** ocidir_image_layer_open() with options (NULL: the defaults). */
OCIDIR_API int ocidir_image_layer_open_opts(const ocidir_image_t *img, size_t index,
                                            const ocidir_layer_reader_options_t *opts,
                                            ocidir_layer_reader_t **out);

/**
 * Read decompressed bytes (len > 0).
 * @return bytes (> 0); 0 at the end, only after the blob hashed to its digest
 *         and the uncompressed stream to its diff_id; or a negative code:
 *         OCIDIR_E_DIGEST (blob digest or diff_id mismatch; the message says
 *         which), OCIDIR_E_SIZE, OCIDIR_E_FORMAT (corrupt compressed data, or
 *         trailing garbage after it), OCIDIR_E_IO.  Errors are sticky.
 */
OCIDIR_API ssize_t ocidir_layer_reader_read(ocidir_layer_reader_t *r, void *buf, size_t len);

/** Close a layer reader.  NULL is accepted. */
OCIDIR_API void ocidir_layer_reader_close(ocidir_layer_reader_t *r);

/* ======================================================================
 * 9. Building images
 * ====================================================================== */

/** An image being built.  Belongs to one thread at a time. */
typedef struct ocidir_builder ocidir_builder_t;

/**
 * Start an image with no layers and a config for `platform` ("os/arch[/variant]",
 * NULL for ocidir_platform_default()).
 */
OCIDIR_API int ocidir_builder_new(ocidir_t *d, const char *platform, ocidir_builder_t **out);

/**
 * Start an artifact: the config is the empty descriptor and the manifest has
 * `artifactType` (an RFC 6838 media type).  Layers of any media type may be
 * added, without diff_ids.
 */
OCIDIR_API int ocidir_builder_new_artifact(ocidir_t *d, const char *artifact_type,
                                           ocidir_builder_t **out);

/**
 * Start from an existing image (ref + platform as ocidir_image_open()): its
 * layers, config (every field kept, including those without an accessor) and
 * manifest annotations.
 */
OCIDIR_API int ocidir_builder_from(ocidir_t *d, const char *ref, const char *platform,
                                   ocidir_builder_t **out);

/**
 * The `created` time written into the config and into each history entry
 * added afterwards (RFC 3339, e.g. "2024-01-01T00:00:00Z"); for an artifact,
 * into the manifest annotation `org.opencontainers.image.created`.  Without
 * it (or after a NULL, which removes it), `created` is omitted, so that the
 * same inputs give the same digests.
 */
OCIDIR_API int ocidir_builder_set_created(ocidir_builder_t *b, const char *rfc3339);

/**
 * Append a layer that is present as a blob.  For images, `diff_id` is
 * required and appended to rootfs.diff_ids, and a history entry is added
 * (`created_by` may be NULL).  For artifacts, diff_id must be NULL.
 * @return 0; OCIDIR_E_INVALID (bad media type, digest or missing diff_id);
 *         OCIDIR_E_NOT_FOUND (no such blob); OCIDIR_E_SIZE (the blob's size is
 *         not `size`); OCIDIR_E_STATE.
 */
OCIDIR_API int ocidir_builder_add_layer(ocidir_builder_t *b, const char *media_type, const char *digest,
                                        uint64_t size, const char *diff_id, const char *created_by);

/**
 * Commit a layer writer and append the layer (as ocidir_builder_add_layer()).
 * The writer is freed whether this succeeds or fails.
 */
OCIDIR_API int ocidir_builder_add_layer_writer(ocidir_builder_t *b, ocidir_layer_writer_t *w,
                                               const char *created_by);

/** Options of the builder's add-layer calls; see "Options" above. */
typedef struct {
    size_t struct_size;              /* sizeof(ocidir_add_layer_options_t) */
    const char *created_by;          /* the history entry's created_by; NULL: none */
    const char *const *annotations;  /* the layer descriptor's annotations as a
                                        NULL-terminated key, value, key, value, ...
                                        vector (copied); NULL: none.  A key given
                                        twice keeps the last value; an empty key or
                                        an odd count is OCIDIR_E_INVALID. */
    unsigned flags;                  /* OCIDIR_ADD_LAYER_* flags; default 0 */
} ocidir_add_layer_options_t;

/**
 * Flag of ocidir_add_layer_options_t, for ocidir_builder_add_layer_writer_opts()
 * only (ocidir_builder_add_layer_opts() refuses it with OCIDIR_E_INVALID: that
 * blob is published already): flush the layer's blob together with the
 * builder's other deferred layers, at ocidir_builder_commit(), instead of one
 * by one.  For images of many small layers, where the flushes are most of
 * the time (two per layer: its data, then its directory entry).
 *
 * What happens: the call finishes the writer (compression, blob digest,
 * diff_id, the tar check) and appends the layer, but the blob stays an
 * unnamed temporary file (a named `.ocidir-tmp-*` one, held under flock,
 * where O_TMPFILE is missing) that no reader, fsck or gc sees; the builder
 * holds it (two open descriptors each: the file and its directory).
 * ocidir_builder_commit() then writes the config and the manifest as
 * temporary files too, calls syncfs(2) once on the filesystem of the blob
 * directory (once per filesystem when the blobs go to several), so that the
 * content of every deferred layer, the config and the manifest is on disk,
 * names the layers
 * and the config under their digests and fsyncs the blob directory once,
 * then names the manifest and fsyncs the directory again, and only then
 * updates `index.json` (flushed as always).
 *
 * The durability contract is the one of the default: no blob is named
 * before its content is on disk, and nothing that refers to a blob (the
 * manifest to its layers and config, `index.json` to the manifest) is named
 * before that blob's name is on disk.  So a crash or power cut at any point
 * leaves the tag as it was or moved whole to a complete image; deferred
 * blobs not yet named vanish with the process.
 *
 * Costs and limits: syncfs flushes the whole filesystem, so the commit also
 * waits for other processes' dirty data on it.  Once 256 deferred layers are
 * held, they are flushed and named together (as at a commit, without the
 * manifest) so that descriptors stay bounded; a failure there leaves those
 * not named pending and is reported by the commit, which tries again.  A
 * blob that does not reach the builder's layout (the writer was made from
 * another handle) is found missing at the commit (OCIDIR_E_NOT_FOUND)
 * rather than at this call.
 * ocidir_builder_free() without a commit discards the deferred blobs.  A
 * failed commit keeps the deferred blobs it had not named yet, for another
 * commit.  Errors of the batched flush: OCIDIR_E_IO from syncfs (nothing
 * named); OCIDIR_E_NOT_DURABLE from a directory fsync (the blobs are named,
 * index.json unchanged, digest_out not written).
 */
#define OCIDIR_ADD_LAYER_DEFER_SYNC (1u << 0)

#define OCIDIR_ADD_LAYER_OPTIONS_INIT { sizeof(ocidir_add_layer_options_t), NULL, NULL, 0 }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID. */
OCIDIR_API int ocidir_add_layer_options_init(ocidir_add_layer_options_t *opts, size_t struct_size);

/** ocidir_builder_add_layer() with options (NULL: the defaults). */
OCIDIR_API int ocidir_builder_add_layer_opts(ocidir_builder_t *b, const char *media_type, const char *digest,
                                             uint64_t size, const char *diff_id,
                                             const ocidir_add_layer_options_t *opts);

/** ocidir_builder_add_layer_writer() with options (NULL: the defaults). */
OCIDIR_API int ocidir_builder_add_layer_writer_opts(ocidir_builder_t *b, ocidir_layer_writer_t *w,
                                                    const ocidir_add_layer_options_t *opts);

/**
 * Set a string-array config field (ENTRYPOINT, CMD, ENV); `strv` is
 * NULL-terminated, or NULL to remove the field.  DIFF_IDS is not settable.
 */
OCIDIR_API int ocidir_builder_set_config_strv(ocidir_builder_t *b, ocidir_config_field_t field,
                                              const char *const *strv);

/** Set a string config field (USER, WORKING_DIR, STOP_SIGNAL); NULL removes it. */
OCIDIR_API int ocidir_builder_set_config_string(ocidir_builder_t *b, ocidir_config_field_t field,
                                                const char *value);

/** Set (value non-NULL) or remove (value NULL) a config label. */
OCIDIR_API int ocidir_builder_set_label(ocidir_builder_t *b, const char *key, const char *value);

/** Set (value non-NULL) or remove (value NULL) a manifest annotation. */
OCIDIR_API int ocidir_builder_set_annotation(ocidir_builder_t *b, const char *key, const char *value);

/**
 * Make the manifest refer to `digest` (a manifest or index present in the
 * layout) as its `subject`, so that it is listed by ocidir_referrers().
 * NULL removes the subject.
 */
OCIDIR_API int ocidir_builder_set_subject(ocidir_builder_t *b, const char *digest);

/**
 * Write the config blob, then the manifest blob (canonical JSON), then point
 * `tag` at the manifest in `index.json` (or, with tag NULL, add an untagged
 * entry).  Each step is durable before the next starts, so a crash at any
 * point leaves the tag as it was or moved whole.  Layers added with
 * OCIDIR_ADD_LAYER_DEFER_SYNC are flushed and named first, with the config,
 * in one batch (see that flag).  The builder stays usable
 * (it may be committed again, e.g. under another tag).
 * @param digest_out the manifest digest; may be NULL.
 * @return 0, OCIDIR_E_INVALID (bad tag), OCIDIR_E_READONLY, OCIDIR_E_IO, and
 *         the codes of ocidir_tag_set().  OCIDIR_E_NOT_DURABLE comes from
 *         one step: from the index.json step, the tag was moved (index.json
 *         replaced, its directory not flushed) and digest_out is written as
 *         on success; from the config or manifest step, that blob is
 *         published but not flushed, the commit stopped there (index.json
 *         is unchanged) and digest_out is not written.
 */
OCIDIR_API int ocidir_builder_commit(ocidir_builder_t *b, const char *tag, unsigned flags,
                                     char digest_out[OCIDIR_DIGEST_MAX]);

/** Free a builder.  NULL is accepted. */
OCIDIR_API void ocidir_builder_free(ocidir_builder_t *b);

/* ======================================================================
 * 10. Housekeeping: fsck, gc, clone, removing an image
 * ====================================================================== */

/*
 * The graph these functions walk: every `index.json` entry (tagged or not),
 * and from each manifest or index blob its `manifests`, `config`, `layers`
 * and `subject` descriptors, recursively (each blob visited once; indexes
 * nested at most OCIDIR_MAX_INDEX_DEPTH levels, a deeper one is damage of
 * kind OCIDIR_FIND_FORMAT, see section 6).  Blobs are looked up as reads
 * are: the layout's own `blobs/` first, then the added blob directories.
 *
 * Partial indexes: a manifest or index that an image index lists and that
 * the layout does not hold is a notice, OCIDIR_FIND_ABSENT_CHILD, not damage:
 * that is what a copy of some of an index's platforms looks like (and
 * ocidir_tag_set() accepts such an index).  fsck reports it, gc and clone run
 * (clone copies the index and what is present, as the source has it).  An
 * absent `index.json` entry or `subject`, and an absent config or layer of a
 * manifest that is present, stay damage (OCIDIR_FIND_MISSING).
 *
 * Results come in a report: a list of findings, each with a kind, a subject
 * (a digest, or a path relative to the directory it was found in) and a
 * message naming what is wrong and where it was referenced from.  Kinds up
 * to OCIDIR_FIND_IO are damage (ocidir_find_kind_is_damage()); the others
 * are notices.
 *
 * Threads: these functions may run while other threads and processes use the
 * same layout (fsck reads a snapshot and may report a blob removed meanwhile
 * as missing; gc serializes with index.json writers as documented below).  A
 * report is immutable once returned: it may be read from any thread, and is
 * freed once, with ocidir_report_free().
 *
 * Progress callbacks are called from the calling thread only, with the bytes
 * done so far and the total expected (the total may grow while the graph is
 * being walked): once before the first blob is checked, removed or copied,
 * after blobs are done (several blobs may be reported in one call), and once
 * at the end with done == total.  A callback that returns non-zero cancels
 * the operation at that point, also at the last call, and the call returns
 * OCIDIR_E_CANCELED with no report:
 *   - fsck stops hashing (it never writes anything);
 *   - gc and cache gc stop between two removals; what was removed before is
 *     gone (it was unreferenced and older than the grace period), the rest
 *     stays, and the layout is consistent;
 *   - clone removes everything it created: the destination is again absent
 *     (or the empty directory it was).
 */

/** A finished report.  Opaque; freed with ocidir_report_free(). */
typedef struct ocidir_report ocidir_report_t;

/** Progress: `done` of `total` bytes.  Return 0 to go on, non-zero to cancel
 *  (OCIDIR_E_CANCELED).  Must not call back into the handle. */
typedef int (*ocidir_progress_fn)(uint64_t done, uint64_t total, void *user);

/* Kinds of finding.  Values are fixed and part of the ABI. */
typedef enum {
    /* Damage: */
    OCIDIR_FIND_LAYOUT = 0,      /* oci-layout or index.json unreadable or invalid */
    OCIDIR_FIND_MISSING = 1,     /* a referenced blob exists nowhere */
    OCIDIR_FIND_DIGEST = 2,      /* a blob's content does not hash to its name */
    OCIDIR_FIND_SIZE = 3,        /* a blob's length is not its descriptor's size */
    OCIDIR_FIND_FORMAT = 4,      /* a manifest/index/config is not valid JSON of its
                                    kind, or a blob is not a regular file */
    OCIDIR_FIND_MEDIA_TYPE = 5,  /* a descriptor's media type disagrees with the blob */
    OCIDIR_FIND_IO = 6,          /* a blob could not be read (OS error in the message) */
    /* Notices: */
    OCIDIR_FIND_UNSUPPORTED = 7, /* a descriptor of an unregistered algorithm (not checked) */
    OCIDIR_FIND_UNREFERENCED = 8,/* a blob in the layout's own blobs/ that nothing references
                                    (gc: would be / was not removed) */
    OCIDIR_FIND_TEMP = 9,        /* a temporary file no live writer owns */
    OCIDIR_FIND_REMOVED = 10,    /* gc removed this blob or temporary file */
    OCIDIR_FIND_KEPT_RECENT = 11,/* gc kept an unreferenced blob younger than the grace period */
    OCIDIR_FIND_COPIED = 12,     /* clone copied this blob */
    OCIDIR_FIND_LINKED = 13,     /* clone hard-linked this blob */
    OCIDIR_FIND_REFLINKED = 14,  /* clone reflinked (FICLONE) this blob */
    OCIDIR_FIND_ABSENT_CHILD = 15,/* a manifest or index an image index lists is not
                                    stored (a copy of some platforms); clone: not copied */
    OCIDIR_FIND_SKIPPED = 16,    /* a later step of a call whose change was committed
                                    could not run; the message says which and why */
    /* 17 is reserved.  Notices of ocidir_unpack() (section 11): */
    OCIDIR_FIND_XATTR_SKIPPED = 18,     /* an entry's xattr was not applied: a refused
                                           namespace (see OCIDIR_UNPACK_ALL_XATTRS),
                                           OCIDIR_UNPACK_NO_XATTRS, a symlink's xattr, or a
                                           forged `user.rootlesscontainers` in rootless mode;
                                           subject: the entry; message: the xattr and why */
    OCIDIR_FIND_XATTR_UNSUPPORTED = 19, /* the destination's filesystem does not support
                                           xattrs (ENOTSUP) or this namespace: reported once
                                           per unpack, naming the first entry and xattr */
    OCIDIR_FIND_DEVICE_SKIPPED = 20,    /* a character or block device was not created
                                           (rootless mode); message: its numbers */
    OCIDIR_FIND_INCOMPLETE_CLEARED = 21 /* the destination held the tree of an unpack
                                           that never finished (its OCIDIR_UNPACK_MARKER);
                                           it was removed before this unpack began;
                                           subject: the destination */
} ocidir_find_kind_t;

/** Static name of a finding kind ("missing", "digest", "absent-child",
 *  "skipped", ...); "unknown" for a value that is no kind; never NULL. */
OCIDIR_API const char *ocidir_find_kind_name(int kind);

/**
 * Whether a finding kind is damage: 1 for OCIDIR_FIND_LAYOUT through
 * OCIDIR_FIND_IO (0..6), 0 for every other value (the notices, and values
 * that are no kind).  The one rule ocidir_report_damage() and the tools use;
 * bindings call it rather than copying it.  Thread-safe.
 */
OCIDIR_API int ocidir_find_kind_is_damage(int kind);

/** Number of findings in a report (0 for NULL). */
OCIDIR_API size_t ocidir_report_count(const ocidir_report_t *r);

/** Number of findings that are damage (ocidir_find_kind_is_damage()). */
OCIDIR_API size_t ocidir_report_damage(const ocidir_report_t *r);

/**
 * One finding.  Strings stay valid until the report is freed.
 * @param kind_out    may be NULL.  @param subject_out may be NULL.
 * @param size_out    the blob's size where known, else 0; may be NULL.
 * @param message_out may be NULL.
 * @return 0, or OCIDIR_E_INVALID (r NULL or i out of range).
 */
OCIDIR_API int ocidir_report_get(const ocidir_report_t *r, size_t i, ocidir_find_kind_t *kind_out,
                                 const char **subject_out, uint64_t *size_out,
                                 const char **message_out);

/**
 * Totals of the run: blobs visited (checked, kept or copied) and their bytes.
 * Either out-parameter may be NULL.
 */
OCIDIR_API void ocidir_report_totals(const ocidir_report_t *r, uint64_t *blobs_out,
                                     uint64_t *bytes_out);

/** Free a report.  NULL is accepted. */
OCIDIR_API void ocidir_report_free(ocidir_report_t *r);

/* fsck hashes unreferenced blobs (which anyone who can write blobs/ may
 * plant, as sparse files of any size) smallest first, up to this many bytes
 * in total; the ones past it are reported as unreferenced and not hashed. */
#define OCIDIR_FSCK_MAX_UNREFERENCED_HASH ((uint64_t)1 << 30)

/** Options of ocidir_fsck(); see "Options" in the introduction. */
typedef struct {
    size_t struct_size;          /* sizeof(ocidir_fsck_options_t) */
    unsigned flags;              /* none yet: 0 (others are OCIDIR_E_INVALID) */
    unsigned threads;            /* hashing threads; 0 (the default): one per online CPU */
    ocidir_progress_fn progress; /* may be NULL */
    void *user;                  /* passed to progress */
} ocidir_fsck_options_t;

#define OCIDIR_FSCK_OPTIONS_INIT { sizeof(ocidir_fsck_options_t), 0, 0, NULL, NULL }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID. */
OCIDIR_API int ocidir_fsck_options_init(ocidir_fsck_options_t *opts, size_t struct_size);

/**
 * Check a layout completely: `oci-layout`, `index.json`, every reachable
 * descriptor (media type, size, and each blob's full hash), missing blobs,
 * and — as notices — unreferenced blobs in the layout's own `blobs/` and
 * stray temporary files.  Every finding is reported, not only the first.
 * Blobs are hashed in parallel.  Never writes anything.  The work is
 * bounded by what the layout references: a blob is read at most up to the
 * size it had when fsck found it (one that grew since is a SIZE finding),
 * and unreferenced blobs are hashed only within
 * OCIDIR_FSCK_MAX_UNREFERENCED_HASH bytes.
 *
 * @param opts     NULL for the defaults.
 * @param out      receives the report; must not be NULL.
 * @return 0 when the check ran to the end, whatever it found (look at
 *         ocidir_report_damage()); OCIDIR_E_CANCELED (the progress callback
 *         asked; no report); OCIDIR_E_INVALID, OCIDIR_E_NOMEM, or
 *         OCIDIR_E_IO when the check itself could not run.
 */
OCIDIR_API int ocidir_fsck(ocidir_t *d, const ocidir_fsck_options_t *opts, ocidir_report_t **out);

/* Report what would be removed, remove nothing. */
#define OCIDIR_GC_DRY_RUN (1u << 0)

/* The default grace period of gc, in seconds. */
#define OCIDIR_GC_GRACE_DEFAULT 3600

/* In ocidir_gc_options_t.grace_seconds: the handle's grace period
 * (ocidir_set_gc_grace(); for cache gc, that of layouts[0]). */
#define OCIDIR_GC_GRACE_HANDLE (-1)

/** Options of ocidir_gc(), ocidir_cache_gc() and ocidir_tag_remove_gc(). */
typedef struct {
    size_t struct_size;          /* sizeof(ocidir_gc_options_t) */
    unsigned flags;              /* 0 or OCIDIR_GC_DRY_RUN */
    int64_t grace_seconds;       /* >= 0, or OCIDIR_GC_GRACE_HANDLE (the default) */
    ocidir_progress_fn progress; /* may be NULL */
    void *user;                  /* passed to progress */
} ocidir_gc_options_t;

#define OCIDIR_GC_OPTIONS_INIT { sizeof(ocidir_gc_options_t), 0, OCIDIR_GC_GRACE_HANDLE, NULL, NULL }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID. */
OCIDIR_API int ocidir_gc_options_init(ocidir_gc_options_t *opts, size_t struct_size);

/**
 * Set the grace period of gc on this handle: an unreferenced blob whose
 * file was modified less than `seconds` ago is kept (OCIDIR_FIND_KEPT_RECENT),
 * because a writer may be about to reference it.  Committing a blob that
 * already exists refreshes its modification time, so the period counts from
 * the last commit.  0 turns the grace period off; -1 restores the default.
 */
OCIDIR_API int ocidir_set_gc_grace(ocidir_t *d, int64_t seconds);

/**
 * Remove what nothing references.  Marks from every `index.json` entry
 * (tagged or not) through the graph above, then sweeps the layout's own
 * `blobs/<alg>/` only: never an added blob directory, never a `blobs/<alg>`
 * reached through OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK.  Temporary files no live
 * writer owns are removed too.
 *
 * Safety against writers in other processes: gc holds the index lock
 * (`.ocidir.lock`) from the mark to the end of the sweep, so no tag moves
 * meanwhile; ocidir_builder_commit() checks under that lock that every blob
 * it references is still present; and blobs younger than the grace period
 * (ocidir_set_gc_grace()) are kept.
 *
 * On a read-only handle only a dry run is possible, and it takes no lock:
 * its report is a snapshot.  ocidir_tag_set() and ocidir_index_add() also
 * re-check their blob under the index lock.
 *
 * A layout whose graph is damaged (a missing `index.json` entry or subject,
 * an unreadable or corrupt manifest or index, indexes nested deeper than
 * OCIDIR_MAX_INDEX_DEPTH) is not swept: gc fails with the code of the
 * damage, because what the damaged part references cannot be known.  A
 * manifest that an index lists but the layout does not hold is not damage
 * (a partial index, see above): gc runs, and its report carries an
 * OCIDIR_FIND_ABSENT_CHILD notice.  Absent configs and layers do not stop gc
 * (they reference nothing); fsck reports them.
 *
 * Threads: with a few hundred unreferenced blobs or more, the removals run
 * on up to four threads (the calling thread among them), which the call
 * joins before it returns; the report lists them in the sweep order all the
 * same.  With a progress callback they go in batches of up to 1024, the
 * callback called between two, so a cancel leaves a prefix of the sweep
 * order removed.
 *
 * @param opts  NULL for the defaults (remove, the handle's grace period).
 * @param out   receives the report (OCIDIR_FIND_REMOVED, or
 *              OCIDIR_FIND_UNREFERENCED in a dry run; notices of the walk such
 *              as OCIDIR_FIND_ABSENT_CHILD); may be NULL.
 * @return 0, OCIDIR_E_READONLY (without DRY_RUN), OCIDIR_E_INVALID,
 *         OCIDIR_E_CANCELED, OCIDIR_E_FORMAT / OCIDIR_E_NOT_FOUND /
 *         OCIDIR_E_DIGEST / OCIDIR_E_SIZE (damaged graph), OCIDIR_E_IO.
 */
OCIDIR_API int ocidir_gc(ocidir_t *d, const ocidir_gc_options_t *opts, ocidir_report_t **out);

/**
 * Garbage-collect a shared blob directory (laid out as `sha256/<hex>`,
 * `sha512/<hex>`) used by several layouts: report — and without
 * OCIDIR_GC_DRY_RUN remove — the blobs none of `layouts` references, under
 * the same safety as ocidir_gc() (every layout's index lock held, the grace
 * period of layouts[0] unless the options give one) and the same graph
 * policy (a damaged graph in any layout stops it; partial indexes are
 * ABSENT_CHILD notices).  Only the caller knows which layouts use the cache:
 * a layout left out loses its blobs.
 *
 * @param cache_fd an open directory fd (not closed, not kept).
 * @param layouts  n open handles (n >= 1).
 * @return as ocidir_gc().
 */
OCIDIR_API int ocidir_cache_gc(int cache_fd, ocidir_t *const *layouts, size_t n,
                               const ocidir_gc_options_t *opts, ocidir_report_t **out);

/* Never hard-link: reflink or copy only. */
#define OCIDIR_CLONE_NO_HARDLINK (1u << 0)

/** Options of ocidir_clone(); see "Options" in the introduction. */
typedef struct {
    size_t struct_size;          /* sizeof(ocidir_clone_options_t) */
    unsigned flags;              /* 0 or OCIDIR_CLONE_NO_HARDLINK */
    ocidir_progress_fn progress; /* may be NULL */
    void *user;                  /* passed to progress */
} ocidir_clone_options_t;

#define OCIDIR_CLONE_OPTIONS_INIT { sizeof(ocidir_clone_options_t), 0, NULL, NULL }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID. */
OCIDIR_API int ocidir_clone_options_init(ocidir_clone_options_t *opts, size_t struct_size);

/**
 * Make a new layout at `path` with the same `index.json` (byte for byte) and
 * every reachable blob in its own `blobs/`, each reflinked (FICLONE) where
 * the filesystem can, hard-linked where it can (unless
 * OCIDIR_CLONE_NO_HARDLINK), copied otherwise; each blob is verified (hash
 * and size) as it is taken.  The destination must not exist, or be an empty
 * directory.  Nothing is published under the destination's `index.json`
 * until every blob is in place, so an interrupted clone never looks whole.
 * A partial index (a manifest it lists is not stored) is cloned as it is:
 * the clone lacks that manifest as the source does (an
 * OCIDIR_FIND_ABSENT_CHILD finding names it).  Every other damage of the
 * graph, and a config or layer absent under a manifest that is present,
 * stops the clone.
 *
 * @param opts NULL for the defaults.
 * @param out receives the new layout opened writable; may be NULL.
 * @param report_out receives a report (COPIED / LINKED / REFLINKED, and
 *                   ABSENT_CHILD / UNSUPPORTED notices); may be NULL.
 * @return 0, OCIDIR_E_EXISTS (destination not empty), OCIDIR_E_NOT_FOUND /
 *         OCIDIR_E_DIGEST / OCIDIR_E_SIZE / OCIDIR_E_FORMAT (a source blob
 *         missing or damaged, indexes nested too deep; the message names
 *         it), OCIDIR_E_CANCELED (nothing of the destination is left),
 *         OCIDIR_E_IO;
 *         OCIDIR_E_NOT_DURABLE: the clone was renamed into place, complete,
 *         but flushing the destination's parent directory failed (the
 *         message names it and the errno): `out` and `report_out` are
 *         written as on success; after a crash the destination may be
 *         absent again.
 */
OCIDIR_API int ocidir_clone(ocidir_t *src, int dirfd, const char *path, const ocidir_clone_options_t *opts,
                            ocidir_t **out, ocidir_report_t **report_out);

/**
 * Remove a tag, then collect what became unreferenced: ocidir_tag_remove()
 * followed by ocidir_gc() with `opts`, under one handle.  The index is
 * rewritten before any blob is removed, so a crash never leaves a tag naming
 * a missing blob.
 *
 * Once the tag is removed the call succeeds: when the gc that follows cannot
 * run or is canceled (a damaged graph, an I/O error, memory, the progress
 * callback), the call still returns 0, and the report holds only an
 * OCIDIR_FIND_SKIPPED notice whose message names the code and the reason.
 * A gc that stopped part way may have removed unreferenced blobs already;
 * run ocidir_fsck() or ocidir_gc() later to see the rest.  Options are
 * checked before anything is removed.
 * @param opts       the gc's options; NULL for the defaults.
 * @param report_out the gc report; may be NULL.
 * @return 0 (the tag is gone); OCIDIR_E_NOT_FOUND (no such tag), the codes
 *         of ocidir_tag_remove() and OCIDIR_E_INVALID (bad options): then
 *         nothing changed; OCIDIR_E_NOT_DURABLE: the tag is removed
 *         (index.json replaced) but flushing the directory failed, so a
 *         crash could bring the tag back: no gc runs (it could remove blobs
 *         the tag names again) and report_out is not written;
 *         OCIDIR_E_NOMEM only when not even the report could be made (the
 *         tag is gone then too; report_out is not written).
 */
OCIDIR_API int ocidir_tag_remove_gc(ocidir_t *d, const char *tag, const ocidir_gc_options_t *opts,
                                    ocidir_report_t **report_out);

/* ======================================================================
 * 11. Unpacking
 *
 * ocidir_unpack() applies an image's layers, in order, onto a directory,
 * producing the root filesystem a container runs from.  Layers are read
 * through the verifying layer readers (blob digest and DiffID both checked,
 * every byte of every stream read, even past the tar's end blocks); the tar
 * is parsed by libarchive's reader and the tree written by the library
 * itself, one *at() call on one plain name at a time.  Every entry's parent
 * is resolved inside the destination as if it were "/"
 * (openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), or a component walk that
 * interprets symlinks against the destination without openat2), so an
 * absolute symlink in the image (`/lib -> /usr/lib`) stays inside; the final
 * component is never followed.  Nothing outside the destination is ever
 * created, changed or removed.
 *
 * Semantics (OCI image-spec layer.md): regular files, directories (a
 * directory over a directory merges; anything else over an existing path is
 * removed first), symlinks, hard links (target resolved inside, its last
 * component not followed), FIFOs, character and block devices; whiteouts
 * `.wh.NAME` and opaque markers `.wh..wh..opq` remove lower-layer entries
 * only (entries of the same layer survive, in either order); a whiteout
 * named empty, `.` or `..` is OCIDIR_E_FORMAT.  pax and GNU long names,
 * `SCHILY.xattr.*` extended attributes, nanosecond times; owners set before
 * modes (setuid/setgid survive); directory modes and times applied in a
 * final depth-first pass, so a 0555 directory can still be filled.
 * ====================================================================== */

/** One range of an id map, as umoci's --uid-map CONTAINER:HOST:SIZE. */
typedef struct ocidir_idmap {
    uint32_t container_id; /* first id in the image (the tar's uid/gid) */
    uint32_t host_id;      /* the id written to disk for it */
    uint32_t size;         /* number of ids in the range (>= 1) */
} ocidir_idmap_t;

/* Owner modes (ocidir_unpack_options_t.owner_mode). */
/** lchown to the tar's uid/gid.  Right for real root, and for root inside a
 *  user namespace whose map covers the image's ids.  An id the namespace
 *  does not map (EINVAL from the kernel) is OCIDIR_E_INVALID naming the entry
 *  and the id, unless fallback_uid/fallback_gid is set (then that id is used). */
#define OCIDIR_UNPACK_OWNER_TAR 0
/** Shift ids through uid_map/gid_map (a real-root caller unpacking for an
 *  unprivileged container without entering its namespace).  An id outside
 *  every range takes the fallback, or is OCIDIR_E_INVALID. */
#define OCIDIR_UNPACK_OWNER_MAP 1
/** Unprivileged, no namespace: every file is owned by the caller, and each
 *  entry's owner from the tar is kept in the `user.rootlesscontainers` xattr
 *  as umoci --rootless does (protobuf `Resource { uint32 uid = 1; uint32 gid
 *  = 2; }`, 0 written as 4294967295 "no change"; no xattr for root:root;
 *  not on symlinks, where Linux refuses user.* xattrs).  Device nodes are
 *  skipped with an OCIDIR_FIND_DEVICE_SKIPPED finding; a tar's own
 *  `user.rootlesscontainers` is skipped (OCIDIR_FIND_XATTR_SKIPPED). */
#define OCIDIR_UNPACK_OWNER_ROOTLESS 2

/* Flags (ocidir_unpack_options_t.flags). */
/** Also apply the xattrs refused by default: `security.selinux`,
 *  `system.nfs4_acl`, `trusted.*` (with the overlay namespaces
 *  `trusted.overlay.*` and `user.overlay.*`). */
#define OCIDIR_UNPACK_ALL_XATTRS (1u << 0)
/** Apply no xattr at all (each skipped one is a finding). */
#define OCIDIR_UNPACK_NO_XATTRS (1u << 1)
/** Skip the final syncfs(): success then does not mean the tree is on disk. */
#define OCIDIR_UNPACK_NO_SYNC (1u << 2)

/** Default bound on the bytes of file content written (1 TiB, counted by the
 *  tar's sizes, so a sparse file counts its full length). */
#define OCIDIR_UNPACK_DEFAULT_MAX_BYTES (UINT64_C(1) << 40)
/** Default bound on the number of tar entries (all layers): 16,777,216. */
#define OCIDIR_UNPACK_DEFAULT_MAX_ENTRIES (UINT64_C(1) << 24)

/** Options of ocidir_unpack() (versioned: struct_size first). */
typedef struct ocidir_unpack_options {
    size_t struct_size;            /* sizeof(ocidir_unpack_options_t) as compiled */
    unsigned flags;                /* OCIDIR_UNPACK_* flags */
    int owner_mode;                /* OCIDIR_UNPACK_OWNER_* */
    const ocidir_idmap_t *uid_map; /* OWNER_MAP: n_uid_map ranges (not kept) */
    size_t n_uid_map;
    const ocidir_idmap_t *gid_map; /* OWNER_MAP: n_gid_map ranges (not kept) */
    size_t n_gid_map;
    int64_t fallback_uid;          /* id for an unmapped uid; -1: error instead */
    int64_t fallback_gid;          /* id for an unmapped gid; -1: error instead */
    uint64_t max_bytes;            /* 0: OCIDIR_UNPACK_DEFAULT_MAX_BYTES */
    uint64_t max_entries;          /* 0: OCIDIR_UNPACK_DEFAULT_MAX_ENTRIES */
    ocidir_progress_fn progress;   /* may be NULL: `done` and `total` are compressed
                                      layer bytes (total: the sum of the manifest's
                                      layer sizes); called at the start, as each layer
                                      finishes and every 256 entries.  Non-zero cancels:
                                      OCIDIR_E_CANCELED, the destination absent or
                                      empty again. */
    void *user;                    /* passed to progress */
} ocidir_unpack_options_t;

#define OCIDIR_UNPACK_OPTIONS_INIT                                                         \
    { sizeof(ocidir_unpack_options_t), 0, OCIDIR_UNPACK_OWNER_TAR, NULL, 0, NULL, 0, -1, -1, \
      OCIDIR_UNPACK_DEFAULT_MAX_BYTES, OCIDIR_UNPACK_DEFAULT_MAX_ENTRIES, NULL, NULL }

/** Write the defaults (as OCIDIR_UNPACK_OPTIONS_INIT) into the first
 *  `struct_size` bytes of `opts`.
 *  @return 0, or OCIDIR_E_INVALID (NULL, or struct_size too small). */
OCIDIR_API int ocidir_unpack_options_init(ocidir_unpack_options_t *opts, size_t struct_size);

/* Finding kinds of an unpack report: OCIDIR_FIND_XATTR_SKIPPED,
 * OCIDIR_FIND_XATTR_UNSUPPORTED, OCIDIR_FIND_DEVICE_SKIPPED,
 * OCIDIR_FIND_INCOMPLETE_CLEARED (section 10). */

/** Name of the marker file at the root of the destination while an unpack
 *  runs (a regular empty file, mode 0600, owned by the caller, flock()ed by
 *  the running call); removed last,
 *  just before ocidir_unpack() returns success.  A tree that has it is not a
 *  complete root filesystem (a killed unpack); ocidir_unpack() into the same
 *  path clears and reuses it (OCIDIR_FIND_INCOMPLETE_CLEARED). */
#define OCIDIR_UNPACK_MARKER ".ocidir-unpack-incomplete"

/**
 * Unpack every layer of `img` into the directory `path` (relative to
 * `dirfd`, or AT_FDCWD; the caller's own path, followed like any path the
 * caller chooses).
 *
 * The destination must be absent (it is created, mode 0755), an empty
 * directory (used in place, so a mount point works), or the tree of an
 * unpack that never finished (below); anything else is OCIDIR_E_EXISTS and
 * nothing is touched.  While the unpack runs the file
 * OCIDIR_UNPACK_MARKER exists at its root; an entry of that name at the
 * image's root is OCIDIR_E_FORMAT.  On success the marker is removed, one
 * syncfs() has flushed the filesystem (unless OCIDIR_UNPACK_NO_SYNC; a
 * failed syncfs is OCIDIR_E_NOT_DURABLE with the tree complete), and every
 * layer matched both its blob digest and its DiffID.
 *
 * On any failure — a digest or DiffID mismatch, a malformed or hostile
 * entry, ENOSPC, a bound exceeded, cancellation — everything the call
 * created is removed, so the destination is again absent or empty; the
 * message names the layer digest, the entry path in the tar and the reason.
 * A crash (SIGKILL, power loss) in the middle leaves a tree holding the
 * marker.  Unpacking again into the same path reuses it: a destination whose
 * root holds OCIDIR_UNPACK_MARKER as a regular, empty, singly-linked file
 * owned by the caller's effective uid, and not locked, is cleared first —
 * every entry removed through fds below the destination, never following a
 * symlink, the marker last — and the report carries one
 * OCIDIR_FIND_INCOMPLETE_CLEARED notice
 * (subject: `path`), so the caller can tell an incomplete tree was there.
 * A running unpack holds flock(LOCK_EX) on its marker (the kernel releases
 * it when the process dies), so an unpack still running into the same path
 * is OCIDIR_E_EXISTS, not cleared.  A marker of any other kind or owner
 * leaves the destination "not empty" (OCIDIR_E_EXISTS): a file another user
 * planted does not make the call delete a directory.  A failure of the new unpack leaves the path an empty
 * directory.
 *
 * Limits: entries are parsed with libarchive's tar reader (ustar, pax, GNU;
 * no other format, no filter).  A layer ending right after its last file's
 * content, with neither padding nor end-of-archive blocks (Go's tar writer
 * left unclosed, as in umoci 0.4.7 `insert` layers), ends there; one ending
 * inside a file's content or padding is OCIDIR_E_FORMAT.  Owners need
 * privilege: the default mode needs CAP_CHOWN over the ids, and devices
 * CAP_MKNOD.  Names and link
 * targets are created with the tar's raw bytes, whatever the process or
 * thread locale: ustar and GNU names as stored in the header, pax `path` and
 * `linkpath` records byte for byte (never converted to the locale's charset
 * nor normalized; the unpack parses with its own thread's locale set to "C"
 * through uselocale() for the duration of each libarchive call).
 *
 * @param img        an open image (its layout handle must stay open).
 * @param dirfd      a directory fd or AT_FDCWD (not closed, not kept).
 * @param path       the destination; must not be NULL or empty.
 * @param opts       options; NULL for the defaults.
 * @param report_out receives the report of what was skipped or cleared (findings 18-21;
 *                   totals: layers applied and bytes written); may be NULL.
 *                   Set only on success: not with OCIDIR_E_NOT_DURABLE
 *                   either, although the tree is complete then.
 * @return 0; OCIDIR_E_EXISTS (destination not an empty directory nor a
 *         marked incomplete tree);
 *         OCIDIR_E_DIGEST / OCIDIR_E_SIZE / OCIDIR_E_NOT_FOUND (a layer blob
 *         damaged or missing); OCIDIR_E_FORMAT (not a tar, a malformed entry,
 *         an invalid whiteout, a `..` component, a name past 4095 bytes or
 *         256 levels, a parent that is not a directory (e.g. a dangling
 *         symlink), a hard link to a missing or outside target);
 *         OCIDIR_E_ESCAPE (a parent behind a symlink loop or a magic link);
 *         OCIDIR_E_UNSUPPORTED
 *         (a layer media type that is not a tar); OCIDIR_E_TOO_LARGE (max_bytes
 *         or max_entries); OCIDIR_E_INVALID (bad options, an unmapped id);
 *         OCIDIR_E_CANCELED; OCIDIR_E_NOT_DURABLE; OCIDIR_E_IO (ENOSPC and
 *         other OS errors; see ocidir_last_errno()).
 *
 * Threads: one call uses one thread; several unpacks of the same image into
 * different destinations may run at once.  Another writer inside the
 * destination while it runs cannot make it leave the destination, but the
 * resulting tree is then unspecified.
 */
OCIDIR_API int ocidir_unpack(const ocidir_image_t *img, int dirfd, const char *path,
                             const ocidir_unpack_options_t *opts, ocidir_report_t **report_out);

/* ======================================================================
 * 12. Container runtime support (LXC and other callers that build a
 *     container from an image)
 * ====================================================================== */

/* Flags of ocidir_copy_options_t. */
#define OCIDIR_COPY_ALL_PLATFORMS (1u << 0) /* copy what the ref names whole (every platform of an index) */
#define OCIDIR_COPY_NO_HARDLINK (1u << 1)   /* never hard-link: reflink or copy only */

/** Options of ocidir_copy(); see "Options" in the introduction. */
typedef struct {
    size_t struct_size;          /* sizeof(ocidir_copy_options_t) */
    unsigned flags;              /* OCIDIR_COPY_* */
    ocidir_progress_fn progress; /* may be NULL: `done` and `total` are blob bytes
                                    (total: the sum of every descriptor's size);
                                    non-zero cancels: OCIDIR_E_CANCELED, no tag written */
    void *user;                  /* passed to progress */
} ocidir_copy_options_t;

#define OCIDIR_COPY_OPTIONS_INIT { sizeof(ocidir_copy_options_t), 0, NULL, NULL }

/** Fill `opts` (of the caller's `struct_size`) with the defaults.
 *  @return 0, or OCIDIR_E_INVALID. */
OCIDIR_API int ocidir_copy_options_init(ocidir_copy_options_t *opts, size_t struct_size);

/**
 * Copy one image, and every blob it references, from layout `src` into
 * layout `dst`, and tag it there.
 *
 * What is copied: without OCIDIR_COPY_ALL_PLATFORMS, the manifest that
 * ocidir_image_open(src, ref, platform) picks (through nested indexes), its
 * config, layers and subject; `tag` then names that manifest (its descriptor
 * carries the config's platform).  With OCIDIR_COPY_ALL_PLATFORMS (and
 * `platform` NULL), what `ref` names as it is: an index with every manifest
 * and index beneath it, each with its blobs; a manifest it lists that `src`
 * lacks fails the copy (OCIDIR_E_NOT_FOUND).
 *
 * How: each blob `dst` lacks is reflinked (FICLONE) where the filesystems
 * allow, else hard-linked from `src`'s own blobs/<alg> (same filesystem;
 * not with OCIDIR_COPY_NO_HARDLINK), else copied; it goes where `dst` writes
 * new blobs (its blobs/<alg>, or the directory added with
 * OCIDIR_BLOBDIR_WRITE: a shared cache).  Every blob taken is verified (hash
 * and size) as it is taken; a blob `dst` already has (in any of its read
 * places) is verified instead of taken.  Only after every blob is in place
 * and its directory flushed is the tag written (index.json replaced
 * atomically under its lock; an existing tag of that name is moved), so a
 * crash or failure leaves no tag on a partial image — only blobs no tag
 * references, which ocidir_gc() collects.
 *
 * @param src      the source layout (read only).
 * @param ref      a tag or a digest in `src`; must not be NULL.
 * @param platform "os/arch[/variant]", or NULL for ocidir_platform_default();
 *                 must be NULL with OCIDIR_COPY_ALL_PLATFORMS.
 * @param dst      the destination layout, opened writable (it may be the
 *                 same layout as `src`, under another tag).
 * @param tag      the tag to write in `dst`; must not be NULL.
 * @param opts     NULL for the defaults.
 * @param report_out receives a report (a COPIED / LINKED / REFLINKED finding
 *                 per blob taken; totals: every blob of the image and their
 *                 bytes); may be NULL.  Set only on success.
 * @return 0; OCIDIR_E_INVALID (NULL argument, unknown flag, a platform with
 *         ALL_PLATFORMS, a tag outside the ref.name grammar);
 *         OCIDIR_E_READONLY (`dst` read-only); OCIDIR_E_NOT_FOUND (no such
 *         ref or platform, a blob missing in `src`); OCIDIR_E_DIGEST /
 *         OCIDIR_E_SIZE (a blob of `src` damaged, or one `dst` already has;
 *         the message names the blob and where it is); OCIDIR_E_FORMAT;
 *         OCIDIR_E_AMBIGUOUS (the tag is on several entries of `dst`);
 *         OCIDIR_E_CANCELED; OCIDIR_E_NOT_DURABLE (the tag was written, its
 *         flush failed); OCIDIR_E_IO (ENOSPC and other OS errors).  On every
 *         failure but NOT_DURABLE the tag is unchanged.
 *
 * Threads: `src` and `dst` may be used by other threads and processes
 * meanwhile; ocidir_gc() on `dst` running at the same time cannot leave the
 * tag on a collected blob (the tag's update checks, under the index lock,
 * that every blob is still there).
 */
OCIDIR_API int ocidir_copy(ocidir_t *src, const char *ref, const char *platform, ocidir_t *dst, const char *tag,
                           const ocidir_copy_options_t *opts, ocidir_report_t **report_out);

/** Bounds of ocidir_user_lookup(): each file at most this many bytes, each
 *  line at most OCIDIR_USERDB_MAX_LINE bytes. */
#define OCIDIR_USERDB_MAX_FILE (8u << 20)
#define OCIDIR_USERDB_MAX_LINE (64u << 10)

/**
 * Resolve an OCI config's `User` ("user[:group]", each a name or a decimal
 * number) against the root filesystem's own etc/passwd and etc/group, as a
 * runtime does before starting the container's process.
 *
 * The files are opened beneath `rootfs_dirfd` as if it were "/": a symlink
 * inside the rootfs (also an absolute one, or one climbing with "..")
 * resolves inside it, and nothing outside it is ever read.  Each must be a
 * regular file of at most OCIDIR_USERDB_MAX_FILE bytes with lines of at most
 * OCIDIR_USERDB_MAX_LINE bytes.  No NSS, no other source.  Lines are parsed
 * strictly: exactly 7 (passwd) or 4 (group) fields and decimal ids, else the
 * line never matches; comments and NIS "+"/"-" lines never match; the first
 * matching line wins.
 *
 *   ""            -> uid 0, gid 0
 *   NAME          -> the passwd entry's uid and primary gid
 *   NUMBER        -> that uid; the gid of the first passwd entry with that
 *                    uid, or 0 when there is none (or no etc/passwd at all)
 *   USER:GROUP    -> the user as above; the gid of GROUP (a number as is, a
 *                    name from etc/group) instead of the primary group
 *
 * @param rootfs_dirfd a directory fd of the root filesystem (not AT_FDCWD;
 *                     not closed, not kept).
 * @param userspec     the spec; must not be NULL.
 * @param uid_out, gid_out receive the ids on success; must not be NULL.
 * @return 0; OCIDIR_E_INVALID (NULL argument, a negative fd, a malformed
 *         spec, a number above 4294967294); OCIDIR_E_NOT_FOUND (a name that
 *         is not in the file, or the file missing; the message names it);
 *         OCIDIR_E_TOO_LARGE (a file or a line past the bounds);
 *         OCIDIR_E_FORMAT (etc/passwd or etc/group not a regular file);
 *         OCIDIR_E_ESCAPE (a magic link on the way); OCIDIR_E_IO.  The
 *         outputs are untouched on failure.
 *
 * Threads: safe; any number of calls may run at once.
 */
OCIDIR_API int ocidir_user_lookup(int rootfs_dirfd, const char *userspec, uint32_t *uid_out, uint32_t *gid_out);

#ifdef __cplusplus
}
#endif

#endif /* OCIDIR_H */
