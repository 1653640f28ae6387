// Parallel gzip: one gzip member compressed on several threads, as pigz
// does.  The input is cut into blocks of kPgzipBlock bytes; each block is
// compressed on its own as raw deflate, with the previous block's last
// 32 KiB as its dictionary, ending with a sync flush (the last one with
// Z_FINISH), so that the blocks joined in order are one deflate stream.  The
// gzip header and trailer go around it; the trailer's CRC-32 is the blocks'
// CRCs joined with crc32_combine.
//
// The output depends on the input and the level only, not on the number of
// threads (every block is compressed from the same state whichever thread
// takes it); it differs from single-call zlib output.  Memory is bounded
// whatever the input size: at most 2 x threads blocks are in flight, each
// holding its input and its compressed output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace ocd {

constexpr size_t kPgzipBlock = 128 * 1024;  // pigz's default block size

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
