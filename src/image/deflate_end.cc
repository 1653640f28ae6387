// A walk over a raw deflate stream's blocks (RFC 1951, section 3.2), decoding
// symbols without producing output.
#include "image/deflate_end.hh"

#include <cstring>

namespace ocd {

namespace {

constexpr unsigned kMaxBits = 15;  // the longest Huffman code deflate allows

// LSB-first bit reader over a buffer.  Past the end it reads zero bytes and
// counts them, so that the decoder's hot loop needs no bounds check; a walk
// that went past the end is refused.
class Bits {
public:
    Bits(const unsigned char *p, size_t len) : start_(p), p_(p), end_(p + len) {}

    // At least 56 bits in the buffer afterwards.
    void refill() noexcept
    {
        if (end_ - p_ >= 8) {
            uint64_t w;
            std::memcpy(&w, p_, 8);
            buf_ |= w << cnt_;  // little-endian host (x86-64, aarch64): bytes in stream order
            p_ += (63 - cnt_) >> 3;
            cnt_ |= 56;
            return;
        }
        while (cnt_ <= 56) {
            if (p_ < end_)
                buf_ |= static_cast<uint64_t>(*p_++) << cnt_;
            else
                phantom_++;
            cnt_ += 8;
        }
    }
    uint64_t peek() const noexcept { return buf_; }
    void drop(unsigned n) noexcept
    {
        buf_ >>= n;
        cnt_ -= n;
    }
    // n <= 32 bits; the caller refilled.
    unsigned take(unsigned n) noexcept
    {
        unsigned v = static_cast<unsigned>(buf_ & ((uint64_t{1} << n) - 1));
        drop(n);
        return v;
    }
    // Bits consumed so far.
    uint64_t pos() const noexcept { return (static_cast<uint64_t>(p_ - start_) + phantom_) * 8 - cnt_; }
    size_t len() const noexcept { return static_cast<size_t>(end_ - start_); }
    bool overrun() const noexcept { return pos() > static_cast<uint64_t>(len()) * 8; }
    // Continue at byte `off` (false past the end).
    bool seek_byte(uint64_t off) noexcept
    {
        if (off > len())
            return false;
        p_ = start_ + off;
        buf_ = 0;
        cnt_ = 0;
        phantom_ = 0;
        return true;
    }
    // Far enough past the end that the walk must have gone wrong.
    bool runaway() const noexcept { return phantom_ > 16; }

private:
    const unsigned char *start_, *p_, *end_;
    uint64_t buf_ = 0;
    unsigned cnt_ = 0;
    uint64_t phantom_ = 0;  // zero bytes read past the end
};

// A canonical Huffman code: a direct table for codes of up to kPrimary bits,
// a bit-by-bit canonical decode for longer ones.
template <unsigned kPrimary, unsigned kSymbols>
class Huffman {
public:
    // False for an over-subscribed code.  Incomplete and empty codes are
    // accepted (deflate allows them for distances); an unassigned code then
    // fails the decode.
    bool build(const uint8_t *lengths, unsigned n) noexcept
    {
        unsigned count[kMaxBits + 1] = {};
        for (unsigned s = 0; s < n; s++)
            count[lengths[s]]++;
        count[0] = 0;
        int left = 1;
        for (unsigned l = 1; l <= kMaxBits; l++) {
            left = left * 2 - static_cast<int>(count[l]);
            if (left < 0)
                return false;
        }
        unsigned offs[kMaxBits + 2] = {};
        for (unsigned l = 1; l <= kMaxBits; l++)
            offs[l + 1] = offs[l] + count[l];
        for (unsigned s = 0; s < n; s++)
            if (lengths[s])
                sorted_[offs[lengths[s]]++] = static_cast<uint16_t>(s);
        std::memcpy(count_, count, sizeof count_);
        std::memset(table_, 0, sizeof table_);
        // Canonical codes, in order of length then symbol.
        unsigned code = 0, idx = 0;
        for (unsigned l = 1; l <= kMaxBits; l++) {
            for (unsigned k = 0; k < count[l]; k++, idx++, code++) {
                if (l > kPrimary)
                    continue;
                unsigned rev = 0;  // the code's bits in stream order
                for (unsigned b = 0; b < l; b++)
                    rev |= ((code >> b) & 1u) << (l - 1 - b);
                uint16_t e = static_cast<uint16_t>(sorted_[idx] << 4 | l);
                for (unsigned i = rev; i < (1u << kPrimary); i += 1u << l)
                    table_[i] = e;
            }
            code <<= 1;
        }
        return true;
    }

