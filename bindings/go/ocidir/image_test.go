package ocidir_test

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

func TestPlatformDefaultIsGosOwnName(t *testing.T) {
	want := runtime.GOOS + "/" + runtime.GOARCH
	if got := ocidir.PlatformDefault(); !strings.HasPrefix(got, want) {
		t.Fatalf("PlatformDefault() = %q, Go runs on %q", got, want)
	}
}

func TestTagsAndIndex(t *testing.T) {
	d, _ := newLayout(t)
	img := buildImage(t, d, "v1", map[string]string{"a": "1"})

	tags, err := d.Tags()
	must(t, err)
	if !reflect.DeepEqual(tags, []string{"v1"}) {
		t.Fatalf("Tags = %v", tags)
	}
	desc, err := d.Resolve("v1")
	must(t, err)
	if desc.Digest != img.manifest || desc.MediaType != "application/vnd.oci.image.manifest.v1+json" || desc.Size <= 0 {
		t.Fatalf("Resolve(v1) = %+v", desc)
	}
	byDigest, err := d.Resolve(string(img.manifest))
	must(t, err)
	if byDigest != desc {
		t.Fatalf("Resolve(digest) = %+v, Resolve(tag) = %+v", byDigest, desc)
	}
	_, err = d.Resolve("nope")
	wantErr(t, err, ocidir.ErrNotFound)
	_, err = d.Resolve("bad tag!")
	wantErr(t, err, ocidir.ErrInvalid)

	must(t, d.SetTag("v1.0", img.manifest, 0))
	wantErr(t, d.SetTag("v1.0", img.manifest, ocidir.TagNoReplace), ocidir.ErrExists)
	wantErr(t, d.SetTag("v2", sha256Of([]byte("absent")), 0), ocidir.ErrNotFound)
	wantErr(t, d.SetTag("v2", img.layer.Digest, 0), ocidir.ErrFormat)
	wantErr(t, d.SetTag("-bad", img.manifest, 0), ocidir.ErrInvalid)
	tags, err = d.Tags()
	must(t, err)
	if !reflect.DeepEqual(tags, []string{"v1", "v1.0"}) {
		t.Fatalf("Tags after SetTag = %v", tags)
	}
	must(t, d.RemoveTag("v1"))
	wantErr(t, d.RemoveTag("v1"), ocidir.ErrNotFound)
	must(t, d.RemoveTag("v1.0"))
	tags, err = d.Tags()
	must(t, err)
	if len(tags) != 0 || tags == nil {
		t.Fatalf("Tags of an index without tags = %#v", tags)
	}
	// An untagged entry keeps the image reachable by digest.
	must(t, d.AddIndexEntry(img.manifest))
	must(t, d.AddIndexEntry(img.manifest))
	if _, err := d.OpenImage(string(img.manifest), ""); err != nil {
		t.Fatalf("OpenImage by digest after AddIndexEntry: %v", err)
	}

	must(t, ocidir.ValidateTag("latest"))
	must(t, ocidir.ValidateTag("a/b:c"))
	wantErr(t, ocidir.ValidateTag(""), ocidir.ErrInvalid)
	wantErr(t, ocidir.ValidateTag("a\x00b"), ocidir.ErrInvalid)
	if ocidir.AnnotationRefName != "org.opencontainers.image.ref.name" {
		t.Fatalf("AnnotationRefName = %q", ocidir.AnnotationRefName)
	}

	// A JSON limit below the size of index.json.
	must(t, d.SetJSONLimit(10))
	_, err = d.Tags()
	wantErr(t, err, ocidir.ErrTooLarge)
	must(t, d.SetJSONLimit(0))
	_, err = d.Tags()
	must(t, err)
	wantErr(t, d.SetJSONLimit(-1), ocidir.ErrInvalid)
}

