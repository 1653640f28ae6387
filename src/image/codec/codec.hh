// Layer codecs: the compress and decompress stream wrappers the layer writer
// and reader (image/layer.hh) drive, and the media types each one serves.
//
// A codec is an Encoder (uncompressed bytes in, compressed bytes out through
// a fixed buffer to a drain) and a Decoder (one bounded step at a time, with
// the place where the stream may end).  make_encoder() and make_decoder()
// pick the implementation for an OCIDIR_COMPRESSION_* value.  A new
// implementation (another gzip inflater, say) is one more Encoder or Decoder
// subclass in its own file under src/image/codec/, with its factory function
// declared in codecs.hh and picked in codec.cc's make_encoder/make_decoder.
//
// Implementations: gzip.cc (zlib deflate and inflate, and the parallel gzip
// of image/pgzip.hh), isal.cc (ISA-L inflate, when the build found libisal;
// inflate_backend() says which gzip decoder runs), zstd.cc (libzstd).  "none" has no codec: the layer
// writer and reader pass the bytes through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ocd {

// The OCI media type for an OCIDIR_COMPRESSION_* value; NULL for an unknown one.
const char *compression_media_type(int compression) noexcept;

// OCIDIR_COMPRESSION_* for a tar layer media type (OCI, OCI nondistributable,
// Docker); -1 for anything else.
int compression_from_media_type(std::string_view media_type) noexcept;

}  // namespace ocd

namespace ocd::codec {

// zlib counts in uInt, and a read returns ssize_t: codecs and their callers
// work in pieces no larger than this, whatever the caller passes.
inline constexpr size_t kMaxPiece = size_t{1} << 30;

// The most worker threads an encoder takes (zstd workers, parallel gzip).
inline constexpr int kMaxThreads = 64;

// An encoder's output: a fixed buffer handed to `drain` each time it fills,
// and at flush().  The drain may throw; the encoder is then failed.
class OutBuffer {
public:
    using Drain = std::function<void(const unsigned char *data, size_t len)>;

    OutBuffer(size_t capacity, Drain drain) : buf_(capacity), drain_(std::move(drain)) {}

    // The free room at the end of the buffer (never empty: a full buffer is
    // drained at once).
    unsigned char *space() noexcept { return buf_.data() + len_; }
    size_t room() const noexcept { return buf_.size() - len_; }
    // `n` bytes were written at space(); drains the buffer once it is full.
    void commit(size_t n);
    // Copy bytes in, draining each time the buffer fills.
    void append(const unsigned char *p, size_t n);
    // Hand whatever is held to the drain.
    void flush();

private:
    std::vector<unsigned char> buf_;
    size_t len_ = 0;
    Drain drain_;
};

// Compresses one stream.
class Encoder {
public:
    Encoder(size_t out_capacity, OutBuffer::Drain drain) : out_(out_capacity, std::move(drain)) {}
    virtual ~Encoder() = default;
    Encoder(const Encoder &) = delete;
    Encoder &operator=(const Encoder &) = delete;

    // Consume in[0, len).  Throws Error (NOMEM, IO, or the drain's).
    void write(const unsigned char *in, size_t len) { compress(in, len, false); }
    // End the stream and hand everything still held to the drain.
    void finish()
    {
        compress(nullptr, 0, true);
        out_.flush();
    }

protected:
    // Consume all of in[0, len) into out_; with `finish`, also end the
    // stream and put everything the codec still holds into out_.
    virtual void compress(const unsigned char *in, size_t len, bool finish) = 0;

    OutBuffer out_;
};

// One step of decompression.
struct DecodeStep {
    size_t consumed = 0;
    size_t produced = 0;
};

// Decompresses one stream.  Errors are thrown as Error: FORMAT (with the
// whole message, starting with the `what` the decoder was made with) for
// corrupt data, NOMEM, IO.
class Decoder {
public:
    virtual ~Decoder() = default;
    // Consume from in[0, in_len), produce into out[0, out_len).  Both
    // lengths are at most kMaxPiece.  No progress with input left is the
    // caller's to judge (a truncation, or a stuck decompressor).
    virtual DecodeStep step(const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) = 0;
    // True when the input consumed so far ends exactly at the end of a
    // member or frame, all its output handed out: a place where the stream
    // may end.  False before the first member.
    virtual bool at_boundary() const noexcept = 0;
    // "gzip", "zstd": for messages.
    virtual const char *name() const noexcept = 0;
    // What the stream is made of: "member" (gzip), "frame" (zstd).
    virtual const char *unit() const noexcept = 0;
};

// The settings of an encoder, checked and with their defaults filled in.
// The largest zstd window a decoder accepts by default
// (ZSTD_WINDOWLOG_LIMIT_DEFAULT): the writer never makes a larger one.
constexpr int kZstdMaxWindowLog = 27;

struct EncoderParams {
    int compression = 0;  // OCIDIR_COMPRESSION_*
    int level = 0;
    int threads = 0;
    int zstd_window_log = 0;  // 0: the level's
    bool zstd_long = false;   // long-distance matching
};

// Check level, threads and the zstd settings for `compression` (a known
// one, whose media type is `media_type`), picking the default level for 0.
// Throws INVALID naming the media type and the allowed range.
EncoderParams encoder_params(int compression, const char *media_type, int level, int threads,
                             int zstd_window_log = 0, bool zstd_long = false);

// The encoder for checked params; null for OCIDIR_COMPRESSION_NONE.  It
// hands compressed bytes to `drain` in chunks of `out_capacity` (the last
// one shorter).  Throws NOMEM, IO (a thread cannot start), UNSUPPORTED (the
// library refuses a setting).
std::unique_ptr<Encoder> make_encoder(const EncoderParams &p, size_t out_capacity, OutBuffer::Drain drain);

// The decoder for `compression`; null for OCIDIR_COMPRESSION_NONE.  `what`
// starts its messages.  Throws NOMEM, IO, UNSUPPORTED (gzip, when
// OCIDIR_INFLATE names a decoder this build lacks).
std::unique_ptr<Decoder> make_decoder(int compression, std::string what);

// The gzip decoder in use, decided once per process: "isal" or "zlib" as
// the environment variable OCIDIR_INFLATE says (empty or unset: the build's
// default, CMake's OCIDIR_INFLATE), or "none" when the variable names one
// not compiled in (inflate_backend_problem() then says why).
const char *inflate_backend() noexcept;
const char *inflate_backend_problem() noexcept;

}  // namespace ocd::codec
