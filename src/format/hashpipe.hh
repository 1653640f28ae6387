// A Hasher that hashes on a helper thread: past its first kInline bytes
// (hashed in the caller, so that small streams start no thread), the bytes
// fed to it are copied into blocks of a bounded queue (kBlock bytes each, at
// most kBlocks queued) and hashed by one thread of its own, so that the
// feeding thread spends on them a copy, not a hash.  When the thread or its
// blocks cannot be had, it hashes in the caller: the digest is the same.
//
// The layer writer hashes the diff_id through it when zstd compresses on
// workers: the calling thread then only copies the input for it and feeds
// the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/workers.hh"
#include "format/hash.hh"

namespace ocd {

class HashPipe final : public Hasher {
public:
    static constexpr size_t kBlock = 1024 * 1024;
    static constexpr size_t kBlocks = 4;
    static constexpr uint64_t kInline = 4 * 1024 * 1024;

    // Hashes with `inner` (which may have hashed some bytes already); `what`
    // names the thread in messages.
    HashPipe(std::unique_ptr<Hasher> inner, std::string what);
    ~HashPipe() override;  // stops and joins the thread

    // Copies (the caller's buffer is free on return); waits while kBlocks
    // blocks are queued.
    void update(const void *data, size_t len) noexcept override;
    // Waits for every byte to be hashed.  Throws as the inner hasher's final.
    void final(uint8_t *out) override;
    Alg alg() const noexcept override { return inner_->alg(); }

private:
    bool start() noexcept;
    void run();
    void push_current() noexcept;

    std::unique_ptr<Hasher> inner_;
    std::string what_;
    uint64_t fed_ = 0;        // bytes given to update()
    bool threaded_ = false;   // the thread runs: bytes go through the queue
    bool inline_only_ = false;  // the thread could not start: hash in the caller
    std::mutex mu_;
    std::condition_variable cv_;                    // queue changed, or stop
    std::deque<std::vector<unsigned char>> queue_;  // full blocks, oldest first
    std::vector<std::vector<unsigned char>> free_;  // empty blocks, capacity kBlock
    bool ending_ = false;                           // no more blocks will come
    bool stop_ = false;                             // give up (destructor)
    std::vector<unsigned char> current_;            // being filled by update()
    std::optional<Workers> thread_;                 // last: joined first
};

}  // namespace ocd
