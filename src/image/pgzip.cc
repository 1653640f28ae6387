#include "image/pgzip.hh"

#include <zlib.h>
#if OCIDIR_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <vector>

#include "base/error.hh"
#include "base/workers.hh"
#include "image/deflate_end.hh"

namespace ocd {

namespace {

constexpr size_t kDict = 32 * 1024;  // deflate's window: all a block may refer back to

// One block on its way through a worker.
struct Job {
    std::vector<unsigned char> in;    // the uncompressed block
    std::vector<unsigned char> dict;  // the input's 32 KiB before the block (empty for the first)
    bool last = false;
    // Set by the worker, under the mutex's protection once `done`.
    std::vector<unsigned char> out;   // raw deflate, ending byte-aligned
    uLong crc = 0;                    // CRC-32 of `in`
    size_t in_len = 0;
    bool done = false;
    std::exception_ptr error;
};

// What compresses blocks: one per worker.
class BlockCompressor {
public:
    virtual ~BlockCompressor() = default;
    // Fill j.out (raw deflate ending byte-aligned: the last block with a
    // final block, the others with an empty stored block, not final), j.crc
    // and j.in_len; free j.in and j.dict.
    virtual void compress(Job &j) = 0;
};

void release_input(Job &j)
{
    j.in.clear();
    j.in.shrink_to_fit();  // the block's input is not needed any more
    j.dict.clear();
    j.dict.shrink_to_fit();
}

// zlib: a raw deflate stream per worker, reset for every block, the
// previous block's last 32 KiB as its dictionary, ended by a sync flush.
class Deflater final : public BlockCompressor {
public:
    explicit Deflater(int level)
    {
        int rc = deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR)
            throw Error(OCIDIR_E_NOMEM, "parallel gzip: zlib cannot allocate a compressor", ENOMEM);
        if (rc != Z_OK)
            throw Error(OCIDIR_E_IO, "parallel gzip: zlib deflateInit2 failed with " + std::to_string(rc));
    }
    ~Deflater() override { deflateEnd(&z_); }
    Deflater(const Deflater &) = delete;
    Deflater &operator=(const Deflater &) = delete;

    void compress(Job &j) override
    {
        check(deflateReset(&z_), "deflateReset");
        if (!j.dict.empty())
            check(deflateSetDictionary(&z_, j.dict.data(), static_cast<uInt>(j.dict.size())),
                  "deflateSetDictionary");
        j.in_len = j.in.size();
        j.crc = crc32(crc32(0, nullptr, 0), j.in.data(), static_cast<uInt>(j.in.size()));
        z_.next_in = j.in.data();
        z_.avail_in = static_cast<uInt>(j.in.size());
        // Room for the worst case plus the sync flush's empty stored block;
        // grown if zlib still asks for more.
        j.out.resize(deflateBound(&z_, j.in.size()) + 16);
        size_t used = 0;
        int flush = j.last ? Z_FINISH : Z_SYNC_FLUSH;
        for (;;) {
            z_.next_out = j.out.data() + used;
            z_.avail_out = static_cast<uInt>(j.out.size() - used);
            int rc = deflate(&z_, flush);
            used = j.out.size() - z_.avail_out;
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                check(rc, "deflate");
            // Z_FINISH is done at Z_STREAM_END; a flush once zlib stops
            // filling the output (zlib's rule: avail_out == 0 means "call
            // again with more room").
            if (j.last ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0))
                break;
            j.out.resize(j.out.size() * 2);
        }
        j.out.resize(used);
        release_input(j);
    }

private:
    void check(int rc, const char *what)
    {
        if (rc == Z_OK)
            return;
        if (rc == Z_MEM_ERROR)
            throw Error(OCIDIR_E_NOMEM, std::string("parallel gzip: zlib ") + what + ": out of memory", ENOMEM);
        throw Error(OCIDIR_E_IO, std::string("parallel gzip: zlib ") + what + " failed: " +
                                     (z_.msg ? z_.msg : "error " + std::to_string(rc)));
    }

    z_stream z_{};
};