func TestBuildAndReadImage(t *testing.T) {
	d, _ := newLayout(t)
	files := map[string]string{"etc/hello": "hello\n", "bin/tool": "#!/bin/sh\n"}
	tarball := makeTar(t, files)

	lw, err := d.NewLayerWriter(ocidir.CompressionZstd, 0, 0)
	must(t, err)
	if lw.MediaType() != ocidir.CompressionZstd.MediaType() {
		t.Fatalf("layer writer media type %q", lw.MediaType())
	}
	_, err = io.Copy(lw, bytes.NewReader(tarball))
	must(t, err)

	b, err := d.NewBuilder("linux/arm64/v8")
	must(t, err)
	defer b.Close()
	must(t, b.SetCreated("2024-01-01T00:00:00Z"))
	must(t, b.AddLayerWriter(lw, "ADD files"))
	if lw.MediaType() != "" {
		t.Fatal("the builder did not take the layer writer")
	}
	_, err = lw.Write([]byte("x"))
	wantErr(t, err, ocidir.ErrState)
	wantErr(t, b.AddLayerWriter(lw, ""), ocidir.ErrState)
	must(t, b.SetConfigStrings(ocidir.ConfigEntrypoint, []string{"/bin/tool", "--flag"}))
	must(t, b.SetConfigStrings(ocidir.ConfigCmd, []string{}))
	must(t, b.SetConfigStrings(ocidir.ConfigEnv, []string{"A=1", "B=2"}))
	must(t, b.SetConfigStrings(ocidir.ConfigEnv, nil)) // removed again
	wantErr(t, b.SetConfigStrings(ocidir.ConfigDiffIDs, []string{"x"}), ocidir.ErrInvalid)
	wantErr(t, b.SetConfigStrings(ocidir.ConfigCmd, []string{"a\x00b"}), ocidir.ErrInvalid)
	must(t, b.SetConfigString(ocidir.ConfigUser, "1000:1000"))
	must(t, b.SetConfigString(ocidir.ConfigWorkingDir, "/work"))
	must(t, b.SetConfigString(ocidir.ConfigStopSignal, "SIGTERM"))
	must(t, b.UnsetConfigString(ocidir.ConfigStopSignal))
	must(t, b.SetLabel("org.example.keep", "yes"))
	must(t, b.SetLabel("org.example.drop", "no"))
	must(t, b.RemoveLabel("org.example.drop"))
	must(t, b.SetAnnotation("org.example.note", "built by the Go test"))
	must(t, b.SetAnnotation("org.example.gone", "x"))
	must(t, b.RemoveAnnotation("org.example.gone"))
	m, err := b.Commit("app", 0)
	must(t, err)
	_, err = b.Commit("app", ocidir.TagNoReplace)
	wantErr(t, err, ocidir.ErrExists)
	must(t, b.Close())
	wantErr(t, b.SetLabel("k", "v"), ocidir.ErrState)

	img, err := d.OpenImage("app", "linux/arm64")
	must(t, err)
	defer img.Close()
	if img.Digest() != m {
		t.Fatalf("image digest %s, committed %s", img.Digest(), m)
	}
	var manifest struct {
		Config      struct{ Digest ocidir.Digest }
		Layers      []struct{ Digest ocidir.Digest }
		Annotations map[string]string
	}
	must(t, json.Unmarshal(img.Manifest(), &manifest))
	if sha256Of(img.Manifest()) != m || manifest.Config.Digest != img.Config().Digest {
		t.Fatal("manifest bytes do not match the digest or the config descriptor")
	}
	if img.ConfigIsEmpty() || img.ArtifactType() != "" {
		t.Fatal("an image config reported as empty or with an artifact type")
	}
	if img.Config().MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Fatalf("config descriptor %+v", img.Config())
	}
	layers := img.Layers()
	if len(layers) != 1 || layers[0].MediaType != ocidir.CompressionZstd.MediaType() || layers[0].Digest != manifest.Layers[0].Digest {
		t.Fatalf("layers %+v", layers)
	}
	ann, err := img.Annotations()
	must(t, err)
	if !reflect.DeepEqual(ann, map[string]string{"org.example.note": "built by the Go test"}) {
		t.Fatalf("annotations %v", ann)
	}
	la, err := img.LayerAnnotations(0)
	must(t, err)
	if len(la) != 0 {
		t.Fatalf("layer annotations %v", la)
	}
	_, err = img.LayerAnnotations(1)
	wantErr(t, err, ocidir.ErrNotFound)
	_, err = img.LayerAnnotations(-1)
	wantErr(t, err, ocidir.ErrNotFound)

	ep, err := img.ConfigStrings(ocidir.ConfigEntrypoint)
	must(t, err)
	cmd, err := img.ConfigStrings(ocidir.ConfigCmd)
	must(t, err)
	env, err := img.ConfigStrings(ocidir.ConfigEnv)
	must(t, err)
	diffIDs, err := img.ConfigStrings(ocidir.ConfigDiffIDs)
	must(t, err)
	if !reflect.DeepEqual(ep, []string{"/bin/tool", "--flag"}) || cmd == nil || len(cmd) != 0 || env != nil {
		t.Fatalf("entrypoint %#v cmd %#v env %#v", ep, cmd, env)
	}
	if !reflect.DeepEqual(diffIDs, []string{string(sha256Of(tarball))}) {
		t.Fatalf("diff_ids %v, tar digest %s", diffIDs, sha256Of(tarball))
	}
	_, err = img.ConfigStrings(ocidir.ConfigUser)
	wantErr(t, err, ocidir.ErrInvalid)
	for field, want := range map[ocidir.ConfigField]string{
		ocidir.ConfigUser: "1000:1000", ocidir.ConfigWorkingDir: "/work", ocidir.ConfigOS: "linux",
		ocidir.ConfigArchitecture: "arm64", ocidir.ConfigVariant: "v8", ocidir.ConfigCreated: "2024-01-01T00:00:00Z",
	} {
		v, ok, err := img.ConfigString(field)
		must(t, err)
		if !ok || v != want {
			t.Fatalf("config field %d = %q, %v; want %q", field, v, ok, want)
		}
	}
	if v, ok, err := img.ConfigString(ocidir.ConfigStopSignal); err != nil || ok {
		t.Fatalf("removed StopSignal = %q, %v, %v", v, ok, err)
	}
	labels, err := img.Labels()
	must(t, err)
	if !reflect.DeepEqual(labels, map[string]string{"org.example.keep": "yes"}) {
		t.Fatalf("labels %v", labels)
	}
	raw, err := img.ConfigRaw()
	must(t, err)
	if sha256Of(raw) != img.Config().Digest {
		t.Fatal("raw config does not hash to its descriptor")
	}

	// The layer, decompressed and verified, through the image and directly.
	lr, err := img.OpenLayer(0)
	must(t, err)
	if got := tarFiles(t, lr); !reflect.DeepEqual(got, files) {
		t.Fatalf("layer files %v", got)
	}
	must(t, lr.Close())
	_, err = img.OpenLayer(1)
	wantErr(t, err, ocidir.ErrNotFound)
	_, err = img.OpenLayer(-1)
	wantErr(t, err, ocidir.ErrNotFound)
	lr, err = d.OpenLayer(layers[0].MediaType, layers[0].Digest, layers[0].Size, ocidir.Digest(diffIDs[0]))
	must(t, err)
	got, err := io.ReadAll(lr)
	must(t, err)
	must(t, lr.Close())
	if !bytes.Equal(got, tarball) {
		t.Fatal("Dir.OpenLayer gave another stream")
	}
	// A wrong diff_id: the stream ends in ErrDigest, not io.EOF.
	lr, err = d.OpenLayer(layers[0].MediaType, layers[0].Digest, -1, sha256Of([]byte("not the tar")))
	must(t, err)
	_, err = io.ReadAll(lr)
	wantErr(t, err, ocidir.ErrDigest)
	lr.Close()
	_, err = d.OpenLayer("application/x-unknown", layers[0].Digest, -1, "")
	wantErr(t, err, ocidir.ErrUnsupported)

	// Platforms (a tag naming a manifest directly is not matched against
	// its config, so only the platform string's grammar is checked).
	_, err = d.OpenImage("app", "not a platform")
	wantErr(t, err, ocidir.ErrInvalid)
	_, err = d.OpenImage("missing", "")
	wantErr(t, err, ocidir.ErrNotFound)

	// Close: cached descriptors stay, calls fail with ErrState.
	must(t, img.Close())
	must(t, img.Close())
	_, err = img.Labels()
	wantErr(t, err, ocidir.ErrState)
	_, err = img.OpenLayer(0)
	wantErr(t, err, ocidir.ErrState)
	if img.Digest() != m {
		t.Fatal("digest lost at Close")
	}
}

