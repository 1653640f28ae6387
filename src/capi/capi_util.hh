// Shared pieces of the C ABI shim (capi*.cc): the guard that turns any
// exception into a code plus the thread-local message, argument errors, and
// copies of results into memory the caller frees with ocidir_free() /
// ocidir_strv_free().
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/error.hh"

namespace ocd::capi {

inline int fail(int code, std::string_view msg, int err = 0) noexcept
{
    set_last_error(code, msg, err);
    return code;
}

template <class F>
int guard(F &&f) noexcept
{
    try {
        f();
        return OCIDIR_OK;
    } catch (const Error &e) {
        return fail(e.code(), e.message(), e.os_errno());
    } catch (const std::bad_alloc &) {
        return fail(OCIDIR_E_NOMEM, "out of memory", ENOMEM);
    } catch (const std::exception &e) {
        return fail(OCIDIR_E_IO, std::string("internal error: ") + e.what());
    } catch (...) {
        return fail(OCIDIR_E_IO, "internal error");
    }
}

inline int invalid(const char *fn, const char *what) noexcept
{
    std::string m;
    try {
        m = std::string(fn) + ": " + what;
    } catch (...) {
    }
    return fail(OCIDIR_E_INVALID, m);
}

inline void copy_digest(const std::string &dg, char *out) noexcept
{
    if (out) {
        size_t n = std::min(dg.size(), static_cast<size_t>(OCIDIR_DIGEST_MAX - 1));
        memcpy(out, dg.data(), n);
        out[n] = '\0';
    }
}

// Flags of the layer reader options: none yet.
template <class T>
void check_layer_reader_options(const T &o, const char *fn)
{
    if (o.flags != 0)
        throw Error(OCIDIR_E_INVALID, std::string(fn) + ": unknown flags " + std::to_string(o.flags));
}

// Hand what `p` owns to an optional out-parameter; with `out` NULL it is freed.
template <class T>
void hand_out(std::unique_ptr<T> p, T **out) noexcept
{
    if (out)
        *out = p.release();
}

// A malloc'd copy (for ocidir_free); throws std::bad_alloc.
inline char *dup_cstr(std::string_view s)
{
    char *p = static_cast<char *>(malloc(s.size() + 1));
    if (!p)
        throw std::bad_alloc();
    memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
}

// A malloc'd NULL-terminated vector (for ocidir_strv_free); throws std::bad_alloc
// and leaks nothing when it does.
template <class Range>
char **dup_strv(const Range &items)
{
    size_t n = 0;
    for (const auto &x : items) {
        (void)x;
        n++;
    }
    char **v = static_cast<char **>(calloc(n + 1, sizeof(char *)));
    if (!v)
        throw std::bad_alloc();
    size_t i = 0;
    try {
        for (const auto &x : items)
            v[i++] = dup_cstr(std::string_view(x));
    } catch (...) {
        for (size_t j = 0; j < i; j++)
            free(v[j]);
        free(v);
        throw;
    }
    return v;
}

// A C caller may pass any int where the header declares an enum.  Reading
// such a value through the C++ enum type is undefined (UBSan's
// -fsanitize=enum stops on it), so take the parameter's bytes instead.
template <class E>
int enum_value(const E &e) noexcept
{
    std::underlying_type_t<E> v;
    static_assert(sizeof v == sizeof e);
    memcpy(&v, &e, sizeof v);
    return static_cast<int>(v);
}

}  // namespace ocd::capi
