// Fuzz target: the layer reader.  The input's first byte picks the media type
// (plain, gzip, zstd, Docker gzip) and the second what the descriptor says
// (its size right or off by one, a diff_id right, wrong or absent, or the
// stored blob altered after it was written); the rest
// is stored as a blob in a scratch layout in /dev/shm and read back through
// ocidir_layer_open()/ocidir_layer_reader_read(), which decompress, hash the
// blob and the decompressed stream, and must report a clean end only when
// both match.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hh"
#include "format/hash.hh"
#include "image/layer.hh"
#include "scratch_layout.hh"

namespace {

// Decompressed bytes read at most per input: a small blob can expand a lot
// (zstd especially); beyond this the run only measures the codec.
constexpr size_t kMaxOut = size_t(8) << 20;

const char *const kTypes[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
};

struct Outcome {
    int rc = 0;               // 0: clean end; <0: the error code; 1: stopped at kMaxOut
    std::string out_digest;   // sha256 of what was read
    std::string diff_id;      // the reader's own, at a clean end
    std::string first_bytes;  // up to 4 KiB of the output, to compare with the input for plain layers
    size_t out_len = 0;
};

Outcome read_layer(ocidir_t *d, const char *type, const char *digest, int64_t size, const char *diff_id)
{
    Outcome o;
    ocidir_layer_reader_t *r = nullptr;
    int rc = ocidir_layer_open(d, type, digest, size, diff_id, &r);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && r == nullptr);
        o.rc = rc;
        return o;
    }
    auto h = ocd::Hasher::create(ocd::Alg::sha256);
    std::vector<unsigned char> buf(65536);
    for (;;) {
        ssize_t n = ocidir_layer_reader_read(r, buf.data(), buf.size());
        if (n < 0) {
            o.rc = static_cast<int>(n);
            // Errors are sticky: the next read says the same.
            FUZZ_CHECK(ocidir_layer_reader_read(r, buf.data(), buf.size()) == n);
            FUZZ_CHECK(ocidir_last_error() != nullptr && ocidir_last_error()[0] != '\0');
            break;
        }
        if (n == 0) {
            o.diff_id = r->diff_id;
            // The end is reported again, not turned into an error.
            FUZZ_CHECK(ocidir_layer_reader_read(r, buf.data(), buf.size()) == 0);
            break;
        }
        FUZZ_CHECK(static_cast<size_t>(n) <= buf.size());
        h->update(buf.data(), static_cast<size_t>(n));
        if (o.first_bytes.size() < 4096)
            o.first_bytes.append(reinterpret_cast<char *>(buf.data()),
                                 std::min<size_t>(static_cast<size_t>(n), 4096 - o.first_bytes.size()));
        o.out_len += static_cast<size_t>(n);
        if (o.out_len > kMaxOut) {
            o.rc = 1;
            break;
        }
    }
    o.out_digest = h->final_digest();
    ocidir_layer_reader_close(r);
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *type = kTypes[data[0] % 4];
    const unsigned mode = data[1];
    const unsigned char *blob = data + 2;
    const size_t blob_len = size - 2;

    auto &L = fuzz::ScratchLayout::get();
    ocidir_t *d = L.handle();
    char digest[OCIDIR_DIGEST_MAX];
    FUZZ_CHECK(ocidir_blob_put(d, blob, blob_len, digest) == 0);

    // First read: the right size, no diff_id.
    Outcome a = read_layer(d, type, digest, static_cast<int64_t>(blob_len), nullptr);
    const std::initializer_list<int> read_errors = {OCIDIR_E_FORMAT, OCIDIR_E_DIGEST, OCIDIR_E_SIZE};
    if (a.rc < 0) {
        bool ok = false;
        for (int c : read_errors)
            ok = ok || a.rc == c;
        FUZZ_CHECK(ok);
        // A plain layer is the blob itself: it cannot be corrupt.
        FUZZ_CHECK(data[0] % 4 != 0);
    }
    if (a.rc == 0) {
        // A clean end: the reader's diff_id is the hash of what it handed out.
        FUZZ_CHECK(a.diff_id == a.out_digest);
        if (data[0] % 4 == 0) {
            FUZZ_CHECK(a.out_len == blob_len);
            FUZZ_CHECK(a.first_bytes == std::string(reinterpret_cast<const char *>(blob),
                                                    std::min<size_t>(blob_len, 4096)));
        }
    }

    if ((mode & 3) == 0 && blob_len > 0) {
        // The stored blob no longer matches its digest (one byte changed on
        // disk): never a clean end, whatever the codec makes of the bytes.
        std::string bad(reinterpret_cast<const char *>(blob), blob_len);
        bad[(mode >> 2) % blob_len] ^= 0x20;
        L.write_file((std::string("blobs/sha256/") + (digest + 7)).c_str(), bad);
        Outcome b = read_layer(d, type, digest, static_cast<int64_t>(blob_len), nullptr);
        FUZZ_CHECK(b.rc == OCIDIR_E_DIGEST || b.rc == OCIDIR_E_FORMAT || b.rc == 1);
    } else if (a.rc == 0 && (mode & 3) == 1) {
        // The descriptor's diff_id matches: same stream, clean end.
        Outcome b = read_layer(d, type, digest, -1, a.diff_id.c_str());
        FUZZ_CHECK(b.rc == 0 && b.out_digest == a.out_digest && b.diff_id == a.diff_id);
    } else if (a.rc == 0 && (mode & 3) == 2) {
        // A wrong diff_id: never a clean end.
        std::string wrong = a.diff_id;
        wrong.back() = wrong.back() == '0' ? '1' : '0';
        Outcome b = read_layer(d, type, digest, -1, wrong.c_str());
        FUZZ_CHECK(b.rc == OCIDIR_E_DIGEST);
    } else if ((mode & 3) == 3) {
        // The descriptor's size is off by one: never a clean end.
        Outcome b = read_layer(d, type, digest, static_cast<int64_t>(blob_len) + ((mode & 4) ? 1 : -1), nullptr);
        if (!(blob_len == 0 && !(mode & 4)))
            FUZZ_CHECK(b.rc != 0 && b.rc != 1);
    }

    FUZZ_CHECK(ocidir_blob_remove(d, digest) == 0);
    return 0;
}
