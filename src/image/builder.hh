// Building images and artifacts: a config kept as a mutable JSON value (so
// fields without an accessor survive ocidir_builder_from()), the layer list,
// annotations and subject; commit writes config, manifest and tag in an order
// that a crash cannot break, all in canonical JSON so that the same inputs
// give the same digests.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/json.hh"
#include "format/oci.hh"
#include "ocidir.h"
#include "store/blob_store.hh"

struct ocidir;
struct ocidir_layer_writer;

// A builder borrows its layout handle: the ocidir_t must outlive it.
struct ocidir_builder {
    ocidir *d = nullptr;

    // An artifact (or a manifest whose config is not an image config): the
    // config is `fixed_config` as is, layers carry no diff_id, there is no
    // history and no config field can be set.
    bool artifact = false;
    std::optional<ocd::oci::Descriptor> fixed_config;

    // The image config document (an object) when !artifact.
    ocd::json::Value config;

    std::vector<ocd::oci::Descriptor> layers;
    ocd::oci::Annotations annotations;
    std::optional<ocd::oci::Descriptor> subject;
    std::optional<std::string> artifact_type;
    std::optional<std::string> created;  // set_created, for history entries

    // The manifest digest index.json names after the last commit failed with
    // NOT_DURABLE at its index.json step (the tag moved, the flush failed);
    // empty otherwise.  The C shim hands it out as on success.
    std::string published_digest;

    // Layer blobs added with OCIDIR_ADD_LAYER_DEFER_SYNC: finished (digest
    // known, in b.layers) but not published yet; commit flushes them all at
    // once and names them before the manifest is written.
    std::vector<std::unique_ptr<ocidir_blob_writer>> pending;
};

namespace ocd::builder {

// The annotation that carries an artifact's creation time.
inline constexpr std::string_view kCreatedAnnotation = "org.opencontainers.image.created";

std::unique_ptr<ocidir_builder> create(ocidir &d, const char *platform);
std::unique_ptr<ocidir_builder> create_artifact(ocidir &d, const char *artifact_type);
std::unique_ptr<ocidir_builder> from(ocidir &d, std::string_view ref, const char *platform);

// True for "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)".
bool valid_rfc3339(std::string_view s) noexcept;

void set_created(ocidir_builder &b, const char *rfc3339);
// `annotations`: the layer descriptor's, as a NULL-terminated key, value, ...
// vector, or NULL.  `op` names the entry point in messages.
void add_layer(ocidir_builder &b, const char *media_type, const char *digest, uint64_t size, const char *diff_id,
               const char *created_by, const char *const *annotations, const char *op);
// Commits `w` (spent or failed afterwards; the caller frees it) then adds it.
// With `defer`, the blob is not published now but kept in b.pending
// (OCIDIR_ADD_LAYER_DEFER_SYNC); once kMaxPending are held, they are
// flushed and published together.
inline constexpr size_t kMaxPending = 256;
void add_layer_writer(ocidir_builder &b, ocidir_layer_writer &w, const char *created_by,
                      const char *const *annotations, const char *op, bool defer = false);
void set_config_strv(ocidir_builder &b, int field, const char *const *strv);
void set_config_string(ocidir_builder &b, int field, const char *value);
void set_label(ocidir_builder &b, const char *key, const char *value);
void set_annotation(ocidir_builder &b, const char *key, const char *value);
void set_subject(ocidir_builder &b, const char *digest);

// The canonical config and manifest documents the builder would commit.
std::string config_json(const ocidir_builder &b);
std::string manifest_json(const ocidir_builder &b, const oci::Descriptor &config);

// Returns the manifest digest.
std::string commit(ocidir_builder &b, const char *tag, unsigned flags);

}  // namespace ocd::builder
