package ocidir_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

const indexMediaType = "application/vnd.oci.image.index.v1+json"

// imageBlobs is the manifest, config and layer digests of an image.
func imageBlobs(t *testing.T, d *ocidir.Dir, ref, platform string) []ocidir.Digest {
	t.Helper()
	img, err := d.OpenImage(ref, platform)
	must(t, err)
	defer img.Close()
	out := []ocidir.Digest{img.Digest(), img.Config().Digest}
	for _, l := range img.Layers() {
		out = append(out, l.Digest)
	}
	return out
}

// taken is the sorted subjects of the findings of blobs a copy took.
func taken(rep *ocidir.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Kind == ocidir.FindCopied || f.Kind == ocidir.FindLinked || f.Kind == ocidir.FindReflinked {
			out = append(out, f.Subject)
		}
	}
	sort.Strings(out)
	return out
}

func digestStrings(ds []ocidir.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d)
	}
	sort.Strings(out)
	return out
}

// wantFsckClean fails unless fsck finds neither damage nor an unreferenced blob.
func wantFsckClean(t *testing.T, d *ocidir.Dir) *ocidir.Report {
	t.Helper()
	rep, err := d.Fsck(ctx, nil)
	must(t, err)
	if rep.Damage != 0 || rep.Count(ocidir.FindUnreferenced) != 0 {
		t.Fatalf("fsck: %+v", rep)
	}
	return rep
}

// twoPlatformIndex tags an index over a linux/amd64 and a linux/arm64
// image (different layers) and returns the index and both manifests.
func twoPlatformIndex(t *testing.T, d *ocidir.Dir, tag string) (index, amd, arm ocidir.Digest) {
	t.Helper()
	type platform struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	}
	type entry struct {
		MediaType string        `json:"mediaType"`
		Digest    ocidir.Digest `json:"digest"`
		Size      int64         `json:"size"`
		Platform  platform      `json:"platform"`
	}
	var entries []entry
	for _, arch := range []string{"amd64", "arm64"} {
		lw, err := d.NewLayerWriter(ocidir.CompressionGzip, 0, 0)
		must(t, err)
		_, err = lw.Write(makeTar(t, map[string]string{"which": arch + "\n"}))
		must(t, err)
		layer, err := lw.Commit()
		must(t, err)
		b, err := d.NewBuilder("linux/" + arch)
		must(t, err)
		must(t, b.SetCreated("2024-01-01T00:00:00Z"))
		must(t, b.AddLayer(layer.MediaType, layer.Digest, layer.Size, layer.DiffID, "test layer"))
		m, err := b.Commit("", 0)
		must(t, err)
		b.Close()
		desc, err := d.Resolve(string(m))
		must(t, err)
		entries = append(entries, entry{desc.MediaType, m, desc.Size, platform{"linux", arch}})
	}
	raw, err := json.Marshal(map[string]interface{}{"schemaVersion": 2, "mediaType": indexMediaType, "manifests": entries})
	must(t, err)
	index, err = d.Put(raw)
	must(t, err)
	must(t, d.SetTag(tag, index, 0))
	return index, entries[0].Digest, entries[1].Digest
}

