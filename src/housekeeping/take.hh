// Taking a blob from one layout into a directory of another, the way clone
// and copy do: reflink, else hard link (from the source layout's own
// blobs/<alg>, same filesystem), else copy — each verified against its
// digest and size as it is taken.
#pragma once

#include <cstdint>
#include <string>

#include "format/digest.hh"
#include "fs/tempfile.hh"
#include "housekeeping/report.hh"

struct ocidir;

namespace ocd::take {

// The operation, for messages: "<op>: <what> ...; <consequence>".
struct Op {
    const char *name;         // "ocidir_clone"
    const char *consequence;  // "nothing was cloned"
};

// Hash `fd` from offset 0 to its end; throws DIGEST / SIZE naming `what`
// unless it is exactly `dg` of `size` bytes.
void verify_fd(int fd, const Digest &dg, uint64_t size, const std::string &what, const Op &op);

// Copy all of `src` into `dst` (in the kernel where it can).
void copy_fd(int src, int dst, uint64_t size, const std::string &what);

// Take the blob `dg` of `src` into `tmp` (a temporary file in the
// destination algorithm directory, `dst_label` in messages) and publish it
// there as <hex>, or hard-link it there unless `no_hardlink`.  `expect_size`
// (-1: unknown) is the size its descriptor at `from` gives.  Adds a
// REFLINKED / LINKED / COPIED finding to `rep` and returns that kind.
// Returns 0 (adding nothing) when <hex> appeared in the destination
// meanwhile; the caller decides whether to verify it.  Throws as find_blob()
// and verify_fd().
int take_blob(const ocidir &src, const Digest &dg, int64_t expect_size, const std::string &from, TempFile &tmp,
              const std::string &dst_label, bool no_hardlink, ocidir_report &rep, const Op &op);

}  // namespace ocd::take
