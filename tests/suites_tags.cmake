# Suites about index.json and tags: tag round trips, grammar, foreign
# index.json files, the lock, concurrent writers, a 100,000-entry index;
# hostile JSON documents (every hardening rule provoked); and builders
# SIGKILLed at random moments leaving only complete, verified images (also
# with named ".ocidir-tmp-*" temporary files, whose leftovers a writable open
# must remove).
ocidir_cmocka_test(test_tags test_tags.c)
ocidir_cmocka_test(test_json_hostile test_json_hostile.c)
ocidir_cmocka_test(test_crash_commit test_crash_commit.c
  VARIANTS named=OCIDIR_FORCE_NAMED_TEMP=1)
