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

# Plain run: the build's default gzip decoder (ISA-L when found); the zlib
# variant reads the same layers with zlib's inflate.
ocidir_cmocka_test(test_pgzip test_pgzip.c VARIANTS zlib=OCIDIR_INFLATE=zlib)
target_link_libraries(test_pgzip PRIVATE ZLIB::ZLIB)
if(LIBDEFLATE_FOUND)
  target_compile_definitions(test_pgzip PRIVATE OCIDIR_TEST_HAVE_LIBDEFLATE=1)
else()
  target_compile_definitions(test_pgzip PRIVATE OCIDIR_TEST_HAVE_LIBDEFLATE=0)
endif()

# The gzip decoders (zlib, ISA-L): the same bytes and the same failure codes
# for bad CRC-32 / ISIZE, truncation, several members, trailing garbage.
ocidir_cmocka_test(test_inflate test_inflate.c)
target_link_libraries(test_inflate PRIVATE ZLIB::ZLIB)
if(LIBISAL_FOUND)
  target_compile_definitions(test_inflate PRIVATE OCIDIR_TEST_HAVE_ISAL=1)
else()
  target_compile_definitions(test_inflate PRIVATE OCIDIR_TEST_HAVE_ISAL=0)
endif()
target_compile_definitions(test_inflate PRIVATE OCIDIR_TEST_DEFAULT_INFLATE="${OCIDIR_DEFAULT_INFLATE}")
# The suite picks decoders itself, in child processes.
set_tests_properties(test_inflate PROPERTIES ENVIRONMENT "OCIDIR_INFLATE=")
