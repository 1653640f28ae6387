// Layers: a compressing writer that computes the blob digest (of the
// compressed bytes, through a blob writer) and the diff_id (of the
// uncompressed tar stream) in one pass, and a decompressing reader that
// verifies both before it reports a clean end.
//
// Compression is none, gzip (zlib) or zstd (libzstd); the codecs are in
// image/codec/, this file holds the writer's and the reader's state machines.  Memory stays bounded
// whatever the size of the layer: the writer holds one 256 KiB output buffer
// plus the codec's state (parallel gzip: up to 2 x threads blocks of 512 KiB,
// 128 KiB without libdeflate, in flight, with their output), the reader of a
// compressed layer its pipe's buffers (1.5 MiB, layer_pipe.hh) plus the
// codec's state (zstd's window is capped by libzstd's default limit, 128 MiB).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/hash.hh"
#include "image/codec/codec.hh"
#include "image/layer_pipe.hh"
#include "ocidir.h"
#include "store/blob_store.hh"

namespace ocd {

// A streaming check that bytes are a tar stream (ocidir_layer_writer_options_t
// flag OCIDIR_LAYER_WRITER_CHECK_TAR), fed the uncompressed bytes in any
// pieces.  It follows the stream block by block: each 512-byte header's
// checksum (unsigned, or the historic signed sum), its size field (octal, or
// base-256 when the first byte has its high bit set; never negative), the
// content it announces skipped (none for the header-only types 1-6, as Go's
// archive/tar reads them; a pax "size" record overrides the next header's
// field; an old-GNU sparse header's extension blocks followed), up to the
// first all-zero block, the end of the archive.  Bytes after that end are not
// examined.  finish() refuses a stream that stops inside a header or inside
// announced content; an empty stream, or one that ends on a header boundary
// without end blocks, is accepted (libarchive reads both as complete).
class TarCheck {
public:
    // Throws FORMAT: "<what>: not a tar stream: at byte N: <reason>".
    void feed(const unsigned char *p, size_t n, const std::string &what);
    void finish(const std::string &what);

private:
    enum class St { Header, Content, Pax, SparseExt, End };
    void header(const std::string &what);
    void pax_done();
    [[noreturn]] void fail(const std::string &what, uint64_t at, const std::string &reason) const;

    St st_ = St::Header;
    unsigned char block_[512];
    size_t fill_ = 0;             // bytes of block_ held (Header, SparseExt)
    uint64_t pos_ = 0;            // bytes consumed so far
    uint64_t header_at_ = 0;      // offset of the current entry's header
    uint64_t remaining_ = 0;      // content bytes (with padding) still to skip
    std::string pax_;             // a pax extended header's records (bounded)
    uint64_t pax_want_ = 0;       // bytes of them kept (0: too large, not parsed)
    bool pax_global_ = false;
    int64_t next_size_ = -1;      // from a pax "size" record, for the next header
};

}  // namespace ocd

struct ocidir_layer_writer {

    enum class State { Open, Failed, Committed };

    int compression = OCIDIR_COMPRESSION_NONE;
    const char *media_type = nullptr;          // static text
    std::unique_ptr<ocidir_blob_writer> blob;  // receives the compressed bytes
    std::unique_ptr<ocd::Hasher> diff;         // hashes the uncompressed bytes (sha256); null when
                                               // uncompressed with a sha256 blob: the blob digest is the diff_id
    std::unique_ptr<ocd::codec::Encoder> enc;  // null for none; hands its output to `blob`
    uint64_t in_size = 0;                      // uncompressed bytes seen
    std::unique_ptr<ocd::TarCheck> check;      // OCIDIR_LAYER_WRITER_CHECK_TAR, else null
    State state = State::Open;
    // Set when the commit published the blob but flushing it failed
    // (OCIDIR_E_NOT_DURABLE): the digests are handed out all the same.
    std::string published_digest, published_diff_id;
    uint64_t published_size = 0;
};

