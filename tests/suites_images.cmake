# Suites about images: building, reading back through the accessors,
# reproducible and canonical JSON, platform selection through nested indexes,
# artifacts and referrers (test_images); and the same images exchanged with
# skopeo and umoci in both directions (test_interop_images, real tools,
# never skipped).
ocidir_cmocka_test(test_images test_images.c)
ocidir_cmocka_test(test_interop_images test_interop_images.c)
set_tests_properties(test_interop_images PROPERTIES TIMEOUT 120)
