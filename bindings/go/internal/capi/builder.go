package capi

/*
#include <ocidir.h>
*/
import "C"

// Builder is an ocidir_builder_t.
type Builder struct{ p *C.ocidir_builder_t }

// newBuilder makes the call of a builder constructor, once a's strings are made.
func newBuilder(a *cstrings, f func(out **C.ocidir_builder_t) C.int) (*Builder, error) {
	var b *C.ocidir_builder_t
	if err := a.call(func() C.int { return f(&b) }); err != nil {
		return nil, err
	}
	return &Builder{b}, nil
}

// BuilderNew calls ocidir_builder_new ("" platform: the default).
func (d *Dir) BuilderNew(platform string) (*Builder, error) {
	a := newCstrings("ocidir_builder_new")
	defer a.free()
	pl := a.opt("platform", platform)
	return newBuilder(a, func(out **C.ocidir_builder_t) C.int { return C.ocidir_builder_new(d.p, pl, out) })
}

// BuilderNewArtifact calls ocidir_builder_new_artifact.
func (d *Dir) BuilderNewArtifact(artifactType string) (*Builder, error) {
	a := newCstrings("ocidir_builder_new_artifact")
	defer a.free()
	at := a.str("artifact type", artifactType)
	return newBuilder(a, func(out **C.ocidir_builder_t) C.int { return C.ocidir_builder_new_artifact(d.p, at, out) })
}

// BuilderFrom calls ocidir_builder_from ("" platform: the default).
func (d *Dir) BuilderFrom(ref, platform string) (*Builder, error) {
	a := newCstrings("ocidir_builder_from")
	defer a.free()
	r, pl := a.str("ref", ref), a.opt("platform", platform)
	return newBuilder(a, func(out **C.ocidir_builder_t) C.int { return C.ocidir_builder_from(d.p, r, pl, out) })
}

// SetCreated calls ocidir_builder_set_created ("" removes it).
func (b *Builder) SetCreated(rfc3339 string) error {
	a := newCstrings("ocidir_builder_set_created")
	defer a.free()
	s := a.opt("created", rfc3339)
	return a.call(func() C.int { return C.ocidir_builder_set_created(b.p, s) })
}

// AddLayer calls ocidir_builder_add_layer ("" diff_id / created_by: NULL).
func (b *Builder) AddLayer(mediaType, digest string, size uint64, diffID, createdBy string) error {
	a := newCstrings("ocidir_builder_add_layer")
	defer a.free()
	mt, dg := a.str("media type", mediaType), a.str("digest", digest)
	di, cb := a.opt("diff_id", diffID), a.opt("created_by", createdBy)
	return a.call(func() C.int { return C.ocidir_builder_add_layer(b.p, mt, dg, C.uint64_t(size), di, cb) })
}

// AddLayerWriter calls ocidir_builder_add_layer_writer; w is gone afterwards,
// whatever the outcome, except when createdBy is refused before the call
// (then the caller still owns w).
func (b *Builder) AddLayerWriter(w *LayerWriter, createdBy string) (consumed bool, err error) {
	a := newCstrings("ocidir_builder_add_layer_writer")
	defer a.free()
	cb := a.opt("created_by", createdBy)
	if a.err != nil {
		return false, a.err
	}
	return true, a.call(func() C.int { return C.ocidir_builder_add_layer_writer(b.p, w.p, cb) })
}

// AddLayerOptions are the fields of ocidir_add_layer_options_t.
type AddLayerOptions struct {
	CreatedBy   string   // "": NULL
	Annotations []string // key, value, key, value, ...; nil: NULL
}

// addLayerOptions fills a C options struct in Go memory (the library's
// defaults first, from ocidir_add_layer_options_init); its pointers are to C
// memory owned by a, which the cgo pointer rules allow.
func addLayerOptions(a *cstrings, o AddLayerOptions, co *C.ocidir_add_layer_options_t) {
	C.ocidir_add_layer_options_init(co, C.sizeof_ocidir_add_layer_options_t)
	co.created_by = a.opt("created_by", o.CreatedBy)
	co.annotations = a.strv("annotation", o.Annotations)
}

