package ocidir

import (
	"os"
	"runtime"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// HeaderVersionMajor, HeaderVersionMinor and HeaderVersionPatch are the
// version of ocidir.h the package was compiled against.  The build fails on
// a header of another major version.
const (
	HeaderVersionMajor = capi.HeaderVersionMajor
	HeaderVersionMinor = capi.HeaderVersionMinor
	HeaderVersionPatch = capi.HeaderVersionPatch
)

// Version is the version of the library actually loaded ("MAJOR.MINOR.PATCH").
func Version() string { return capi.Version() }

// VersionNumber is the loaded library's MAJOR*10000 + MINOR*100 + PATCH.
func VersionNumber() uint { return capi.VersionNumber() }

// HashBackend names the hash implementation compiled into the library.
func HashBackend() string { return capi.HashBackend() }

// ResolverUsesOpenat2 reports whether paths are resolved with openat2(2) in
// this process (else with an O_NOFOLLOW component walk).
func ResolverUsesOpenat2() bool { return capi.ResolverUsesOpenat2() }

// Option changes how Open opens a layout.
type Option func(*openConfig)

type openConfig struct {
	flags uint
	dirfd int
}

// WithCreate creates oci-layout, index.json and blobs/sha256 if absent.
func WithCreate() Option { return func(c *openConfig) { c.flags |= capi.OpenCreate } }

// WithReadOnly opens the layout for reading only: nothing is ever created or removed.
func WithReadOnly() Option { return func(c *openConfig) { c.flags |= capi.OpenRdonly } }

// WithFollowBlobSymlink accepts blobs/<alg> being a symlink that leads
// outside the layout (to a shared cache); everything beneath it stays
// confined to it.
func WithFollowBlobSymlink() Option {
	return func(c *openConfig) { c.flags |= capi.OpenFollowBlobSymlink }
}

// WithDirFD resolves the path given to Open relative to an open directory
// (the fd is neither closed nor kept).
func WithDirFD(fd int) Option { return func(c *openConfig) { c.dirfd = fd } }

// Dir is an open layout.  It may be used from many goroutines at once.
type Dir struct {
	raw *capi.Dir
	lt  *lifetime
}

// Open opens (or, WithCreate, creates) the OCI image layout at path.
func Open(path string, opts ...Option) (*Dir, error) {
	cfg := openConfig{dirfd: atFDCWD}
	for _, o := range opts {
		o(&cfg)
	}
	raw, err := capi.Open(cfg.dirfd, path, cfg.flags)
	if err != nil {
		return nil, wrap(err)
	}
	return newDir(raw), nil
}

func newDir(raw *capi.Dir) *Dir {
	d := &Dir{raw: raw, lt: newLifetime(raw.Close, nil)}
	runtime.SetFinalizer(d, (*Dir).Close)
	return d
}

// atFDCWD is AT_FDCWD.
const atFDCWD = -100

// Close closes the layout.  Images, readers, writers and builders made from
// it stay usable; the C handle is freed after the last of them is closed.
// Later calls on d fail with ErrState.  Close is idempotent.
func (d *Dir) Close() error {
	runtime.SetFinalizer(d, nil)
	d.lt.close()
	return nil
}

// use starts a call on d; done ends it.
func (d *Dir) use(op string) (*capi.Dir, error) {
	if err := d.lt.acquire(op, "layout"); err != nil {
		return nil, err
	}
	return d.raw, nil
}

func (d *Dir) done() {
	d.lt.release()
	runtime.KeepAlive(d)
}

// IsReadOnly reports whether the layout was opened WithReadOnly (false
// after Close).
func (d *Dir) IsReadOnly() bool {
	raw, err := d.use("Dir.IsReadOnly")
	if err != nil {
		return false
	}
	defer d.done()
	return raw.IsReadOnly()
}

// AddBlobDir adds an external blob directory laid out like blobs/
// (sha256/<hex>, sha512/<hex>): reads look there after the layout's own
// blobs/, and with write new blobs are created there.  The library keeps a
// duplicate of the descriptor; f may be closed afterwards.
func (d *Dir) AddBlobDir(f *os.File, write bool) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var aerr error
	if err := sc.Control(func(fd uintptr) { aerr = d.AddBlobDirFD(int(fd), write) }); err != nil {
		return err
	}
	return aerr
}

// AddBlobDirFD is AddBlobDir with a raw directory descriptor.
func (d *Dir) AddBlobDirFD(fd int, write bool) error {
	raw, err := d.use("Dir.AddBlobDir")
	if err != nil {
		return err
	}
	defer d.done()
	var flags uint
	if write {
		flags = capi.BlobdirWrite
	}
	return wrap(raw.AddBlobdirFD(fd, flags))
}

// SetJSONLimit bounds the size of every JSON document the library reads
// (default 64 MiB; 0 restores it).
func (d *Dir) SetJSONLimit(maxBytes int64) error {
	raw, err := d.use("Dir.SetJSONLimit")
	if err != nil {
		return err
	}
	defer d.done()
	if maxBytes < 0 {
		return &Error{Op: "Dir.SetJSONLimit", Code: CodeInvalid, Message: "negative limit"}
	}
	return wrap(raw.SetJSONLimit(uint64(maxBytes)))
}
