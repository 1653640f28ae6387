package ocidir_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

func TestFindKindNames(t *testing.T) {
	if ocidir.FindMissing.String() != "missing" || ocidir.FindDigest.String() != "digest" {
		t.Fatalf("kind names %q %q", ocidir.FindMissing, ocidir.FindDigest)
	}
	for k := ocidir.FindLayout; k <= ocidir.FindReflinked; k++ {
		if k.String() == "" {
			t.Fatalf("kind %d has no name", int(k))
		}
		if k.IsDamage() != (k <= ocidir.FindIO) {
			t.Fatalf("kind %s: IsDamage %v", k, k.IsDamage())
		}
	}
	// Kinds the library does not know are not damage (it classifies them,
	// not the binding).
	for _, k := range []ocidir.FindKind{-1, 1000} {
		if k.IsDamage() {
			t.Fatalf("unknown kind %d is damage", int(k))
		}
	}
}

func TestFsckFindsDamageAndReportsProgress(t *testing.T) {
	d, path := newLayout(t)
	img := buildImage(t, d, "v1", map[string]string{"a": strings.Repeat("x", 50000)})
	var calls int
	var last [2]uint64
	rep, err := d.Fsck(ctx, &ocidir.FsckOptions{Threads: 2, Progress: func(done, total uint64) {
		calls++
		last = [2]uint64{done, total}
	}})
	must(t, err)
	if rep.Damage != 0 || rep.Blobs != 3 || rep.Bytes <= img.layer.Size {
		t.Fatalf("clean layout: %+v", rep)
	}
	if calls == 0 || last[0] != last[1] || last[1] == 0 || last[1] > uint64(rep.Bytes) {
		t.Fatalf("progress: %d calls, last %v, report bytes %d", calls, last, rep.Bytes)
	}

	// One byte of the layer changed, an unreferenced blob added.
	p := blobPath(path, img.layer.Digest)
	b, err := os.ReadFile(p)
	must(t, err)
	b[len(b)/2] ^= 0xff
	must(t, os.Remove(p))
	must(t, os.WriteFile(p, b, 0o444))
	stray, err := d.Put([]byte("nobody references me"))
	must(t, err)
	rep, err = d.Fsck(ctx, nil)
	must(t, err)
	if rep.Damage != 1 || rep.Count(ocidir.FindDigest) != 1 || rep.Count(ocidir.FindUnreferenced) != 1 {
		t.Fatalf("damaged layout: %+v", rep)
	}
	for _, f := range rep.Findings {
		switch f.Kind {
		case ocidir.FindDigest:
			if !strings.Contains(f.Subject, img.layer.Digest.Encoded()) || f.Message == "" {
				t.Fatalf("digest finding %+v", f)
			}
		case ocidir.FindUnreferenced:
			if !strings.Contains(f.Subject, stray.Encoded()) {
				t.Fatalf("unreferenced finding %+v names another blob than %s", f, stray)
			}
		}
	}
	// A missing manifest: what it references cannot be known, so GC
	// sweeps nothing.
	must(t, os.Remove(blobPath(path, img.manifest)))
	_, err = d.GC(ctx, nil)
	wantErr(t, err, ocidir.ErrNotFound)
	if _, err := d.Stat(stray); err != nil {
		t.Fatalf("GC of a damaged graph removed %s: %v", stray, err)
	}
}

func TestProgressPanicIsRaisedAfterTheCall(t *testing.T) {
	d, _ := newLayout(t)
	buildImage(t, d, "v1", map[string]string{"a": "1"})
	func() {
		defer func() {
			if r := recover(); r != "stop" {
				t.Fatalf("recovered %v, want the callback's panic", r)
			}
		}()
		d.Fsck(ctx, &ocidir.FsckOptions{Progress: func(done, total uint64) { panic("stop") }})
		t.Fatal("Fsck returned normally after its callback panicked")
	}()
	// The layout is still usable: the library unwound normally.
	rep, err := d.Fsck(ctx, nil)
	must(t, err)
	if rep.Damage != 0 {
		t.Fatalf("after the panic: %+v", rep)
	}
}