func TestLayerWriterCompressions(t *testing.T) {
	d, _ := newLayout(t)
	tarball := makeTar(t, map[string]string{"f": strings.Repeat("z", 100000)})
	for _, c := range []ocidir.Compression{ocidir.CompressionNone, ocidir.CompressionGzip, ocidir.CompressionZstd} {
		threads := 0
		if c == ocidir.CompressionZstd {
			threads = 2
		}
		w, err := d.NewLayerWriter(c, 0, threads)
		must(t, err)
		_, err = w.Write(tarball)
		must(t, err)
		info, err := w.Commit()
		must(t, err)
		if info.MediaType != c.MediaType() || info.DiffID != sha256Of(tarball) {
			t.Fatalf("%s: %+v", c.MediaType(), info)
		}
		if n, err := d.Stat(info.Digest); err != nil || n != info.Size {
			t.Fatalf("%s: blob %s stat %d, %v; commit said %d", c.MediaType(), info.Digest, n, err, info.Size)
		}
		if c == ocidir.CompressionNone && info.Digest != info.DiffID {
			t.Fatal("an uncompressed layer's digest is not its diff_id")
		}
		_, err = w.Commit()
		wantErr(t, err, ocidir.ErrState)
	}
	if ocidir.Compression(9).MediaType() != "" {
		t.Fatal("an unknown compression has a media type")
	}
	_, err := d.NewLayerWriter(ocidir.CompressionGzip, 42, 0)
	wantErr(t, err, ocidir.ErrInvalid)
	w, err := d.NewLayerWriter(ocidir.CompressionGzip, 9, 0)
	must(t, err)
	_, err = w.Write([]byte("discarded"))
	must(t, err)
	w.Abort()
	must(t, w.Close())
	_, err = w.Write([]byte("x"))
	wantErr(t, err, ocidir.ErrState)
}

