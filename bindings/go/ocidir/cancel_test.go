package ocidir_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

// canceler is a ProgressFunc that cancels its context from inside the
// callback at the call hit picks, and records the calls around it.
type canceler struct {
	cancel     context.CancelFunc
	hit        func(call int, done, total uint64) bool
	calls      int
	canceledAt int       // the call that canceled; 0: none
	at         [2]uint64 // done and total at that call
	after      int       // calls made after the canceling one
}

func newCanceler(hit func(call int, done, total uint64) bool) (context.Context, *canceler) {
	c, cancel := context.WithCancel(context.Background())
	return c, &canceler{cancel: cancel, hit: hit}
}

func (c *canceler) progress(done, total uint64) {
	c.calls++
	if c.canceledAt != 0 {
		c.after++
		return
	}
	if c.hit(c.calls, done, total) {
		c.canceledAt = c.calls
		c.at = [2]uint64{done, total}
		c.cancel()
	}
}

// atCall cancels at the n-th call.
func atCall(n int) func(int, uint64, uint64) bool {
	return func(call int, _, _ uint64) bool { return call == n }
}

// wantCanceled checks a cancellation through a context: ErrCanceled and
// context.Canceled both match, no progress call came after the canceling
// one, and no report was returned.
func wantCanceled(t *testing.T, what string, err error, c *canceler, rep *ocidir.Report) {
	t.Helper()
	if c.canceledAt == 0 {
		t.Fatalf("%s: the cancel point was never reached (%d progress calls); err %v", what, c.calls, err)
	}
	wantErr(t, err, ocidir.ErrCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: errors.Is(%v, context.Canceled) is false", what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: a canceled context matches DeadlineExceeded", what)
	}
	if c.after != 0 {
		t.Fatalf("%s: %d progress calls after the cancel at call %d", what, c.after, c.canceledAt)
	}
	if rep != nil {
		t.Fatalf("%s: a canceled call returned a report %+v", what, rep)
	}
	t.Logf("%s: canceled at call %d (%d of %d bytes): %v", what, c.canceledAt, c.at[0], c.at[1], err)
}

// wantClean checks that fsck finds no damage.
func wantClean(t *testing.T, what string, d *ocidir.Dir) {
	t.Helper()
	rep, err := d.Fsck(ctx, nil)
	must(t, err)
	if rep.Damage != 0 {
		t.Fatalf("%s: fsck finds damage: %+v", what, rep)
	}
}

// randomFiles is a tar's worth of incompressible bytes, so that hashing
// and copying take long enough for several progress calls.
func randomFiles(t *testing.T, n int) map[string]string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	must(t, err)
	return map[string]string{"random": string(b)}
}

// fillLayout writes images tags img0..img<n-1> and returns their manifests.
func fillLayout(t *testing.T, d *ocidir.Dir, n, size int) []ocidir.Digest {
	t.Helper()
	var out []ocidir.Digest
	for i := 0; i < n; i++ {
		out = append(out, buildImage(t, d, fmt.Sprintf("img%d", i), randomFiles(t, size)).manifest)
	}
	return out
}

// countCalls counts the progress calls of one uncanceled run.
func countCalls(t *testing.T, what string, run func(ocidir.ProgressFunc) error) int {
	t.Helper()
	n := 0
	must(t, run(func(done, total uint64) { n++ }))
	if n < 3 {
		t.Fatalf("%s makes %d progress calls; the test needs a first, a middle and a last", what, n)
	}
	return n
}

func TestFsckCanceledThroughContext(t *testing.T) {
	d, _ := newLayout(t)
	fillLayout(t, d, 6, 1<<20)
	// Hashing runs in worker threads, so the number of calls varies; the
	// points are: the first call, a call with some but not all bytes done,
	// and a call with every byte done (the last, or a last in-loop call made
	// after the final blob).
	points := map[string]func(int, uint64, uint64) bool{
		"first":  atCall(1),
		"middle": func(call int, done, total uint64) bool { return call > 1 && done > 0 && done < total },
		"last":   func(call int, done, total uint64) bool { return call > 1 && done == total },
	}
	for _, name := range []string{"first", "middle", "last"} {
		t.Run(name, func(t *testing.T) {
			// A middle call exists only when the main thread wakes between
			// two blobs; on a loaded machine it may not, so a run without
			// one is tried again (and never counted as a pass).
			for attempt := 1; ; attempt++ {
				cctx, c := newCanceler(points[name])
				rep, err := d.Fsck(cctx, &ocidir.FsckOptions{Threads: 1, Progress: c.progress})
				if c.canceledAt == 0 && err == nil && attempt < 20 {
					continue
				}
				t.Logf("attempt %d", attempt)
				wantCanceled(t, "fsck canceled at the "+name+" call", err, c, rep)
				break
			}
			wantClean(t, "after a canceled fsck", d)
		})
	}
}

