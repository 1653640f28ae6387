# Suites about layers: compressing writers and decompressing, verifying
# readers (none, gzip, zstd), and their interoperability with the gzip and
# zstd command-line tools.
ocidir_cmocka_test(test_layer test_layer.c)
