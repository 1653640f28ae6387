package ocidir

import (
	"io"
	"runtime"
	"sync"
)

// rawReader is the C side of a verified stream: capi.BlobReader or
// capi.LayerReader.  Read returns 0 at the verified end.
type rawReader interface {
	Read(p []byte) (int, error)
	Close()
}

// stream is what BlobReader and LayerReader share: the C reader, used under
// a lock and released once, and the lifetime of the handle it was made from.
type stream struct {
	mu     sync.Mutex
	raw    rawReader // nil after close
	parent *lifetime
}

// read implements io.Reader for the reader named in op and what.
func (s *stream) read(op, what string, p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw == nil {
		return 0, closedError(op, what)
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := s.raw.Read(p)
	if err != nil {
		return 0, wrap(err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// close releases the C reader and clears owner's finalizer.  Idempotent.
func (s *stream) close(owner interface{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw != nil {
		s.raw.Close()
		s.raw = nil
		s.parent.release()
		runtime.SetFinalizer(owner, nil)
	}
}

// rawWriter is the C side of a writer: capi.BlobWriter or capi.LayerWriter.
type rawWriter interface {
	comparable
	Write(p []byte) error
	Abort()
}

// sink is what BlobWriter and LayerWriter share: the C writer, used under a
// lock until it is finished (committed, aborted or handed to a builder), and
// the lifetime of the layout it writes to.
type sink[W rawWriter] struct {
	mu     sync.Mutex
	raw    W // zero once finished
	parent *lifetime
}

func (s *sink[W]) finished() bool {
	var zero W
	return s.raw == zero
}

// write implements io.Writer for the writer named in op and what.
func (s *sink[W]) write(op, what string, p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished() {
		return 0, closedError(op, what)
	}
	if err := s.raw.Write(p); err != nil {
		return 0, wrap(err)
	}
	return len(p), nil
}

// abort discards the C writer unless it is finished.
func (s *sink[W]) abort(owner interface{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.finished() {
		s.raw.Abort()
		s.finish(owner)
	}
}

// finish forgets the C writer (freed by commit, abort or the builder) and
// clears owner's finalizer.  s.mu is held.
func (s *sink[W]) finish(owner interface{}) {
	var zero W
	s.raw = zero
	s.parent.release()
	runtime.SetFinalizer(owner, nil)
}
