# Suites about layers: compressing writers and decompressing, verifying
# readers (none, gzip, zstd), and their interoperability with the gzip and
# zstd command-line tools.
# Plain run: the build's default gzip decoder; the zlib variant reads every
# gzip layer with zlib's inflate instead.
ocidir_cmocka_test(test_layer test_layer.c VARIANTS zlib=OCIDIR_INFLATE=zlib)
