package capi

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// progress carries a Go progress function and a cancellation channel through
// the C callback's `user` pointer (as a cgo.Handle).  A panic in the function
// is caught here, since unwinding through the library's C++ frames would skip
// its cleanup; the operation is then canceled and the panic raised again once
// the C call has returned.
type progress struct {
	fn       func(done, total uint64)
	cancel   <-chan struct{} // closed: return non-zero (cancel); nil: never
	panicked bool
	value    interface{}
}

// Progress is what a long operation reports to and is canceled through: fn
// (may be nil) is called at every progress call of the library, then the
// operation is canceled if cancel (may be nil) is closed.
type Progress struct {
	Fn     func(done, total uint64)
	Cancel <-chan struct{}
}

// newProgress returns handle 0 (no callback given to C) when there is
// neither a function nor a channel.
func newProgress(pr Progress) (*progress, cgo.Handle) {
	if pr.Fn == nil && pr.Cancel == nil {
		return nil, 0
	}
	p := &progress{fn: pr.Fn, cancel: pr.Cancel}
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

// call runs the function (catching a panic) and says whether to cancel.
// The channel is looked at after the function, so that a function that
// cancels the context cancels the operation at that very call.
func (p *progress) call(done, total uint64) (cancel bool) {
	if p.panicked {
		return true
	}
	if p.fn != nil {
		func() {
			defer func() {
				if r := recover(); r != nil {
					p.panicked, p.value = true, r
				}
			}()
			p.fn(done, total)
		}()
		if p.panicked {
			return true
		}
	}
	select {
	case <-p.cancel: // a nil channel never receives
		return true
	default:
		return false
	}
}

//export ocidirGoProgress
func ocidirGoProgress(done, total C.uint64_t, user unsafe.Pointer) C.int {
	p := cgo.Handle(uintptr(user)).Value().(*progress)
	if p.call(uint64(done), uint64(total)) {
		return 1
	}
	return 0
}