    // The next symbol; kSymbols for an unassigned code.  The caller refilled.
    unsigned decode(Bits &b) const noexcept
    {
        uint16_t e = table_[b.peek() & ((1u << kPrimary) - 1)];
        if (e) {
            b.drop(e & 15u);
            return e >> 4;
        }
        // A longer code: one bit at a time (codes arrive most significant bit first).
        uint64_t bits = b.peek();
        int code = 0, first = 0, index = 0;
        for (unsigned l = 1; l <= kMaxBits; l++) {
            code |= static_cast<int>((bits >> (l - 1)) & 1u);
            int cnt = static_cast<int>(count_[l]);
            if (code - first < cnt) {
                b.drop(l);
                return sorted_[index + code - first];
            }
            index += cnt;
            first = (first + cnt) << 1;
            code <<= 1;
        }
        return kSymbols;
    }

private:
    uint16_t table_[1u << kPrimary];  // symbol << 4 | length; 0: a longer code
    uint16_t sorted_[kSymbols];
    unsigned count_[kMaxBits + 1];
};

using LitLen = Huffman<10, 288>;
using Dist = Huffman<8, 32>;
using CodeLen = Huffman<7, 19>;

constexpr uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// The symbols of one Huffman-coded block, up to and with its end-of-block code.
bool skip_symbols(Bits &b, const LitLen &lit, const Dist &dist) noexcept
{
    for (;;) {
        b.refill();  // 56 bits: a length and a distance with their extra bits need at most 48
        if (b.runaway())
            return false;
        unsigned sym = lit.decode(b);
        if (sym < 256)
            continue;
        if (sym == 256)
            return true;
        if (sym > 285)
            return false;
        b.drop(kLenExtra[sym - 257]);
        unsigned d = dist.decode(b);
        if (d > 29)
            return false;
        b.drop(kDistExtra[d]);
    }
}

bool dynamic_tables(Bits &b, LitLen &lit, Dist &dist) noexcept
{
    static constexpr uint8_t kOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    b.refill();
    unsigned hlit = b.take(5) + 257, hdist = b.take(5) + 1, hclen = b.take(4) + 4;
    if (hlit > 286 || hdist > 30)
        return false;
    uint8_t cl[19] = {};
    for (unsigned i = 0; i < hclen; i++) {
        b.refill();
        cl[kOrder[i]] = static_cast<uint8_t>(b.take(3));
    }
    CodeLen clc;
    if (!clc.build(cl, 19))
        return false;
    uint8_t lengths[286 + 30] = {};
    unsigned n = 0;
    while (n < hlit + hdist) {
        b.refill();
        if (b.runaway())
            return false;
        unsigned sym = clc.decode(b);
        if (sym < 16) {
            lengths[n++] = static_cast<uint8_t>(sym);
            continue;
        }
        unsigned rep;
        uint8_t v = 0;
        if (sym == 16) {
            if (n == 0)
                return false;
            v = lengths[n - 1];
            rep = 3 + b.take(2);
        } else if (sym == 17) {
            rep = 3 + b.take(3);
        } else if (sym == 18) {
            rep = 11 + b.take(7);
        } else {
            return false;
        }
        if (n + rep > hlit + hdist)
            return false;
        while (rep--)
            lengths[n++] = v;
    }
    if (lengths[256] == 0)
        return false;  // no end-of-block code
    return lit.build(lengths, hlit) && dist.build(lengths + hlit, hdist);
}

struct FixedTables {
    LitLen lit;
    Dist dist;
    FixedTables()
    {
        uint8_t l[288];
        std::memset(l, 8, 144);
        std::memset(l + 144, 9, 112);
        std::memset(l + 256, 7, 24);
        std::memset(l + 280, 8, 8);
        lit.build(l, 288);
        uint8_t d[30];
        std::memset(d, 5, 30);
        dist.build(d, 30);
    }
};

}  // namespace

bool find_deflate_end(const unsigned char *data, size_t len, DeflateEnd &out) noexcept
{
    static const FixedTables fixed;
    Bits b(data, len);
    // Tables for dynamic blocks: ~1.5 KiB, on the stack.
    LitLen lit;
    Dist dist;
    for (;;) {
        b.refill();
        uint64_t header = b.pos();
        unsigned last = b.take(1), type = b.take(2);
        if (type == 0) {
            // Stored: LEN and NLEN from the next byte boundary, then LEN bytes.
            uint64_t at = (b.pos() + 7) / 8;
            if (at + 4 > len)
                return false;
            unsigned n = data[at] | data[at + 1] << 8, nn = data[at + 2] | data[at + 3] << 8;
            if (n != (~nn & 0xffffu) || !b.seek_byte(at + 4 + n))
                return false;
        } else if (type == 1) {
            if (!skip_symbols(b, fixed.lit, fixed.dist))
                return false;
        } else if (type == 2) {
            if (!dynamic_tables(b, lit, dist) || !skip_symbols(b, lit, dist))
                return false;
        } else {
            return false;
        }
        if (b.overrun())
            return false;
        if (last) {
            out.final_header_bit = header;
            out.end_bit = b.pos();
            // Nothing after the final block but the padding of its last byte.
            return (out.end_bit + 7) / 8 == len;
        }
    }
}

}  // namespace ocd
