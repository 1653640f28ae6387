package ocidir

import (
	"syscall"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// Code is an OCIDIR_E_* error code of the C library.  Values are fixed.
type Code int

// The error codes of ocidir.h.
const (
	CodeInvalid     Code = Code(capi.EInvalid)     // bad argument
	CodeIO          Code = Code(capi.EIO)          // an OS call failed; see Error.Errno
	CodeNotFound    Code = Code(capi.ENotFound)    // no such blob, tag, platform or file
	CodeDigest      Code = Code(capi.EDigest)      // content does not hash to its digest
	CodeSize        Code = Code(capi.ESize)        // content length differs from the expected size
	CodeBadDigest   Code = Code(capi.EBadDigest)   // digest string malformed
	CodeFormat      Code = Code(capi.EFormat)      // not an OCI layout, malformed JSON, not a regular file
	CodeEscape      Code = Code(capi.EEscape)      // a path would resolve outside its directory
	CodeExists      Code = Code(capi.EExists)      // already exists where that is an error
	CodeNoMem       Code = Code(capi.ENoMem)       // out of memory
	CodeUnsupported Code = Code(capi.EUnsupported) // unregistered digest algorithm, unsupported version
	CodeReadOnly    Code = Code(capi.EReadOnly)    // a write on a handle opened read-only
	CodeState       Code = Code(capi.EState)       // object used after commit/abort/close
	CodeTooLarge    Code = Code(capi.ETooLarge)    // content larger than the limit
	CodeAmbiguous   Code = Code(capi.EAmbiguous)   // a tag names several index.json entries
	CodeCanceled    Code = Code(capi.ECanceled)    // canceled (a context); nothing half-done is left
	CodeNotDurable  Code = Code(capi.ENotDurable)  // the change is visible but flushing it to disk failed
)

// String is the library's text for the code (ocidir_strerror).
func (c Code) String() string { return capi.Strerror(int(c)) }

// Error is a failure reported by the library: the C function that failed,
// its code, the message naming what failed (which digest, which path, the OS
// error text), and the errno behind it when there is one.
//
// errors.Is matches an *Error against the Err* sentinels by code, and, through
// Unwrap, against the syscall.Errno behind it (so errors.Is(err,
// fs.ErrNotExist) works for an ENOENT).
//
// An operation canceled through its context.Context fails with an *Error of
// CodeCanceled whose Cause is the context's error: errors.Is(err,
// ErrCanceled) holds, and so does errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded when the deadline passed).  Only ErrCanceled
// holds for an error of code CodeCanceled that no context caused.
type Error struct {
	Op      string // the C function (or binding method) that failed
	Code    Code
	Message string
	Errno   syscall.Errno // 0 when no OS error is behind the failure
	Cause   error         // the context's error when a context canceled the call, else nil
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Op == "" {
		return "ocidir: " + msg
	}
	return "ocidir: " + e.Op + ": " + msg
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the context error that canceled the call, else the
// syscall.Errno behind the failure, else nil.
func (e *Error) Unwrap() error {
	if e.Cause != nil {
		return e.Cause
	}
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// Sentinels for errors.Is, one per code.
var (
	ErrInvalid     error = &Error{Code: CodeInvalid}
	ErrIO          error = &Error{Code: CodeIO}
	ErrNotFound    error = &Error{Code: CodeNotFound}
	ErrDigest      error = &Error{Code: CodeDigest}
	ErrSize        error = &Error{Code: CodeSize}
	ErrBadDigest   error = &Error{Code: CodeBadDigest}
	ErrFormat      error = &Error{Code: CodeFormat}
	ErrEscape      error = &Error{Code: CodeEscape}
	ErrExists      error = &Error{Code: CodeExists}
	ErrNoMem       error = &Error{Code: CodeNoMem}
	ErrUnsupported error = &Error{Code: CodeUnsupported}
	ErrReadOnly    error = &Error{Code: CodeReadOnly}
	ErrState       error = &Error{Code: CodeState}
	ErrTooLarge    error = &Error{Code: CodeTooLarge}
	ErrAmbiguous   error = &Error{Code: CodeAmbiguous}
	ErrCanceled    error = &Error{Code: CodeCanceled}
	ErrNotDurable  error = &Error{Code: CodeNotDurable}
)

// wrap turns the raw layer's error into an *Error (nil stays nil).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if ce, ok := err.(*capi.Error); ok {
		return &Error{Op: ce.Op, Code: Code(ce.Code), Message: ce.Message, Errno: ce.Errno}
	}
	return err
}

// closedError is the failure of a call on a closed, committed or aborted object.
func closedError(op, what string) error {
	return &Error{Op: op, Code: CodeState, Message: what + " is closed"}
}
