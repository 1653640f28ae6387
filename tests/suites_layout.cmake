# Suites about digests, opening layouts, safe resolution and the shared blob
# cache.  test_resolve runs twice: with openat2 and with the O_NOFOLLOW
# component walk the library falls back to on kernels without it.
ocidir_cmocka_test(test_digest test_digest.c)
ocidir_cmocka_test(test_open test_open.c)
ocidir_cmocka_test(test_resolve test_resolve.c
  VARIANTS fallback=OCIDIR_FORCE_RESOLVE_FALLBACK=1)
ocidir_cmocka_test(test_cache test_cache.c
  VARIANTS fallback=OCIDIR_FORCE_RESOLVE_FALLBACK=1)
