package capi

/*
#include <ocidir.h>
*/
import "C"

// Builder is an ocidir_builder_t.
type Builder struct{ p *C.ocidir_builder_t }

// BuilderNew calls ocidir_builder_new ("" platform: the default).
func (d *Dir) BuilderNew(platform string) (*Builder, error) {
	const op = "ocidir_builder_new"
	a := newCstrings(op)
	defer a.free()
	pl := a.opt("platform", platform)
	if a.err != nil {
		return nil, a.err
	}
	var b *C.ocidir_builder_t
	defer lock()()
	if err := check(op, C.ocidir_builder_new(d.p, pl, &b)); err != nil {
		return nil, err
	}
	return &Builder{b}, nil
}

// BuilderNewArtifact calls ocidir_builder_new_artifact.
func (d *Dir) BuilderNewArtifact(artifactType string) (*Builder, error) {
	const op = "ocidir_builder_new_artifact"
	a := newCstrings(op)
	defer a.free()
	at := a.str("artifact type", artifactType)
	if a.err != nil {
		return nil, a.err
	}
	var b *C.ocidir_builder_t
	defer lock()()
	if err := check(op, C.ocidir_builder_new_artifact(d.p, at, &b)); err != nil {
		return nil, err
	}
	return &Builder{b}, nil
}

// BuilderFrom calls ocidir_builder_from ("" platform: the default).
func (d *Dir) BuilderFrom(ref, platform string) (*Builder, error) {
	const op = "ocidir_builder_from"
	a := newCstrings(op)
	defer a.free()
	r, pl := a.str("ref", ref), a.opt("platform", platform)
	if a.err != nil {
		return nil, a.err
	}
	var b *C.ocidir_builder_t
	defer lock()()
	if err := check(op, C.ocidir_builder_from(d.p, r, pl, &b)); err != nil {
		return nil, err
	}
	return &Builder{b}, nil
}

// SetCreated calls ocidir_builder_set_created ("" removes it).
func (b *Builder) SetCreated(rfc3339 string) error {
	const op = "ocidir_builder_set_created"
	a := newCstrings(op)
	defer a.free()
	s := a.opt("created", rfc3339)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_set_created(b.p, s))
}

// AddLayer calls ocidir_builder_add_layer ("" diff_id / created_by: NULL).
func (b *Builder) AddLayer(mediaType, digest string, size uint64, diffID, createdBy string) error {
	const op = "ocidir_builder_add_layer"
	a := newCstrings(op)
	defer a.free()
	mt, dg := a.str("media type", mediaType), a.str("digest", digest)
	di, cb := a.opt("diff_id", diffID), a.opt("created_by", createdBy)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_add_layer(b.p, mt, dg, C.uint64_t(size), di, cb))
}

// AddLayerWriter calls ocidir_builder_add_layer_writer; w is gone afterwards,
// whatever the outcome, except when createdBy is refused before the call
// (then the caller still owns w).
func (b *Builder) AddLayerWriter(w *LayerWriter, createdBy string) (consumed bool, err error) {
	const op = "ocidir_builder_add_layer_writer"
	a := newCstrings(op)
	defer a.free()
	cb := a.opt("created_by", createdBy)
	if a.err != nil {
		return false, a.err
	}
	defer lock()()
	return true, check(op, C.ocidir_builder_add_layer_writer(b.p, w.p, cb))
}

// SetConfigStrv calls ocidir_builder_set_config_strv (nil removes).
func (b *Builder) SetConfigStrv(field int, v []string) error {
	const op = "ocidir_builder_set_config_strv"
	a := newCstrings(op)
	defer a.free()
	vec := a.strv("value", v)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_set_config_strv(b.p, C.ocidir_config_field_t(field), vec))
}

// SetConfigString calls ocidir_builder_set_config_string (remove: NULL).
func (b *Builder) SetConfigString(field int, value string, remove bool) error {
	const op = "ocidir_builder_set_config_string"
	a := newCstrings(op)
	defer a.free()
	var v *C.char
	if !remove {
		v = a.str("value", value)
	}
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_set_config_string(b.p, C.ocidir_config_field_t(field), v))
}

// SetLabel calls ocidir_builder_set_label (remove: NULL value).
func (b *Builder) SetLabel(key, value string, remove bool) error {
	const op = "ocidir_builder_set_label"
	a := newCstrings(op)
	defer a.free()
	k := a.str("key", key)
	var v *C.char
	if !remove {
		v = a.str("value", value)
	}
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_set_label(b.p, k, v))
}

// SetAnnotation calls ocidir_builder_set_annotation (remove: NULL value).
func (b *Builder) SetAnnotation(key, value string, remove bool) error {
	const op = "ocidir_builder_set_annotation"
	a := newCstrings(op)
	defer a.free()
	k := a.str("key", key)
	var v *C.char
	if !remove {
		v = a.str("value", value)
	}
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_set_annotation(b.p, k, v))
}

// SetSubject calls ocidir_builder_set_subject ("" removes it).
func (b *Builder) SetSubject(digest string) error {
	const op = "ocidir_builder_set_subject"
	a := newCstrings(op)
	defer a.free()
	dg := a.opt("digest", digest)
	if a.err != nil {
		return a.err
	}
	defer lock()()
	return check(op, C.ocidir_builder_set_subject(b.p, dg))
}

// Commit calls ocidir_builder_commit ("" tag: untagged entry).
func (b *Builder) Commit(tag string, flags uint) (string, error) {
	const op = "ocidir_builder_commit"
	a := newCstrings(op)
	defer a.free()
	t := a.opt("tag", tag)
	if a.err != nil {
		return "", a.err
	}
	var out digestBuf
	defer lock()()
	if err := check(op, C.ocidir_builder_commit(b.p, t, C.unsigned(flags), out.ptr())); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Free calls ocidir_builder_free.
func (b *Builder) Free() { C.ocidir_builder_free(b.p) }
