// Where a raw deflate stream (RFC 1951) ends, block by block: the bit at
// which its final block's header starts and the bit just past that block's
// end-of-block code.  Parallel gzip needs both to join separately made
// deflate streams into one: it clears the final block's BFINAL bit and ends
// the block's output with an empty stored block, as zlib's sync flush does.
//
// The walk decodes every Huffman symbol (no output is produced or copied),
// so it costs a fraction of an inflate.  It checks what it reads: a stream
// that is not valid deflate, or that has bytes after its final block other
// than the zero padding bits of its last byte, is refused.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ocd {

struct DeflateEnd {
    uint64_t final_header_bit = 0;  // bit offset of the final block's 3 header bits (BFINAL first)
    uint64_t end_bit = 0;           // bit offset just past the final block
};

// False when data[0, len) is not exactly one complete raw deflate stream.
bool find_deflate_end(const unsigned char *data, size_t len, DeflateEnd &out) noexcept;

}  // namespace ocd
