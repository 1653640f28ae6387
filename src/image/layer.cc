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

// ---------------------------------------------------------------------------
// Tar check

namespace {

constexpr size_t kBlock = 512;
constexpr size_t kMaxPaxParsed = 1 << 20;  // pax records past this are skipped unparsed

bool all_zero(const unsigned char *b)
{
    for (size_t i = 0; i < kBlock; i++)
        if (b[i])
            return false;
    return true;
}

// A numeric header field: octal digits (leading spaces allowed, then spaces or
// NULs to the end), or base-256 when the first byte has its high bit set.
// False for anything else, a negative value or one past INT64_MAX.
bool parse_number(const unsigned char *f, size_t len, int64_t &out)
{
    if (f[0] & 0x80) {
        if (f[0] & 0x40)
            return false;  // negative
        uint64_t v = f[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v > (static_cast<uint64_t>(INT64_MAX) >> 8))
                return false;
            v = (v << 8) | f[i];
        }
        out = static_cast<int64_t>(v);
        return true;
    }
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    uint64_t v = 0;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (static_cast<uint64_t>(INT64_MAX) >> 3))
            return false;
        v = v * 8 + (f[i] - '0');
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return false;
    out = static_cast<int64_t>(v);
    return true;
}

uint64_t padded(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

}  // namespace

void TarCheck::fail(const std::string &what, uint64_t at, const std::string &reason) const
{
    throw_error(OCIDIR_E_FORMAT, what + ": not a tar stream: at byte " + std::to_string(at) + ": " + reason);
}

void TarCheck::feed(const unsigned char *p, size_t n, const std::string &what)
{
    while (n > 0) {
        switch (st_) {
        case St::End:
            pos_ += n;
            return;
        case St::Content:
        case St::Pax: {
            size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n));
            if (st_ == St::Pax && pax_.size() < pax_want_)
                pax_.append(reinterpret_cast<const char *>(p),
                            std::min(take, static_cast<size_t>(pax_want_ - pax_.size())));
            p += take;
            n -= take;
            pos_ += take;
            remaining_ -= take;
            if (remaining_ == 0) {
                if (st_ == St::Pax)
                    pax_done();
                st_ = St::Header;
            }
            break;
        }
        case St::Header:
        case St::SparseExt: {
            size_t take = std::min(kBlock - fill_, n);
            memcpy(block_ + fill_, p, take);
            fill_ += take;
            p += take;
            n -= take;
            pos_ += take;
            if (fill_ < kBlock)
                break;
            fill_ = 0;
            if (st_ == St::Header) {
                header(what);
            } else if (block_[504] == 0) {  // the last extension block of an old-GNU sparse header
                st_ = remaining_ ? St::Content : St::Header;
            }
            break;
        }
        }
    }
}

void TarCheck::header(const std::string &what)
{
    header_at_ = pos_ - kBlock;
    if (all_zero(block_)) {
        st_ = St::End;
        return;
    }
    int64_t stored = 0;
    if (!parse_number(block_ + 148, 8, stored))
        fail(what, header_at_, "the header's checksum field is not an octal number");
    int64_t usum = 0, ssum = 0;
    for (size_t i = 0; i < kBlock; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : block_[i];
        usum += c;
        ssum += static_cast<signed char>(c);
    }
    if (stored != usum && stored != ssum)
        fail(what, header_at_, "header checksum mismatch (stored " + std::to_string(stored) + ", computed " +
                                   std::to_string(usum) + ")");
    int64_t size = 0;
    if (!parse_number(block_ + 124, 12, size))
        fail(what, header_at_, "the header's size field is not a number (or negative)");
    const unsigned char type = block_[156];
    const bool extension = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    if (!extension && next_size_ >= 0) {
        size = next_size_;
        next_size_ = -1;
    }
    if (type >= '1' && type <= '6')
        size = 0;  // header-only types
    remaining_ = padded(static_cast<uint64_t>(size));
    if (type == 'x' || type == 'g') {
        pax_.clear();
        pax_global_ = type == 'g';
        pax_want_ = static_cast<uint64_t>(size) <= kMaxPaxParsed ? static_cast<uint64_t>(size) : 0;
        st_ = remaining_ ? St::Pax : St::Header;
        return;
    }
    if (type == 'S' && block_[482] != 0) {
        st_ = St::SparseExt;
        return;
    }
    st_ = remaining_ ? St::Content : St::Header;
}

