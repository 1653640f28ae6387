#include "store/write_beside.hh"

#include <sched.h>

#include "base/error.hh"
#include "format/hash.hh"
#include "fs/tempfile.hh"

namespace ocd {

WriteBeside::WriteBeside(TempFile &tmp)
    : tmp_(tmp), workers_("blob write", [this] {
          std::lock_guard lk(mu_);
          cv_.notify_all();
      })
{
}

WriteBeside::~WriteBeside() = default;  // workers_ goes first: stopped and joined

bool WriteBeside::worthwhile() noexcept
{
    static const bool several = [] {
        cpu_set_t set;
        CPU_ZERO(&set);
        return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1;
    }();
    return several;
}

// The helper thread: write each handed buffer whole, then say so.
void WriteBeside::serve()
{
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return pending_ || workers_.stopping(); });
        if (!pending_)
            return;  // stopping, nothing handed over
        const void *buf = buf_;
        size_t len = len_;
        lk.unlock();
        std::exception_ptr err;
        try {
            tmp_.write_all(buf, len);
        } catch (...) {
            err = std::current_exception();
        }
        lk.lock();
        error_ = err;
        pending_ = false;
        cv_.notify_all();
    }
}

void WriteBeside::write_and_hash(const void *buf, size_t len, Hasher &h)
{
    if (!started_ && !no_thread_) {
        try {
            workers_.start(1, [this](unsigned) { serve(); });
            started_ = true;
        } catch (const Error &) {
            no_thread_ = true;  // no thread to be had: write and hash in turn
        }
    }
    if (no_thread_) {
        h.update(buf, len);
        tmp_.write_all(buf, len);
        return;
    }
    {
        std::lock_guard lk(mu_);
        buf_ = buf;
        len_ = len;
        error_ = nullptr;
        pending_ = true;
    }
    cv_.notify_all();
    h.update(buf, len);  // noexcept: the wait below always comes
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !pending_; });
    if (error_)
        std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace ocd
