// gzip: zlib deflate on the calling thread, parallel gzip (image/pgzip.hh),
// and zlib inflate.
#include <zlib.h>

#include <algorithm>
#include <cerrno>

#include "base/error.hh"
#include "image/codec/codecs.hh"
#include "image/pgzip.hh"

namespace ocd::codec {

namespace {

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

class GzipEncoder final : public Encoder {
public:
    GzipEncoder(int level, size_t out_capacity, OutBuffer::Drain drain) : Encoder(out_capacity, std::move(drain))
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

protected:
    void compress(const unsigned char *in, size_t len, bool finish) override
    {
        do {
            size_t piece = std::min(len, kMaxPiece);
            bool last = finish && piece == len;
            z_.next_in = const_cast<Bytef *>(in);
            z_.avail_in = static_cast<uInt>(piece);
            for (;;) {
                // There is always room: the buffer is drained as soon as it fills.
                size_t room = out_.room();
                z_.next_out = out_.space();
                z_.avail_out = static_cast<uInt>(room);
                int rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
                if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                    throw Error(OCIDIR_E_IO, "gzip layer writer: zlib deflate failed: " + zlib_text(z_, rc));
                out_.commit(room - z_.avail_out);
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
// output buffer to the drain, in order, from the calling thread.
class ParallelGzipEncoder final : public Encoder {
public:
    ParallelGzipEncoder(int level, unsigned threads, size_t out_capacity, OutBuffer::Drain drain)
        : Encoder(out_capacity, std::move(drain)),
          pg_(level, threads, [this](const unsigned char *p, size_t n) { out_.append(p, n); })
    {
    }

protected:
    void compress(const unsigned char *in, size_t len, bool finish) override
    {
        if (len > 0)
            pg_.write(in, len);
        if (finish)
            pg_.finish();
    }

private:
    ParallelGzip pg_;
};

class GzipDecoder final : public Decoder {
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
    const char *unit() const noexcept override { return "member"; }

private:
    std::string what_;
    z_stream z_{};
    bool member_done_ = false;
    uint64_t members_ = 0;  // complete members so far
};

}  // namespace

std::unique_ptr<Encoder> gzip_encoder(int level, size_t out_capacity, OutBuffer::Drain drain)
{
    return std::make_unique<GzipEncoder>(level, out_capacity, std::move(drain));
}

std::unique_ptr<Encoder> parallel_gzip_encoder(int level, unsigned threads, size_t out_capacity,
                                               OutBuffer::Drain drain)
{
    return std::make_unique<ParallelGzipEncoder>(level, threads, out_capacity, std::move(drain));
}

std::unique_ptr<Decoder> gzip_decoder(std::string what) { return std::make_unique<GzipDecoder>(std::move(what)); }

}  // namespace ocd::codec