#if OCIDIR_HAVE_LIBDEFLATE
// libdeflate: each block compressed on its own, with no dictionary (the
// library has none), as a complete raw deflate stream.  Every block but the
// last is then made joinable: its final block's BFINAL bit cleared and an
// empty stored block appended (what zlib's sync flush ends with), found by
// walking the stream (deflate_end.hh).
class LibdeflateCompressor final : public BlockCompressor {
public:
    explicit LibdeflateCompressor(int level) : c_(libdeflate_alloc_compressor(level))
    {
        if (!c_)
            throw Error(OCIDIR_E_NOMEM, "parallel gzip: libdeflate cannot allocate a compressor", ENOMEM);
    }
    ~LibdeflateCompressor() override { libdeflate_free_compressor(c_); }
    LibdeflateCompressor(const LibdeflateCompressor &) = delete;
    LibdeflateCompressor &operator=(const LibdeflateCompressor &) = delete;

    void compress(Job &j) override
    {
        j.in_len = j.in.size();
        j.crc = libdeflate_crc32(0, j.in.data(), j.in.size());
        // The bound, plus room for the empty stored block (at most 5 bytes).
        j.out.resize(libdeflate_deflate_compress_bound(c_, j.in.size()) + 8);
        size_t n = libdeflate_deflate_compress(c_, j.in.data(), j.in.size(), j.out.data(), j.out.size());
        if (n == 0)
            throw Error(OCIDIR_E_IO, "parallel gzip: libdeflate found its output larger than its own bound");
        if (!j.last) {
            DeflateEnd e;
            if (!find_deflate_end(j.out.data(), n, e))
                throw Error(OCIDIR_E_IO, "parallel gzip: libdeflate's output for a " + std::to_string(j.in_len) +
                                             "-byte block does not walk as one deflate stream");
            j.out[e.final_header_bit / 8] &= static_cast<unsigned char>(~(1u << (e.final_header_bit % 8)));
            unsigned used = static_cast<unsigned>(e.end_bit % 8);  // bits of the last byte in use (0: all 8)
            if (used != 0)
                j.out[n - 1] &= static_cast<unsigned char>((1u << used) - 1);  // zero padding
            // The stored block's 3 header bits (0: not final, type 0) fit in
            // the padding when 3 or more bits are free; otherwise they take
            // a byte of their own.  Then LEN 0 and NLEN 0xffff.
            if (used == 0 || used >= 6)
                j.out[n++] = 0;
            static constexpr unsigned char kEmptyStored[4] = {0x00, 0x00, 0xff, 0xff};
            std::copy(kEmptyStored, kEmptyStored + 4, j.out.begin() + static_cast<ptrdiff_t>(n));
            n += 4;
        }
        j.out.resize(n);
        release_input(j);
    }

private:
    libdeflate_compressor *c_;
};
#endif

std::unique_ptr<BlockCompressor> make_block_compressor(int level)
{
#if OCIDIR_HAVE_LIBDEFLATE
    return std::make_unique<LibdeflateCompressor>(level);
#else
    return std::make_unique<Deflater>(level);
#endif
}

// The zlib path takes the previous block's end as its dictionary.
constexpr bool kUsesDictionary = !OCIDIR_HAVE_LIBDEFLATE;

void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

struct ParallelGzip::Impl {
    int level;
    Sink sink;
    size_t max_inflight;

    // Shared with the workers.
    std::mutex mu;
    std::condition_variable work_cv;  // a job is queued, or stopping
    std::condition_variable done_cv;  // a job is done
    std::deque<std::shared_ptr<Job>> todo;
    bool stopping = false;

    // The calling thread's own.
    std::deque<std::shared_ptr<Job>> inflight;  // submitted, in stream order, not yet written out
    std::vector<unsigned char> cur;             // the block being filled
    std::vector<unsigned char> tail;            // the last kDict input bytes before `cur`
    bool header_written = false;
    uLong crc = crc32(0, nullptr, 0);
    uint64_t total = 0;
    bool failed = false;

    // Last, so that its destructor joins the workers before the state they
    // share goes away.  Stopping drops the unfinished work and wakes them.
    Workers workers{"parallel gzip", [this] {
                        {
                            std::lock_guard lk(mu);
                            stopping = true;
                            todo.clear();
                        }
                        work_cv.notify_all();
                    }};

    Impl(int lvl, Sink s, unsigned threads) : level(lvl), sink(std::move(s)), max_inflight(2 * size_t{threads})
    {
        cur.reserve(kPgzipBlock);
    }

