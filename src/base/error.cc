#include "base/error.hh"

#include <cstring>

namespace ocd {

namespace {
thread_local std::string t_message;
thread_local int t_errno = 0;
}  // namespace

std::string errno_text(int err)
{
    char buf[128];
    // GNU strerror_r returns the message pointer.
    const char *s = strerror_r(err, buf, sizeof buf);
    return std::string(s) + " (errno " + std::to_string(err) + ")";
}

void throw_os(std::string_view what, int err)
{
    int code = err == ENOMEM ? OCIDIR_E_NOMEM : OCIDIR_E_IO;
    throw Error(code, std::string(what) + ": " + errno_text(err), err);
}

void throw_lookup(std::string_view what, int err)
{
    int code;
    std::string why;
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        code = OCIDIR_E_NOT_FOUND;
        break;
    case EXDEV:
        code = OCIDIR_E_ESCAPE;
        why = "a symlink or \"..\" leads outside the directory it must stay in";
        break;
    case ELOOP:
        code = OCIDIR_E_ESCAPE;
        why = "a symlink loop, or a /proc magic link, which are never followed";
        break;
    case ENOMEM:
        code = OCIDIR_E_NOMEM;
        break;
    default:
        code = OCIDIR_E_IO;
    }
    throw Error(code, std::string(what) + ": " + (why.empty() ? errno_text(err) : why), err);
}

void set_last_error(int code, std::string_view msg, int err)
{
    (void)code;
    try {
        t_message.assign(msg);
    } catch (...) {
        t_message.clear();  // keeps its capacity or is empty; never throws
    }
    t_errno = err;
}

const char *last_error_message() noexcept { return t_message.c_str(); }
int last_error_errno() noexcept { return t_errno; }

}  // namespace ocd
