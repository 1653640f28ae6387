package ocidir

import "sync"

// lifetime counts the users of a C handle that others depend on (a layout,
// an image): calls in progress and the objects made from it.  Close only
// marks it closed; the C handle is freed when the last user is done, so a
// reader outliving its layout's Close, or a Close racing a call in another
// goroutine, never touches freed memory.
type lifetime struct {
	mu     sync.Mutex
	users  int
	closed bool
	free   func()
	parent *lifetime // released when this one is freed; may be nil
}

func newLifetime(free func(), parent *lifetime) *lifetime {
	return &lifetime{free: free, parent: parent}
}

// acquire adds a user, or fails when the handle is closed.
func (l *lifetime) acquire(op, what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return closedError(op, what)
	}
	l.users++
	return nil
}

// retain adds a user for an object made during a call in progress (which
// holds a use, so the handle cannot be closed under it).
func (l *lifetime) retain() {
	l.mu.Lock()
	l.users++
	l.mu.Unlock()
}

// release drops a user and frees the handle after the last one of a closed handle.
func (l *lifetime) release() {
	l.mu.Lock()
	l.users--
	last := l.closed && l.users == 0
	l.mu.Unlock()
	if last {
		l.destroy()
	}
}

// close marks the handle closed (idempotent) and frees it if nothing uses it.
func (l *lifetime) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	last := l.users == 0
	l.mu.Unlock()
	if last {
		l.destroy()
	}
}

func (l *lifetime) destroy() {
	l.free()
	if l.parent != nil {
		l.parent.release()
	}
}
