#include "base/workers.hh"

#include <system_error>

#include "base/error.hh"

namespace ocd {

Workers::Workers(std::string what, std::function<void()> wake) : what_(std::move(what)), wake_(std::move(wake)) {}

Workers::~Workers()
{
    stop();
    join_all();
}

void Workers::start(unsigned n, Fn fn)
{
    fn_ = std::move(fn);
    threads_.reserve(n);
    for (unsigned i = 0; i < n; i++) {
        {
            std::lock_guard lk(mu_);
            running_++;
        }
        try {
            threads_.emplace_back([this, i] { run(i); });
        } catch (...) {
            {
                std::lock_guard lk(mu_);
                running_--;
            }
            stop();
            join_all();
            try {
                throw;
            } catch (const std::system_error &e) {
                throw Error(OCIDIR_E_IO,
                            what_ + ": cannot start worker thread " + std::to_string(i + 1) + " of " +
                                std::to_string(n) + ": " + e.what(),
                            e.code().value());
            }
        }
    }
}

void Workers::run(unsigned i) noexcept
{
    try {
        fn_(i);
    } catch (...) {
        {
            std::lock_guard lk(mu_);
            if (!error_)
                error_ = std::current_exception();
        }
        stop();
    }
    std::lock_guard lk(mu_);
    running_--;
    done_cv_.notify_all();
}

void Workers::stop() noexcept
{
    if (stop_.exchange(true))
        return;
    if (wake_)
        wake_();
}

bool Workers::stopping() const noexcept { return stop_.load(); }

bool Workers::wait_for(std::chrono::milliseconds timeout)
{
    std::unique_lock lk(mu_);
    return done_cv_.wait_for(lk, timeout, [&] { return running_ == 0; });
}

void Workers::join_all() noexcept
{
    for (auto &t : threads_)
        if (t.joinable())
            t.join();
}

void Workers::join()
{
    join_all();
    std::lock_guard lk(mu_);
    if (error_)
        std::rethrow_exception(error_);
}

}  // namespace ocd
