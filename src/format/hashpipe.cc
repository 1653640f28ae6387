#include "format/hashpipe.hh"

#include <algorithm>

namespace ocd {

HashPipe::HashPipe(std::unique_ptr<Hasher> inner, std::string what) : inner_(std::move(inner)), what_(std::move(what))
{
}

HashPipe::~HashPipe()
{
    thread_.reset();  // stop() wakes it through the callback, then it is joined
}

bool HashPipe::start() noexcept
{
    try {
        // Every block now: the thread and update() never allocate.
        for (size_t i = 0; i < kBlocks + 1; i++) {
            free_.emplace_back();
            free_.back().reserve(kBlock);
        }
        current_ = std::move(free_.back());
        free_.pop_back();
        thread_.emplace(what_, [this] {
            std::lock_guard lk(mu_);
            stop_ = true;
            cv_.notify_all();
        });
        thread_->start(1, [this](unsigned) { run(); });
        return true;
    } catch (...) {
        thread_.reset();
        free_.clear();
        current_.clear();
        current_.shrink_to_fit();
        return false;
    }
}

void HashPipe::run()
{
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return stop_ || !queue_.empty() || ending_; });
        if (stop_ || queue_.empty())
            return;  // given up, or ending_ with everything hashed
        std::vector<unsigned char> b = std::move(queue_.front());
        queue_.pop_front();
        cv_.notify_all();  // room in the queue
        lk.unlock();
        inner_->update(b.data(), b.size());
        b.clear();
        lk.lock();
        free_.push_back(std::move(b));  // within the capacity reserved at start
        cv_.notify_all();
    }
}

void HashPipe::push_current() noexcept
{
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return queue_.size() < kBlocks && !free_.empty(); });
    queue_.push_back(std::move(current_));
    current_ = std::move(free_.back());
    free_.pop_back();
    cv_.notify_all();
}

void HashPipe::update(const void *data, size_t len) noexcept
{
    const auto *p = static_cast<const unsigned char *>(data);
    if (!threaded_) {
        if (inline_only_ || fed_ + len <= kInline) {
            fed_ += len;
            inner_->update(p, len);
            return;
        }
        threaded_ = start();
        if (!threaded_) {
            inline_only_ = true;
            fed_ += len;
            inner_->update(p, len);
            return;
        }
    }
    fed_ += len;
    while (len > 0) {
        size_t take = std::min(len, kBlock - current_.size());
        current_.insert(current_.end(), p, p + take);  // within the block's capacity
        p += take;
        len -= take;
        if (current_.size() == kBlock)
            push_current();
    }
}

void HashPipe::final(uint8_t *out)
{
    if (threaded_) {
        if (!current_.empty())
            push_current();
        {
            std::lock_guard lk(mu_);
            ending_ = true;
            cv_.notify_all();
        }
        thread_->join();  // rethrows what the thread threw (nothing: it neither allocates nor fails)
        thread_.reset();
        threaded_ = false;
    }
    inner_->final(out);
}

}  // namespace ocd
