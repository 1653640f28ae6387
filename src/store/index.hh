// index.json and tags: reading it (fast even with 100,000 entries: only the
// entries a lookup needs are validated, no blob is read), resolving refs, and
// changing it under an exclusive cross-process lock with atomic publication.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "format/json.hh"
#include "format/oci.hh"

struct ocidir;

namespace ocd::index {

// The ref.name grammar: component ("/" component)*, component
// [A-Za-z0-9]+(([-._:@+]|--)[A-Za-z0-9]+)*.
bool valid_tag(std::string_view tag) noexcept;
// Throws Error(OCIDIR_E_INVALID) naming the tag.
void check_tag(std::string_view tag);
// check_tag, and refuses a tag spelled like a digest (resolve could never
// find it by name): for the operations that write a tag.
void check_new_tag(std::string_view tag);

// index.json read whole (bounded by the JSON limit) and parsed, its
// top-level shape checked (schemaVersion 2, index media type, no
// config/layers, manifests an array).
json::Doc read_index_doc(const ocidir &d);

// The tags, in file order, each once.
std::vector<std::string> list_tags(const ocidir &d);

// A tag's entry (validated), or a digest's descriptor (read from the blob).
// Throws NOT_FOUND, AMBIGUOUS, INVALID (neither tag nor digest), FORMAT.
oci::Descriptor resolve(const ocidir &d, std::string_view ref);

// Every entry of index.json, validated (for walks: referrers, platforms).
std::vector<oci::Descriptor> entries(const ocidir &d);

// Read-modify-write of index.json under the layout's lock file; `fn` edits
// the whole document as a mutable value; the result is written canonically
// to a temp file, fsync'd, renamed over index.json, and the directory
// fsync'd.  Throws READONLY on a read-only handle.
// `fn` returns false when it changed nothing (then nothing is written).
void update(ocidir &d, const std::function<bool(json::Value &index)> &fn);

// Point `tag` at the descriptor (replacing the entry that has the tag in
// place, or appending).  A replaced entry keeps what the caller did not ask
// to change: all of it when the digest stays the same (mediaType and size
// refreshed from `desc`), its annotations other than the ref name when the
// digest changes (platform and other descriptor fields are then `desc`'s).
// Throws EXISTS with OCIDIR_TAG_NOREPLACE, AMBIGUOUS.
// `under_lock`, when given, runs first inside the update, with the lock
// held (a throw leaves index.json unchanged).
void set_tag(ocidir &d, std::string_view tag, const oci::Descriptor &desc, unsigned flags,
             const std::function<void()> &under_lock = {});
void remove_tag(ocidir &d, std::string_view tag);
// Append an untagged entry unless one with that digest exists.
void add_untagged(ocidir &d, const oci::Descriptor &desc, const std::function<void()> &under_lock = {});

// The lock update() takes (flock(LOCK_EX) on `.ocidir.lock`), held for as
// long as the object lives, so that no index.json update in any process runs
// meanwhile.  Not re-entrant: while a thread holds it, that process must not
// call update() on the same layout.  Throws as update() (READONLY aside).
class Lock {
public:
    explicit Lock(const ocidir &d);
    Lock(Lock &&) noexcept;
    ~Lock();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The names of index.json update temporaries (`.ocidir-index-*`) in the
// layout root.  Only with the Lock held are they all stale.
std::vector<std::string> index_temps(const ocidir &d);

// At a writable open (ocidir_open calls it after open_layout, which leaves
// index.json's files to this module): when no writer holds the lock right
// now, remove the temporary files of index.json updates that crashed.  Best
// effort.
void remove_stale_temps_if_idle(const ocidir &d) noexcept;
// For fsck: the index temporaries that are stale because no writer holds the
// lock right now (none when one does, or when the lock file does not exist).
// The lock is probed, never waited for or created, and held only for the
// listing; nothing is removed.
std::vector<std::string> stale_temps_if_idle(const ocidir &d);

}  // namespace ocd::index
