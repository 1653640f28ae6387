module github.com/ocidir/libocidir/bindings/go

go 1.19
