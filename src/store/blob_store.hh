// The blob store: streaming writers that publish atomically and durably,
// verified streaming readers, lookups across the layout's blobs/ and the
// added blob directories, removal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "format/digest.hh"
#include "base/fd.hh"
#include "format/hash.hh"
#include "store/layout.hh"
#include "fs/tempfile.hh"
#include "store/write_beside.hh"

struct ocidir_blob_writer {
    ocidir_blob_writer(ocd::Alg a, unsigned f, std::unique_ptr<ocd::Hasher> h, ocd::TempFile t)
        : alg(a), flags(f), hasher(std::move(h)), tmp(std::move(t)) {}

    ocd::Alg alg;
    unsigned flags;  // OCIDIR_PUT_*
    std::unique_ptr<ocd::Hasher> hasher;
    ocd::TempFile tmp;
    uint64_t size = 0;
    std::optional<ocd::Digest> expect_digest;
    int64_t expect_size = -1;
    bool expected = false;
    bool failed = false;
    std::string digest;  // set by writer_commit once the blob is published
    std::string final_digest;  // set by writer_finish: the content's digest
    bool finished = false;     // writer_finish done: no more writes
    std::vector<char> buf;  // coalesces small writes
    size_t buf_len = 0;
    // Large writes' helper thread, made at the first; declared after tmp,
    // which it writes to, so that it goes first.
    std::unique_ptr<ocd::WriteBeside> beside;
};

struct ocidir_blob_reader {
    ocd::Fd fd;
    std::unique_ptr<ocd::Hasher> hasher;
    ocd::Digest digest;
    std::string where;  // the place label, for messages
    uint64_t size = 0;
    uint64_t pos = 0;
    int error = 0;      // sticky failure code
    bool done = false;  // verified end reached
};

namespace ocd {

// `flags`: OCIDIR_PUT_* bits, honoured by writer_commit.
std::unique_ptr<ocidir_blob_writer> writer_new(ocidir &d, Alg alg, unsigned flags = 0);
void writer_expect(ocidir_blob_writer &w, const char *digest, int64_t size);
void writer_write(ocidir_blob_writer &w, const void *buf, size_t len);
// Consumes the writer's temp file; returns the digest string.  An existing
// file under the name is kept if its size matches (and, with
// OCIDIR_PUT_VERIFY_EXISTING, its hash), else replaced atomically.  Throws
// Error(NOT_DURABLE) when the blob was published but flushing its directory
// failed; w.digest holds the digest then too.
std::string writer_commit(ocidir_blob_writer &w);
// writer_commit() in two steps.  writer_finish: flush the buffer, compute the
// digest (into w.final_digest) and check it and the size against
// writer_expect(); nothing is published (idempotent).  writer_publish:
// publish a finished writer, as writer_commit does; with `flush` false
// neither the content nor the directory is flushed: the caller made the
// content durable before (sync_writers()) and flushes the directory after
// (flush_writer_dirs()).
void writer_finish(ocidir_blob_writer &w);
std::string writer_publish(ocidir_blob_writer &w, bool flush);

// Batched durability for finished writers, not yet published: one syncfs()
// per filesystem their temporary files are on (throws IO naming the blob
// directory and the errno; nothing is published then).
void sync_writers(const std::vector<ocidir_blob_writer *> &ws);
// After publishing writers without flushing: fsync each distinct blob
// directory once.  Throws NOT_DURABLE (the blobs are in place, their names
// may not survive a crash).
void flush_writer_dirs(const std::vector<ocidir_blob_writer *> &ws);
// Append the content of `fd` (from its offset to its end) to a fresh writer:
// regular files by an in-kernel copy hashed with read(2), others by reading.
void put_fd_into(ocidir_blob_writer &w, int fd);

struct Found {
    Place place;
    struct stat st;
    Fd fd;  // O_RDONLY, regular file
};
// Look a blob up in the read places and open it (verified type).  Throws
// NOT_FOUND naming every place searched, FORMAT, ESCAPE, IO.
Found find_blob(const ocidir &d, const Digest &dg);

std::unique_ptr<ocidir_blob_reader> reader_open(const ocidir &d, const char *digest, int64_t expected_size);
// Returns bytes read, 0 at the verified end, or a negative code (sticky).
ssize_t reader_read(ocidir_blob_reader &r, void *buf, size_t len);

void blob_remove(ocidir &d, const char *digest);

// For writers of index.json, under its lock: `digest` (a blob written or read
// before the lock was taken) must still be present, since gc, which holds the
// same lock from its mark to its last removal, may have removed it.  Throws
// NOT_FOUND (ENOENT): "[what ]<digest> is no longer present (removed by gc
// meanwhile?); <consequence>: <the lookup's message>"; other lookup errors as
// find_blob().
void require_still_present(const ocidir &d, const std::string &digest, const std::string &what,
                           const std::string &consequence);

}  // namespace ocd