func TestGCCanceledThroughContext(t *testing.T) {
	// The same layout, made anew for each run: images, and unreferenced
	// blobs for gc to remove.
	setup := func(t *testing.T) (*ocidir.Dir, []ocidir.Digest) {
		d, _ := newLayout(t)
		fillLayout(t, d, 2, 4096)
		var strays []ocidir.Digest
		for i := 0; i < 6; i++ {
			dg, err := d.Put([]byte(fmt.Sprintf("stray %d", i)))
			must(t, err)
			strays = append(strays, dg)
		}
		return d, strays
	}
	present := func(d *ocidir.Dir, blobs []ocidir.Digest) int {
		n := 0
		for _, dg := range blobs {
			if _, err := d.Stat(dg); err == nil {
				n++
			}
		}
		return n
	}
	grace0 := ocidir.Grace(0)
	d, _ := setup(t)
	k := countCalls(t, "gc", func(p ocidir.ProgressFunc) error {
		_, err := d.GC(ctx, &ocidir.GCOptions{Grace: grace0, Progress: p})
		return err
	})
	for _, tc := range []struct {
		name string
		n    int
	}{{"first", 1}, {"middle", (k + 1) / 2}, {"last", k}} {
		t.Run(tc.name, func(t *testing.T) {
			d, strays := setup(t)
			cctx, c := newCanceler(atCall(tc.n))
			rep, err := d.GC(cctx, &ocidir.GCOptions{Grace: grace0, Progress: c.progress})
			wantCanceled(t, fmt.Sprintf("gc canceled at call %d of %d", tc.n, k), err, c, rep)
			left := present(d, strays)
			switch tc.name {
			case "first": // before the first removal
				if left != len(strays) {
					t.Fatalf("gc canceled at its first call removed %d blobs", len(strays)-left)
				}
			case "middle": // between two removals
				if left == 0 || left == len(strays) {
					t.Fatalf("gc canceled in the middle left %d of %d unreferenced blobs", left, len(strays))
				}
			}
			wantClean(t, "after a canceled gc", d)
			// The rest is collected by the next run.
			rep, err = d.GC(ctx, &ocidir.GCOptions{Grace: grace0})
			must(t, err)
			if rep.Count(ocidir.FindRemoved) != left || present(d, strays) != 0 {
				t.Fatalf("gc after the canceled one: %+v (left %d)", rep, left)
			}
			wantClean(t, "after gc", d)
		})
	}
}

func TestCloneCanceledThroughContext(t *testing.T) {
	d, _ := newLayout(t)
	fillLayout(t, d, 3, 64<<10)
	k := countCalls(t, "clone", func(p ocidir.ProgressFunc) error {
		c, _, err := d.Clone(ctx, filepath.Join(t.TempDir(), "clone"), &ocidir.CloneOptions{Progress: p})
		if err == nil {
			c.Close()
		}
		return err
	})
	for _, tc := range []struct {
		name     string
		n        int
		emptyDir bool // the destination is an existing empty directory
	}{{"first", 1, false}, {"middle", (k + 1) / 2, false}, {"last", k, false}, {"last_into_empty_dir", k, true}} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "clone")
			if tc.emptyDir {
				must(t, os.Mkdir(dst, 0o755))
			}
			cctx, c := newCanceler(atCall(tc.n))
			nd, rep, err := d.Clone(cctx, dst, &ocidir.CloneOptions{NoHardlink: tc.n%2 == 0, Progress: c.progress})
			if nd != nil {
				nd.Close()
				t.Fatal("a canceled clone returned a layout")
			}
			wantCanceled(t, fmt.Sprintf("clone canceled at call %d of %d", tc.n, k), err, c, rep)
			// Nothing of the destination is left: not the clone, not its
			// temporary tree beside it.
			ents, err := os.ReadDir(parent)
			must(t, err)
			if tc.emptyDir {
				if len(ents) != 1 || ents[0].Name() != "clone" || !ents[0].IsDir() {
					t.Fatalf("after a canceled clone into an empty directory: %v", ents)
				}
				inside, err := os.ReadDir(dst)
				must(t, err)
				if len(inside) != 0 {
					t.Fatalf("the canceled clone left %v in the destination", inside)
				}
			} else if len(ents) != 0 {
				t.Fatalf("a canceled clone left %v in %s", ents, parent)
			}
			wantClean(t, "the source after a canceled clone", d)
			// The same destination works afterwards.
			nd, _, err = d.Clone(ctx, dst, nil)
			must(t, err)
			defer nd.Close()
			wantClean(t, "the clone after a canceled one", nd)
		})
	}
}

