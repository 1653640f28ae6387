package ocidir

import (
	"runtime"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// PlatformDefault is the running machine's platform in Go's names
// ("linux/amd64", "linux/arm/v7").
func PlatformDefault() string { return capi.PlatformDefault() }

// ConfigField is a config field with an accessor.  Values fixed.
type ConfigField int

// The config fields of ocidir.h.
const (
	ConfigEntrypoint   ConfigField = ConfigField(capi.ConfigEntrypoint)   // config.Entrypoint, string array
	ConfigCmd          ConfigField = ConfigField(capi.ConfigCmd)          // config.Cmd, string array
	ConfigEnv          ConfigField = ConfigField(capi.ConfigEnv)          // config.Env, string array ("K=V")
	ConfigDiffIDs      ConfigField = ConfigField(capi.ConfigDiffIDs)      // rootfs.diff_ids, string array
	ConfigUser         ConfigField = ConfigField(capi.ConfigUser)         // config.User
	ConfigWorkingDir   ConfigField = ConfigField(capi.ConfigWorkingDir)   // config.WorkingDir
	ConfigOS           ConfigField = ConfigField(capi.ConfigOS)           // os
	ConfigArchitecture ConfigField = ConfigField(capi.ConfigArchitecture) // architecture
	ConfigVariant      ConfigField = ConfigField(capi.ConfigVariant)      // variant
	ConfigCreated      ConfigField = ConfigField(capi.ConfigCreated)      // created
	ConfigStopSignal   ConfigField = ConfigField(capi.ConfigStopSignal)   // config.StopSignal
)

// Image is one manifest with its config and layers, verified when opened.
// Its descriptors are read once at OpenImage; the other accessors call into
// the library and fail with ErrState after Close.  Safe for concurrent use.
type Image struct {
	raw          *capi.Image
	lt           *lifetime
	digest       Digest
	manifest     []byte
	config       Descriptor
	configEmpty  bool
	artifactType string
	layers       []Descriptor
}

// OpenImage opens the image that ref (a tag or a digest) names, for
// platform ("os/arch[/variant]", "" for PlatformDefault), through nested
// indexes.  A miss is ErrNotFound with a message listing the platforms that
// exist.
func (d *Dir) OpenImage(ref, platform string) (*Image, error) {
	raw, err := d.use("Dir.OpenImage")
	if err != nil {
		return nil, err
	}
	defer d.done()
	ri, err := raw.ImageOpen(ref, platform)
	if err != nil {
		return nil, wrap(err)
	}
	img := &Image{raw: ri, configEmpty: ri.ConfigIsEmpty(), artifactType: ri.ArtifactType()}
	if err := img.load(); err != nil {
		ri.Close()
		return nil, err
	}
	d.lt.retain()
	img.lt = newLifetime(ri.Close, d.lt)
	runtime.SetFinalizer(img, (*Image).Close)
	return img, nil
}

func (img *Image) load() error {
	dg, man, err := img.raw.Manifest()
	if err != nil {
		return wrap(err)
	}
	img.digest, img.manifest = Digest(dg), man
	mt, cd, n, err := img.raw.ConfigDescriptor()
	if err != nil {
		return wrap(err)
	}
	img.config = Descriptor{MediaType: mt, Digest: Digest(cd), Size: int64(n)}
	count := img.raw.LayerCount()
	img.layers = make([]Descriptor, count)
	for i := 0; i < count; i++ {
		mt, ld, n, err := img.raw.Layer(i)
		if err != nil {
			return wrap(err)
		}
		img.layers[i] = Descriptor{MediaType: mt, Digest: Digest(ld), Size: int64(n)}
	}
	return nil
}

// Close releases the image; layer readers opened from it stay usable.
// Idempotent.
func (img *Image) Close() error {
	runtime.SetFinalizer(img, nil)
	img.lt.close()
	return nil
}

func (img *Image) use(op string) (*capi.Image, error) {
	if err := img.lt.acquire(op, "image"); err != nil {
		return nil, err
	}
	return img.raw, nil
}

func (img *Image) done() {
	img.lt.release()
	runtime.KeepAlive(img)
}

// Digest is the manifest's digest.
func (img *Image) Digest() Digest { return img.digest }

// Manifest is a copy of the manifest's raw, verified bytes.
func (img *Image) Manifest() []byte { return append([]byte(nil), img.manifest...) }

// Config is the manifest's config descriptor.
func (img *Image) Config() Descriptor { return img.config }

// ConfigIsEmpty reports whether the config is the empty descriptor
// (application/vnd.oci.empty.v1+json).
func (img *Image) ConfigIsEmpty() bool { return img.configEmpty }

// ArtifactType is the manifest's artifactType ("" when absent).
func (img *Image) ArtifactType() string { return img.artifactType }

// Layers are the manifest's layer descriptors, in order.
func (img *Image) Layers() []Descriptor { return append([]Descriptor(nil), img.layers...) }

// Annotations are the manifest's annotations.
func (img *Image) Annotations() (map[string]string, error) { return img.annotations(-1) }

// LayerAnnotations are the annotations of layer i (ErrNotFound past the end).
func (img *Image) LayerAnnotations(i int) (map[string]string, error) {
	if i < 0 {
		return nil, &Error{Op: "Image.LayerAnnotations", Code: CodeNotFound, Message: "negative layer index"}
	}
	return img.annotations(i)
}

func (img *Image) annotations(i int) (map[string]string, error) {
	raw, err := img.use("Image.Annotations")
	if err != nil {
		return nil, err
	}
	defer img.done()
	kv, err := raw.Annotations(i)
	if err != nil {
		return nil, wrap(err)
	}
	return kvMap(kv), nil
}

// kvMap turns alternating keys and values into a map.
func kvMap(kv []string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// ConfigStrings is a string-array config field (ConfigEntrypoint, ConfigCmd,
// ConfigEnv, ConfigDiffIDs): nil when absent, empty when an empty array.
// ErrNotFound when the image has no parsed config.
func (img *Image) ConfigStrings(field ConfigField) ([]string, error) {
	raw, err := img.use("Image.ConfigStrings")
	if err != nil {
		return nil, err
	}
	defer img.done()
	v, err := raw.ConfigStrv(int(field))
	return v, wrap(err)
}

// ConfigString is a string config field; ok is false when it is absent.
func (img *Image) ConfigString(field ConfigField) (value string, ok bool, err error) {
	raw, err := img.use("Image.ConfigString")
	if err != nil {
		return "", false, err
	}
	defer img.done()
	value, ok, err = raw.ConfigString(int(field))
	return value, ok, wrap(err)
}

// Labels are config.Labels.
func (img *Image) Labels() (map[string]string, error) {
	raw, err := img.use("Image.Labels")
	if err != nil {
		return nil, err
	}
	defer img.done()
	kv, err := raw.ConfigLabels()
	if err != nil {
		return nil, wrap(err)
	}
	return kvMap(kv), nil
}

// ConfigRaw is a copy of the raw, verified config bytes.
func (img *Image) ConfigRaw() ([]byte, error) {
	raw, err := img.use("Image.ConfigRaw")
	if err != nil {
		return nil, err
	}
	defer img.done()
	b, err := raw.ConfigRaw()
	return b, wrap(err)
}

// OpenLayer opens layer i for decompressed, verified reading (blob digest,
// and diff_id when the config is an image config).
func (img *Image) OpenLayer(i int) (*LayerReader, error) {
	return img.openLayer("Image.OpenLayer", i, nil)
}

// OpenLayerWithOptions is OpenLayer with options (nil: the defaults).
func (img *Image) OpenLayerWithOptions(i int, opts *LayerReaderOptions) (*LayerReader, error) {
	return img.openLayer("Image.OpenLayerWithOptions", i, opts)
}

func (img *Image) openLayer(op string, i int, opts *LayerReaderOptions) (*LayerReader, error) {
	ro, err := opts.raw(op)
	if err != nil {
		return nil, err
	}
	raw, err := img.use(op)
	if err != nil {
		return nil, err
	}
	defer img.done()
	if i < 0 {
		return nil, &Error{Op: op, Code: CodeNotFound, Message: "negative layer index"}
	}
	var r *capi.LayerReader
	if opts == nil {
		r, err = raw.LayerOpen(i)
	} else {
		r, err = raw.LayerOpenOpts(i, ro)
	}
	if err != nil {
		return nil, wrap(err)
	}
	img.lt.retain()
	return newLayerReader(r, img.lt), nil
}
