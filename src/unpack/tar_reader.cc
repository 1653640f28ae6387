#include "unpack/tar_reader.hh"

#include <archive.h>
#include <archive_entry.h>

#include <clocale>
#include <cstring>

#include "base/error.hh"
#include "image/layer.hh"

namespace ocd::unpack {

namespace {
// Raw name bytes.  libarchive keeps ustar and GNU names as their header bytes
// (no conversion on Linux), but converts pax path/linkpath records from UTF-8
// to the calling thread's locale charset, and falls back to the record's own
// bytes only when that conversion fails.  In a UTF-8 locale the conversion
// can succeed and change the bytes (NFD normalized to NFC, invalid sequences
// replaced); in the "C" locale (ASCII) every record is either ASCII, copied
// unchanged, or fails to convert and is taken raw.  So every libarchive call
// runs with this thread's locale switched to "C" (uselocale(), per thread: the
// process locale and other threads are untouched); the archive caches the
// charset it saw first, which is then always "C"'s.
locale_t c_locale()
{
    static const locale_t loc = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
    return loc;
}

class CLocale {
public:
    CLocale() : old_(c_locale() ? uselocale(c_locale()) : static_cast<locale_t>(nullptr)) {}
    ~CLocale()
    {
        if (old_)
            uselocale(old_);
    }
    CLocale(const CLocale &) = delete;
    CLocale &operator=(const CLocale &) = delete;

private:
    locale_t old_;
};
}  // namespace

TarReader::TarReader(ocidir_layer_reader_t *layer, std::string what)
    : layer_(layer), what_(std::move(what)), stream_(layer, LayerStream::use_read_ahead())
{
    if (!c_locale())
        throw Error(OCIDIR_E_NOMEM, what_ + ": newlocale(\"C\") failed", errno);
    CLocale c;
    a_ = archive_read_new();
    if (!a_)
        throw Error(OCIDIR_E_NOMEM, what_ + ": libarchive: out of memory", ENOMEM);
    // Only tar (ustar, pax, GNU), only the identity filter: the layer reader
    // has already decompressed, and nothing else may be guessed at.
    if (archive_read_support_format_tar(a_) != ARCHIVE_OK || archive_read_support_filter_none(a_) != ARCHIVE_OK) {
        std::string m = archive_error_string(a_) ? archive_error_string(a_) : "setup failed";
        archive_read_free(a_);
        a_ = nullptr;
        throw Error(OCIDIR_E_IO, what_ + ": libarchive: " + m);
    }
    if (archive_read_open(a_, this, nullptr, &TarReader::read_cb, nullptr) != ARCHIVE_OK) {
        try {
            fail_archive("");
        } catch (...) {
            archive_read_free(a_);
            a_ = nullptr;
            throw;
        }
    }
}

TarReader::~TarReader()
{
    CLocale c;
    if (a_)
        archive_read_free(a_);
}

ssize_t TarReader::read_cb(struct archive *a, void *self_, const void **buf)
{
    auto *self = static_cast<TarReader *>(self_);
    static const unsigned char none = 0;
    *buf = &none;
    if (self->eof_)
        return 0;
    size_t n;
    try {
        n = self->stream_.next(buf);
    } catch (const Error &e) {
        self->layer_err_ = e.code();
        self->layer_msg_ = e.message();
        self->layer_errno_ = e.os_errno();
        archive_set_error(a, EIO, "layer stream failed");
        return -1;
    } catch (...) {
        self->layer_err_ = OCIDIR_E_NOMEM;
        self->layer_msg_ = self->what_ + ": out of memory reading the layer stream";
        self->layer_errno_ = ENOMEM;
        archive_set_error(a, ENOMEM, "layer stream failed");
        return -1;
    }
    if (n == 0)
        self->eof_ = true;
    self->consumed_ += n;
    return static_cast<ssize_t>(n);
}

void TarReader::fail_archive(const std::string &ctx)
{
    if (layer_err_ != 0)
        throw Error(layer_err_, layer_msg_, layer_errno_);
    const char *m = archive_error_string(a_);
    throw Error(OCIDIR_E_FORMAT, what_ + ": not a valid tar stream" + (ctx.empty() ? "" : " (" + ctx + ")") +
                                     ": " + (m ? m : "unknown libarchive error") + " (at byte " +
                                     std::to_string(consumed_) + " of the uncompressed stream)");
}

bool TarReader::next(TarEntry &e)
{
    if (ended_unpadded_)
        return false;
    CLocale c;
    struct archive_entry *ae = nullptr;
    int r = archive_read_next_header(a_, &ae);
    if (r == ARCHIVE_EOF)
        return false;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        fail_archive("");
    // The multibyte forms: the header's own bytes (see CLocale); never the
    // _utf8/_w conversions.
    const char *p = archive_entry_pathname(ae);
    if (!p || !*p)
        fail_archive("an entry without a name");
    e = TarEntry{};
    e.path = p;
    const char *hl = archive_entry_hardlink(ae);
    if (hl && *hl) {
        e.type = EntryType::Hardlink;
        e.link = hl;
    } else {
        switch (archive_entry_filetype(ae)) {
        case AE_IFREG: e.type = EntryType::File; break;
        case AE_IFDIR: e.type = EntryType::Dir; break;
        case AE_IFIFO: e.type = EntryType::Fifo; break;
        case AE_IFCHR: e.type = EntryType::Char; break;
        case AE_IFBLK: e.type = EntryType::Block; break;
        case AE_IFLNK: {
            e.type = EntryType::Symlink;
            const char *t = archive_entry_symlink(ae);
            if (!t)
                fail_archive("symlink " + e.path + " without a target");
            e.link = t;
            break;
        }
        default:
            throw Error(OCIDIR_E_FORMAT, what_ + ": entry " + e.path + ": unsupported file type (socket or unknown)");
        }
    }
    e.mode = static_cast<uint32_t>(archive_entry_perm(ae)) & 07777;
    e.uid = archive_entry_uid(ae);
    e.gid = archive_entry_gid(ae);
    if (e.uid < 0 || e.uid > 0xfffffffe || e.gid < 0 || e.gid > 0xfffffffe)
        throw Error(OCIDIR_E_FORMAT, what_ + ": entry " + e.path + ": uid " + std::to_string(e.uid) + " / gid " +
                                         std::to_string(e.gid) + " out of range");
    e.size = archive_entry_size_is_set(ae) ? archive_entry_size(ae) : 0;
    if (e.size < 0)
        throw Error(OCIDIR_E_FORMAT, what_ + ": entry " + e.path + ": negative size " + std::to_string(e.size));
    entry_size_ = e.size;
    entry_done_ = 0;
    entry_start_ = static_cast<uint64_t>(archive_filter_bytes(a_, 0));
    if (archive_entry_mtime_is_set(ae)) {
        e.has_mtime = true;
        e.mtime.tv_sec = archive_entry_mtime(ae);
        e.mtime.tv_nsec = archive_entry_mtime_nsec(ae);
    }
    if (archive_entry_atime_is_set(ae)) {
        e.has_atime = true;
        e.atime.tv_sec = archive_entry_atime(ae);
        e.atime.tv_nsec = archive_entry_atime_nsec(ae);
    }
    if (e.type == EntryType::Char || e.type == EntryType::Block) {
        e.rdev_major = archive_entry_rdevmajor(ae);
        e.rdev_minor = archive_entry_rdevminor(ae);
    }
    if (archive_entry_xattr_reset(ae) > 0) {
        const char *name;
        const void *value;
        size_t size;
        while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK)
            e.xattrs.emplace_back(name ? name : "", std::string(static_cast<const char *>(value), size));
    }
    return true;
}