func TestCopyTagsTheSameManifestWithEveryBlob(t *testing.T) {
	src, _ := newLayout(t)
	dst, dstPath := newLayout(t)
	img := buildImage(t, src, "app", map[string]string{"a": strings.Repeat("x", 5000)})
	blobs := imageBlobs(t, src, "app", "linux/amd64")
	var last [2]uint64
	rep, err := ocidir.Copy(ctx, src, "app", dst, "copied", &ocidir.CopyOptions{
		Platform: "linux/amd64", Progress: func(done, total uint64) { last = [2]uint64{done, total} }})
	must(t, err)
	desc, err := dst.Resolve("copied")
	must(t, err)
	if desc.Digest != img.manifest {
		t.Fatalf("copied tag resolves to %s, want %s", desc.Digest, img.manifest)
	}
	if got, want := taken(rep), digestStrings(blobs); !reflect.DeepEqual(got, want) {
		t.Fatalf("blobs taken %v, want %v", got, want)
	}
	var size int64
	for _, b := range blobs {
		n, err := src.Stat(b)
		must(t, err)
		size += n
		if _, err := os.Stat(blobPath(dstPath, b)); err != nil {
			t.Fatalf("blob %s not in the destination's blobs/: %v", b, err)
		}
	}
	if rep.Blobs != 3 || rep.Bytes != size || rep.Damage != 0 {
		t.Fatalf("report %+v, want 3 blobs of %d bytes", rep, size)
	}
	if last[0] != last[1] || last[1] != uint64(size) {
		t.Fatalf("last progress call %v, want done == total == %d", last, size)
	}
	if f := wantFsckClean(t, dst); f.Blobs != 3 {
		t.Fatalf("fsck of the destination checked %d blobs", f.Blobs)
	}
	ci, err := dst.OpenImage("copied", "linux/amd64")
	must(t, err)
	defer ci.Close()
	lr, err := ci.OpenLayer(0)
	must(t, err)
	defer lr.Close()
	if got := tarFiles(t, lr); !reflect.DeepEqual(got, img.files) {
		t.Fatalf("copied layer holds %v", got)
	}

	// Again without hard links: dst has every blob, so nothing is taken.
	rep, err = ocidir.Copy(ctx, src, string(img.manifest), dst, "copied", &ocidir.CopyOptions{NoHardlink: true})
	must(t, err)
	if len(taken(rep)) != 0 || rep.Blobs != 3 {
		t.Fatalf("second copy %+v", rep)
	}
	// Within one layout: a second tag, nothing taken.
	rep, err = ocidir.Copy(ctx, src, "app", src, "app-2", nil)
	must(t, err)
	tags, err := src.Tags()
	must(t, err)
	if len(taken(rep)) != 0 || !reflect.DeepEqual(tags, []string{"app", "app-2"}) {
		t.Fatalf("copy within a layout: %+v, tags %v", rep, tags)
	}
}

func TestCopyWithoutHardLinks(t *testing.T) {
	src, _ := newLayout(t)
	dst, _ := newLayout(t)
	buildImage(t, src, "app", map[string]string{"a": "1"})
	rep, err := ocidir.Copy(ctx, src, "app", dst, "copied", &ocidir.CopyOptions{Platform: "linux/amd64", NoHardlink: true})
	must(t, err)
	if rep.Count(ocidir.FindLinked) != 0 || len(taken(rep)) != 3 {
		t.Fatalf("copy without hard links: %+v", rep)
	}
	wantFsckClean(t, dst)
}

func TestCopyPicksAPlatformOrTakesTheWholeIndex(t *testing.T) {
	src, _ := newLayout(t)
	index, amd, arm := twoPlatformIndex(t, src, "multi")
	armBlobs := imageBlobs(t, src, "multi", "linux/arm64")
	amdBlobs := imageBlobs(t, src, "multi", "linux/amd64")

	one, _ := newLayout(t)
	rep, err := ocidir.Copy(ctx, src, "multi", one, "arm", &ocidir.CopyOptions{Platform: "linux/arm64"})
	must(t, err)
	desc, err := one.Resolve("arm")
	must(t, err)
	if desc.Digest != arm {
		t.Fatalf("arm tag resolves to %s, want the arm64 manifest %s", desc.Digest, arm)
	}
	if got, want := taken(rep), digestStrings(armBlobs); !reflect.DeepEqual(got, want) {
		t.Fatalf("blobs taken %v, want %v", got, want)
	}
	for _, absent := range []ocidir.Digest{index, amd, amdBlobs[2]} {
		if _, err := one.Stat(absent); !errors.Is(err, ocidir.ErrNotFound) {
			t.Fatalf("%s of another platform in the destination: %v", absent, err)
		}
	}
	wantFsckClean(t, one)

	all, _ := newLayout(t)
	rep, err = ocidir.Copy(ctx, src, "multi", all, "all", &ocidir.CopyOptions{AllPlatforms: true})
	must(t, err)
	desc, err = all.Resolve("all")
	must(t, err)
	if desc.Digest != index || desc.MediaType != indexMediaType {
		t.Fatalf("all tag resolves to %+v, want the index %s", desc, index)
	}
	want := digestStrings(append(append([]ocidir.Digest{index}, amdBlobs...), armBlobs...))
	if got := taken(rep); !reflect.DeepEqual(got, want) {
		t.Fatalf("blobs taken %v, want %v", got, want)
	}
	wantFsckClean(t, all)
	for arch, m := range map[string]ocidir.Digest{"amd64": amd, "arm64": arm} {
		img, err := all.OpenImage("all", "linux/"+arch)
		must(t, err)
		if img.Digest() != m {
			t.Fatalf("linux/%s in the copied index is %s, want %s", arch, img.Digest(), m)
		}
		img.Close()
	}

	_, err = ocidir.Copy(ctx, src, "multi", all, "both", &ocidir.CopyOptions{Platform: "linux/arm64", AllPlatforms: true})
	wantErr(t, err, ocidir.ErrInvalid)
	_, err = ocidir.Copy(ctx, src, "multi", all, "none", &ocidir.CopyOptions{Platform: "linux/s390x"})
	if e := wantErr(t, err, ocidir.ErrNotFound); !strings.Contains(e.Message, "s390x") {
		t.Fatalf("message %q does not name the platform", e.Message)
	}
	tags, err := all.Tags()
	must(t, err)
	if !reflect.DeepEqual(tags, []string{"all"}) {
		t.Fatalf("tags after failed copies: %v", tags)
	}
}

