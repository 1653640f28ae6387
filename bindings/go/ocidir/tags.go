package ocidir

import "github.com/ocidir/libocidir/bindings/go/internal/capi"

// AnnotationRefName is the index.json annotation that carries a tag.
const AnnotationRefName = capi.AnnotationRef

// TagFlags change how a tag is set.
type TagFlags uint

// TagNoReplace makes setting a tag that exists fail with ErrExists.
const TagNoReplace TagFlags = TagFlags(capi.TagNoReplace)

// ValidateTag checks a tag against the ref.name grammar (ErrInvalid if not).
func ValidateTag(tag string) error { return wrap(capi.TagValidate(tag)) }

// Tags lists the tags of index.json, in file order, each once.
func (d *Dir) Tags() ([]string, error) {
	raw, err := d.use("Dir.Tags")
	if err != nil {
		return nil, err
	}
	defer d.done()
	v, err := raw.TagList()
	return v, wrap(err)
}

// Resolve resolves a ref (a tag, or a digest naming a manifest or index) to
// its descriptor.
func (d *Dir) Resolve(ref string) (Descriptor, error) {
	raw, err := d.use("Dir.Resolve")
	if err != nil {
		return Descriptor{}, err
	}
	defer d.done()
	dg, mt, n, err := raw.Resolve(ref)
	if err != nil {
		return Descriptor{}, wrap(err)
	}
	return Descriptor{MediaType: mt, Digest: Digest(dg), Size: int64(n)}, nil
}

// SetTag points tag at a manifest or index blob that is present, replacing
// an existing entry in place unless flags has TagNoReplace.
func (d *Dir) SetTag(tag string, digest Digest, flags TagFlags) error {
	raw, err := d.use("Dir.SetTag")
	if err != nil {
		return err
	}
	defer d.done()
	return wrap(raw.TagSet(tag, string(digest), uint(flags)))
}

// RemoveTag removes the index.json entry that carries tag (no blob is touched).
func (d *Dir) RemoveTag(tag string) error {
	raw, err := d.use("Dir.RemoveTag")
	if err != nil {
		return err
	}
	defer d.done()
	return wrap(raw.TagRemove(tag))
}

// AddIndexEntry adds an untagged index.json entry for a manifest or index
// blob that is present (nothing changes if one exists).
func (d *Dir) AddIndexEntry(digest Digest) error {
	raw, err := d.use("Dir.AddIndexEntry")
	if err != nil {
		return err
	}
	defer d.done()
	return wrap(raw.IndexAdd(string(digest)))
}

// Referrers lists the manifests whose subject is digest, in index order;
// artifactType "" means all.
func (d *Dir) Referrers(digest Digest, artifactType string) ([]Digest, error) {
	raw, err := d.use("Dir.Referrers")
	if err != nil {
		return nil, err
	}
	defer d.done()
	v, err := raw.Referrers(string(digest), artifactType)
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Digest, len(v))
	for i, s := range v {
		out[i] = Digest(s)
	}
	return out, nil
}
