#include "image/codec/codec.hh"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/error.hh"
#include "image/codec/codecs.hh"
#include "ocidir.h"

namespace ocd {

namespace {

constexpr const char *kMediaNone = "application/vnd.oci.image.layer.v1.tar";
constexpr const char *kMediaGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char *kMediaZstd = "application/vnd.oci.image.layer.v1.tar+zstd";

}  // namespace

const char *compression_media_type(int compression) noexcept
{
    switch (compression) {
    case OCIDIR_COMPRESSION_NONE: return kMediaNone;
    case OCIDIR_COMPRESSION_GZIP: return kMediaGzip;
    case OCIDIR_COMPRESSION_ZSTD: return kMediaZstd;
    default: return nullptr;
    }
}

int compression_from_media_type(std::string_view mt) noexcept
{
    static constexpr struct {
        std::string_view type;
        int compression;
    } kTypes[] = {
        {"application/vnd.oci.image.layer.v1.tar", OCIDIR_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.v1.tar+gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", OCIDIR_COMPRESSION_ZSTD},
        // Deprecated by the image-spec, still found in the wild.
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", OCIDIR_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCIDIR_COMPRESSION_ZSTD},
        // Docker image manifest v2 schema 2 (skopeo keeps them in OCI layouts).
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", OCIDIR_COMPRESSION_NONE},
    };
    for (const auto &t : kTypes)
        if (t.type == mt)
            return t.compression;
    return -1;
}

}  // namespace ocd

namespace ocd::codec {

namespace {

constexpr int kGzipDefaultLevel = 6;
constexpr int kZstdDefaultLevel = 3;
constexpr int kZstdMaxLevel = 19;  // beyond it (--ultra) the window, and the reader's memory, grow too large

// gzip's threads 0: one per online CPU (at least one, at most kMaxThreads).
// The output is the same for any count, so it does not depend on the machine.
unsigned online_cpus() noexcept
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return static_cast<unsigned>(std::clamp(n, 1L, static_cast<long>(kMaxThreads)));
}

#ifndef OCIDIR_DEFAULT_INFLATE
#error "the build defines OCIDIR_DEFAULT_INFLATE (zlib or isal)"
#endif
#define OCD_INFLATE_STR2(x) #x
#define OCD_INFLATE_STR(x) OCD_INFLATE_STR2(x)

enum class Inflater { None, Zlib, Isal };

struct InflateChoice {
    Inflater inflater = Inflater::None;
    char problem[200] = "";
};

InflateChoice choose_inflater() noexcept
{
    InflateChoice c;
    const char *env = std::getenv("OCIDIR_INFLATE");
    std::string_view want = env && *env ? env : OCD_INFLATE_STR(OCIDIR_DEFAULT_INFLATE);
    if (want == "zlib")
        c.inflater = Inflater::Zlib;
#if OCIDIR_HAVE_ISAL
    else if (want == "isal" || want == "isa-l")
        c.inflater = Inflater::Isal;
#endif
    if (c.inflater == Inflater::None) {
        std::string_view known = OCIDIR_HAVE_ISAL ? "zlib, isal" : "zlib";
        std::string_view shown = want.substr(0, 60);
        snprintf(c.problem, sizeof c.problem,
                 "gzip decoder: OCIDIR_INFLATE=%.*s names no decoder compiled into this library (compiled in: %.*s)",
                 static_cast<int>(shown.size()), shown.data(), static_cast<int>(known.size()), known.data());
    }
    return c;
}

const InflateChoice &inflate_choice() noexcept
{
    static const InflateChoice c = choose_inflater();  // read once: every reader of a process agrees
    return c;
}

}  // namespace

const char *inflate_backend() noexcept
{
    switch (inflate_choice().inflater) {
    case Inflater::Zlib: return "zlib";
    case Inflater::Isal: return "isal";
    default: return "none";
    }
}

const char *inflate_backend_problem() noexcept { return inflate_choice().problem; }

void OutBuffer::commit(size_t n)
{
    len_ += n;
    if (len_ == buf_.size())
        flush();
}

void OutBuffer::append(const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t take = std::min(n, room());
        std::memcpy(space(), p, take);
        p += take;
        n -= take;
        commit(take);
    }
}