void TarCheck::pax_done()
{
    // Records "LEN key=value\n"; a malformed one ends the parse (libarchive
    // skips such records too); only "size" matters here.
    if (pax_global_)
        return;
    size_t i = 0;
    while (i < pax_.size()) {
        size_t sp = pax_.find(' ', i);
        if (sp == std::string::npos || sp == i || sp - i > 20)
            return;
        uint64_t len = 0;
        for (size_t k = i; k < sp; k++) {
            if (pax_[k] < '0' || pax_[k] > '9')
                return;
            len = len * 10 + static_cast<uint64_t>(pax_[k] - '0');
        }
        if (len <= sp - i + 1 || len > pax_.size() - i)
            return;
        std::string_view rec(pax_.data() + sp + 1, len - (sp - i) - 2);  // without ' ' and '\n'
        if (rec.substr(0, 5) == "size=") {
            int64_t v = 0;
            std::string_view d = rec.substr(5);
            if (d.empty() || d.size() > 18)
                return;
            for (char c : d) {
                if (c < '0' || c > '9')
                    return;
                v = v * 10 + (c - '0');
            }
            next_size_ = v;
        }
        i += len;
    }
}

void TarCheck::finish(const std::string &what)
{
    if (st_ == St::End || (st_ == St::Header && fill_ == 0))
        return;
    if (st_ == St::Header || st_ == St::SparseExt)
        fail(what, pos_ - fill_, "the stream ends inside a 512-byte header block, after " + std::to_string(fill_) +
                                     " of its bytes");
    fail(what, pos_, "the stream ends inside the content of the entry whose header is at byte " +
                         std::to_string(header_at_) + " (" + std::to_string(remaining_) + " more bytes announced)");
}


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
    // Uncompressed with a sha256 blob digest: the blob is the tar stream, so
    // its digest is the diff_id; the bytes are hashed once, by the blob
    // writer.  A sha512 blob needs the sha256 diff_id besides.
    if (compression != OCIDIR_COMPRESSION_NONE || alg != Alg::sha256)
        w->diff = Hasher::create(Alg::sha256);
    ocidir_blob_writer *blob = w->blob.get();
    w->enc = codec::make_encoder(params, kOutBuffer,
                                 [blob](const unsigned char *p, size_t n) { writer_write(*blob, p, n); });
    return w;
}

void layer_writer_check_tar(ocidir_layer_writer &w)
{
    check_open(w, "check");
    if (w.in_size != 0)
        throw_error(OCIDIR_E_STATE, "layer writer: the tar check must be turned on before the first write");
    w.check = std::make_unique<TarCheck>();
}