// A context done before the call fails it at once: no progress call, no
// work (the tag stays, the destination is not made).
func TestContextDoneBeforeTheCall(t *testing.T) {
	d, _ := newLayout(t)
	buildImage(t, d, "v1", map[string]string{"a": "1"})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	calls := 0
	progress := func(done, total uint64) { calls++ }
	dst := filepath.Join(t.TempDir(), "clone")

	check := func(what string, err error, cause error) {
		t.Helper()
		e := wantErr(t, err, ocidir.ErrCanceled)
		if !errors.Is(err, cause) || e.Cause != cause {
			t.Fatalf("%s: %v does not match %v", what, err, cause)
		}
		if calls != 0 {
			t.Fatalf("%s: %d progress calls", what, calls)
		}
	}
	_, err := d.Fsck(done, &ocidir.FsckOptions{Progress: progress})
	check("fsck", err, context.Canceled)
	_, err = d.GC(expired, &ocidir.GCOptions{Progress: progress})
	check("gc", err, context.DeadlineExceeded)
	_, _, err = d.Clone(done, dst, &ocidir.CloneOptions{Progress: progress})
	check("clone", err, context.Canceled)
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Fatalf("clone with a done context made %s: %v", dst, err)
	}
	_, err = d.RemoveTagGC(done, "v1", nil)
	check("remove tag gc", err, context.Canceled)
	if tags, _ := d.Tags(); len(tags) != 1 {
		t.Fatalf("RemoveTagGC with a done context removed the tag: %v", tags)
	}
	cacheDir := t.TempDir()
	cache, err := os.Open(cacheDir)
	must(t, err)
	defer cache.Close()
	_, err = ocidir.CacheGC(done, cache, []*ocidir.Dir{d}, nil)
	check("cache gc", err, context.Canceled)
}

// A deadline that passes while the call runs cancels it too; the error then
// matches context.DeadlineExceeded (and ErrCanceled), not context.Canceled.
func TestCacheGCCanceledByDeadline(t *testing.T) {
	cacheDir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(cacheDir, "sha256"), 0o755))
	cache, err := os.Open(cacheDir)
	must(t, err)
	defer cache.Close()
	d, _ := newLayout(t)
	must(t, d.AddBlobDir(cache, true))
	buildImage(t, d, "v1", map[string]string{"a": "1"})
	stray, err := d.Put([]byte("in the cache, used by nobody"))
	must(t, err)
	dctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var calls int
	rep, err := ocidir.CacheGC(dctx, cache, []*ocidir.Dir{d}, &ocidir.GCOptions{Grace: ocidir.Grace(0),
		Progress: func(done, total uint64) {
			calls++
			<-dctx.Done() // the deadline passes during the first call
		}})
	if calls != 1 || rep != nil {
		t.Fatalf("cache gc: %d calls, report %+v", calls, rep)
	}
	wantErr(t, err, ocidir.ErrCanceled)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("cache gc past its deadline: %v", err)
	}
	if _, err := d.Stat(stray); err != nil {
		t.Fatalf("cache gc canceled at its first call removed %s", stray)
	}
	wantClean(t, "after a canceled cache gc", d)
}

// A panic in the progress function cancels the operation at that call (no
// further call) and is raised again after it.
func TestProgressPanicCancels(t *testing.T) {
	d, _ := newLayout(t)
	fillLayout(t, d, 2, 4096)
	dst := filepath.Join(t.TempDir(), "clone")
	calls := 0
	func() {
		defer func() {
			if r := recover(); r != "stop" {
				t.Fatalf("recovered %v, want the callback's panic", r)
			}
		}()
		d.Clone(ctx, dst, &ocidir.CloneOptions{Progress: func(done, total uint64) {
			calls++
			panic("stop")
		}})
		t.Fatal("Clone returned normally after its callback panicked")
	}()
	if calls != 1 {
		t.Fatalf("%d progress calls after the panic", calls)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Fatalf("a clone whose callback panicked left %s: %v", dst, err)
	}
}

// RemoveTagGC rewrites index.json before its gc: once the tag is gone the
// call succeeds, so a cancellation at the gc's first progress call gives a
// nil error and a report holding only a FindSkipped notice, the tag removed
// and every blob in place; the next GC collects them.
func TestRemoveTagGCCanceledThroughContext(t *testing.T) {
	d, _ := newLayout(t)
	img := buildImage(t, d, "gone", map[string]string{"a": "1"})
	buildImage(t, d, "kept", map[string]string{"b": "2"})
	cctx, c := newCanceler(atCall(1))
	rep, err := d.RemoveTagGC(cctx, "gone", &ocidir.GCOptions{Grace: ocidir.Grace(0), Progress: c.progress})
	if err != nil {
		t.Fatalf("RemoveTagGC whose gc was canceled after the tag removal: %v, want nil", err)
	}
	if rep == nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != ocidir.FindSkipped ||
		!strings.Contains(rep.Findings[0].Message, "canceled") {
		t.Fatalf("report of a RemoveTagGC whose gc was canceled: %+v, want one FindSkipped naming the cancel", rep)
	}
	if tags, _ := d.Tags(); len(tags) != 1 || tags[0] != "kept" {
		t.Fatalf("tags after a canceled RemoveTagGC: %v", tags)
	}
	if _, err := d.Stat(img.layer.Digest); err != nil {
		t.Fatalf("a RemoveTagGC canceled before its first removal removed the layer: %v", err)
	}
	wantClean(t, "after a canceled RemoveTagGC", d)
	rep, err = d.GC(ctx, &ocidir.GCOptions{Grace: ocidir.Grace(0)})
	must(t, err)
	if rep.Count(ocidir.FindRemoved) != 3 {
		t.Fatalf("gc after the canceled RemoveTagGC: %+v", rep)
	}
}
