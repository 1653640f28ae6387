// Errors inside the core: an exception carrying a public code, the errno
// behind it and a message naming what failed.  The C shim (capi.cc) turns it
// into a return code plus the thread-local detail; nothing escapes it.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

#include "ocidir.h"

namespace ocd {

class Error {
public:
    Error(int code, std::string msg, int err = 0) : code_(code), errno_(err), msg_(std::move(msg)) {}
    int code() const noexcept { return code_; }
    int os_errno() const noexcept { return errno_; }
    const std::string &message() const noexcept { return msg_; }

private:
    int code_;
    int errno_;
    std::string msg_;
};

// "<what>: <strerror(err)>" as OCIDIR_E_IO (OCIDIR_E_NOMEM for ENOMEM),
// carrying err.
[[noreturn]] void throw_os(std::string_view what, int err);
// Same, but maps ENOENT/ENOTDIR to NOT_FOUND, EXDEV/ELOOP to ESCAPE.
[[noreturn]] void throw_lookup(std::string_view what, int err);
[[noreturn]] inline void throw_error(int code, std::string msg) { throw Error(code, std::move(msg)); }

// Thread-local last error, read by ocidir_last_error()/ocidir_last_errno().
void set_last_error(int code, std::string_view msg, int err);
const char *last_error_message() noexcept;
int last_error_errno() noexcept;

std::string errno_text(int err);

}  // namespace ocd
