// The codec implementations, for codec.cc's make_encoder() and
// make_decoder() only.  Each throws what those two document.
#pragma once

#include <memory>
#include <string>

#include "image/codec/codec.hh"

namespace ocd::codec {

// gzip.cc: zlib on the calling thread (the output of zlib's own gzip
// writer: no file name, mtime 0).
std::unique_ptr<Encoder> gzip_encoder(int level, size_t out_capacity, OutBuffer::Drain drain);
// gzip.cc: one gzip member compressed on `threads` >= 1 workers (pgzip.hh).
std::unique_ptr<Encoder> parallel_gzip_encoder(int level, unsigned threads, size_t out_capacity,
                                               OutBuffer::Drain drain);
// gzip.cc: zlib inflate, gzip only, members concatenated.
std::unique_ptr<Decoder> gzip_decoder(std::string what);
#if OCIDIR_HAVE_ISAL
// isal.cc: ISA-L inflate, with gzip.cc's contract and failures.
std::unique_ptr<Decoder> isal_gzip_decoder(std::string what);
#endif

// zstd.cc: libzstd, a checksum in every frame; threads 0: no workers.
// window_log 0: the level's window; long_mode: long-distance matching (window
// 2^kZstdMaxWindowLog unless window_log says otherwise).
std::unique_ptr<Encoder> zstd_encoder(int level, int threads, int window_log, bool long_mode, size_t out_capacity,
                                      OutBuffer::Drain drain);
// zstd.cc: libzstd, frames concatenated, window capped at libzstd's default.
std::unique_ptr<Decoder> zstd_decoder(std::string what);

}  // namespace ocd::codec
