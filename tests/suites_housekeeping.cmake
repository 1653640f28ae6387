# Housekeeping: fsck finds every kind of damage in one run, on layouts built
# by the library and copied by skopeo / made by umoci (real tools, never
# skipped), with any number of hashing threads and on read-only handles.
ocidir_cmocka_test(test_fsck test_fsck.c)
set_tests_properties(test_fsck PROPERTIES TIMEOUT 300)
# gc (marks through every index.json entry, sweeps only the layout's own
# blobs/, grace period, temporary files, a writer in another process racing
# it), cache gc, image removal; clone (reflink / hard link / copy, verified,
# published whole; read back by skopeo).
ocidir_cmocka_test(test_gc test_gc.c)
set_tests_properties(test_gc PROPERTIES TIMEOUT 300)
ocidir_cmocka_test(test_clone test_clone.c)
set_tests_properties(test_clone PROPERTIES TIMEOUT 300)
target_sources(test_gc PRIVATE gc_testutil.c)
target_sources(test_clone PRIVATE gc_testutil.c)
# The versioned ABI: every long operation canceled by its progress callback
# (first, middle, last call) and the progress contract; options structs of
# every size (NULL, older and newer callers, the _options_init functions);
# what the new options do.
ocidir_cmocka_test(test_abi test_abi.c)
set_tests_properties(test_abi PROPERTIES TIMEOUT 300)
target_sources(test_abi PRIVATE gc_testutil.c)
