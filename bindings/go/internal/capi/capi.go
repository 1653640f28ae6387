// Package capi is the raw cgo layer of the Go binding: one Go function per
// C entry point of ocidir.h, taking and returning plain Go values.
//
// Every function that can fail locks its goroutine to the OS thread for the
// duration of the C call and of the reading of ocidir_last_error() /
// ocidir_last_errno(), which are thread-local; the failure comes back as an
// *Error.  C handles are wrapped in small structs so that cgo types never
// cross the package boundary.  Lifetimes, finalizers and the io interfaces
// are the business of the public package.
package capi

/*
#cgo pkg-config: ocidir
#include <stdlib.h>
#include <ocidir.h>

// The binding is written against the 0.x ABI and needs the options structs
// and the cancelable progress callbacks (0.4).  A library of another major version must not compile silently.
#if OCIDIR_VERSION_MAJOR != 0
#error "the Go binding is written for libocidir 0.x"
#endif
#if OCIDIR_VERSION_NUMBER < 400
#error "the Go binding needs libocidir >= 0.4"
#endif
// ...with the versioned options structs and cancelable progress callbacks.
#if !defined(OCIDIR_FSCK_OPTIONS_INIT) || !defined(OCIDIR_E_CANCELED) || !defined(OCIDIR_E_NOT_DURABLE)
#error "the Go binding needs the options ABI of libocidir 0.4 (ocidir_fsck_options_t, OCIDIR_E_CANCELED)"
#endif
// ...and the put options and unpacking of 0.5.
#if OCIDIR_VERSION_NUMBER < 500 || !defined(OCIDIR_PUT_OPTIONS_INIT) || !defined(OCIDIR_UNPACK_OPTIONS_INIT)
#error "the Go binding needs libocidir >= 0.5 (ocidir_put_options_t, ocidir_unpack)"
#endif
*/
import "C"

