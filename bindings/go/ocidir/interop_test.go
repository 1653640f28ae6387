package ocidir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/ocidir"
)

// The shared-cache scenario with real peers: umoci writes an image, skopeo
// copies it into a layout whose blobs live in a shared directory; the
// binding reads it through that directory, builds a second image on top of
// its layer into the same cache from another layout, skopeo copies that one
// out of the cache and umoci unpacks it; cache GC keeps what either layout
// uses.
func TestSharedCacheWithSkopeoAndUmoci(t *testing.T) {
	tmp := t.TempDir()
	src, a, bPath, c := filepath.Join(tmp, "src"), filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "c")
	cacheDir := filepath.Join(tmp, "cache")
	hello := filepath.Join(tmp, "hello")
	must(t, os.WriteFile(hello, []byte("from umoci\n"), 0o644))
	run(t, "umoci", "init", "--layout", src)
	run(t, "umoci", "new", "--image", src+":base")
	run(t, "umoci", "insert", "--image", src+":base", hello, "/etc/hello")
	run(t, "skopeo", "copy", "-q", "--preserve-digests", "--dest-shared-blob-dir", cacheDir, "oci:"+src+":base", "oci:"+a+":base")

	cache, err := os.Open(cacheDir)
	must(t, err)
	defer cache.Close()
	da, err := ocidir.Open(a, ocidir.WithCreate()) // skopeo may leave no blobs/
	must(t, err)
	defer da.Close()
	_, err = da.OpenImage("base", "")
	wantErr(t, err, ocidir.ErrNotFound) // the manifest is only in the cache
	must(t, da.AddBlobDir(cache, false))
	img, err := da.OpenImage("base", "")
	must(t, err)
	defer img.Close()
	layers := img.Layers()
	if len(layers) != 1 {
		t.Fatalf("umoci image layers %+v", layers)
	}
	lr, err := img.OpenLayer(0)
	must(t, err)
	files := tarFiles(t, lr)
	must(t, lr.Close())
	if files["etc/hello"] != "from umoci\n" {
		t.Fatalf("umoci layer files %v", files)
	}
	diffIDs, err := img.ConfigStrings(ocidir.ConfigDiffIDs)
	must(t, err)
	rep, err := da.Fsck(ctx, nil)
	must(t, err)
	if rep.Damage != 0 || rep.Blobs != 3 {
		t.Fatalf("fsck through the cache: %+v", rep)
	}

	// Layout b writes into the cache: umoci's layer plus one of ours.
	db, err := ocidir.Open(bPath, ocidir.WithCreate())
	must(t, err)
	defer db.Close()
	must(t, db.AddBlobDir(cache, true))
	bl, err := db.NewBuilder("")
	must(t, err)
	defer bl.Close()
	must(t, bl.AddLayer(layers[0].MediaType, layers[0].Digest, layers[0].Size, ocidir.Digest(diffIDs[0]), "umoci insert"))
	lw, err := db.NewLayerWriter(ocidir.CompressionGzip, 0, 0)
	must(t, err)
	_, err = lw.Write(makeTar(t, map[string]string{"etc/go": "from the Go binding\n"}))
	must(t, err)
	must(t, bl.AddLayerWriter(lw, "go layer"))
	must(t, bl.SetConfigStrings(ocidir.ConfigCmd, []string{"/bin/true"}))
	_, err = bl.Commit("derived", 0)
	must(t, err)
	if ents, err := os.ReadDir(filepath.Join(bPath, "blobs", "sha256")); err != nil || len(ents) != 0 {
		t.Fatalf("layout b's own blobs/: %d entries, %v", len(ents), err)
	}

	// skopeo reads b through the cache; umoci unpacks the result.
	run(t, "skopeo", "copy", "-q", "--preserve-digests", "--src-shared-blob-dir", cacheDir, "oci:"+bPath+":derived", "oci:"+c+":derived")
	bundle := filepath.Join(tmp, "bundle")
	run(t, "umoci", "unpack", "--image", c+":derived", bundle)
	for name, want := range map[string]string{"etc/hello": "from umoci\n", "etc/go": "from the Go binding\n"} {
		got, err := os.ReadFile(filepath.Join(bundle, "rootfs", name))
		if err != nil || string(got) != want {
			t.Fatalf("unpacked %s = %q, %v", name, got, err)
		}
	}

	// Cache GC with both layouts keeps everything; with a alone, b's
	// manifest, config and layer would go.
	must(t, da.SetGCGrace(0))
	rep, err = ocidir.CacheGC(ctx, cache, []*ocidir.Dir{da, db}, nil)
	must(t, err)
	if rep.Count(ocidir.FindRemoved) != 0 {
		t.Fatalf("cache gc of both layouts removed blobs: %+v", rep)
	}
	rep, err = ocidir.CacheGC(ctx, cache, []*ocidir.Dir{da}, &ocidir.GCOptions{DryRun: true})
	must(t, err)
	if rep.Count(ocidir.FindUnreferenced) != 3 {
		t.Fatalf("cache gc dry run of a alone: %+v", rep)
	}
}
