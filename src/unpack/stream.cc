#include "unpack/stream.hh"

#include <sched.h>

#include "base/error.hh"
#include "image/layer.hh"

namespace ocd::unpack {

namespace {

constexpr size_t kPiece = 256 * 1024;  // bytes per piece
constexpr size_t kSlots = 4;           // pieces in the ring (threaded): 1 MiB

}  // namespace

bool LayerStream::use_read_ahead() noexcept
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return false;
    return CPU_COUNT(&set) > 1;
}

LayerStream::LayerStream(ocidir_layer_reader_t *layer, bool threaded)
    : layer_(layer), threaded_(threaded), slots_(threaded ? kSlots : 1),
      workers_("unpack read-ahead", [this] {
          std::lock_guard lk(mu_);
          cv_.notify_all();
      })
{
    for (Slot &s : slots_)
        s.data.resize(kPiece);
    if (threaded_)
        workers_.start(1, [this](unsigned) { produce(); });
}

LayerStream::~LayerStream() = default;  // workers_ stops and joins the reading thread first

void LayerStream::rethrow() const { throw Error(failure_.code, failure_.message, failure_.err); }

// The reading thread: fill free slots until the verified end, a failure, or
// stop.  layer_read() never throws; its error is taken from this thread's
// last-error slot, where it put it.
void LayerStream::produce()
{
    size_t tail = 0;
    for (;;) {
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return workers_.stopping() || filled_ + (held_ ? 1 : 0) < slots_.size(); });
            if (workers_.stopping())
                return;
        }
        Slot &s = slots_[tail];  // free: neither filled nor held, so only this thread touches it
        ssize_t n = layer_read(*layer_, s.data.data(), s.data.size());
        std::lock_guard lk(mu_);
        if (n < 0) {
            failed_ = true;
            failure_.code = static_cast<int>(n);
            failure_.message = last_error_message();
            failure_.err = last_error_errno();
        } else if (n == 0) {
            end_ = true;
        } else {
            s.len = static_cast<size_t>(n);
            filled_++;
            tail = (tail + 1) % slots_.size();
        }
        cv_.notify_all();
        if (n <= 0)
            return;
    }
}

size_t LayerStream::next(const void **buf)
{
    if (!threaded_) {
        if (end_)
            return 0;
        if (failed_)
            rethrow();
        Slot &s = slots_[0];
        *buf = s.data.data();
        ssize_t n = layer_read(*layer_, s.data.data(), s.data.size());
        if (n < 0) {
            failed_ = true;
            failure_ = Failure{static_cast<int>(n), last_error_message(), last_error_errno()};
            rethrow();
        }
        if (n == 0)
            end_ = true;
        return static_cast<size_t>(n);
    }
    std::unique_lock lk(mu_);
    if (held_) {
        held_ = false;  // the caller is done with the previous piece: the producer may refill it
        cv_.notify_all();
    }
    cv_.wait(lk, [&] { return filled_ > 0 || end_ || failed_; });
    if (filled_ == 0) {
        if (failed_)
            rethrow();
        return 0;
    }
    Slot &s = slots_[head_];
    head_ = (head_ + 1) % slots_.size();
    filled_--;
    held_ = true;
    *buf = s.data.data();
    return s.len;
}

}  // namespace ocd::unpack
