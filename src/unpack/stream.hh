// The decompressed, verified stream of one layer, in pieces, for the tar
// reader.  With more than one CPU (the ones this thread may run on), a
// second thread reads it ahead: decompression and both hashes (blob digest,
// DiffID) run there, while the calling thread parses the tar and writes the
// files.  A small bounded ring of buffers sits between the two, so memory
// stays flat in the layer size.
//
// The layer reader belongs to the reading thread from construction until
// the stream is destroyed (which stops and joins it): the caller must not
// touch it meanwhile, and must keep it alive longer than the stream.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/workers.hh"
#include "ocidir.h"

namespace ocd::unpack {

class LayerStream {
public:
    // `threaded`: read ahead on a second thread (see use_read_ahead()).
    // Throws Error(IO) if the thread cannot start, NOMEM.
    LayerStream(ocidir_layer_reader_t *layer, bool threaded);
    ~LayerStream();
    LayerStream(const LayerStream &) = delete;
    LayerStream &operator=(const LayerStream &) = delete;

    // The next piece: *buf points at its bytes, valid until the next call.
    // Returns its length, or 0 at the verified end (every later call
    // returns 0 too).  Throws the layer reader's error as it reported it
    // (code, message, errno): DIGEST, FORMAT, IO...
    size_t next(const void **buf);

    // True when a second thread helps: more than one CPU in this thread's
    // affinity mask.
    static bool use_read_ahead() noexcept;

private:
    struct Slot {
        std::vector<unsigned char> data;
        size_t len = 0;
    };
    struct Failure {
        int code = 0;
        std::string message;
        int err = 0;
    };

    void produce();            // the reading thread
    [[noreturn]] void rethrow() const;

    ocidir_layer_reader_t *layer_;
    bool threaded_;
    std::vector<Slot> slots_;  // a ring: [head_, head_+filled_) hold data
    size_t head_ = 0, filled_ = 0;
    bool held_ = false;        // slots_[head_-1] is the piece the caller has
    bool end_ = false;         // the producer reached the verified end
    bool failed_ = false;      // ... or the layer reader failed (failure_)
    Failure failure_;
    std::mutex mu_;
    std::condition_variable cv_;
    Workers workers_;          // last: joined before the rest goes away
};

}  // namespace ocd::unpack
