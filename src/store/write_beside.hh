// A blob writer's large writes, overlapped with their hashing: a helper
// thread write(2)s the caller's bytes to the temporary file while the
// calling thread hashes the same bytes.  The call returns once both are
// done, so the caller's buffer is never touched after it returns and no
// byte is copied.  Used for writes of at least kBesideMin bytes on a
// machine where the process may run on more than one CPU; elsewhere, or
// when the thread cannot start, the writer writes and hashes in turn.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>

#include "base/workers.hh"

namespace ocd {

class Hasher;
class TempFile;

constexpr size_t kBesideMin = 256 * 1024;

class WriteBeside {
public:
    // A helper for `tmp`, which it writes to only inside write_and_hash().
    // The thread starts at the first call.
    explicit WriteBeside(TempFile &tmp);
    ~WriteBeside();  // stops and joins the thread
    WriteBeside(const WriteBeside &) = delete;
    WriteBeside &operator=(const WriteBeside &) = delete;

    // Whether overlapping can pay here: more than one CPU in the process's
    // affinity mask (checked once per process).
    static bool worthwhile() noexcept;

    // Write buf[0, len) to the temporary file and hash it with `h`, at once.
    // Throws what TempFile::write_all throws (the bytes are hashed anyway;
    // the writer fails).  Without a thread (it could not start), writes on
    // the calling thread after hashing.
    void write_and_hash(const void *buf, size_t len, Hasher &h);

private:
    void serve();

    TempFile &tmp_;
    std::mutex mu_;
    std::condition_variable cv_;
    const void *buf_ = nullptr;
    size_t len_ = 0;
    bool pending_ = false;  // buf_/len_ handed to the thread, not yet written
    std::exception_ptr error_;
    bool started_ = false, no_thread_ = false;
    Workers workers_;  // last: stopped and joined before the members it uses go
};

}  // namespace ocd