struct ocidir_layer_reader {
    int compression = OCIDIR_COMPRESSION_NONE;
    std::string media_type;
    std::string what;                          // "layer <digest> (<media type>)", for messages
    std::unique_ptr<ocidir_blob_reader> blob;  // verifies the blob digest and size
    std::unique_ptr<ocd::codec::Decoder> dec;  // null for none
    std::unique_ptr<ocd::Hasher> diff;         // hashes the decompressed bytes; null when uncompressed
                                               // and the diff_id's algorithm is the blob's
    std::optional<std::string> expect_diff_id;
    std::string diff_id;                       // computed, once the end is verified
    const unsigned char *in_data = nullptr;    // compressed bytes at hand, in the pipe's chunk
    size_t in_pos = 0, in_len = 0;
    // Compressed layers: the second thread that reads and hashes the blob
    // ahead and hashes the decompressed bytes behind (layer_pipe.hh); it
    // uses `blob` and `diff`.  Declared after them: it stops first.
    std::unique_ptr<ocd::LayerPipe> pipe;
    const unsigned char *out_data = nullptr;   // decompressed bytes in the pipe not yet handed out
    size_t out_pos = 0, out_len = 0;
    bool blob_eof = false;                     // `blob` returned its verified 0
    bool done = false;                         // verified end reported
    int error = 0;                             // sticky failure code
    std::string error_msg;                     // its message, repeated on later calls
    uint64_t max_size = 0;                     // bound on decompressed bytes (0: none), kept by the C shim
    uint64_t returned = 0;                     // decompressed bytes handed out so far
};

namespace ocd {

// compression_media_type() and compression_from_media_type(): codec/codec.hh.

// Throws UNSUPPORTED (unknown compression), INVALID (level or threads out of
// range), READONLY, IO, NOMEM.
std::unique_ptr<ocidir_layer_writer> layer_writer_new(ocidir &d, int compression, int level, int threads);
// With the blob digest's algorithm and zstd's window (0: the level's) and
// long-distance mode (ocidir_layer_writer_new_opts).
std::unique_ptr<ocidir_layer_writer> layer_writer_new(ocidir &d, int compression, int level, int threads, Alg alg,
                                                      int zstd_window_log, bool zstd_long);

// Check the uncompressed input as a tar stream (TarCheck): writes throw
// FORMAT at the first byte that is not, commit refuses a truncated stream.
void layer_writer_check_tar(ocidir_layer_writer &w);

// Throws STATE (failed or committed writer), IO, FORMAT (with a tar check);
// any failure fails the writer.
void layer_writer_write(ocidir_layer_writer &w, const void *buf, size_t len);

struct LayerResult {
    std::string digest;  // of the blob (compressed bytes)
    uint64_t size;       // of the blob
    std::string diff_id; // sha256 of the uncompressed bytes
    std::string media_type;
};

// Finish the compressed stream and commit the blob.  The writer is spent
// (Committed) or failed afterwards; on failure nothing is published, except
// for NOT_DURABLE (published, not flushed: published_* are set).
LayerResult layer_writer_commit(ocidir_layer_writer &w);

// Finish the compressed stream and compute both digests without publishing:
// the writer is spent (Committed) and w.blob holds the finished, unpublished
// blob writer (writer_finish()) for the caller to take and publish; failed
// on failure, with nothing published.
LayerResult layer_writer_finish(ocidir_layer_writer &w);

// Open a layer blob.  Throws UNSUPPORTED (media type not a tar layer), the
// codes of parse_digest() for a bad diff_id (NULL: no diff_id check), and
// those of reader_open().
std::unique_ptr<ocidir_layer_reader> layer_open(const ocidir &d, std::string_view media_type, const char *digest,
                                                int64_t size, const char *diff_id);

// Decompressed bytes (> 0); 0 at the end, only once the blob matched its
// digest and the decompressed stream its diff_id; or a negative code, with
// the thread-local last error set.  Errors are sticky.
ssize_t layer_read(ocidir_layer_reader &r, void *buf, size_t len) noexcept;

}  // namespace ocd