func TestGCGraceDryRunAndRemoval(t *testing.T) {
	d, path := newLayout(t)
	img := buildImage(t, d, "v1", map[string]string{"a": "1"})
	stray, err := d.Put([]byte("garbage"))
	must(t, err)

	// Default grace: the fresh blob is kept.
	rep, err := d.GC(ctx, nil)
	must(t, err)
	if rep.Count(ocidir.FindKeptRecent) != 1 || rep.Count(ocidir.FindRemoved) != 0 {
		t.Fatalf("GC with the default grace: %+v", rep)
	}
	must(t, d.SetGCGrace(0))
	rep, err = d.GC(ctx, &ocidir.GCOptions{DryRun: true})
	must(t, err)
	if rep.Count(ocidir.FindUnreferenced) != 1 || !strings.Contains(rep.Findings[0].Subject, stray.Encoded()) {
		t.Fatalf("dry run: %+v", rep)
	}
	if _, err := d.Stat(stray); err != nil {
		t.Fatal("a dry run removed the blob")
	}
	rep, err = d.GC(ctx, &ocidir.GCOptions{Progress: func(done, total uint64) {}})
	must(t, err)
	if rep.Count(ocidir.FindRemoved) != 1 {
		t.Fatalf("GC: %+v", rep)
	}
	_, err = d.Stat(stray)
	wantErr(t, err, ocidir.ErrNotFound)
	if _, err := d.Stat(img.layer.Digest); err != nil {
		t.Fatalf("GC removed a referenced layer: %v", err)
	}
	must(t, d.SetGCGrace(-time.Second)) // back to the default
	if ocidir.DefaultGCGrace != time.Hour {
		t.Fatalf("DefaultGCGrace = %v", ocidir.DefaultGCGrace)
	}

	// Read-only handles may only dry-run.
	ro, err := ocidir.Open(path, ocidir.WithReadOnly())
	must(t, err)
	defer ro.Close()
	_, err = ro.GC(ctx, nil)
	wantErr(t, err, ocidir.ErrReadOnly)
	_, err = ro.GC(ctx, &ocidir.GCOptions{DryRun: true})
	must(t, err)
}

func TestRemoveTagGC(t *testing.T) {
	d, _ := newLayout(t)
	img := buildImage(t, d, "gone", map[string]string{"a": "1"})
	keep := buildImage(t, d, "kept", map[string]string{"b": "2"})
	stray, err := d.Put([]byte("unreferenced, but young"))
	must(t, err)
	// The handle's grace (the default hour) keeps everything young.
	rep, err := d.RemoveTagGC(ctx, "gone", nil)
	must(t, err)
	if rep == nil || rep.Count(ocidir.FindRemoved) != 0 || rep.Count(ocidir.FindKeptRecent) != 4 {
		t.Fatalf("RemoveTagGC with the handle's grace: %+v", rep)
	}
	if tags, _ := d.Tags(); !reflect.DeepEqual(tags, []string{"kept"}) {
		t.Fatalf("tags after RemoveTagGC: %v", tags)
	}
	// A grace of 0 in the options (not on the handle) removes them.
	_, err = d.RemoveTagGC(ctx, "gone", &ocidir.GCOptions{Grace: ocidir.Grace(0)})
	wantErr(t, err, ocidir.ErrNotFound)
	must(t, d.SetTag("gone", img.manifest, 0))
	rep, err = d.RemoveTagGC(ctx, "gone", &ocidir.GCOptions{Grace: ocidir.Grace(0)})
	must(t, err)
	if rep.Count(ocidir.FindRemoved) != 4 {
		t.Fatalf("RemoveTagGC with Grace(0): %+v", rep)
	}
	for _, dg := range []ocidir.Digest{img.manifest, img.layer.Digest, stray} {
		_, err := d.Stat(dg)
		wantErr(t, err, ocidir.ErrNotFound)
	}
	if _, err := d.Stat(keep.layer.Digest); err != nil {
		t.Fatalf("the other image lost its layer: %v", err)
	}
	_, err = d.RemoveTagGC(ctx, "kept", &ocidir.GCOptions{Grace: ocidir.Grace(-time.Second)})
	wantErr(t, err, ocidir.ErrInvalid)
	// Without gc: RemoveTag.
	must(t, d.RemoveTag("kept"))
	if _, err := d.Stat(keep.layer.Digest); err != nil {
		t.Fatal("RemoveTag removed blobs")
	}
}

