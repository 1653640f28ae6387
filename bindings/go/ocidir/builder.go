package ocidir

import (
	"runtime"
	"sync"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// Builder builds an image or an artifact: Commit writes the config, then the
// manifest, then the tag, each durable before the next, so a crash leaves
// the tag as it was or moved whole.  Calls are serialised.
type Builder struct {
	mu     sync.Mutex
	raw    *capi.Builder // nil after Close
	parent *lifetime
}

func (d *Dir) newBuilder(op string, mk func(*capi.Dir) (*capi.Builder, error)) (*Builder, error) {
	raw, err := d.use(op)
	if err != nil {
		return nil, err
	}
	defer d.done()
	rb, err := mk(raw)
	if err != nil {
		return nil, wrap(err)
	}
	d.lt.retain()
	b := &Builder{raw: rb, parent: d.lt}
	runtime.SetFinalizer(b, (*Builder).Close)
	return b, nil
}

// NewBuilder starts an image with no layers and a config for platform
// ("os/arch[/variant]", "" for PlatformDefault).
func (d *Dir) NewBuilder(platform string) (*Builder, error) {
	return d.newBuilder("Dir.NewBuilder", func(r *capi.Dir) (*capi.Builder, error) { return r.BuilderNew(platform) })
}

// NewArtifactBuilder starts an artifact: the empty config and artifactType.
func (d *Dir) NewArtifactBuilder(artifactType string) (*Builder, error) {
	return d.newBuilder("Dir.NewArtifactBuilder", func(r *capi.Dir) (*capi.Builder, error) {
		return r.BuilderNewArtifact(artifactType)
	})
}

// BuilderFrom starts from an existing image (its layers, every config field
// and the manifest annotations).
func (d *Dir) BuilderFrom(ref, platform string) (*Builder, error) {
	return d.newBuilder("Dir.BuilderFrom", func(r *capi.Dir) (*capi.Builder, error) { return r.BuilderFrom(ref, platform) })
}

// call runs f on the C builder under the builder's lock.
func (b *Builder) call(op string, f func(*capi.Builder) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.raw == nil {
		return closedError(op, "builder")
	}
	return wrap(f(b.raw))
}

// SetCreated sets the created time (RFC 3339) of the config and of the
// history entries added afterwards; "" removes it, so that the same inputs
// give the same digests.
func (b *Builder) SetCreated(rfc3339 string) error {
	return b.call("Builder.SetCreated", func(r *capi.Builder) error { return r.SetCreated(rfc3339) })
}

// AddLayer appends a layer present as a blob.  Images need diffID (and take
// createdBy for the history, "" for none); artifacts take diffID "".
func (b *Builder) AddLayer(mediaType string, digest Digest, size int64, diffID Digest, createdBy string) error {
	if size < 0 {
		return &Error{Op: "Builder.AddLayer", Code: CodeInvalid, Message: "negative layer size"}
	}
	return b.call("Builder.AddLayer", func(r *capi.Builder) error {
		return r.AddLayer(mediaType, string(digest), uint64(size), string(diffID), createdBy)
	})
}

// AddLayerWriter commits w and appends the layer.  w is finished whether this
// succeeds or fails.
func (b *Builder) AddLayerWriter(w *LayerWriter, createdBy string) error {
	return b.call("Builder.AddLayerWriter", func(r *capi.Builder) error {
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		if w.s.finished() {
			return closedError("Builder.AddLayerWriter", "layer writer")
		}
		consumed, err := r.AddLayerWriter(w.s.raw, createdBy)
		if consumed {
			w.s.finish(w)
		}
		return err
	})
}

// SetConfigStrings sets a string-array config field (ConfigEntrypoint,
// ConfigCmd, ConfigEnv); nil removes it.
func (b *Builder) SetConfigStrings(field ConfigField, v []string) error {
	return b.call("Builder.SetConfigStrings", func(r *capi.Builder) error { return r.SetConfigStrv(int(field), v) })
}

// SetConfigString sets a string config field (ConfigUser,
// ConfigWorkingDir, ConfigStopSignal).
func (b *Builder) SetConfigString(field ConfigField, value string) error {
	return b.call("Builder.SetConfigString", func(r *capi.Builder) error {
		return r.SetConfigString(int(field), value, false)
	})
}

// UnsetConfigString removes a string config field.
func (b *Builder) UnsetConfigString(field ConfigField) error {
	return b.call("Builder.UnsetConfigString", func(r *capi.Builder) error {
		return r.SetConfigString(int(field), "", true)
	})
}

// SetLabel sets a config label.
func (b *Builder) SetLabel(key, value string) error {
	return b.call("Builder.SetLabel", func(r *capi.Builder) error { return r.SetLabel(key, value, false) })
}

// RemoveLabel removes a config label.
func (b *Builder) RemoveLabel(key string) error {
	return b.call("Builder.RemoveLabel", func(r *capi.Builder) error { return r.SetLabel(key, "", true) })
}

// SetAnnotation sets a manifest annotation.
func (b *Builder) SetAnnotation(key, value string) error {
	return b.call("Builder.SetAnnotation", func(r *capi.Builder) error { return r.SetAnnotation(key, value, false) })
}

// RemoveAnnotation removes a manifest annotation.
func (b *Builder) RemoveAnnotation(key string) error {
	return b.call("Builder.RemoveAnnotation", func(r *capi.Builder) error { return r.SetAnnotation(key, "", true) })
}

// SetSubject makes the manifest refer to digest (a manifest or index present
// in the layout) as its subject; "" removes it.
func (b *Builder) SetSubject(digest Digest) error {
	return b.call("Builder.SetSubject", func(r *capi.Builder) error { return r.SetSubject(string(digest)) })
}

// Commit writes the config and the manifest, then points tag at the
// manifest ("" adds an untagged entry).  The builder stays usable.
func (b *Builder) Commit(tag string, flags TagFlags) (Digest, error) {
	var dg string
	err := b.call("Builder.Commit", func(r *capi.Builder) error {
		var err error
		dg, err = r.Commit(tag, uint(flags))
		return err
	})
	return Digest(dg), err
}

// Close frees the builder.  Idempotent.
func (b *Builder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.raw != nil {
		b.raw.Free()
		b.raw = nil
		b.parent.release()
		runtime.SetFinalizer(b, nil)
	}
	return nil
}
