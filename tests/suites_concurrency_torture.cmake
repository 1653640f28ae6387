# Concurrency torture: P processes x T threads mixing blob puts, image builds,
# tag moves, untags, imports, gc/cache gc (default and 0-2 s grace), fsck and
# reads on one layout with a shared blob cache, then checking the final state
# against every thread's log.  A standalone driver (not cmocka): its options
# (--procs --threads --seconds --seed --dir --keep --no-short-grace
# --strict-import) serve the long recorded run; CONC_TORTURE_SECONDS in the
# environment overrides --seconds.
add_executable(concurrency_torture torture/concurrency_torture.c)
target_link_libraries(concurrency_torture PRIVATE ocidir Threads::Threads)
target_compile_options(concurrency_torture PRIVATE -Wall -Wextra)

# In a ThreadSanitizer build the first report fails the run.
set(_conc_env "")
if(OCIDIR_TSAN)
  set(_conc_env "TSAN_OPTIONS=halt_on_error=1")
endif()

add_test(NAME concurrency_torture
  COMMAND concurrency_torture --procs 8 --threads 3 --seconds 15 --seed 1)
set_tests_properties(concurrency_torture PROPERTIES TIMEOUT 300)
if(_conc_env)
  set_tests_properties(concurrency_torture PROPERTIES ENVIRONMENT "${_conc_env}")
endif()

# Named, flock'ed temporary files instead of O_TMPFILE: a writable open's and
# gc's cleanup of stale temporaries then races live writers' visible files.
add_test(NAME concurrency_torture_named_temp
  COMMAND concurrency_torture --procs 6 --threads 3 --seconds 10 --seed 2)
set_tests_properties(concurrency_torture_named_temp PROPERTIES TIMEOUT 300
  ENVIRONMENT "OCIDIR_FORCE_NAMED_TEMP=1;${_conc_env}")
