// Parallel gzip: one gzip member compressed on several threads, as pigz
// does.  The input is cut into blocks of kPgzipBlock bytes, each compressed
// on its own as raw deflate ending byte-aligned and not final (the last one
// final), so that the blocks joined in order are one deflate stream.  The
// gzip header and trailer go around it; the trailer's CRC-32 is the blocks'
// CRCs joined with crc32_combine.
//
// With libdeflate (built in when found; faster than zlib at the same level,
// and about as small) each block is compressed whole, with no dictionary,
// into 512 KiB blocks; the final-block bit of each but the last is cleared
// and an empty stored block appended (deflate_end.hh finds where).  Without
// it, zlib compresses 128 KiB blocks with the previous block's last 32 KiB as
// the dictionary, each ended by a sync flush.
//
// The output depends on the input, the level and the deflate library (which
// one, and its version) only, not on the number of threads or the machine
// (every block is compressed from the same state whichever thread takes it);
// it differs from single-call zlib output.  Memory is bounded whatever the
// input size: at most 2 x threads blocks are in flight, each holding its
// input and its compressed output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace ocd {

#if OCIDIR_HAVE_LIBDEFLATE
constexpr size_t kPgzipBlock = 512 * 1024;  // no dictionary: larger blocks lose less
#else
constexpr size_t kPgzipBlock = 128 * 1024;  // pigz's default block size
#endif

class ParallelGzip {
public:
    // Receives the compressed bytes, in order, in the thread that calls
    // write() and finish(); it may throw (the compressor is then failed).
    using Sink = std::function<void(const unsigned char *data, size_t len)>;

    // level 1..9; threads >= 1 worker threads, started here.  Throws Error
    // NOMEM, IO (a thread cannot start).
    ParallelGzip(int level, unsigned threads, Sink sink);
    ~ParallelGzip();  // stops and joins the workers, dropping unfinished work
    ParallelGzip(const ParallelGzip &) = delete;
    ParallelGzip &operator=(const ParallelGzip &) = delete;

    // Consume in[0, len).  Throws Error (NOMEM, IO) when a block failed to
    // compress or the sink threw; the compressor is unusable afterwards.
    void write(const unsigned char *in, size_t len);
    // Compress what is left, hand everything, trailer included, to the sink.
    void finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ocd