bool TarReader::data(const void *&buf, size_t &len, int64_t &offset)
{
    CLocale c;
    la_int64_t off = 0;
    int r = archive_read_data_block(a_, &buf, &len, &off);
    if (r == ARCHIVE_EOF)
        return false;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        // A stream that ends exactly where the last entry's content ends,
        // without its padding and the end-of-archive blocks, is what Go's
        // archive/tar writes when it is not closed (umoci 0.4.7 `insert`
        // layers), and Go's reader takes it as the end of the archive.  So
        // do we: all of the content arrived, the layer reader reached its
        // verified end, and that end is the content's last byte (libarchive
        // failed skipping the padding).  A stream ending inside the content
        // or inside the padding stays FORMAT.
        if (layer_err_ == 0 && eof_ && entry_done_ == entry_size_ &&
            entry_start_ + static_cast<uint64_t>(entry_size_) == consumed_) {
            ended_unpadded_ = true;
            return false;
        }
        fail_archive("file content");
    }
    offset = off;
    if (off + static_cast<int64_t>(len) > entry_done_)
        entry_done_ = off + static_cast<int64_t>(len);
    return true;
}

void TarReader::drain()
{
    if (layer_err_ != 0)
        throw Error(layer_err_, layer_msg_, layer_errno_);
    while (!eof_) {
        const void *p;
        size_t n = stream_.next(&p);  // throws the layer reader's error
        if (n == 0)
            eof_ = true;
        consumed_ += n;
    }
}

}  // namespace ocd::unpack