func TestClone(t *testing.T) {
	d, _ := newLayout(t)
	img := buildImage(t, d, "v1", map[string]string{"a": strings.Repeat("c", 10000)})
	dst := filepath.Join(t.TempDir(), "clone")
	var progressed bool
	c, rep, err := d.Clone(ctx, dst, &ocidir.CloneOptions{NoHardlink: true, Progress: func(done, total uint64) { progressed = true }})
	must(t, err)
	defer c.Close()
	if rep.Count(ocidir.FindLinked) != 0 || rep.Count(ocidir.FindCopied)+rep.Count(ocidir.FindReflinked) != 3 || !progressed {
		t.Fatalf("clone without hard links: %+v (progress %v)", rep, progressed)
	}
	tags, err := c.Tags()
	must(t, err)
	if !reflect.DeepEqual(tags, []string{"v1"}) {
		t.Fatalf("clone tags %v", tags)
	}
	a, err := os.ReadFile(filepath.Join(dst, "index.json"))
	must(t, err)
	ci, err := c.OpenImage("v1", "")
	must(t, err)
	defer ci.Close()
	if ci.Digest() != img.manifest || len(a) == 0 {
		t.Fatal("clone's image differs")
	}
	frep, err := c.Fsck(ctx, nil)
	must(t, err)
	if frep.Damage != 0 {
		t.Fatalf("fsck of the clone: %+v", frep)
	}
	_, _, err = d.Clone(ctx, dst, nil)
	wantErr(t, err, ocidir.ErrExists)
}

func TestCacheGC(t *testing.T) {
	cacheDir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(cacheDir, "sha256"), 0o755))
	cache, err := os.Open(cacheDir)
	must(t, err)
	defer cache.Close()
	a, _ := newLayout(t)
	b, _ := newLayout(t)
	must(t, a.AddBlobDir(cache, true))
	must(t, b.AddBlobDir(cache, true))
	imgA := buildImage(t, a, "a", map[string]string{"a": "1"})
	imgB := buildImage(t, b, "b", map[string]string{"b": "2"})
	stray, err := a.Put([]byte("in the cache, used by nobody"))
	must(t, err)
	must(t, a.SetGCGrace(0))

	// Both layouts: only the stray blob is unreferenced.
	rep, err := ocidir.CacheGC(ctx, cache, []*ocidir.Dir{a, b}, &ocidir.GCOptions{DryRun: true})
	must(t, err)
	if rep.Count(ocidir.FindUnreferenced) != 1 || !strings.Contains(rep.Findings[0].Subject, stray.Encoded()) {
		t.Fatalf("cache gc dry run of both: %+v", rep)
	}
	// Leaving b out: b's manifest, config and layer would go too.
	rep, err = ocidir.CacheGC(ctx, cache, []*ocidir.Dir{a}, &ocidir.GCOptions{DryRun: true})
	must(t, err)
	if rep.Count(ocidir.FindUnreferenced) != 4 {
		t.Fatalf("cache gc dry run of a only: %+v", rep)
	}
	rep, err = ocidir.CacheGC(ctx, cache, []*ocidir.Dir{a, b}, nil)
	must(t, err)
	if rep.Count(ocidir.FindRemoved) != 1 {
		t.Fatalf("cache gc: %+v", rep)
	}
	_, err = a.Stat(stray)
	wantErr(t, err, ocidir.ErrNotFound)
	for _, dg := range []ocidir.Digest{imgA.manifest, imgB.manifest, imgB.layer.Digest} {
		if _, err := a.Stat(dg); err != nil && dg == imgA.manifest {
			t.Fatalf("cache gc removed %s: %v", dg, err)
		}
		if _, err := b.Stat(dg); err != nil && dg != imgA.manifest {
			t.Fatalf("cache gc removed %s: %v", dg, err)
		}
	}
	_, err = ocidir.CacheGC(ctx, cache, nil, nil)
	wantErr(t, err, ocidir.ErrInvalid)
	b.Close()
	_, err = ocidir.CacheGC(ctx, cache, []*ocidir.Dir{a, b}, nil)
	wantErr(t, err, ocidir.ErrState)
}
