// The verified layer reader's second thread: it reads the blob (through the
// blob reader, which hashes the compressed bytes for the blob digest) ahead
// of the decompressor, and hashes the decompressed bytes for the diff_id
// behind it, so that the thread that calls ocidir_layer_reader_read only
// decompresses and copies.
//
// Bounded: kPipeIn compressed chunks of kPipeInChunk bytes and kPipeOut
// decompressed chunks of kPipeOutChunk bytes, whatever the layer's size.
// The thread stops (and is joined) when the pipe goes away, whether the
// layer was read to its end or not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

struct ocidir_blob_reader;

namespace ocd {

class Hasher;

constexpr size_t kPipeIn = 4, kPipeInChunk = 128 * 1024;
constexpr size_t kPipeOut = 4, kPipeOutChunk = 256 * 1024;

class LayerPipe {
public:
    // Starts the thread.  `blob` and `diff` are the pipe's to use until it
    // is destroyed.  Throws Error IO (the thread cannot start), NOMEM.
    LayerPipe(ocidir_blob_reader &blob, Hasher &diff);
    ~LayerPipe();
    LayerPipe(const LayerPipe &) = delete;
    LayerPipe &operator=(const LayerPipe &) = delete;

    // The next compressed chunk, the previous one given back: its bytes in
    // *data, *len of them; *len == 0 once the blob ended and matched its
    // digest.  Throws what the blob reader threw (DIGEST, SIZE, IO, ...).
    void next_input(const unsigned char **data, size_t *len);

    // Room for decompressed bytes (kPipeOutChunk of it), waiting for the
    // hashing to free a chunk.  Its bytes stay readable until the
    // kPipeOut-th next call.
    unsigned char *output_space();
    // The first `len` bytes of the room output_space() gave are the next
    // decompressed bytes: hash them.
    void submit_output(size_t len);
    // Wait until every submitted byte is hashed (the diff Hasher is then the
    // caller's again).
    void drain_output();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ocd
