# Suites about the fast paths: the hash backends (libsodium, libcrypto) give
# the same digests as sha256sum/sha512sum, and parallel gzip layers
# decompress to the bytes written.
ocidir_cmocka_test(test_hash_backends test_hash_backends.c)
if(LIBCRYPTO_FOUND)
  target_compile_definitions(test_hash_backends PRIVATE OCIDIR_TEST_HAVE_OPENSSL=1)
  set(_default_name libcrypto)
else()
  target_compile_definitions(test_hash_backends PRIVATE OCIDIR_TEST_HAVE_OPENSSL=0)
endif()
if(OCIDIR_DEFAULT_HASH_BACKEND STREQUAL "sodium")
  set(_default_name libsodium)
endif()
target_compile_definitions(test_hash_backends PRIVATE OCIDIR_TEST_DEFAULT_BACKEND="${_default_name}")
# The suite picks backends itself, in child processes: the variable must not
# leak in from the caller's environment.
set_tests_properties(test_hash_backends PROPERTIES ENVIRONMENT "OCIDIR_HASH_BACKEND=")

ocidir_cmocka_test(test_pgzip test_pgzip.c)
target_link_libraries(test_pgzip PRIVATE ZLIB::ZLIB)
