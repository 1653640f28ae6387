// zstd: libzstd compression (optionally on its own worker threads) and
// decompression.
#include <zstd.h>
#include <zstd_errors.h>

#include <cerrno>

#include "base/error.hh"
#include "image/codec/codecs.hh"

namespace ocd::codec {

namespace {

struct CCtxFree {
    void operator()(ZSTD_CCtx *c) const noexcept { ZSTD_freeCCtx(c); }
};

class ZstdEncoder final : public Encoder {
public:
    ZstdEncoder(int level, int threads, int window_log, bool long_mode, size_t out_capacity, OutBuffer::Drain drain)
        : Encoder(out_capacity, std::move(drain)), c_(ZSTD_createCCtx())
    {
        if (!c_)
            throw Error(OCIDIR_E_NOMEM, "zstd layer writer: libzstd cannot allocate a compressor", ENOMEM);
        set(ZSTD_c_compressionLevel, level, "compression level");
        if (long_mode)
            set(ZSTD_c_enableLongDistanceMatching, 1, "long-distance matching");
        if (window_log != 0 || long_mode)
            set(ZSTD_c_windowLog, window_log != 0 ? window_log : kZstdMaxWindowLog, "window log");
        // A content checksum in every frame: zstd -t and every reader check
        // it.  Its cost (XXH64 of the input) was not measurable next to
        // level 3's compression (within the noise of a few per cent), so it
        // stays, although the blob digest already guards the bytes.
        set(ZSTD_c_checksumFlag, 1, "checksum flag");
        if (threads > 0)
            set(ZSTD_c_nbWorkers, threads, "worker threads");
    }

protected:
    void compress(const unsigned char *in, size_t len, bool finish) override
    {
        ZSTD_inBuffer ib{in, len, 0};
        for (;;) {
            ZSTD_outBuffer ob{out_.space(), out_.room(), 0};
            // With workers, e_continue hands the input to them and returns;
            // it blocks (rather than spins) when they are all busy.
            size_t rc = ZSTD_compressStream2(c_.get(), &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(rc)) {
                if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation)
                    throw Error(OCIDIR_E_NOMEM, "zstd layer writer: libzstd is out of memory", ENOMEM);
                throw Error(OCIDIR_E_IO, std::string("zstd layer writer: libzstd says: ") + ZSTD_getErrorName(rc));
            }
            out_.commit(ob.pos);
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

struct DCtxFree {
    void operator()(ZSTD_DCtx *c) const noexcept { ZSTD_freeDCtx(c); }
};

class ZstdDecoder final : public Decoder {
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
    const char *unit() const noexcept override { return "frame"; }

private:
    std::string what_;
    std::unique_ptr<ZSTD_DCtx, DCtxFree> d_;
    bool frame_done_ = false;
    uint64_t frames_ = 0;    // complete frames so far
    uint64_t frame_in_ = 0;  // bytes consumed by the frame in progress
};

}  // namespace

std::unique_ptr<Encoder> zstd_encoder(int level, int threads, int window_log, bool long_mode, size_t out_capacity,
                                      OutBuffer::Drain drain)
{
    return std::make_unique<ZstdEncoder>(level, threads, window_log, long_mode, out_capacity, std::move(drain));
}

std::unique_ptr<Decoder> zstd_decoder(std::string what) { return std::make_unique<ZstdDecoder>(std::move(what)); }

}  // namespace ocd::codec
