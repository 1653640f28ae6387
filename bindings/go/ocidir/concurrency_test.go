package ocidir_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

// Many goroutines share one *Dir; each failure's message must name the
// digest that goroutine asked for, which holds only if the thread-local
// message is read on the thread that failed.
func TestManyGoroutinesShareOneDir(t *testing.T) {
	d, _ := newLayout(t)
	const workers, rounds = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			errs <- func() error {
				for i := 0; i < rounds; i++ {
					data := []byte(fmt.Sprintf("goroutine %d round %d %s", g, i, strings.Repeat("x", g*i)))
					dg, err := d.Put(data)
					if err != nil {
						return err
					}
					r, err := d.OpenBlob(dg, int64(len(data)))
					if err != nil {
						return err
					}
					got, err := io.ReadAll(r)
					r.Close()
					if err != nil || !bytes.Equal(got, data) {
						return fmt.Errorf("read back %s: %v", dg, err)
					}
					missing := sha256Of([]byte(fmt.Sprintf("missing %d %d", g, i)))
					_, err = d.Stat(missing)
					var e *ocidir.Error
					if !errors.As(err, &e) || e.Code != ocidir.CodeNotFound || !strings.Contains(e.Message, missing.Encoded()) {
						return fmt.Errorf("Stat(%s): message of another call: %v", missing, err)
					}
					runtime.Gosched()
					if err := d.SetTag(fmt.Sprintf("g%d", g), dg, 0); !errors.Is(err, ocidir.ErrFormat) {
						return fmt.Errorf("SetTag on a non-manifest: %v", err)
					}
				}
				return nil
			}()
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Builders in many goroutines commit distinct tags into one index.json.
func TestConcurrentBuildersAllTagsLand(t *testing.T) {
	d, _ := newLayout(t)
	const n = 12
	var wg sync.WaitGroup
	digests := make([]ocidir.Digest, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			digests[i] = buildImage(t, d, fmt.Sprintf("t%d", i), map[string]string{"f": fmt.Sprint(i)}).manifest
		}(i)
	}
	wg.Wait()
	tags, err := d.Tags()
	must(t, err)
	if len(tags) != n {
		t.Fatalf("%d tags after %d concurrent commits: %v", len(tags), n, tags)
	}
	for i := 0; i < n; i++ {
		desc, err := d.Resolve(fmt.Sprintf("t%d", i))
		must(t, err)
		if desc.Digest != digests[i] {
			t.Fatalf("t%d resolves to %s, committed %s", i, desc.Digest, digests[i])
		}
	}
}

// Close while objects made from the layout are open: they keep working, the
// layout refuses new calls, and the handle is freed after the last one.
func TestCloseWithOpenObjects(t *testing.T) {
	d, _ := newLayout(t)
	buildImage(t, d, "v1", map[string]string{"a": "1"})
	data := bytes.Repeat([]byte("r"), 100000)
	dg, err := d.Put(data)
	must(t, err)
	r, err := d.OpenBlob(dg, -1)
	must(t, err)
	im, err := d.OpenImage("v1", "")
	must(t, err)
	w, err := d.Create()
	must(t, err)

	must(t, d.Close())
	_, err = d.Put([]byte("late"))
	wantErr(t, err, ocidir.ErrState)
	_, err = d.OpenImage("v1", "")
	wantErr(t, err, ocidir.ErrState)
	if d.IsReadOnly() {
		t.Fatal("closed handle says read-only")
	}

	got, err := io.ReadAll(r)
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("reader after the layout's Close returned other bytes")
	}
	must(t, r.Close())
	lr, err := im.OpenLayer(0)
	must(t, err)
	must(t, im.Close())
	if files := tarFiles(t, lr); files["a"] != "1" {
		t.Fatalf("layer after image and layout Close: %v", files)
	}
	must(t, lr.Close())
	_, err = w.Write([]byte("still writing"))
	must(t, err)
	cdg, _, err := w.Commit()
	must(t, err)
	if cdg != sha256Of([]byte("still writing")) {
		t.Fatalf("commit after Close = %s", cdg)
	}
}

// Close racing calls from other goroutines: each call either works or fails
// with ErrState, never touches a freed handle (run under -race).
func TestCloseRacesCalls(t *testing.T) {
	for round := 0; round < 5; round++ {
		d, _ := newLayout(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				for i := 0; i < 50; i++ {
					_, err := d.Put([]byte(fmt.Sprint(g, i)))
					if err != nil && !errors.Is(err, ocidir.ErrState) {
						t.Errorf("Put during Close: %v", err)
						return
					}
				}
			}(g)
		}
		close(start)
		time.Sleep(time.Millisecond)
		must(t, d.Close())
		wg.Wait()
	}
}

// A forgotten Close is backed up by a finalizer: descriptors come back.
func TestFinalizersReleaseForgottenHandles(t *testing.T) {
	d, path := newLayout(t)
	dg, err := d.Put([]byte("leaked readers"))
	must(t, err)
	base := fdCount(t)
	func() {
		for i := 0; i < 64; i++ {
			if _, err := d.OpenBlob(dg, -1); err != nil {
				t.Fatal(err)
			}
			if _, err := ocidir.Open(path, ocidir.WithReadOnly()); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if fdCount(t) < base+128 {
		t.Fatalf("64 readers and 64 layouts hold only %d descriptors", fdCount(t)-base)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fdCount(t) > base+4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors still open after the finalizers had 10s", fdCount(t)-base)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
