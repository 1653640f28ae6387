// The layer writer's and reader's state machines; the codecs they drive are
// in image/codec/.
#include "image/layer.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "base/error.hh"

namespace ocd {

namespace {

// The writer hands compressed bytes to the blob writer in chunks this large:
// at or above the blob writer's own buffer size, so they go straight to the
// file without a second copy.
constexpr size_t kOutBuffer = 256 * 1024;
// The reader pulls compressed bytes from the blob reader in chunks this large.
constexpr size_t kInBuffer = 128 * 1024;
// A read returns ssize_t: work in pieces no larger than this, whatever the
// caller passes.
constexpr size_t kMaxPiece = codec::kMaxPiece;

// ---------------------------------------------------------------------------
// Writer

void check_open(const ocidir_layer_writer &w, const char *op)
{
    if (w.state == ocidir_layer_writer::State::Failed)
        throw_error(OCIDIR_E_STATE, std::string("layer writer (") + w.media_type + "): cannot " + op +
                                        ": an earlier call failed; only abort is possible");
    if (w.state == ocidir_layer_writer::State::Committed)
        throw_error(OCIDIR_E_STATE,
                    std::string("layer writer (") + w.media_type + "): cannot " + op + ": already committed");
}

}  // namespace

std::unique_ptr<ocidir_layer_writer> layer_writer_new(ocidir &d, int compression, int level, int threads)
{
    return layer_writer_new(d, compression, level, threads, Alg::sha256, 0, false);
}

std::unique_ptr<ocidir_layer_writer> layer_writer_new(ocidir &d, int compression, int level, int threads, Alg alg,
                                                      int zstd_window_log, bool zstd_long)
{
    const char *mt = compression_media_type(compression);
    if (!mt)
        throw_error(OCIDIR_E_UNSUPPORTED, "layer writer: unknown compression " + std::to_string(compression) +
                                              " (known: 0 none, 1 gzip, 2 zstd)");
    codec::EncoderParams params = codec::encoder_params(compression, mt, level, threads, zstd_window_log, zstd_long);

    auto w = std::make_unique<ocidir_layer_writer>();
    w->compression = compression;
    w->media_type = mt;
    w->blob = writer_new(d, alg);  // READONLY on a read-only handle
    w->diff = Hasher::create(Alg::sha256);
    ocidir_blob_writer *blob = w->blob.get();
    w->enc = codec::make_encoder(params, kOutBuffer,
                                 [blob](const unsigned char *p, size_t n) { writer_write(*blob, p, n); });
    return w;
}

void layer_writer_write(ocidir_layer_writer &w, const void *buf, size_t len)
{
    check_open(w, "write");
    if (len == 0)
        return;
    try {
        w.diff->update(buf, len);
        w.in_size += len;
        if (w.enc)
            w.enc->write(static_cast<const unsigned char *>(buf), len);
        else
            writer_write(*w.blob, buf, len);  // the blob writer buffers small writes itself
    } catch (...) {
        w.state = ocidir_layer_writer::State::Failed;
        throw;
    }
}

LayerResult layer_writer_commit(ocidir_layer_writer &w)
{
    check_open(w, "commit");
    try {
        if (w.enc) {
            w.enc->finish();
            w.enc.reset();  // frees the codec's memory now
        }
        LayerResult res;
        res.diff_id = w.diff->final_digest();
        try {
            res.digest = writer_commit(*w.blob);
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOT_DURABLE && !w.blob->digest.empty()) {
                w.published_digest = w.blob->digest;
                w.published_size = w.blob->size;
                w.published_diff_id = res.diff_id;
            }
            throw;
        }
        res.size = w.blob->size;
        res.media_type = w.media_type;
        w.state = ocidir_layer_writer::State::Committed;
        return res;
    } catch (...) {
        // The blob writer's temporary file goes with it: nothing is published.
        w.state = ocidir_layer_writer::State::Failed;
        throw;
    }
}

// ---------------------------------------------------------------------------
// Reader

std::unique_ptr<ocidir_layer_reader> layer_open(const ocidir &d, std::string_view media_type, const char *digest,
                                                int64_t size, const char *diff_id)
{
    int c = compression_from_media_type(media_type);
    if (c < 0)
        throw_error(OCIDIR_E_UNSUPPORTED,
                    "layer " + (digest ? std::string(digest) : std::string("(null)")) + ": media type " +
                        quote(media_type) +
                        " is not a tar layer type this library reads (application/vnd.oci.image.layer.v1.tar, "
                        "+gzip, +zstd, their nondistributable variants, "
                        "application/vnd.docker.image.rootfs.diff.tar[.gzip])");
    std::optional<Digest> want;
    if (diff_id) {
        try {
            want = parse_digest(diff_id);
        } catch (const Error &e) {
            throw Error(e.code(), "layer " + (digest ? std::string(digest) : std::string("(null)")) +
                                      ": its diff_id is unusable: " + e.message());
        }
    }

    auto r = std::make_unique<ocidir_layer_reader>();
    r->compression = c;
    r->media_type = std::string(media_type);
    r->blob = reader_open(d, digest, size);
    r->what = "layer " + r->blob->digest.str() + " (" + r->media_type + ")";
    // A diff_id is hashed with its own algorithm (sha256 in every config
    // seen in practice; a sha512 one is checked as such).
    r->diff = Hasher::create(want ? want->alg : Alg::sha256);
    if (want)
        r->expect_diff_id = want->str();
    r->dec = codec::make_decoder(c, r->what);
    if (r->dec)
        r->in.resize(kInBuffer);
    return r;
}