// AddLayerOpts calls ocidir_builder_add_layer_opts ("" diff_id: NULL).
func (b *Builder) AddLayerOpts(mediaType, digest string, size uint64, diffID string, o AddLayerOptions) error {
	a := newCstrings("ocidir_builder_add_layer_opts")
	defer a.free()
	mt, dg, di := a.str("media type", mediaType), a.str("digest", digest), a.opt("diff_id", diffID)
	var co C.ocidir_add_layer_options_t
	addLayerOptions(a, o, &co)
	return a.call(func() C.int { return C.ocidir_builder_add_layer_opts(b.p, mt, dg, C.uint64_t(size), di, &co) })
}

// AddLayerWriterOpts calls ocidir_builder_add_layer_writer_opts; w is gone
// afterwards, whatever the outcome, except when an option is refused before
// the call (then the caller still owns w).
func (b *Builder) AddLayerWriterOpts(w *LayerWriter, o AddLayerOptions) (consumed bool, err error) {
	a := newCstrings("ocidir_builder_add_layer_writer_opts")
	defer a.free()
	var co C.ocidir_add_layer_options_t
	addLayerOptions(a, o, &co)
	if a.err != nil {
		return false, a.err
	}
	return true, a.call(func() C.int { return C.ocidir_builder_add_layer_writer_opts(b.p, w.p, &co) })
}

// SetConfigStrv calls ocidir_builder_set_config_strv (nil removes).
func (b *Builder) SetConfigStrv(field int, v []string) error {
	a := newCstrings("ocidir_builder_set_config_strv")
	defer a.free()
	vec := a.strv("value", v)
	return a.call(func() C.int { return C.ocidir_builder_set_config_strv(b.p, C.ocidir_config_field_t(field), vec) })
}

// SetConfigString calls ocidir_builder_set_config_string (remove: NULL).
func (b *Builder) SetConfigString(field int, value string, remove bool) error {
	a := newCstrings("ocidir_builder_set_config_string")
	defer a.free()
	v := a.value(value, remove)
	return a.call(func() C.int { return C.ocidir_builder_set_config_string(b.p, C.ocidir_config_field_t(field), v) })
}

// SetLabel calls ocidir_builder_set_label (remove: NULL value).
func (b *Builder) SetLabel(key, value string, remove bool) error {
	a := newCstrings("ocidir_builder_set_label")
	defer a.free()
	k, v := a.str("key", key), a.value(value, remove)
	return a.call(func() C.int { return C.ocidir_builder_set_label(b.p, k, v) })
}

// SetAnnotation calls ocidir_builder_set_annotation (remove: NULL value).
func (b *Builder) SetAnnotation(key, value string, remove bool) error {
	a := newCstrings("ocidir_builder_set_annotation")
	defer a.free()
	k, v := a.str("key", key), a.value(value, remove)
	return a.call(func() C.int { return C.ocidir_builder_set_annotation(b.p, k, v) })
}

// SetSubject calls ocidir_builder_set_subject ("" removes it).
func (b *Builder) SetSubject(digest string) error {
	a := newCstrings("ocidir_builder_set_subject")
	defer a.free()
	dg := a.opt("digest", digest)
	return a.call(func() C.int { return C.ocidir_builder_set_subject(b.p, dg) })
}

// Commit calls ocidir_builder_commit ("" tag: untagged entry).
func (b *Builder) Commit(tag string, flags uint) (string, error) {
	a := newCstrings("ocidir_builder_commit")
	defer a.free()
	t := a.opt("tag", tag)
	var out digestBuf
	if err := a.call(func() C.int { return C.ocidir_builder_commit(b.p, t, C.unsigned(flags), out.ptr()) }); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Free calls ocidir_builder_free.
func (b *Builder) Free() { C.ocidir_builder_free(b.p) }