func TestCopyFailuresNameWhatFailedAndWriteNoTag(t *testing.T) {
	src, srcPath := newLayout(t)
	dst, _ := newLayout(t)
	img := buildImage(t, src, "app", map[string]string{"a": "1"})

	_, err := ocidir.Copy(ctx, src, "no-such-ref", dst, "copied", nil)
	e := wantErr(t, err, ocidir.ErrNotFound)
	if e.Code != ocidir.CodeNotFound || !strings.Contains(e.Message, "no-such-ref") {
		t.Fatalf("unknown ref: %#v", e)
	}
	_, err = ocidir.Copy(ctx, src, "app", dst, "-not a tag", nil)
	wantErr(t, err, ocidir.ErrInvalid)
	_, err = ocidir.Copy(ctx, src, "app\x00x", dst, "copied", nil)
	wantErr(t, err, ocidir.ErrInvalid)

	// A damaged layer: named, not taken, no tag.
	f, err := os.OpenFile(blobPath(srcPath, img.layer.Digest), os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte{0xff, 0xff}, 10)
	must(t, err)
	must(t, f.Close())
	_, err = ocidir.Copy(ctx, src, "app", dst, "copied", &ocidir.CopyOptions{Platform: "linux/amd64"})
	if e := wantErr(t, err, ocidir.ErrDigest); !strings.Contains(e.Message, img.layer.Digest.Encoded()) {
		t.Fatalf("message %q does not name the layer", e.Message)
	}
	if _, err := dst.Stat(img.layer.Digest); !errors.Is(err, ocidir.ErrNotFound) {
		t.Fatalf("damaged layer in the destination: %v", err)
	}
	tags, err := dst.Tags()
	must(t, err)
	if len(tags) != 0 {
		t.Fatalf("tags after failed copies: %v", tags)
	}

	// A read-only destination, a closed one.
	roPath := filepath.Join(t.TempDir(), "ro")
	c, err := ocidir.Open(roPath, ocidir.WithCreate())
	must(t, err)
	c.Close()
	ro, err := ocidir.Open(roPath, ocidir.WithReadOnly())
	must(t, err)
	defer ro.Close()
	_, err = ocidir.Copy(ctx, src, string(img.manifest), ro, "copied", nil)
	wantErr(t, err, ocidir.ErrReadOnly)
	ro.Close()
	_, err = ocidir.Copy(ctx, src, string(img.manifest), ro, "copied", nil)
	wantErr(t, err, ocidir.ErrState)
}

func TestCopyIntoASharedBlobDirectory(t *testing.T) {
	src, _ := newLayout(t)
	dst, dstPath := newLayout(t)
	img := buildImage(t, src, "app", map[string]string{"a": "1"})
	blobs := imageBlobs(t, src, "app", "linux/amd64")
	cacheDir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(cacheDir, "sha256"), 0o755))
	cache, err := os.Open(cacheDir)
	must(t, err)
	defer cache.Close()
	must(t, dst.AddBlobDir(cache, true))
	rep, err := ocidir.Copy(ctx, src, "app", dst, "cached", &ocidir.CopyOptions{Platform: "linux/amd64"})
	must(t, err)
	if got, want := taken(rep), digestStrings(blobs); !reflect.DeepEqual(got, want) {
		t.Fatalf("blobs taken %v, want %v", got, want)
	}
	for _, b := range blobs {
		if _, err := os.Stat(filepath.Join(cacheDir, "sha256", b.Encoded())); err != nil {
			t.Fatalf("blob %s not in the cache: %v", b, err)
		}
		if _, err := os.Stat(blobPath(dstPath, b)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("blob %s in the destination's own blobs/: %v", b, err)
		}
	}
	desc, err := dst.Resolve("cached")
	must(t, err)
	if desc.Digest != img.manifest {
		t.Fatalf("cached tag resolves to %s", desc.Digest)
	}
	wantFsckClean(t, dst)

	// A second layout on the same cache takes nothing.
	other, _ := newLayout(t)
	must(t, other.AddBlobDir(cache, true))
	rep, err = ocidir.Copy(ctx, src, "app", other, "cached", &ocidir.CopyOptions{Platform: "linux/amd64"})
	must(t, err)
	if len(taken(rep)) != 0 {
		t.Fatalf("copy into a layout whose cache has every blob: %+v", rep)
	}
	wantFsckClean(t, other)
}

