// The C ABI: thin extern "C" functions that check arguments, call the core
// and turn its result into a code plus the thread-local message.  Every entry
// point catches everything; no exception crosses this file.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "store/blob_store.hh"
#include "capi/capi_util.hh"
#include "capi/options.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "format/hash.hh"
#include "image/codec/codec.hh"
#include "store/index.hh"
#include "store/layout.hh"
#include "fs/resolve.hh"

using namespace ocd;
using namespace ocd::capi;

namespace {

#define STR2(x) #x
#define STR(x) STR2(x)

}  // namespace

extern "C" {

OCIDIR_API const char *ocidir_version(void)
{
    return STR(OCIDIR_VERSION_MAJOR) "." STR(OCIDIR_VERSION_MINOR) "." STR(OCIDIR_VERSION_PATCH);
}

OCIDIR_API unsigned ocidir_version_number(void) { return OCIDIR_VERSION_NUMBER; }

OCIDIR_API const char *ocidir_strerror(int code)
{
    switch (code) {
    case OCIDIR_OK: return "success";
    case OCIDIR_E_INVALID: return "invalid argument";
    case OCIDIR_E_IO: return "I/O error";
    case OCIDIR_E_NOT_FOUND: return "not found";
    case OCIDIR_E_DIGEST: return "content does not match its digest";
    case OCIDIR_E_SIZE: return "content size differs from the expected size";
    case OCIDIR_E_BAD_DIGEST: return "malformed digest";
    case OCIDIR_E_FORMAT: return "bad format";
    case OCIDIR_E_ESCAPE: return "path escapes its directory";
    case OCIDIR_E_EXISTS: return "already exists";
    case OCIDIR_E_NOMEM: return "out of memory";
    case OCIDIR_E_UNSUPPORTED: return "unsupported";
    case OCIDIR_E_READONLY: return "layout is read-only";
    case OCIDIR_E_STATE: return "object used in the wrong state";
    case OCIDIR_E_TOO_LARGE: return "content too large";
    case OCIDIR_E_AMBIGUOUS: return "ambiguous reference";
    case OCIDIR_E_CANCELED: return "operation canceled";
    case OCIDIR_E_NOT_DURABLE: return "change visible but not durable";
    default: return "unknown error";
    }
}

OCIDIR_API const char *ocidir_last_error(void) { return last_error_message(); }
OCIDIR_API int ocidir_last_errno(void) { return last_error_errno(); }
OCIDIR_API void ocidir_free(void *p) { free(p); }

OCIDIR_API void ocidir_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

OCIDIR_API size_t ocidir_digest_max(void) { return OCIDIR_DIGEST_MAX; }
OCIDIR_API const char *ocidir_hash_backend(void) { return hash_backend_name(); }

OCIDIR_API const char *ocidir_inflate_backend(void) { return codec::inflate_backend(); }
OCIDIR_API int ocidir_resolver_uses_openat2(void) { return resolve::uses_openat2() ? 1 : 0; }

OCIDIR_API int ocidir_digest_validate(const char *digest)
{
    if (!digest)
        return invalid("ocidir_digest_validate", "digest is NULL");
    int rc = classify_digest(digest);
    if (rc != 0)
        return guard([&] { parse_digest(digest); });  // sets the message
    return 0;
}

OCIDIR_API int ocidir_digest_buffer(ocidir_digest_alg_t alg, const void *buf, size_t len,
                                    char digest_out[OCIDIR_DIGEST_MAX])
{
    Alg a;
    if (!alg_from_int(enum_value(alg), a))
        return invalid("ocidir_digest_buffer", "unknown algorithm");
    if (!buf && len > 0)
        return invalid("ocidir_digest_buffer", "buf is NULL");
    if (!digest_out)
        return invalid("ocidir_digest_buffer", "digest_out is NULL");
    return guard([&] {
        auto h = Hasher::create(a);
        if (len)
            h->update(buf, len);
        copy_digest(h->final_digest(), digest_out);
    });
}

OCIDIR_API int ocidir_open(int dirfd, const char *path, unsigned flags, ocidir_t **out)
{
    if (!out)
        return invalid("ocidir_open", "out is NULL");
    return guard([&] {
        std::unique_ptr<ocidir> d = open_layout(dirfd, path, flags);
        if (!d->readonly)
            index::remove_stale_temps_if_idle(*d);  // best effort, never fails the open
        *out = d.release();
    });
}

OCIDIR_API void ocidir_close(ocidir_t *d) { delete d; }

OCIDIR_API int ocidir_is_readonly(const ocidir_t *d) { return d && d->readonly ? 1 : 0; }

OCIDIR_API int ocidir_add_blobdir_fd(ocidir_t *d, int fd, unsigned flags)
{
    if (!d)
        return invalid("ocidir_add_blobdir_fd", "layout handle is NULL");
    return guard([&] { add_blobdir(*d, fd, flags); });
}

namespace {

constexpr unsigned kKnownPutFlags = OCIDIR_PUT_VERIFY_EXISTING;
constexpr ocidir_put_options_t kPutDefaults = OCIDIR_PUT_OPTIONS_INIT;

// The options of a put, loaded and checked (throws INVALID naming `fn`).
struct PutOptions {
    Alg alg;
    unsigned flags;
};
PutOptions load_put_options(const ocidir_put_options_t *in, const char *fn)
{
    ocidir_put_options_t o = kPutDefaults;
    load_options(in, o, fn);
    PutOptions out;
    if (!alg_from_int(enum_value(o.alg), out.alg))
        throw_error(OCIDIR_E_INVALID, std::string(fn) + ": unknown algorithm " + std::to_string(enum_value(o.alg)));
    if (o.flags & ~kKnownPutFlags)
        throw_error(OCIDIR_E_INVALID, std::string(fn) + ": unknown flag bits " + std::to_string(o.flags & ~kKnownPutFlags));
    out.flags = o.flags;
    return out;
}

// Commit, and hand out the digest and size also when the blob was published
// but is not durable (OCIDIR_E_NOT_DURABLE).
void commit_reporting(ocidir_blob_writer &w, char *digest_out, uint64_t *size_out)
{
    try {
        writer_commit(w);
    } catch (const Error &e) {
        if (e.code() == OCIDIR_E_NOT_DURABLE && !w.digest.empty()) {
            copy_digest(w.digest, digest_out);
            if (size_out)
                *size_out = w.size;
        }
        throw;
    }
    copy_digest(w.digest, digest_out);
    if (size_out)
        *size_out = w.size;
}

}  // namespace

OCIDIR_API int ocidir_put_options_init(ocidir_put_options_t *opts, size_t struct_size)
{
    return init_options(opts, struct_size, kPutDefaults, "ocidir_put_options_init");
}

OCIDIR_API int ocidir_blob_writer_new(ocidir_t *d, ocidir_digest_alg_t alg, ocidir_blob_writer_t **out)
{
    Alg a;
    if (!d)
        return invalid("ocidir_blob_writer_new", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_blob_writer_new", "out is NULL");
    if (!alg_from_int(enum_value(alg), a))
        return invalid("ocidir_blob_writer_new", "unknown algorithm");
    return guard([&] { *out = writer_new(*d, a).release(); });
}

OCIDIR_API int ocidir_blob_writer_new_opts(ocidir_t *d, const ocidir_put_options_t *opts, ocidir_blob_writer_t **out)
{
    if (!d)
        return invalid("ocidir_blob_writer_new_opts", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_blob_writer_new_opts", "out is NULL");
    return guard([&] {
        PutOptions o = load_put_options(opts, "ocidir_blob_writer_new_opts");
        *out = writer_new(*d, o.alg, o.flags).release();
    });
}

OCIDIR_API int ocidir_blob_writer_expect(ocidir_blob_writer_t *w, const char *digest, int64_t size)
{
    if (!w)
        return invalid("ocidir_blob_writer_expect", "writer is NULL");
    return guard([&] { writer_expect(*w, digest, size); });
}

OCIDIR_API int ocidir_blob_writer_write(ocidir_blob_writer_t *w, const void *buf, size_t len)
{
    if (!w)
        return invalid("ocidir_blob_writer_write", "writer is NULL");
    if (!buf && len > 0)
        return invalid("ocidir_blob_writer_write", "buf is NULL");
    return guard([&] { writer_write(*w, buf, len); });
}

OCIDIR_API int ocidir_blob_writer_commit(ocidir_blob_writer_t *w, char digest_out[OCIDIR_DIGEST_MAX],
                                         uint64_t *size_out)
{
    if (!w)
        return invalid("ocidir_blob_writer_commit", "writer is NULL");
    std::unique_ptr<ocidir_blob_writer> owned(w);  // freed whatever happens
    return guard([&] { commit_reporting(*owned, digest_out, size_out); });
}

OCIDIR_API void ocidir_blob_writer_abort(ocidir_blob_writer_t *w) { delete w; }

OCIDIR_API int ocidir_blob_put(ocidir_t *d, const void *buf, size_t len, char digest_out[OCIDIR_DIGEST_MAX])
{
    return ocidir_blob_put_opts(d, buf, len, nullptr, digest_out);
}

OCIDIR_API int ocidir_blob_put_opts(ocidir_t *d, const void *buf, size_t len, const ocidir_put_options_t *opts,
                                    char digest_out[OCIDIR_DIGEST_MAX])
{
    const char *fn = opts ? "ocidir_blob_put_opts" : "ocidir_blob_put";
    if (!d)
        return invalid(fn, "layout handle is NULL");
    if (!buf && len > 0)
        return invalid(fn, "buf is NULL");
    return guard([&] {
        PutOptions o = load_put_options(opts, fn);
        auto w = writer_new(*d, o.alg, o.flags);
        writer_write(*w, buf, len);
        commit_reporting(*w, digest_out, nullptr);
    });
}

OCIDIR_API int ocidir_blob_put_fd(ocidir_t *d, int fd, char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out)
{
    return ocidir_blob_put_fd_opts(d, fd, nullptr, digest_out, size_out);
}

OCIDIR_API int ocidir_blob_put_fd_opts(ocidir_t *d, int fd, const ocidir_put_options_t *opts,
                                       char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out)
{
    const char *fn = opts ? "ocidir_blob_put_fd_opts" : "ocidir_blob_put_fd";
    if (!d)
        return invalid(fn, "layout handle is NULL");
    return guard([&] {
        PutOptions o = load_put_options(opts, fn);
        auto w = writer_new(*d, o.alg, o.flags);
        put_fd_into(*w, fd);
        commit_reporting(*w, digest_out, size_out);
    });
}

OCIDIR_API int ocidir_blob_stat(ocidir_t *d, const char *digest, uint64_t *size_out)
{
    if (!d)
        return invalid("ocidir_blob_stat", "layout handle is NULL");
    return guard([&] {
        Found f = find_blob(*d, parse_digest(digest));
        if (size_out)
            *size_out = static_cast<uint64_t>(f.st.st_size);
    });
}

OCIDIR_API int ocidir_blob_open(ocidir_t *d, const char *digest, int64_t expected_size, ocidir_blob_reader_t **out)
{
    if (!d)
        return invalid("ocidir_blob_open", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_blob_open", "out is NULL");
    return guard([&] { *out = reader_open(*d, digest, expected_size).release(); });
}

OCIDIR_API ssize_t ocidir_blob_reader_read(ocidir_blob_reader_t *r, void *buf, size_t len)
{
    if (!r)
        return invalid("ocidir_blob_reader_read", "reader is NULL");
    if (!buf || len == 0)
        return invalid("ocidir_blob_reader_read", "buf is NULL or len is 0");
    ssize_t n = 0;
    int rc = guard([&] { n = reader_read(*r, buf, len); });
    return rc != 0 ? rc : n;
}

OCIDIR_API uint64_t ocidir_blob_reader_size(const ocidir_blob_reader_t *r) { return r ? r->size : 0; }

OCIDIR_API void ocidir_blob_reader_close(ocidir_blob_reader_t *r) { delete r; }

OCIDIR_API int ocidir_blob_read_all(ocidir_t *d, const char *digest, int64_t expected_size, size_t max_len,
                                    void **buf_out, size_t *len_out)
{
    if (!d)
        return invalid("ocidir_blob_read_all", "layout handle is NULL");
    if (!buf_out)
        return invalid("ocidir_blob_read_all", "buf_out is NULL");
    return guard([&] {
        auto r = reader_open(*d, digest, expected_size);
        if (r->size > max_len)
            throw_error(OCIDIR_E_TOO_LARGE, "blob " + r->digest.str() + " is " + std::to_string(r->size) +
                                                " bytes, more than the limit of " + std::to_string(max_len));
        struct FreeDel {
            void operator()(void *p) const noexcept { free(p); }
        };
        std::unique_ptr<char, FreeDel> buf(static_cast<char *>(malloc(r->size ? r->size : 1)));
        if (!buf)
            throw Error(OCIDIR_E_NOMEM, "allocating " + std::to_string(r->size) + " bytes for blob " + r->digest.str(),
                        ENOMEM);
        size_t off = 0;
        char probe[1];
        for (;;) {
            char *dst = off < r->size ? buf.get() + off : probe;
            size_t want = off < r->size ? static_cast<size_t>(r->size - off) : sizeof probe;
            ssize_t n = reader_read(*r, dst, want);
            if (n == 0)
                break;
            off += static_cast<size_t>(n);
        }
        *buf_out = buf.release();
        if (len_out)
            *len_out = off;
    });
}

OCIDIR_API int ocidir_blob_open_fd(ocidir_t *d, const char *digest, int *fd_out)
{
    if (!d)
        return invalid("ocidir_blob_open_fd", "layout handle is NULL");
    if (!fd_out)
        return invalid("ocidir_blob_open_fd", "fd_out is NULL");
    return guard([&] {
        Found f = find_blob(*d, parse_digest(digest));
        *fd_out = f.fd.release();
    });
}

OCIDIR_API int ocidir_blob_remove(ocidir_t *d, const char *digest)
{
    if (!d)
        return invalid("ocidir_blob_remove", "layout handle is NULL");
    return guard([&] { blob_remove(*d, digest); });
}

}  // extern "C"
