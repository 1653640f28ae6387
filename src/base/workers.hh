// A few worker threads running one function: started together, stopped
// early on request or at the first failure, joined before the object goes
// away.  fsck's hashing workers, parallel gzip's block compressors and the
// blob copier thread all run on it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ocd {

class Workers {
public:
    // The function each worker runs, given its number (0 .. n-1).  It should
    // return soon once stopping() is true.  What it throws is kept (the
    // first exception only) and stops the other workers.
    using Fn = std::function<void(unsigned worker)>;

    // `what` names the pool in messages ("parallel gzip").  `wake`, when
    // given, is called by stop() after stopping() turned true: it wakes
    // workers that wait on a condition of their own.
    explicit Workers(std::string what, std::function<void()> wake = {});
    ~Workers();  // stop(), then join every worker; a kept exception is dropped
    Workers(const Workers &) = delete;
    Workers &operator=(const Workers &) = delete;

    // Start n workers running fn.  Throws Error(OCIDIR_E_IO) naming `what`
    // and the thread that could not start, after stopping and joining the
    // ones already started.  Once per object.
    void start(unsigned n, Fn fn);

    // Ask the workers to stop early.  Thread-safe; idempotent.
    void stop() noexcept;
    bool stopping() const noexcept;

    // Wait up to `timeout` for every worker to return; true when they all have.
    bool wait_for(std::chrono::milliseconds timeout);
    // Wait for every worker to return and join them; rethrow the first
    // exception a worker threw.
    void join();

private:
    void run(unsigned i) noexcept;
    void join_all() noexcept;

    std::string what_;
    std::function<void()> wake_;
    Fn fn_;
    std::mutex mu_;
    std::condition_variable done_cv_;
    std::atomic<bool> stop_{false};
    unsigned running_ = 0;
    std::exception_ptr error_;
    std::vector<std::thread> threads_;
};

}  // namespace ocd
