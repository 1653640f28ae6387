// Fuzz target: index.json.  The whole-document parser (parse_index, with the
// hardened JSON reader's duplicate-key, depth and UTF-8 checks), and the
// lookups the library runs on a layout's index.json (entries, list_tags,
// resolve), on a scratch layout in /dev/shm.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hh"
#include "store/index.hh"
#include "scratch_layout.hh"

namespace {

size_t count_tag(const std::vector<ocd::oci::Descriptor> &es, const std::string &tag)
{
    size_t n = 0;
    for (const auto &e : es) {
        auto it = e.annotations.find(ocd::oci::kRefNameAnnotation);
        n += it != e.annotations.end() && it->second == tag;
    }
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string bytes(reinterpret_cast<const char *>(data), size);
    const std::initializer_list<int> doc_errors = {OCIDIR_E_FORMAT, OCIDIR_E_DIGEST, OCIDIR_E_SIZE};

    ocd::json::Doc doc;
    bool parsed = fuzz::parse_both(bytes, "index.json", &doc);
    std::optional<ocd::oci::Index> idx;
    if (parsed) {
        fuzz::check_canonical_roundtrip(doc);
        try {
            idx = ocd::oci::parse_index(doc);
            FUZZ_CHECK(idx->media_type.empty() ||
                       ocd::oci::kind_of_media_type(idx->media_type) == ocd::oci::Kind::Index);
            for (const auto &m : idx->manifests)
                fuzz::check_descriptor(m);
            if (idx->subject)
                fuzz::check_descriptor(*idx->subject);
            FUZZ_CHECK(ocd::oci::sniff(doc) == ocd::oci::Kind::Index);
        } catch (const ocd::Error &e) {
            fuzz::check_error(e, doc_errors);
        }
    }

    // The one-pass scan of tag lookups accepts only what the whole parse
    // and index_manifests() accept, and sees the same entries and tags.
    {
        std::string padded(bytes);
        padded.append(ocd::json::Doc::kPadding, '\0');
        const std::string_view view(padded.data(), bytes.size());
        ocd::oci::IndexScanner scan;
        std::vector<ocd::oci::IndexEntry> seen;
        std::vector<std::optional<std::string>> seen_tags;
        bool ok = scan.run(view, "index.json", [&](const ocd::oci::IndexEntry &e) {
            seen.push_back(e);
            seen_tags.emplace_back(e.tag ? std::optional<std::string>(std::string(*e.tag)) : std::nullopt);
        });
        if (ok) {
            FUZZ_CHECK(parsed);
            simdjson::dom::array ms;
            try {
                ms = ocd::oci::index_manifests(doc);
            } catch (const ocd::Error &) {
                FUZZ_CHECK(!"the scan accepted an index that index_manifests() refuses");
            }
            FUZZ_CHECK(ms.size() == seen.size());
            size_t i = 0;
            for (ocd::json::Element e : ms) {
                FUZZ_CHECK(ocd::json::is_object(e));
                std::optional<std::string> tag;
                if (auto a = ocd::json::member(e.get_object().value_unsafe(), "annotations")) {
                    FUZZ_CHECK(ocd::json::is_object(*a));
                    if (auto t = ocd::json::member(a->get_object().value_unsafe(), ocd::oci::kRefNameAnnotation)) {
                        FUZZ_CHECK(t->type() == simdjson::dom::element_type::STRING);
                        tag = std::string(t->get_string().value_unsafe());
                    }
                }
                FUZZ_CHECK(seen[i].i == i);
                FUZZ_CHECK(tag == seen_tags[i]);
                ocd::json::Doc one = ocd::json::Doc::parse(seen[i].json(view), "entry");
                FUZZ_CHECK(ocd::json::write(ocd::json::to_value(one.root())) ==
                           ocd::json::write(ocd::json::to_value(e)));
                i++;
            }
        }
    }

    // The same bytes as a layout's index.json.
    auto &L = fuzz::ScratchLayout::get();
    L.write_file("index.json", bytes);
    const ocidir &d = *L.handle();
    std::optional<std::vector<ocd::oci::Descriptor>> es;
    try {
        es = ocd::index::entries(d);
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, doc_errors);
    }
    if (idx) {
        // What the whole-document parser accepts, the lookups accept too.
        FUZZ_CHECK(es.has_value());
        FUZZ_CHECK(es->size() == idx->manifests.size());
        for (size_t i = 0; i < es->size(); i++)
            FUZZ_CHECK((*es)[i].digest == idx->manifests[i].digest);
    }
    if (!parsed)
        FUZZ_CHECK(!es.has_value());
    if (!es)
        return 0;

    std::vector<std::string> tags;
    try {
        tags = ocd::index::list_tags(d);
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, doc_errors);
        FUZZ_CHECK(!"list_tags failed on an index whose entries are all valid");
    }
    for (size_t i = 0; i < tags.size(); i++) {
        FUZZ_CHECK(count_tag(*es, tags[i]) >= 1);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(tags[i] != tags[j]);
        if (!ocd::index::valid_tag(tags[i]) || ocd::classify_digest(tags[i]) == 0)
            continue;
        try {
            ocd::oci::Descriptor r = ocd::index::resolve(d, tags[i]);
            FUZZ_CHECK(count_tag(*es, tags[i]) == 1);
            auto it = r.annotations.find(ocd::oci::kRefNameAnnotation);
            FUZZ_CHECK(it != r.annotations.end() && it->second == tags[i]);
        } catch (const ocd::Error &e) {
            fuzz::check_error(e, {OCIDIR_E_AMBIGUOUS});
            FUZZ_CHECK(count_tag(*es, tags[i]) > 1);
        }
    }
    // Every tagged entry shows up in the tag list.
    for (const auto &e : *es) {
        auto it = e.annotations.find(ocd::oci::kRefNameAnnotation);
        if (it == e.annotations.end())
            continue;
        bool listed = false;
        for (const auto &t : tags)
            listed = listed || t == it->second;
        FUZZ_CHECK(listed);
    }
    // A tag that is not there is NOT_FOUND, not anything else.
    const char *absent = "fuzz-absent-tag";
    if (count_tag(*es, absent) == 0) {
        try {
            ocd::index::resolve(d, absent);
            FUZZ_CHECK(!"resolve found a tag that is not in index.json");
        } catch (const ocd::Error &e) {
            fuzz::check_error(e, {OCIDIR_E_NOT_FOUND});
        }
    }
    return 0;
}
