#include "image/hashpipe.hh"

#include <algorithm>

#include "base/error.hh"

namespace ocd {

HashPipe::HashPipe(Alg alg, std::string what)
    : hasher_(Hasher::create(alg)), thread_(std::move(what), [this] {
          std::lock_guard lk(mu_);
          stop_ = true;
          cv_.notify_all();
      })
{
    current_.reserve(kBlock);
    free_.reserve(kBlocks + 2);  // the thread never allocates
    thread_.start(1, [this](unsigned) { run(); });
}

HashPipe::~HashPipe() = default;  // thread_ goes first: stop() wakes it, then it is joined

void HashPipe::run()
{
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return stop_ || !queue_.empty() || ending_; });
        if (stop_)
            return;
        if (queue_.empty())
            return;  // ending_, and everything hashed
        std::vector<unsigned char> b = std::move(queue_.front());
        queue_.pop_front();
        cv_.notify_all();  // room in the queue
        lk.unlock();
        hasher_->update(b.data(), b.size());
        b.clear();
        lk.lock();
        free_.push_back(std::move(b));
        cv_.notify_all();
    }
}

void HashPipe::push_current()
{
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return stop_ || queue_.size() < kBlocks; });
    if (stop_)
        throw_error(OCIDIR_E_IO, "hashing thread: stopped");
    queue_.push_back(std::move(current_));
    if (!free_.empty()) {
        current_ = std::move(free_.back());
        free_.pop_back();
    } else {
        current_ = std::vector<unsigned char>();
    }
    cv_.notify_all();
    lk.unlock();
    current_.reserve(kBlock);
}

void HashPipe::update(const void *data, size_t len)
{
    const auto *p = static_cast<const unsigned char *>(data);
    while (len > 0) {
        size_t take = std::min(len, kBlock - current_.size());
        current_.insert(current_.end(), p, p + take);
        p += take;
        len -= take;
        if (current_.size() == kBlock)
            push_current();
    }
}

std::string HashPipe::final_digest()
{
    if (!current_.empty())
        push_current();
    {
        std::lock_guard lk(mu_);
        ending_ = true;
        cv_.notify_all();
    }
    thread_.join();  // rethrows what the thread threw (nothing: update is noexcept)
    return hasher_->final_digest();
}

}  // namespace ocd
