# Crash and full-disk torture.
#
# crash_torture: a writer process SIGKILLed at random moments, the layout
# checked after every kill (see the comment at the top of the source).  The
# recorded long runs are
#   <build>/tests/crash_torture --iterations 500
#   <build>/tests/crash_torture --iterations 500 --named-temp
# (--seed S replays a run, --keep keeps the layout, --dir D picks where).
add_executable(crash_torture torture/crash_torture.c plainutil.c)
target_link_libraries(crash_torture PRIVATE ocidir PkgConfig::SODIUM)
target_compile_options(crash_torture PRIVATE -Wall -Wextra)
add_test(NAME crash_torture COMMAND crash_torture --iterations 50)
# Named temporary files: killed blob writers leave .ocidir-tmp-* files that
# the recovery must remove.
add_test(NAME crash_torture_named_temp COMMAND crash_torture --iterations 50 --named-temp)
set_tests_properties(crash_torture crash_torture_named_temp PROPERTIES TIMEOUT 300)

# Full disk: a 4 MiB tmpfs in a private mount namespace (ENOSPC), and
# RLIMIT_FSIZE (EFBIG); again with named temporary files.
ocidir_cmocka_test(test_fulldisk test_fulldisk.c VARIANTS named_temp=OCIDIR_FORCE_NAMED_TEMP=1)

# The order of flushes and names when images are built, batched
# (OCIDIR_ADD_LAYER_DEFER_SYNC) or not, checked against a model of what a
# power cut keeps: the program defines write, fsync, fdatasync, syncfs,
# linkat and renameat(2) itself, in front of the C library's.  Again with
# named temporary files (renamed rather than linked into place).
ocidir_cmocka_test(test_sync_order test_sync_order.c VARIANTS named=OCIDIR_FORCE_NAMED_TEMP=1)
target_link_libraries(test_sync_order PRIVATE ${CMAKE_DL_LIBS})