void layer_writer_write(ocidir_layer_writer &w, const void *buf, size_t len)
{
    check_open(w, "write");
    if (len == 0)
        return;
    try {
        if (w.check)
            w.check->feed(static_cast<const unsigned char *>(buf), len, "layer writer");
        if (w.diff)
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

namespace {

// The end of a layer writer, shared by finish and commit: the tar check and
// the codec end, then `store` ends the blob writer and gives the blob digest
// (the diff_id too, when the layer was hashed once).  On success the writer
// is Committed; on any failure it is Failed, its blob writer's temporary file
// going with it (nothing is published).
template <typename Store>
LayerResult end_layer(ocidir_layer_writer &w, Store store)
{
    check_open(w, "commit");
    try {
        if (w.check)
            w.check->finish("layer writer");
        if (w.enc) {
            w.enc->finish();
            w.enc.reset();  // frees the codec's memory now
        }
        LayerResult res;
        if (w.diff)
            res.diff_id = w.diff->final_digest();
        res.digest = store(res);
        if (!w.diff)
            res.diff_id = res.digest;  // hashed once: the blob is the tar stream
        res.size = w.blob->size;
        res.media_type = w.media_type;
        w.state = ocidir_layer_writer::State::Committed;
        return res;
    } catch (...) {
        w.state = ocidir_layer_writer::State::Failed;
        throw;
    }
}

}  // namespace

LayerResult layer_writer_finish(ocidir_layer_writer &w)
{
    return end_layer(w, [&](const LayerResult &) {
        writer_finish(*w.blob);
        return w.blob->final_digest;
    });
}

LayerResult layer_writer_commit(ocidir_layer_writer &w)
{
    return end_layer(w, [&](const LayerResult &res) {
        try {
            return writer_commit(*w.blob);
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOT_DURABLE && !w.blob->digest.empty()) {
                w.published_digest = w.blob->digest;
                w.published_size = w.blob->size;
                w.published_diff_id = w.diff ? res.diff_id : w.blob->digest;
            }
            throw;
        }
    });
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
    // seen in practice; a sha512 one is checked as such).  Uncompressed,
    // with the blob's algorithm: the blob reader's verified digest is the
    // diff_id, the bytes are hashed once.
    const Alg diff_alg = want ? want->alg : Alg::sha256;
    if (c != OCIDIR_COMPRESSION_NONE || r->blob->digest.alg != diff_alg)
        r->diff = Hasher::create(diff_alg);
    if (want)
        r->expect_diff_id = want->str();
    r->dec = codec::make_decoder(c, r->what);
    if (r->dec)
        r->pipe = std::make_unique<LayerPipe>(*r->blob, *r->diff);  // IO: the thread cannot start
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

// The next compressed chunk, from the pipe's thread that read (and hashed) it.
void refill(ocidir_layer_reader &r)
{
    const unsigned char *p = nullptr;
    size_t n = 0;
    try {
        r.pipe->next_input(&p, &n);
    } catch (const Error &e) {
        throw Error(e.code(), "layer (" + r.media_type + "): " + e.message(), e.os_errno());
    }
    if (n == 0) {
        r.blob_eof = true;  // the blob hashed to its digest
        r.in_pos = r.in_len = 0;
    } else {
        r.in_data = p;
        r.in_pos = 0;
        r.in_len = n;
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
    if (r.pipe)
        r.pipe->drain_output();  // every decompressed byte hashed: the hasher is this thread's again
    // No hasher of its own when uncompressed: the blob reader verified its
    // digest, of the same bytes with the same algorithm.
    r.diff_id = r.diff ? r.diff->final_digest() : r.blob->digest.str();
    if (r.expect_diff_id && r.diff_id != *r.expect_diff_id)
        throw_error(OCIDIR_E_DIGEST, r.what + ": the uncompressed content hashes to " + r.diff_id +
                                         ", not to its diff_id " + *r.expect_diff_id +
                                         " (the layer is not the one the image config names)");
    r.done = true;
}

// Decompress into out[0, len) (> 0 bytes), or 0 at the verified end.  The
// bytes are not hashed here: the caller hands them to the pipe.
size_t decode_some(ocidir_layer_reader &r, unsigned char *out, size_t len)
{
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
            s = r.dec->step(r.in_data + r.in_pos, avail, out, len);
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_FORMAT)
                corrupt(r, e);
            throw;
        }
        r.in_pos += s.consumed;
        if (s.produced > 0)
            return s.produced;
        if (s.consumed == 0) {
            if (avail == 0)  // blob_eof: the blob is intact, the stream in it cut short
                throw_error(OCIDIR_E_FORMAT, r.what + ": the " + r.dec->name() +
                                                 " stream is truncated: the blob ends inside a " +
                                                 r.dec->unit());
            throw_error(OCIDIR_E_IO, r.what + ": the " + r.dec->name() + " decompressor made no progress");
        }
    }
}

ssize_t read_some(ocidir_layer_reader &r, unsigned char *out, size_t len)
{
    if (!r.dec) {
        // Uncompressed: the blob is the tar stream.
        ssize_t n = blob_read(r, out, len);
        if (n > 0) {
            if (r.diff)
                r.diff->update(out, static_cast<size_t>(n));
            return n;
        }
        finish(r);
        return 0;
    }
    if (r.out_pos == r.out_len) {
        // A chunk of the pipe's: decompressed here, hashed on its thread
        // while it is copied out to the caller (who may reuse their buffer
        // at once, so it is never what is hashed).
        unsigned char *space = r.pipe->output_space();
        size_t n = decode_some(r, space, kPipeOutChunk);
        if (n == 0)
            return 0;
        r.pipe->submit_output(n);
        r.out_data = space;
        r.out_pos = 0;
        r.out_len = n;
    }
    size_t take = std::min(len, r.out_len - r.out_pos);
    std::memcpy(out, r.out_data + r.out_pos, take);
    r.out_pos += take;
    return static_cast<ssize_t>(take);
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
