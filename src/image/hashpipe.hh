// A hash computed on a helper thread: the bytes fed to it are copied into
// blocks of a bounded queue (kBlock bytes each, at most kBlocks of them in
// flight) and hashed by one thread of its own, so that the feeding thread
// spends on them a copy, not a hash.  The layer writer hashes the diff_id
// through it when the codec runs on worker threads (zstd with workers): the
// thread that feeds the compressor then keeps the workers supplied.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/workers.hh"
#include "format/hash.hh"

namespace ocd {

class HashPipe {
public:
    static constexpr size_t kBlock = 1024 * 1024;
    static constexpr size_t kBlocks = 8;

    // Starts the thread.  Throws as Hasher::create, and IO (naming `what`)
    // when the thread cannot start.
    HashPipe(Alg alg, std::string what);
    ~HashPipe();  // stops and joins the thread; a digest not taken is dropped
    HashPipe(const HashPipe &) = delete;
    HashPipe &operator=(const HashPipe &) = delete;

    // Hash `len` more bytes (copied; the caller's buffer is free on return).
    // Waits while kBlocks blocks are queued.  Throws NOMEM, IO (the thread
    // stopped).
    void update(const void *data, size_t len);
    // Wait for every byte to be hashed; "<alg>:<hex>".  The pipe is spent
    // afterwards.  Throws as Hasher::final.
    std::string final_digest();

private:
    void run();
    void push_current();

    std::unique_ptr<Hasher> hasher_;
    std::mutex mu_;
    std::condition_variable cv_;                        // queue changed, or stop
    std::deque<std::vector<unsigned char>> queue_;      // full blocks, oldest first
    std::vector<std::vector<unsigned char>> free_;      // spent blocks, for reuse
    bool ending_ = false;                               // no more blocks will come
    bool stop_ = false;                                 // give up (destructor, or the thread failed)
    std::vector<unsigned char> current_;                // being filled by update()
    Workers thread_;                                    // last: joined first
};

}  // namespace ocd
