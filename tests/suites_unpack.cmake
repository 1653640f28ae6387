# Unpacking under hostile conditions and against another implementation.

# Racing swaps: a process exchanges directories inside the destination with
# symlinks to bait beside it while unpacks loop; no bait is ever touched.
# OCIDIR_UNPACK_RACE_SECONDS (default 5) sets how long it races.  Twice: with
# openat2 (RESOLVE_IN_ROOT) and with the fallback component walk.
ocidir_cmocka_test(test_unpack_race test_unpack_race.c
  VARIANTS fallback=OCIDIR_FORCE_RESOLVE_FALLBACK=1)
target_sources(test_unpack_race PRIVATE tar_gen.c)

# A full disk during an unpack: ENOSPC (data and inodes) on a small tmpfs in a
# private mount namespace, EFBIG under RLIMIT_FSIZE; the destination absent
# or empty again, the layout untouched.  Needs root (or user namespaces).
ocidir_cmocka_test(test_unpack_fulldisk test_unpack_fulldisk.c)
target_sources(test_unpack_fulldisk PRIVATE tar_gen.c)

# Unprivileged unpacks: inside a user namespace with a full map (ids kept,
# shifted on the host), unmapped ids, OWNER_MAP as root giving the same tree,
# OWNER_ROOTLESS as an unprivileged user and in a single-id namespace.
# Needs root; a kernel without user namespaces fails it.
ocidir_cmocka_test(test_unpack_userns test_unpack_userns.c)
target_sources(test_unpack_userns PRIVATE tar_gen.c)

# Interoperability: images made by umoci (insert, repack with whiteouts,
# --opaque, --whiteout) and copied by skopeo (gzip, zstd, uncompressed),
# unpacked by umoci raw unpack and by ocidir, compared entry by entry; the
# differences that are umoci's are listed in the test with the reason.
# Needs root, umoci, skopeo, setfattr and setcap.
ocidir_cmocka_test(test_unpack_interop test_unpack_interop.c)
target_sources(test_unpack_interop PRIVATE tar_gen.c)
target_compile_definitions(test_unpack_interop PRIVATE
  UNPACK_INTEROP_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/unpack_interop_images.sh")
if(TARGET ocidir_cli)
  set_tests_properties(test_unpack_interop PROPERTIES ENVIRONMENT "OCIDIR_CLI=$<TARGET_FILE:ocidir_cli>")
endif()
