#include "image/layer_pipe.hh"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <vector>

#include "base/error.hh"
#include "base/workers.hh"
#include "format/hash.hh"
#include "store/blob_store.hh"

namespace ocd {

struct LayerPipe::Impl {
    ocidir_blob_reader &blob;
    Hasher &diff;

    std::mutex mu;
    std::condition_variable cv;  // any change below; both sides wait on it
    bool stopping = false;

    // Compressed chunks: filled by the thread in ring order, taken by the caller.
    std::vector<unsigned char> in[kPipeIn];
    size_t in_len[kPipeIn] = {};
    uint64_t in_filled = 0, in_taken = 0, in_released = 0;  // counts of chunks
    bool in_end = false;                                   // the blob reader returned its verified 0
    std::exception_ptr in_error;                            // or threw this

    // Decompressed chunks: filled and submitted by the caller, hashed by the thread.
    std::vector<unsigned char> out[kPipeOut];
    size_t out_len[kPipeOut] = {};
    uint64_t out_submitted = 0, out_hashed = 0;

    // Last: joined before the state above goes away.
    Workers thread{"layer reader", [this] {
                       {
                           std::lock_guard lk(mu);
                           stopping = true;
                       }
                       cv.notify_all();
                   }};

    Impl(ocidir_blob_reader &b, Hasher &d) : blob(b), diff(d)
    {
        for (auto &c : in)
            c.resize(kPipeInChunk);
        for (auto &c : out)
            c.resize(kPipeOutChunk);
    }

    void run() noexcept
    {
        std::unique_lock lk(mu);
        for (;;) {
            cv.wait(lk, [&] {
                return stopping || out_hashed < out_submitted ||
                       (!in_end && !in_error && in_filled - in_released < kPipeIn);
            });
            if (stopping)
                return;
            if (out_hashed < out_submitted) {
                // Hashing first: it frees room for the decompressor.
                size_t k = out_hashed % kPipeOut;
                lk.unlock();
                diff.update(out[k].data(), out_len[k]);
                lk.lock();
                out_hashed++;
            } else {
                size_t k = in_filled % kPipeIn;
                lk.unlock();
                ssize_t n = 0;
                std::exception_ptr err;
                try {
                    n = reader_read(blob, in[k].data(), in[k].size());
                } catch (...) {
                    err = std::current_exception();
                }
                lk.lock();
                if (err)
                    in_error = err;
                else if (n == 0)
                    in_end = true;
                else {
                    in_len[k] = static_cast<size_t>(n);
                    in_filled++;
                }
            }
            cv.notify_all();
        }
    }
};

LayerPipe::LayerPipe(ocidir_blob_reader &blob, Hasher &diff) : impl_(std::make_unique<Impl>(blob, diff))
{
    impl_->thread.start(1, [this](unsigned) { impl_->run(); });
}

LayerPipe::~LayerPipe() = default;

void LayerPipe::next_input(const unsigned char **data, size_t *len)
{
    Impl &m = *impl_;
    std::unique_lock lk(m.mu);
    if (m.in_taken > m.in_released) {
        m.in_released++;  // the previous chunk's room goes back to the thread
        m.cv.notify_all();
    }
    m.cv.wait(lk, [&] { return m.in_filled > m.in_taken || m.in_end || m.in_error; });
    if (m.in_filled > m.in_taken) {
        size_t k = m.in_taken % kPipeIn;
        m.in_taken++;
        *data = m.in[k].data();
        *len = m.in_len[k];
        return;
    }
    if (m.in_error)
        std::rethrow_exception(m.in_error);
    *data = nullptr;
    *len = 0;
}

unsigned char *LayerPipe::output_space()
{
    Impl &m = *impl_;
    std::unique_lock lk(m.mu);
    m.cv.wait(lk, [&] { return m.out_submitted - m.out_hashed < kPipeOut; });
    return m.out[m.out_submitted % kPipeOut].data();
}

void LayerPipe::submit_output(size_t len)
{
    Impl &m = *impl_;
    {
        std::lock_guard lk(m.mu);
        m.out_len[m.out_submitted % kPipeOut] = len;
        m.out_submitted++;
    }
    m.cv.notify_all();
}

void LayerPipe::drain_output()
{
    Impl &m = *impl_;
    std::unique_lock lk(m.mu);
    m.cv.wait(lk, [&] { return m.out_hashed == m.out_submitted; });
}

}  // namespace ocd