    void worker_main() noexcept
    {
        std::unique_ptr<BlockCompressor> z;
        std::exception_ptr init_error;
        try {
            z = make_block_compressor(level);
        } catch (...) {
            init_error = std::current_exception();  // reported with the first job this worker takes
        }
        for (;;) {
            std::shared_ptr<Job> j;
            {
                std::unique_lock lk(mu);
                work_cv.wait(lk, [&] { return stopping || !todo.empty(); });
                if (stopping)
                    return;
                j = std::move(todo.front());
                todo.pop_front();
            }
            std::exception_ptr err = init_error;
            if (!err) {
                try {
                    z->compress(*j);
                } catch (...) {
                    err = std::current_exception();
                }
            }
            {
                std::lock_guard lk(mu);
                j->error = err;
                j->done = true;
            }
            done_cv.notify_all();
        }
    }

    void emit(const unsigned char *p, size_t n)
    {
        if (n > 0)
            sink(p, n);
    }

    void write_header()
    {
        // No name, mtime 0, XFL as zlib sets it for the level, OS 3 (Unix):
        // the same bytes zlib's own gzip writer puts there.
        unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
        h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
        emit(h, sizeof h);
        header_written = true;
    }

    // Wait for the oldest job in flight and write its bytes out.
    void drain_one()
    {
        std::shared_ptr<Job> j = inflight.front();
        {
            std::unique_lock lk(mu);
            done_cv.wait(lk, [&] { return j->done; });
        }
        inflight.pop_front();
        if (j->error)
            std::rethrow_exception(j->error);
        if (!header_written)
            write_header();
        emit(j->out.data(), j->out.size());
        crc = crc32_combine(crc, j->crc, static_cast<z_off_t>(j->in_len));
        total += j->in_len;
    }

    void submit(bool last)
    {
        while (inflight.size() >= max_inflight)
            drain_one();
        auto j = std::make_shared<Job>();
        if (kUsesDictionary) {
            j->dict = tail;
            size_t keep = std::min(kDict, cur.size());
            if (!last)  // every block but the last is full: its end is the next one's whole dictionary
                tail.assign(cur.end() - static_cast<ptrdiff_t>(keep), cur.end());
        }
        j->in = std::move(cur);
        j->last = last;
        cur = {};
        if (!last)
            cur.reserve(kPgzipBlock);
        {
            std::lock_guard lk(mu);
            todo.push_back(j);
        }
        work_cv.notify_one();
        inflight.push_back(std::move(j));
    }

    void check_usable() const
    {
        if (failed)
            throw Error(OCIDIR_E_STATE, "parallel gzip: the stream is finished, or an earlier call failed");
    }
};

ParallelGzip::ParallelGzip(int level, unsigned threads, Sink sink)
    : impl_(std::make_unique<Impl>(level, std::move(sink), std::max(threads, 1u)))
{
    // Throws IO naming the thread that could not start, the others stopped.
    impl_->workers.start(std::max(threads, 1u), [this](unsigned) { impl_->worker_main(); });
}

ParallelGzip::~ParallelGzip() = default;

void ParallelGzip::write(const unsigned char *in, size_t len)
{
    Impl &m = *impl_;
    m.check_usable();
    try {
        while (len > 0) {
            // A full block goes out only once more input shows it is not the last.
            if (m.cur.size() == kPgzipBlock)
                m.submit(false);
            size_t take = std::min(len, kPgzipBlock - m.cur.size());
            m.cur.insert(m.cur.end(), in, in + take);
            in += take;
            len -= take;
        }
    } catch (...) {
        m.failed = true;
        throw;
    }
}

void ParallelGzip::finish()
{
    Impl &m = *impl_;
    m.check_usable();
    try {
        m.submit(true);  // with no input at all, an empty last block: a valid empty stream
        while (!m.inflight.empty())
            m.drain_one();
        unsigned char t[8];
        put_le32(t, static_cast<uint32_t>(m.crc));
        put_le32(t + 4, static_cast<uint32_t>(m.total));  // ISIZE: the length modulo 2^32
        m.emit(t, sizeof t);
        m.failed = true;  // spent: a second finish would write a second trailer
    } catch (...) {
        m.failed = true;
        throw;
    }
}

}  // namespace ocd
