// ocidir_copy: resolve the root (a platform's manifest, or what the ref names
// with ALL_PLATFORMS), walk everything beneath it, take each blob the
// destination lacks (verifying those it has), flush, then write the tag.
#include "housekeeping/copy.hh"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "base/error.hh"
#include "format/digest.hh"
#include "format/oci.hh"
#include "fs/tempfile.hh"
#include "housekeeping/gc.hh"
#include "housekeeping/take.hh"
#include "image/image.hh"
#include "store/blob_store.hh"
#include "store/index.hh"
#include "store/layout.hh"
#include "store/walk.hh"

namespace ocd::copy {

namespace {

constexpr const char *kOp = "ocidir_copy";
constexpr take::Op kTake{kOp, "the tag was not written"};

struct Blob {
    std::string digest;
    int64_t size;
    std::string from;
};

// Every descriptor beneath the root, each digest once, in walk order.  A
// manifest or index is read (verified) and followed; a missing one, a
// malformed one or one too deep fails the copy (the walk's default).
class Collector : public walk::Visitor {
public:
    std::vector<Blob> blobs;

    walk::Step met(const walk::Met &m) override
    {
        if (!seen_.emplace(m.desc.digest, true).second)
            return walk::Step::Skip;
        blobs.push_back({m.desc.digest, m.desc.size, m.from});
        return oci::kind_of_media_type(m.desc.media_type) != oci::Kind::Unknown ? walk::Step::Follow
                                                                                : walk::Step::Skip;
    }
    walk::Step read(const walk::Met &m, walk::Document &doc) override
    {
        walk::require_declared_kind(m, doc);
        return walk::Step::Follow;
    }

private:
    std::map<std::string, bool> seen_;
};

}  // namespace

std::unique_ptr<ocidir_report> copy(const ocidir &src, std::string_view ref, const char *platform, ocidir &dst,
                                    std::string_view tag, const ocidir_copy_options_t &o)
{
    const unsigned known = OCIDIR_COPY_ALL_PLATFORMS | OCIDIR_COPY_NO_HARDLINK;
    if (o.flags & ~known)
        throw Error(OCIDIR_E_INVALID, std::string(kOp) + ": unknown flags " + std::to_string(o.flags & ~known));
    const bool all = o.flags & OCIDIR_COPY_ALL_PLATFORMS;
    if (all && platform)
        throw Error(OCIDIR_E_INVALID, std::string(kOp) + ": a platform and OCIDIR_COPY_ALL_PLATFORMS exclude each other");
    index::check_new_tag(tag);
    if (dst.readonly)
        throw Error(OCIDIR_E_READONLY, std::string(kOp) + ": destination " + dst.label + " is open read-only");

    // The root descriptor the tag will name.
    oci::Descriptor root;
    if (all) {
        root = index::resolve(src, ref);
        root.annotations.erase(std::string(oci::kRefNameAnnotation));
    } else {
        auto img = image::open(src, ref, platform);
        root.digest = img->manifest_digest;
        root.size = static_cast<int64_t>(img->manifest_bytes.size());
        root.media_type = img->manifest.media_type.empty() ? std::string(oci::kMediaManifest) : img->manifest.media_type;
        if (img->os && img->architecture)
            root.platform = oci::Platform{*img->os, *img->architecture, img->variant.value_or("")};
    }

    Collector col;
    walk::run(src, {walk::Root{root, "ref " + std::string(ref)}}, col, walk::Order::Depth);

    auto rep = std::make_unique<ocidir_report>();
    Progress prog(o.progress, o.user, kOp);
    for (const Blob &b : col.blobs)
        prog.add_total(static_cast<uint64_t>(std::max<int64_t>(0, b.size)));
    prog.advance(0);

    std::map<std::string, Fd> dirs;  // the destination directories written to, to flush once
    for (const Blob &b : col.blobs) {
        Digest dg = parse_digest(b.digest.c_str());
        const uint64_t size = static_cast<uint64_t>(std::max<int64_t>(0, b.size));
        bool have = false;
        try {
            Found f = find_blob(dst, dg);
            take::verify_fd(f.fd.get(), dg, size, "blob " + dg.str() + " already in " + f.place.label, kTake);
            have = true;
        } catch (const Error &e) {
            if (e.code() != OCIDIR_E_NOT_FOUND)
                throw;
        }
        if (!have) {
            auto w = writer_new(dst, dg.alg);
            const std::string label = dst.write_place(dg.alg).label;
            int kind = take::take_blob(src, dg, b.size, b.from, w->tmp, label, o.flags & OCIDIR_COPY_NO_HARDLINK,
                                       *rep, kTake);
            if (kind == 0) {  // another writer put it there meanwhile: check theirs
                Found f = find_blob(dst, dg);
                take::verify_fd(f.fd.get(), dg, size, "blob " + dg.str() + " in " + f.place.label, kTake);
            }
            if (!dirs.count(label)) {
                Fd d(fcntl(w->tmp.dir_fd(), F_DUPFD_CLOEXEC, 0));
                if (!d)
                    throw_os(std::string(kOp) + ": duplicating the fd of " + label, errno);
                dirs.emplace(label, std::move(d));
            }
        }
        rep->blobs++;
        rep->bytes += size;
        prog.advance(size);
    }
    // Hard links are not flushed by the take: every blob durable before the tag.
    for (const auto &[label, fd] : dirs)
        fsync_dir(fd.get(), label);
    // The last progress call comes before the tag, so a cancel there leaves none.
    prog.finish();

    index::set_tag(dst, tag, root, 0, [&] {
        // gc holds this lock from its mark to its last removal: every blob
        // taken before the lock must still be there.
        for (const Blob &b : col.blobs)
            require_still_present(dst, b.digest, "blob", "the tag was not written");
    });
    return rep;
}

}  // namespace ocd::copy
