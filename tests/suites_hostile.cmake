# Hostile layouts: every public operation against layouts that each plant one
# hostile thing (escaping and /proc symlinks, special files, sparse giants,
# JSON bombs, odd names, deep and wide graphs), in forked children under a
# timeout, with inotify watching a bait tree outside the layout.
# HOSTILE_FULL=1 (environment) makes the big cases full size for a recorded run.
ocidir_cmocka_test(test_hostile test_hostile.c)
target_sources(test_hostile PRIVATE hostile_gen.c)
# About 35 s on a loaded 2-core machine; three times that under ASan+UBSan
# with a leak check after every run.
set_tests_properties(test_hostile PROPERTIES TIMEOUT 900)