namespace {

// Read from the blob reader, naming the layer's media type in its errors.
ssize_t blob_read(ocidir_layer_reader &r, void *buf, size_t len)
{
    try {
        return reader_read(*r.blob, buf, len);
    } catch (const Error &e) {
        throw Error(e.code(), "layer (" + r.media_type + "): " + e.message(), e.os_errno());
    }
}

void refill(ocidir_layer_reader &r)
{
    ssize_t n = blob_read(r, r.in.data(), r.in.size());
    if (n == 0) {
        r.blob_eof = true;  // the blob hashed to its digest
        r.in_pos = r.in_len = 0;
    } else {
        r.in_pos = 0;
        r.in_len = static_cast<size_t>(n);
    }
}

// Corrupt compressed data usually means a blob that does not match its
// digest.  Read the rest of the blob first: if it fails its own check, that
// is the error the caller gets (the more telling one), with the
// decompressor's complaint attached; otherwise the blob is what its digest
// says and the compressed data in it is bad (FORMAT).
[[noreturn]] void corrupt(ocidir_layer_reader &r, const Error &format)
{
    try {
        while (!r.blob_eof)
            refill(r);
    } catch (const Error &e) {
        // The decoder's message starts with r.what, which the blob's names already.
        std::string_view detail = format.message();
        if (detail.starts_with(r.what + ": "))
            detail.remove_prefix(r.what.size() + 2);
        throw Error(e.code(), e.message() + " (decompressing it failed too: " + std::string(detail) + ")",
                    e.os_errno());
    }
    throw format;
}

void finish(ocidir_layer_reader &r)
{
    r.diff_id = r.diff->final_digest();
    if (r.expect_diff_id && r.diff_id != *r.expect_diff_id)
        throw_error(OCIDIR_E_DIGEST, r.what + ": the uncompressed content hashes to " + r.diff_id +
                                         ", not to its diff_id " + *r.expect_diff_id +
                                         " (the layer is not the one the image config names)");
    r.done = true;
}

ssize_t read_some(ocidir_layer_reader &r, unsigned char *out, size_t len)
{
    if (!r.dec) {
        // Uncompressed: the blob is the tar stream.
        ssize_t n = blob_read(r, out, len);
        if (n > 0) {
            r.diff->update(out, static_cast<size_t>(n));
            return n;
        }
        finish(r);
        return 0;
    }
    for (;;) {
        if (r.in_pos == r.in_len && !r.blob_eof)
            refill(r);
        size_t avail = r.in_len - r.in_pos;
        // The end: the blob verified (refill got its 0) and the stream
        // stopped at the end of a member or frame.
        if (avail == 0 && r.dec->at_boundary()) {
            finish(r);
            return 0;
        }
        codec::DecodeStep s;
        try {
            s = r.dec->step(r.in.data() + r.in_pos, avail, out, len);
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_FORMAT)
                corrupt(r, e);
            throw;
        }
        r.in_pos += s.consumed;
        if (s.produced > 0) {
            r.diff->update(out, s.produced);
            return static_cast<ssize_t>(s.produced);
        }
        if (s.consumed == 0) {
            if (avail == 0)  // blob_eof: the blob is intact, the stream in it cut short
                throw_error(OCIDIR_E_FORMAT, r.what + ": the " + r.dec->name() +
                                                 " stream is truncated: the blob ends inside a " +
                                                 r.dec->unit());
            throw_error(OCIDIR_E_IO, r.what + ": the " + r.dec->name() + " decompressor made no progress");
        }
    }
}

void fail_sticky(ocidir_layer_reader &r, int code, std::string_view msg, int err) noexcept
{
    r.error = code;
    try {
        r.error_msg.assign(msg);
    } catch (...) {
        r.error_msg.clear();
    }
    set_last_error(code, msg, err);
}

}  // namespace

ssize_t layer_read(ocidir_layer_reader &r, void *buf, size_t len) noexcept
{
    if (r.error) {
        set_last_error(r.error, r.error_msg, 0);
        return r.error;
    }
    if (!buf || len == 0) {
        // An argument error says nothing about the stream: the reader stays usable.
        set_last_error(OCIDIR_E_INVALID, "ocidir_layer_reader_read: buf is NULL or len is 0", 0);
        return OCIDIR_E_INVALID;
    }
    if (r.done)
        return 0;
    try {
        return read_some(r, static_cast<unsigned char *>(buf), std::min(len, kMaxPiece));
    } catch (const Error &e) {
        fail_sticky(r, e.code(), e.message(), e.os_errno());
    } catch (const std::bad_alloc &) {
        fail_sticky(r, OCIDIR_E_NOMEM, "reading a layer: out of memory", ENOMEM);
    } catch (const std::exception &e) {
        fail_sticky(r, OCIDIR_E_IO, e.what(), 0);
    } catch (...) {
        fail_sticky(r, OCIDIR_E_IO, "reading a layer: internal error", 0);
    }
    return r.error;
}

}  // namespace ocd
