#include "image/layer.hh"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

#include "base/error.hh"
#include "image/pgzip.hh"

namespace ocd {

namespace {

constexpr const char *kMediaNone = "application/vnd.oci.image.layer.v1.tar";
constexpr const char *kMediaGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char *kMediaZstd = "application/vnd.oci.image.layer.v1.tar+zstd";

// The writer hands compressed bytes to the blob writer in chunks this large:
// at or above the blob writer's own buffer size, so they go straight to the
// file without a second copy.
constexpr size_t kOutBuffer = 256 * 1024;
// The reader pulls compressed bytes from the blob reader in chunks this large.
constexpr size_t kInBuffer = 128 * 1024;
// zlib counts in uInt, and a read returns ssize_t: work in pieces no larger
// than this, whatever the caller passes.
constexpr size_t kMaxPiece = size_t{1} << 30;

constexpr int kGzipDefaultLevel = 6;
constexpr int kZstdDefaultLevel = 3;
constexpr int kZstdMaxLevel = 19;  // beyond it (--ultra) the window, and the reader's memory, grow too large
constexpr int kZstdMaxWindowLog = 27;  // the largest window a zstd decoder accepts by default (ZSTD_WINDOWLOG_LIMIT_DEFAULT)
constexpr int kMaxThreads = 64;  // zstd workers, parallel gzip threads

std::string zlib_text(const z_stream &z, int rc)
{
    if (z.msg)
        return z.msg;
    switch (rc) {
    case Z_DATA_ERROR: return "invalid data";
    case Z_MEM_ERROR: return "out of memory";
    case Z_STREAM_ERROR: return "inconsistent stream state";
    case Z_VERSION_ERROR: return "incompatible zlib version";
    case Z_BUF_ERROR: return "no progress possible";
    default: return "error " + std::to_string(rc);
    }
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoders: consume uncompressed bytes, append compressed ones to the writer's
// output buffer, and hand the buffer to the blob writer whenever it fills.

class LayerEncoder {
public:
    virtual ~LayerEncoder() = default;
    // Consume all of in[0, len); with `finish`, also end the stream and
    // flush everything the codec still holds into w.out (spilling as needed).
    virtual void compress(ocidir_layer_writer &w, const unsigned char *in, size_t len, bool finish) = 0;
};

namespace {

void spill(ocidir_layer_writer &w)
{
    if (w.out_len > 0) {
        writer_write(*w.blob, w.out.data(), w.out_len);
        w.out_len = 0;
    }
}

class GzipEncoder final : public LayerEncoder {
public:
    explicit GzipEncoder(int level)
    {
        // 15 + 16: a 32 KiB window with a gzip header and trailer (no file
        // name, mtime 0: the same input always gives the same blob).
        int rc = deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR)
            throw Error(OCIDIR_E_NOMEM, "gzip layer writer: zlib cannot allocate a compressor", ENOMEM);
        if (rc != Z_OK)
            throw Error(OCIDIR_E_IO, "gzip layer writer: zlib deflateInit2 failed: " + zlib_text(z_, rc));
    }
    ~GzipEncoder() override { deflateEnd(&z_); }
    GzipEncoder(const GzipEncoder &) = delete;
    GzipEncoder &operator=(const GzipEncoder &) = delete;

    void compress(ocidir_layer_writer &w, const unsigned char *in, size_t len, bool finish) override
    {
        do {
            size_t piece = std::min(len, kMaxPiece);
            bool last = finish && piece == len;
            z_.next_in = const_cast<Bytef *>(in);
            z_.avail_in = static_cast<uInt>(piece);
            for (;;) {
                // There is always room: the buffer is spilled as soon as it fills.
                z_.next_out = w.out.data() + w.out_len;
                z_.avail_out = static_cast<uInt>(w.out.size() - w.out_len);
                int rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
                w.out_len = w.out.size() - z_.avail_out;
                if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                    throw Error(OCIDIR_E_IO, "gzip layer writer: zlib deflate failed: " + zlib_text(z_, rc));
                if (w.out_len == w.out.size())
                    spill(w);
                if (last ? rc == Z_STREAM_END : z_.avail_in == 0)
                    break;
            }
            in += piece;
            len -= piece;
        } while (len > 0);
    }

private:
    z_stream z_{};
};

// gzip on several threads (pgzip.hh): the compressed blocks go through the
// writer's output buffer to the blob writer, in order, from the calling thread.
class ParallelGzipEncoder final : public LayerEncoder {
public:
    ParallelGzipEncoder(ocidir_layer_writer &w, int level, unsigned threads)
        : pg_(level, threads, [&w](const unsigned char *p, size_t n) {
              while (n > 0) {
                  size_t take = std::min(n, w.out.size() - w.out_len);
                  std::memcpy(w.out.data() + w.out_len, p, take);
                  w.out_len += take;
                  p += take;
                  n -= take;
                  if (w.out_len == w.out.size())
                      spill(w);
              }
          })
    {
    }

    void compress(ocidir_layer_writer &, const unsigned char *in, size_t len, bool finish) override
    {
        if (len > 0)
            pg_.write(in, len);
        if (finish)
            pg_.finish();
    }

private:
    ParallelGzip pg_;
};

struct CCtxFree {
    void operator()(ZSTD_CCtx *c) const noexcept { ZSTD_freeCCtx(c); }
};

class ZstdEncoder final : public LayerEncoder {
public:
    ZstdEncoder(int level, int threads, int window_log, bool long_mode) : c_(ZSTD_createCCtx())
    {
        if (!c_)
            throw Error(OCIDIR_E_NOMEM, "zstd layer writer: libzstd cannot allocate a compressor", ENOMEM);
        set(ZSTD_c_compressionLevel, level, "compression level");
        if (long_mode)
            set(ZSTD_c_enableLongDistanceMatching, 1, "long-distance matching");
        if (window_log != 0 || long_mode)
            set(ZSTD_c_windowLog, window_log != 0 ? window_log : kZstdMaxWindowLog, "window log");
        // A content checksum in every frame: zstd -t and every reader check it.
        set(ZSTD_c_checksumFlag, 1, "checksum flag");
        if (threads > 0)
            set(ZSTD_c_nbWorkers, threads, "worker threads");
    }

    void compress(ocidir_layer_writer &w, const unsigned char *in, size_t len, bool finish) override
    {
        ZSTD_inBuffer ib{in, len, 0};
        for (;;) {
            ZSTD_outBuffer ob{w.out.data(), w.out.size(), w.out_len};
            // With workers, e_continue hands the input to them and returns;
            // it blocks (rather than spins) when they are all busy.
            size_t rc = ZSTD_compressStream2(c_.get(), &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_continue);
            w.out_len = ob.pos;
            if (ZSTD_isError(rc)) {
                if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation)
                    throw Error(OCIDIR_E_NOMEM, "zstd layer writer: libzstd is out of memory", ENOMEM);
                throw Error(OCIDIR_E_IO, std::string("zstd layer writer: libzstd says: ") + ZSTD_getErrorName(rc));
            }
            if (w.out_len == w.out.size())
                spill(w);
            // e_end returns 0 only once the frame is complete and flushed.
            if (finish ? rc == 0 : ib.pos == ib.size)
                break;
        }
    }

private:
    void set(ZSTD_cParameter p, int v, const char *what)
    {
        size_t rc = ZSTD_CCtx_setParameter(c_.get(), p, v);
        if (ZSTD_isError(rc))
            throw Error(OCIDIR_E_UNSUPPORTED, std::string("zstd layer writer: libzstd refuses ") + what + " " +
                                                  std::to_string(v) + ": " + ZSTD_getErrorName(rc));
    }

    std::unique_ptr<ZSTD_CCtx, CCtxFree> c_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Decoders: one step of decompression; they throw FORMAT (with the whole
// message) for corrupt data, and say when the input seen so far is complete.

struct DecodeStep {
    size_t consumed = 0;
    size_t produced = 0;
};

class LayerDecoder {
public:
    virtual ~LayerDecoder() = default;
    virtual DecodeStep step(const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) = 0;
    // True when the input consumed so far ends exactly at the end of a
    // member or frame, all its output handed out: a place where the stream
    // may end.  False before the first member.
    virtual bool at_boundary() const noexcept = 0;
    virtual const char *name() const noexcept = 0;
};

namespace {

class GzipDecoder final : public LayerDecoder {
public:
    explicit GzipDecoder(std::string what) : what_(std::move(what))
    {
        // 15 + 16: gzip only (not zlib or raw deflate, which the media type
        // does not allow), checking each member's CRC-32 and length.
        int rc = inflateInit2(&z_, 15 + 16);
        if (rc == Z_MEM_ERROR)
            throw Error(OCIDIR_E_NOMEM, what_ + ": zlib cannot allocate a decompressor", ENOMEM);
        if (rc != Z_OK)
            throw Error(OCIDIR_E_IO, what_ + ": zlib inflateInit2 failed: " + zlib_text(z_, rc));
    }
    ~GzipDecoder() override { inflateEnd(&z_); }
    GzipDecoder(const GzipDecoder &) = delete;
    GzipDecoder &operator=(const GzipDecoder &) = delete;

    DecodeStep step(const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) override
    {
        if (member_done_ && in_len > 0) {
            // More bytes after a member: a gzip file may be several members
            // concatenated (pigz, `cat a.gz b.gz`), each one a new stream.
            inflateReset(&z_);
            member_done_ = false;
        }
        size_t in_piece = std::min(in_len, kMaxPiece), out_piece = std::min(out_len, kMaxPiece);
        z_.next_in = const_cast<Bytef *>(in);
        z_.avail_in = static_cast<uInt>(in_piece);
        z_.next_out = out;
        z_.avail_out = static_cast<uInt>(out_piece);
        int rc = inflate(&z_, Z_NO_FLUSH);
        DecodeStep s{in_piece - z_.avail_in, out_piece - z_.avail_out};
        switch (rc) {
        case Z_OK:
        case Z_BUF_ERROR:  // no progress possible now; the caller decides whether that is a truncation
            break;
        case Z_STREAM_END:
            member_done_ = true;
            members_++;
            break;
        case Z_NEED_DICT:
            throw Error(OCIDIR_E_FORMAT, what_ + ": corrupt gzip data: it asks for a preset dictionary");
        case Z_DATA_ERROR:
            // "incorrect header check" right after a member is bytes that
            // are not another member: say so, it is the usual case.
            if (members_ > 0 && z_.total_in <= 10)
                throw Error(OCIDIR_E_FORMAT, what_ + ": trailing garbage after gzip member " +
                                                 std::to_string(members_) + ": zlib says: " + zlib_text(z_, rc));
            throw Error(OCIDIR_E_FORMAT, what_ + ": corrupt gzip data in member " + std::to_string(members_ + 1) +
                                             ": zlib says: " + zlib_text(z_, rc));
        case Z_MEM_ERROR:
            throw Error(OCIDIR_E_NOMEM, what_ + ": zlib is out of memory", ENOMEM);
        default:
            throw Error(OCIDIR_E_IO, what_ + ": zlib inflate failed: " + zlib_text(z_, rc));
        }
        return s;
    }

    bool at_boundary() const noexcept override { return member_done_; }
    const char *name() const noexcept override { return "gzip"; }

private:
    std::string what_;
    z_stream z_{};
    bool member_done_ = false;
    uint64_t members_ = 0;  // complete members so far
};

struct DCtxFree {
    void operator()(ZSTD_DCtx *c) const noexcept { ZSTD_freeDCtx(c); }
};

class ZstdDecoder final : public LayerDecoder {
public:
    explicit ZstdDecoder(std::string what) : what_(std::move(what)), d_(ZSTD_createDCtx())
    {
        if (!d_)
            throw Error(OCIDIR_E_NOMEM, what_ + ": libzstd cannot allocate a decompressor", ENOMEM);
        // The window a frame may ask for stays at libzstd's default limit
        // (128 MiB): a frame that wants more is refused, not obeyed.
    }

    DecodeStep step(const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) override
    {
        ZSTD_inBuffer ib{in, in_len, 0};
        ZSTD_outBuffer ob{out, out_len, 0};
        // Consecutive frames are decoded one after the other; skippable
        // frames are skipped; each frame's checksum, when present, is checked.
        size_t rc = ZSTD_decompressStream(d_.get(), &ob, &ib);
        DecodeStep s{ib.pos, ob.pos};
        if (ZSTD_isError(rc)) {
            ZSTD_ErrorCode code = ZSTD_getErrorCode(rc);
            if (code == ZSTD_error_memory_allocation)
                throw Error(OCIDIR_E_NOMEM, what_ + ": libzstd is out of memory", ENOMEM);
            if (frames_ > 0 && frame_in_ == 0 && code == ZSTD_error_prefix_unknown)
                throw Error(OCIDIR_E_FORMAT, what_ + ": trailing garbage after zstd frame " + std::to_string(frames_) +
                                                 ": libzstd says: " + ZSTD_getErrorName(rc));
            throw Error(OCIDIR_E_FORMAT, what_ + ": corrupt zstd data in frame " + std::to_string(frames_ + 1) +
                                             ": libzstd says: " + ZSTD_getErrorName(rc));
        }
        // 0: a frame is complete and flushed; more input starts another one.
        if (rc == 0) {
            frame_done_ = true;
            frames_++;
            frame_in_ = 0;
        } else {
            frame_done_ = false;
            frame_in_ += s.consumed;
        }
        return s;
    }

    bool at_boundary() const noexcept override { return frame_done_; }
    const char *name() const noexcept override { return "zstd"; }

private:
    std::string what_;
    std::unique_ptr<ZSTD_DCtx, DCtxFree> d_;
    bool frame_done_ = false;
    uint64_t frames_ = 0;    // complete frames so far
    uint64_t frame_in_ = 0;  // bytes consumed by the frame in progress
};

}  // namespace

}  // namespace ocd

// The structs hold unique_ptrs to the codec types, complete only here.
ocidir_layer_writer::ocidir_layer_writer() = default;
ocidir_layer_writer::~ocidir_layer_writer() = default;
ocidir_layer_reader::ocidir_layer_reader() = default;
ocidir_layer_reader::~ocidir_layer_reader() = default;

namespace ocd {

const char *compression_media_type(int compression) noexcept
{
    switch (compression) {
    case OCIDIR_COMPRESSION_NONE: return kMediaNone;
    case OCIDIR_COMPRESSION_GZIP: return kMediaGzip;
    case OCIDIR_COMPRESSION_ZSTD: return kMediaZstd;
    default: return nullptr;
    }
}

int compression_from_media_type(std::string_view mt) noexcept
{
    static constexpr struct {
        std::string_view type;
        int compression;
    } kTypes[] = {
        {"application/vnd.oci.image.layer.v1.tar", OCIDIR_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.v1.tar+gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", OCIDIR_COMPRESSION_ZSTD},
        // Deprecated by the image-spec, still found in the wild.
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", OCIDIR_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCIDIR_COMPRESSION_ZSTD},
        // Docker image manifest v2 schema 2 (skopeo keeps them in OCI layouts).
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", OCIDIR_COMPRESSION_NONE},
    };
    for (const auto &t : kTypes)
        if (t.type == mt)
            return t.compression;
    return -1;
}

// ---------------------------------------------------------------------------
// Writer

namespace {

// gzip's threads 0: one per online CPU (at least one, at most kMaxThreads).
// The output is the same for any count, so it does not depend on the machine.
unsigned online_cpus() noexcept
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return static_cast<unsigned>(std::clamp(n, 1L, static_cast<long>(kMaxThreads)));
}

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
    auto bad = [&](const std::string &why) {
        throw_error(OCIDIR_E_INVALID, std::string("layer writer (") + mt + "): " + why);
    };
    switch (compression) {
    case OCIDIR_COMPRESSION_NONE:
        if (level != 0)
            bad("level " + std::to_string(level) + " given, but an uncompressed layer takes none (0)");
        if (threads != 0)
            bad("threads " + std::to_string(threads) + " given, but an uncompressed layer takes none (0)");
        break;
    case OCIDIR_COMPRESSION_GZIP:
        if (level == 0)
            level = kGzipDefaultLevel;
        if (level < 1 || level > 9)
            bad("gzip level " + std::to_string(level) + " is outside 1..9 (0 picks 6)");
        if (threads < 0 || threads > kMaxThreads)
            bad("gzip threads " + std::to_string(threads) + " is outside 0..64");
        break;
    case OCIDIR_COMPRESSION_ZSTD:
        if (level == 0)
            level = kZstdDefaultLevel;
        if (level < 1 || level > kZstdMaxLevel)
            bad("zstd level " + std::to_string(level) + " is outside 1..19 (0 picks 3)");
        if (threads < 0 || threads > kMaxThreads)
            bad("zstd threads " + std::to_string(threads) + " is outside 0..64");
        if (zstd_window_log != 0 && (zstd_window_log < 10 || zstd_window_log > kZstdMaxWindowLog))
            bad("zstd window log " + std::to_string(zstd_window_log) + " is outside 10.." +
                std::to_string(kZstdMaxWindowLog) + " (0 takes zstd's for the level)");
        break;
    }
    if (compression != OCIDIR_COMPRESSION_ZSTD && (zstd_window_log != 0 || zstd_long))
        bad("zstd options (window log, long mode) given for another compression");

    auto w = std::make_unique<ocidir_layer_writer>();
    w->compression = compression;
    w->media_type = mt;
    w->blob = writer_new(d, alg);  // READONLY on a read-only handle
    w->diff = Hasher::create(Alg::sha256);
    if (compression != OCIDIR_COMPRESSION_NONE)
        w->out.resize(kOutBuffer);
    if (compression == OCIDIR_COMPRESSION_GZIP && threads == 1)
        w->enc = std::make_unique<GzipEncoder>(level);  // single-threaded: plain zlib output
    else if (compression == OCIDIR_COMPRESSION_GZIP)
        w->enc = std::make_unique<ParallelGzipEncoder>(*w, level,
                                                       threads > 0 ? static_cast<unsigned>(threads) : online_cpus());
    else if (compression == OCIDIR_COMPRESSION_ZSTD)
        w->enc = std::make_unique<ZstdEncoder>(level, threads, zstd_window_log, zstd_long);
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
            w.enc->compress(w, static_cast<const unsigned char *>(buf), len, false);
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
            w.enc->compress(w, nullptr, 0, true);
            spill(w);
            w.enc.reset();  // frees the codec's memory now
        }
        LayerResult res;
        res.diff_id = w.diff->final_digest();
        res.digest = writer_commit(*w.blob);
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
    if (c == OCIDIR_COMPRESSION_GZIP)
        r->dec = std::make_unique<GzipDecoder>(r->what);
    else if (c == OCIDIR_COMPRESSION_ZSTD)
        r->dec = std::make_unique<ZstdDecoder>(r->what);
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
        DecodeStep s;
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
                                                 (r.compression == OCIDIR_COMPRESSION_GZIP ? "member" : "frame"));
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
