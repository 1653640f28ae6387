# Layouts swapped under the library mid-operation: a racing process exchanges
# layout paths with symlinks leading out to bait; nothing outside is touched.
# OCIDIR_RACE_SECONDS (per case, default 2.5) lengthens the recorded run.
ocidir_cmocka_test(test_race_swap test_race_swap.c
  VARIANTS fallback=OCIDIR_FORCE_RESOLVE_FALLBACK=1)
