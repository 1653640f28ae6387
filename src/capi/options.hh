// Versioned ("extensible") options structs of the C ABI.
//
// Every public ocidir_*_options_t starts with `size_t struct_size`, the
// sizeof() of the struct as the caller compiled it.  The library reads the
// first min(struct_size, its own sizeof) bytes and takes its defaults for the
// rest, so a program built against an older header (smaller struct) keeps
// working; bytes the library does not know (a newer caller's larger struct)
// must be zero, or the call is OCIDIR_E_INVALID rather than silently ignoring
// an option the caller asked for.  This is the rule of the kernel's openat2()
// and clone3() structs.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>

#include "base/error.hh"
#include "capi/capi_util.hh"

namespace ocd::capi {

// Copy `in` (may be NULL: defaults) into `out`, which holds the defaults on
// entry.  `fn` names the calling entry point for the message.  Throws
// Error(INVALID) for a struct_size smaller than the size field itself, or for
// non-zero bytes past what this library knows.
template <class T>
void load_options(const T *in, T &out, const char *fn)
{
    static_assert(offsetof(T, struct_size) == 0, "struct_size must come first");
    if (!in)
        return;
    size_t n = in->struct_size;
    if (n < sizeof(size_t))
        throw Error(OCIDIR_E_INVALID, std::string(fn) + ": options struct_size " + std::to_string(n) +
                                          " is smaller than the struct_size field (use the _OPTIONS_INIT macro "
                                          "or the _options_init() function)");
    if (n > sizeof(T)) {
        const unsigned char *p = reinterpret_cast<const unsigned char *>(in);
        for (size_t i = sizeof(T); i < n; i++)
            if (p[i] != 0)
                throw Error(OCIDIR_E_INVALID,
                            std::string(fn) + ": options struct_size " + std::to_string(n) +
                                " sets a field at byte " + std::to_string(i) +
                                " that this library version does not know (it knows " +
                                std::to_string(sizeof(T)) + " bytes); refusing to ignore it");
        n = sizeof(T);
    }
    memcpy(static_cast<void *>(&out), static_cast<const void *>(in), n);
    out.struct_size = sizeof(T);
}

// The body of every ocidir_*_options_init(): write the defaults `def` into
// the first `struct_size` bytes of `opts` (a caller's possibly older, smaller
// struct).  Returns OCIDIR_E_INVALID for NULL or a size too small for the
// size field, with a message naming `fn`; 0 otherwise.  `def` must be a
// static object (`static const T def = OCIDIR_X_OPTIONS_INIT;`): its padding
// bytes are then zero, so the
// caller gets exactly the bytes of the macro, never the stale stack bytes
// a temporary's padding holds.
template <class T>
int init_options(T *opts, size_t struct_size, const T &def, const char *fn) noexcept
{
    if (!opts)
        return invalid(fn, "opts is NULL");
    if (struct_size < sizeof(size_t))
        return invalid(fn, "struct_size is smaller than the struct_size field (pass sizeof of the struct)");
    size_t n = struct_size < sizeof(T) ? struct_size : sizeof(T);
    memcpy(static_cast<void *>(opts), static_cast<const void *>(&def), n);
    if (struct_size > sizeof(T))
        memset(reinterpret_cast<unsigned char *>(opts) + sizeof(T), 0, struct_size - sizeof(T));
    opts->struct_size = struct_size;
    return 0;
}

}  // namespace ocd::capi