func TestArtifactReferrersAndBuilderFrom(t *testing.T) {
	d, _ := newLayout(t)
	img := buildImage(t, d, "base", map[string]string{"a": "1"})

	sig, err := d.Put([]byte("signature"))
	must(t, err)
	const at = "application/vnd.example.signature.v1"
	ab, err := d.NewArtifactBuilder(at)
	must(t, err)
	defer ab.Close()
	must(t, ab.AddLayer("application/octet-stream", sig, int64(len("signature")), "", ""))
	wantErr(t, ab.AddLayer("application/octet-stream", sig, 99, "", ""), ocidir.ErrSize)
	wantErr(t, ab.AddLayer("application/octet-stream", sig, -1, "", ""), ocidir.ErrInvalid)
	wantErr(t, ab.SetSubject(sha256Of([]byte("absent"))), ocidir.ErrNotFound)
	must(t, ab.SetSubject(img.manifest))
	art, err := ab.Commit("", 0)
	must(t, err)

	refs, err := d.Referrers(img.manifest, "")
	must(t, err)
	if !reflect.DeepEqual(refs, []ocidir.Digest{art}) {
		t.Fatalf("Referrers = %v, want [%s]", refs, art)
	}
	refs, err = d.Referrers(img.manifest, "application/vnd.example.other")
	must(t, err)
	if len(refs) != 0 {
		t.Fatalf("Referrers filtered by another type = %v", refs)
	}
	ai, err := d.OpenImage(string(art), "")
	must(t, err)
	defer ai.Close()
	if !ai.ConfigIsEmpty() || ai.ArtifactType() != at {
		t.Fatalf("artifact: empty config %v, type %q", ai.ConfigIsEmpty(), ai.ArtifactType())
	}
	_, err = ai.ConfigStrings(ocidir.ConfigCmd)
	wantErr(t, err, ocidir.ErrNotFound)
	raw, err := ai.ConfigRaw()
	must(t, err)
	if string(raw) != "{}" {
		t.Fatalf("empty config raw = %q", raw)
	}

	// BuilderFrom keeps the layers and config, and adds to them.
	fb, err := d.BuilderFrom("base", "linux/amd64")
	must(t, err)
	defer fb.Close()
	must(t, fb.SetLabel("derived", "true"))
	must(t, fb.SetSubject(""))
	_, err = fb.Commit("derived", 0)
	must(t, err)
	di, err := d.OpenImage("derived", "linux/amd64")
	must(t, err)
	defer di.Close()
	if l := di.Layers(); len(l) != 1 || l[0].Digest != img.layer.Digest {
		t.Fatalf("derived layers %+v", l)
	}
	cmd, err := di.ConfigStrings(ocidir.ConfigCmd)
	must(t, err)
	labels, err := di.Labels()
	must(t, err)
	if !reflect.DeepEqual(cmd, []string{"/bin/sh"}) || labels["derived"] != "true" {
		t.Fatalf("derived cmd %v labels %v", cmd, labels)
	}
	_, err = d.BuilderFrom("absent", "")
	wantErr(t, err, ocidir.ErrNotFound)
	_, err = d.NewBuilder("bogus")
	wantErr(t, err, ocidir.ErrInvalid)
	_, err = d.NewArtifactBuilder("not a media type")
	wantErr(t, err, ocidir.ErrInvalid)
}