void OutBuffer::flush()
{
    if (len_ > 0) {
        drain_(buf_.data(), len_);
        len_ = 0;
    }
}

EncoderParams encoder_params(int compression, const char *mt, int level, int threads, int zstd_window_log,
                             bool zstd_long)
{
    auto bad = [&](const std::string &why) {
        throw_error(OCIDIR_E_INVALID, std::string("layer writer (") + mt + "): " + why);
    };
    switch (compression) {
    case OCIDIR_COMPRESSION_NONE:
        if (level != 0)
            bad("level " + std::to_string(level) + " given, but an uncompressed layer takes none (0)");
        if (threads != 0)
            bad("threads " + std::to_string(threads) + " given, but an uncompressed layer takes none (0)");
        break;
    case OCIDIR_COMPRESSION_GZIP:
        if (level == 0)
            level = kGzipDefaultLevel;
        if (level < 1 || level > 9)
            bad("gzip level " + std::to_string(level) + " is outside 1..9 (0 picks 6)");
        if (threads < 0 || threads > kMaxThreads)
            bad("gzip threads " + std::to_string(threads) + " is outside 0..64");
        break;
    case OCIDIR_COMPRESSION_ZSTD:
        if (level == 0)
            level = kZstdDefaultLevel;
        if (level < 1 || level > kZstdMaxLevel)
            bad("zstd level " + std::to_string(level) + " is outside 1..19 (0 picks 3)");
        if (threads < 0 || threads > kMaxThreads)
            bad("zstd threads " + std::to_string(threads) + " is outside 0..64");
        if (zstd_window_log != 0 && (zstd_window_log < 10 || zstd_window_log > kZstdMaxWindowLog))
            bad("zstd window log " + std::to_string(zstd_window_log) + " is outside 10.." +
                std::to_string(kZstdMaxWindowLog) + " (0 takes zstd's for the level)");
        break;
    }
    if (compression != OCIDIR_COMPRESSION_ZSTD && (zstd_window_log != 0 || zstd_long))
        bad("zstd options (window log, long mode) given for another compression");
    return EncoderParams{compression, level, threads, zstd_window_log, zstd_long};
}

std::unique_ptr<Encoder> make_encoder(const EncoderParams &p, size_t out_capacity, OutBuffer::Drain drain)
{
    switch (p.compression) {
    case OCIDIR_COMPRESSION_GZIP:
        if (p.threads == 1)
            return gzip_encoder(p.level, out_capacity, std::move(drain));  // single-threaded: plain zlib output
        return parallel_gzip_encoder(p.level, p.threads > 0 ? static_cast<unsigned>(p.threads) : online_cpus(),
                                     out_capacity, std::move(drain));
    case OCIDIR_COMPRESSION_ZSTD:
        return zstd_encoder(p.level, p.threads, p.zstd_window_log, p.zstd_long, out_capacity, std::move(drain));
    default:
        return nullptr;
    }
}

std::unique_ptr<Decoder> make_decoder(int compression, std::string what)
{
    switch (compression) {
    case OCIDIR_COMPRESSION_GZIP:
        switch (inflate_choice().inflater) {
        case Inflater::Zlib: return gzip_decoder(std::move(what));
#if OCIDIR_HAVE_ISAL
        case Inflater::Isal: return isal_gzip_decoder(std::move(what));
#endif
        default: throw Error(OCIDIR_E_UNSUPPORTED, what + ": " + inflate_backend_problem());
        }
    case OCIDIR_COMPRESSION_ZSTD: return zstd_decoder(std::move(what));
    default: return nullptr;
    }
}

}  // namespace ocd::codec
