package capi

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// progress carries a Go progress function through the C callback's `user`
// pointer (as a cgo.Handle).  A panic in the function is caught here, since
// unwinding through the library's C++ frames would skip its cleanup, and
// raised again once the C call has returned.
type progress struct {
	fn       func(done, total uint64)
	panicked bool
	value    interface{}
}

// handle returns 0 (no callback) for a nil function.
func newProgress(fn func(done, total uint64)) (*progress, cgo.Handle) {
	if fn == nil {
		return nil, 0
	}
	p := &progress{fn: fn}
	return p, cgo.NewHandle(p)
}

// finish releases the handle and re-raises a panic of the callback.
func (p *progress) finish(h cgo.Handle) {
	if p == nil {
		return
	}
	h.Delete()
	if p.panicked {
		panic(p.value)
	}
}

//export ocidirGoProgress
func ocidirGoProgress(done, total C.uint64_t, user unsafe.Pointer) {
	p := cgo.Handle(uintptr(user)).Value().(*progress)
	if p.panicked {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			p.panicked, p.value = true, r
		}
	}()
	p.fn(uint64(done), uint64(total))
}