import (
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// Version of the header this package was compiled against.
const (
	HeaderVersionMajor = int(C.OCIDIR_VERSION_MAJOR)
	HeaderVersionMinor = int(C.OCIDIR_VERSION_MINOR)
	HeaderVersionPatch = int(C.OCIDIR_VERSION_PATCH)
)

// Error codes of ocidir.h.
const (
	OK            = int(C.OCIDIR_OK)
	EInvalid      = int(C.OCIDIR_E_INVALID)
	EIO           = int(C.OCIDIR_E_IO)
	ENotFound     = int(C.OCIDIR_E_NOT_FOUND)
	EDigest       = int(C.OCIDIR_E_DIGEST)
	ESize         = int(C.OCIDIR_E_SIZE)
	EBadDigest    = int(C.OCIDIR_E_BAD_DIGEST)
	EFormat       = int(C.OCIDIR_E_FORMAT)
	EEscape       = int(C.OCIDIR_E_ESCAPE)
	EExists       = int(C.OCIDIR_E_EXISTS)
	ENoMem        = int(C.OCIDIR_E_NOMEM)
	EUnsupported  = int(C.OCIDIR_E_UNSUPPORTED)
	EReadOnly     = int(C.OCIDIR_E_READONLY)
	EState        = int(C.OCIDIR_E_STATE)
	ETooLarge     = int(C.OCIDIR_E_TOO_LARGE)
	EAmbiguous    = int(C.OCIDIR_E_AMBIGUOUS)
	ECanceled     = int(C.OCIDIR_E_CANCELED)
	ENotDurable   = int(C.OCIDIR_E_NOT_DURABLE)
	DigestMax     = int(C.OCIDIR_DIGEST_MAX)
	AnnotationRef = C.OCIDIR_ANNOTATION_REF_NAME
)

// Flags of ocidir.h.
const (
	OpenCreate            = uint(C.OCIDIR_OPEN_CREATE)
	OpenRdonly            = uint(C.OCIDIR_OPEN_RDONLY)
	OpenFollowBlobSymlink = uint(C.OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK)
	BlobdirWrite          = uint(C.OCIDIR_BLOBDIR_WRITE)
	TagNoReplace          = uint(C.OCIDIR_TAG_NOREPLACE)
)

// Error is a failed C call: the function, the code it returned, the
// thread-local message and errno read right after it.
type Error struct {
	Op      string
	Code    int
	Message string
	Errno   syscall.Errno
}

func (e *Error) Error() string { return e.Op + ": " + e.Message }

// Fail builds an *Error for a failure detected in Go, before any C call.
func Fail(op string, code int, msg string) error {
	return &Error{Op: op, Code: code, Message: msg}
}

// check turns a C return code into nil or an *Error.  It must run on the
// thread that made the call, which is still locked.
func check(op string, rc C.int) error {
	if rc >= 0 {
		return nil
	}
	return &Error{
		Op:      op,
		Code:    int(rc),
		Message: C.GoString(C.ocidir_last_error()),
		Errno:   syscall.Errno(C.ocidir_last_errno()),
	}
}

// lock pins the goroutine to its thread so that ocidir_last_error() is read
// on the thread that failed.  Use as `defer lock()()`.
func lock() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// call makes one C call with the goroutine locked to its thread, and checks
// its return code there.
func call(op string, f func() C.int) error {
	defer lock()()
	return check(op, f())
}

// cstrings allocates C strings for one call and frees them together.  A Go
// string holding a NUL byte would be cut short in C and name something else,
// so it is refused.
type cstrings struct {
	op   string
	list []*C.char
	err  error
}

func newCstrings(op string) *cstrings { return &cstrings{op: op} }

func (a *cstrings) str(what, s string) *C.char {
	if strings.IndexByte(s, 0) >= 0 {
		if a.err == nil {
			a.err = Fail(a.op, EInvalid, what+" contains a NUL byte")
		}
		return nil
	}
	p := C.CString(s)
	a.list = append(a.list, p)
	return p
}

// opt is str, with "" given to C as NULL.
func (a *cstrings) opt(what, s string) *C.char {
	if s == "" {
		return nil
	}
	return a.str(what, s)
}

// value is str("value", s), or NULL when remove is set.
func (a *cstrings) value(s string, remove bool) *C.char {
	if remove {
		return nil
	}
	return a.str("value", s)
}

// strv builds a NULL-terminated vector in C memory; nil gives NULL.
func (a *cstrings) strv(what string, v []string) **C.char {
	if v == nil {
		return nil
	}
	vec := (**C.char)(C.calloc(C.size_t(len(v)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	a.list = append(a.list, (*C.char)(unsafe.Pointer(vec)))
	items := unsafe.Slice(vec, len(v)+1)
	for i, s := range v {
		items[i] = a.str(what, s)
	}
	return vec
}

// call is the package's call once the strings are made: a refused string
// fails before any C call.
func (a *cstrings) call(f func() C.int) error {
	if a.err != nil {
		return a.err
	}
	return call(a.op, f)
}

func (a *cstrings) free() {
	for _, p := range a.list {
		C.free(unsafe.Pointer(p))
	}
	a.list = nil
}

// digestBuf receives a digest from C.
type digestBuf [C.OCIDIR_DIGEST_MAX]C.char

func (b *digestBuf) ptr() *C.char   { return &b[0] }
func (b *digestBuf) String() string { return C.GoString(&b[0]) }

// takeStrv copies a NULL-terminated vector the library handed out and frees
// it.  NULL gives nil; an empty vector gives an empty, non-nil slice.
func takeStrv(v **C.char) []string {
	if v == nil {
		return nil
	}
	defer C.ocidir_strv_free(v)
	out := []string{}
	for p := v; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		out = append(out, C.GoString(*p))
	}
	return out
}

// takeString copies a string the library handed out and frees it.
func takeString(s *C.char) (string, bool) {
	if s == nil {
		return "", false
	}
	defer C.ocidir_free(unsafe.Pointer(s))
	return C.GoString(s), true
}

// bufPtr is the address of a Go buffer for C (NULL when empty).  The caller
// keeps the slice alive across the call with runtime.KeepAlive.  Only for
// buffers this package allocated (see scratch).
func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// scratchSize bounds the chunk a stream moves through C per call.
const scratchSize = 256 << 10

// scratch is a byte buffer this package allocated itself.  A caller's slice
// may point into a larger object that holds Go pointers (a bufio.Reader, a
// tar.Reader's block), which the cgo pointer rules forbid handing to C; so
// bytes always cross the boundary through memory of our own, at the cost of
// one copy.
type scratch []byte

func (s *scratch) get(n int) []byte {
	if n > scratchSize {
		n = scratchSize
	}
	if cap(*s) < n {
		*s = make([]byte, n)
	}
	return (*s)[:n]
}

// writeChunks hands buf to a C write function in chunks through s.
func writeChunks(op string, s *scratch, buf []byte, write func(p unsafe.Pointer, n C.size_t) C.int) error {
	defer lock()()
	for len(buf) > 0 {
		chunk := s.get(len(buf))
		n := copy(chunk, buf)
		rc := write(bufPtr(chunk), C.size_t(n))
		runtime.KeepAlive(chunk)
		if err := check(op, rc); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// readChunk fills buf (len(buf) > 0) from a C read function through s; 0
// means verified end.
func readChunk(op string, s *scratch, buf []byte, read func(p unsafe.Pointer, n C.size_t) C.ssize_t) (int, error) {
	chunk := s.get(len(buf))
	defer lock()()
	n := read(bufPtr(chunk), C.size_t(len(chunk)))
	if n < 0 {
		return 0, check(op, C.int(n))
	}
	return copy(buf, chunk[:n]), nil
}

// ownCopy is a pointer-free copy of b, for one call.
func ownCopy(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// Version returns ocidir_version().
func Version() string { return C.GoString(C.ocidir_version()) }

// VersionNumber returns ocidir_version_number().
func VersionNumber() uint { return uint(C.ocidir_version_number()) }

// Strerror returns ocidir_strerror(code).
func Strerror(code int) string { return C.GoString(C.ocidir_strerror(C.int(code))) }

// DigestMaxRuntime returns ocidir_digest_max().
func DigestMaxRuntime() int { return int(C.ocidir_digest_max()) }

// HashBackend returns ocidir_hash_backend().
func HashBackend() string { return C.GoString(C.ocidir_hash_backend()) }

// ResolverUsesOpenat2 returns ocidir_resolver_uses_openat2() != 0.
func ResolverUsesOpenat2() bool { return C.ocidir_resolver_uses_openat2() != 0 }

// PlatformDefault returns ocidir_platform_default().
func PlatformDefault() string { return C.GoString(C.ocidir_platform_default()) }

// DigestValidate calls ocidir_digest_validate.
func DigestValidate(digest string) error {
	a := newCstrings("ocidir_digest_validate")
	defer a.free()
	p := a.str("digest", digest)
	return a.call(func() C.int { return C.ocidir_digest_validate(p) })
}

// DigestBuffer calls ocidir_digest_buffer.
func DigestBuffer(alg int, buf []byte) (string, error) {
	var out digestBuf
	buf = ownCopy(buf)
	err := call("ocidir_digest_buffer", func() C.int {
		return C.ocidir_digest_buffer(C.ocidir_digest_alg_t(alg), bufPtr(buf), C.size_t(len(buf)), out.ptr())
	})
	runtime.KeepAlive(buf)
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// TagValidate calls ocidir_tag_validate.
func TagValidate(tag string) error {
	a := newCstrings("ocidir_tag_validate")
	defer a.free()
	p := a.str("tag", tag)
	return a.call(func() C.int { return C.ocidir_tag_validate(p) })
}

// CompressionMediaType returns ocidir_compression_media_type(c), "" for NULL.
func CompressionMediaType(c int) string {
	p := C.ocidir_compression_media_type(C.ocidir_compression_t(c))
	if p == nil {
		return ""
	}
	return C.GoString(p)
}
