package ocidir

import (
	"runtime"
	"sort"
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

// AddLayerOptions tune AddLayerWithOptions and AddLayerWriterWithOptions;
// the zero value is the defaults.
type AddLayerOptions struct {
	CreatedBy   string            // the history entry's created_by ("" for none)
	Annotations map[string]string // the layer descriptor's annotations (keys must not be empty)
}

// raw gives the raw layer's options: the annotations as a key, value, ...
// vector in sorted key order, so that the same inputs give the same manifest.
func (o *AddLayerOptions) raw() capi.AddLayerOptions {
	if o == nil {
		return capi.AddLayerOptions{}
	}
	ro := capi.AddLayerOptions{CreatedBy: o.CreatedBy}
	if len(o.Annotations) > 0 {
		keys := make([]string, 0, len(o.Annotations))
		for k := range o.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ro.Annotations = make([]string, 0, 2*len(keys))
		for _, k := range keys {
			ro.Annotations = append(ro.Annotations, k, o.Annotations[k])
		}
	}
	return ro
}

// AddLayerWithOptions is AddLayer with options: the history's created_by
// and the layer descriptor's annotations (ErrInvalid for an empty key).
func (b *Builder) AddLayerWithOptions(mediaType string, digest Digest, size int64, diffID Digest, opts *AddLayerOptions) error {
	if size < 0 {
		return &Error{Op: "Builder.AddLayerWithOptions", Code: CodeInvalid, Message: "negative layer size"}
	}
	ro := opts.raw()
	return b.call("Builder.AddLayerWithOptions", func(r *capi.Builder) error {
		return r.AddLayerOpts(mediaType, string(digest), uint64(size), string(diffID), ro)
	})
}

// AddLayerWriter commits w and appends the layer.  w is finished whether this
// succeeds or fails.
func (b *Builder) AddLayerWriter(w *LayerWriter, createdBy string) error {
	return b.addLayerWriter("Builder.AddLayerWriter", w, func(r *capi.Builder, lw *capi.LayerWriter) (bool, error) {
		return r.AddLayerWriter(lw, createdBy)
	})
}

// AddLayerWriterWithOptions is AddLayerWriter with options (as
// AddLayerWithOptions).  w is finished whether this succeeds or fails,
// except when an option holds a NUL byte (ErrInvalid before any work).
func (b *Builder) AddLayerWriterWithOptions(w *LayerWriter, opts *AddLayerOptions) error {
	ro := opts.raw()
	return b.addLayerWriter("Builder.AddLayerWriterWithOptions", w, func(r *capi.Builder, lw *capi.LayerWriter) (bool, error) {
		return r.AddLayerWriterOpts(lw, ro)
	})
}

func (b *Builder) addLayerWriter(op string, w *LayerWriter, add func(*capi.Builder, *capi.LayerWriter) (bool, error)) error {
	return b.call(op, func(r *capi.Builder) error {
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		if w.s.finished() {
			return closedError(op, "layer writer")
		}
		consumed, err := add(r, w.s.raw)
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
