// Images: the manifest for a platform (found through nested indexes), its
// config and its layers.  Everything an accessor hands out is parsed and
// validated when the image is opened, so accessors never fail on content.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/json.hh"
#include "format/oci.hh"

struct ocidir;

// An open image.  Immutable after ocd::image::open().  It borrows the layout
// handle: the ocidir_t it was opened from must outlive it (it is used again
// by ocidir_image_layer_open()).
struct ocidir_image {
    const ocidir *d = nullptr;

    // What the ref named (ocidir_image_ref_descriptor): the manifest, or the
    // index it was chosen from.
    ocd::oci::Descriptor ref_desc;

    std::string manifest_digest;
    std::string manifest_bytes;  // verified
    ocd::oci::Manifest manifest;

    // Config bytes, verified; present for every config whose blob exists
    // (the empty descriptor's `{}` even when its blob is absent).
    std::optional<std::string> config_bytes;

    // True when the config is an image config (OCI or Docker media type);
    // the fields below are meaningful only then.
    bool image_config = false;
    std::optional<std::vector<std::string>> entrypoint, cmd, env, diff_ids;
    std::optional<std::string> user, working_dir, os, architecture, variant, created, stop_signal;
    ocd::oci::Annotations labels;
};

namespace ocd::image {

// True for the OCI and Docker image config media types.
bool is_image_config_type(std::string_view media_type) noexcept;

// ocidir_image_open.  `platform` NULL means the host platform.  The search is
// the walk of store/walk, with its depth policy (OCIDIR_MAX_INDEX_DEPTH).
std::unique_ptr<ocidir_image> open(const ocidir &d, std::string_view ref, const char *platform);

// Parse an image config document into the image's typed fields.  Throws
// FORMAT (naming `what` and the field) for a field of the wrong type.
void parse_config(ocidir_image &img, const json::Doc &doc);

// ocidir_referrers: the digests of the manifests and indexes reachable from
// index.json whose subject is `digest`, filtered by artifact type (the
// artifactType, else the config media type; NULL/empty for all), in walk
// order, each once.
std::vector<std::string> referrers(const ocidir &d, std::string_view digest, const char *artifact_type);

}  // namespace ocd::image
