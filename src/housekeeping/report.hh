// Reports of the housekeeping functions (fsck, gc, clone): a list of
// findings, each a kind (ocidir_find_kind_t), a subject (a digest, or a path
// relative to the directory it was found in), a size and a message, plus the
// totals of the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ocidir.h"

struct ocidir_report {
    struct Finding {
        int kind = OCIDIR_FIND_LAYOUT;
        std::string subject;
        uint64_t size = 0;
        std::string message;
    };
    std::vector<Finding> findings;
    uint64_t blobs = 0;  // blobs visited (checked, kept or copied)
    uint64_t bytes = 0;  // and their bytes

    void add(int kind, std::string subject, uint64_t size, std::string message)
    {
        findings.push_back({kind, std::move(subject), size, std::move(message)});
    }
    // Damage: kinds LAYOUT..IO; every other kind is a notice.  The one rule,
    // exported as ocidir_find_kind_is_damage().
    static bool is_damage(int kind) noexcept { return kind >= OCIDIR_FIND_LAYOUT && kind <= OCIDIR_FIND_IO; }
};