func TestCopyCanceledThroughItsContextWritesNoTag(t *testing.T) {
	src, _ := newLayout(t)
	dst, _ := newLayout(t)
	buildImage(t, src, "app", map[string]string{"a": "1"})
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, err := ocidir.Copy(cctx, src, "app", dst, "copied", &ocidir.CopyOptions{
		Platform: "linux/amd64", Progress: func(done, total uint64) { calls++; cancel() }})
	wantErr(t, err, ocidir.ErrCanceled)
	if calls != 1 {
		t.Fatalf("progress called %d times after the cancel", calls)
	}
	tags, err := dst.Tags()
	must(t, err)
	if len(tags) != 0 {
		t.Fatalf("tags after a canceled copy: %v", tags)
	}
	// A context done before the call: nothing at all.
	_, err = ocidir.Copy(cctx, src, "app", dst, "copied", nil)
	wantErr(t, err, ocidir.ErrCanceled)
}

// A rootfs with etc/passwd and etc/group.
func userRootfs(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(
		"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc", "group"), []byte(
		"root:x:0:\nstaff:x:50:app\napp:x:1001:\n"), 0o644))
	return root
}

func TestUserLookup(t *testing.T) {
	root := userRootfs(t)
	f, err := os.Open(root)
	must(t, err)
	defer f.Close()
	for spec, want := range map[string][2]uint32{
		"": {0, 0}, "app": {1000, 1001}, "app:staff": {1000, 50}, "1000": {1000, 1001},
		"4321": {4321, 0}, "4321:77": {4321, 77},
	} {
		uid, gid, err := ocidir.UserLookup(f, spec)
		must(t, err)
		if [2]uint32{uid, gid} != want {
			t.Fatalf("UserLookup(%q) = %d:%d, want %v", spec, uid, gid, want)
		}
	}
	_, _, err = ocidir.UserLookup(f, "nobody-here")
	if e := wantErr(t, err, ocidir.ErrNotFound); !strings.Contains(e.Message, "nobody-here") {
		t.Fatalf("message %q does not name the user", e.Message)
	}
	_, _, err = ocidir.UserLookup(f, "app:no-group")
	if e := wantErr(t, err, ocidir.ErrNotFound); !strings.Contains(e.Message, "no-group") {
		t.Fatalf("message %q does not name the group", e.Message)
	}
	_, _, err = ocidir.UserLookup(f, "4294967295")
	wantErr(t, err, ocidir.ErrInvalid)
	_, _, err = ocidir.UserLookupFD(-1, "app")
	wantErr(t, err, ocidir.ErrInvalid)

	// An absolute symlink climbing out resolves inside the rootfs; one to a
	// file outside names a path that is absent inside.
	must(t, os.Mkdir(filepath.Join(root, "real"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "real", "passwd"), []byte("inside:x:7:8::/:/bin/sh\n"), 0o644))
	must(t, os.Remove(filepath.Join(root, "etc", "passwd")))
	must(t, os.Symlink("/../../../real/passwd", filepath.Join(root, "etc", "passwd")))
	uid, gid, err := ocidir.UserLookup(f, "inside")
	must(t, err)
	if uid != 7 || gid != 8 {
		t.Fatalf("UserLookup through a climbing symlink = %d:%d", uid, gid)
	}
	outside := filepath.Join(t.TempDir(), "passwd")
	must(t, os.WriteFile(outside, []byte("outside:x:9:9::/:/bin/sh\n"), 0o644))
	must(t, os.Remove(filepath.Join(root, "etc", "passwd")))
	must(t, os.Symlink(outside, filepath.Join(root, "etc", "passwd")))
	_, _, err = ocidir.UserLookup(f, "outside")
	wantErr(t, err, ocidir.ErrNotFound)
}
