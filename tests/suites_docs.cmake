# Documentation and the reflink path of clone, each checked for real.
#
# man_lint: ocidir(1) and libocidir(3), as built from man/*.scd.in, render
#   without a warning (groff -ww, mandoc -Tlint; tests/check_man.sh).
# man_covers_cli: every command and option that `ocidir --help` and each
#   `ocidir COMMAND --help` shows is in ocidir(1), so the page cannot go stale.
# man_examples: the EXAMPLES of ocidir(1) (the LXC cache workflow) run as
#   written, under a scratch root; needs root (an unpack with --uid-map).
# man_c_example: the program in libocidir(3) compiles without a warning
#   against the library and does what the page says.
# test_reflink: `ocidir clone` on loop-mounted btrfs and XFS (reflink=1)
#   images reflinks every blob, the clone shares the source's extents, fsck
#   passes; on tmpfs and ext4 clone --no-hardlink copies.  Needs root and
#   loop devices (label "root"); fails with the reason where it cannot mount.

if(OCIDIR_BUILD_MAN)
  add_test(NAME man_lint
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_man.sh lint
            ${PROJECT_BINARY_DIR}/man/ocidir.1 ${PROJECT_BINARY_DIR}/man/libocidir.3)
  set_tests_properties(man_lint PROPERTIES LABELS docs TIMEOUT 60)
  if(TARGET ocidir_cli)
    add_test(NAME man_covers_cli
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_man.sh coverage
              $<TARGET_FILE:ocidir_cli> ${PROJECT_BINARY_DIR}/man/ocidir.1)
    set_tests_properties(man_covers_cli PROPERTIES LABELS docs TIMEOUT 60)
  endif()
elseif(NOT OCIDIR_SCDOC)
  # Not built because scdoc is missing: say so as a failing test rather than
  # dropping the checks without a word.  (Turned off on purpose with scdoc
  # present, the pages and their checks are simply not part of the build.)
  add_test(NAME man_lint
    COMMAND sh -c "echo 'FAIL: the man pages were not built: scdoc is not installed (scripts/setup installs it)' >&2; exit 1")
  set_tests_properties(man_lint PROPERTIES LABELS docs)
endif()

if(TARGET ocidir_cli)
  add_test(NAME man_examples
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_man.sh examples
            $<TARGET_FILE:ocidir_cli> ${PROJECT_SOURCE_DIR}/man/ocidir.1.scd.in)
  set_tests_properties(man_examples PROPERTIES LABELS "docs;root" TIMEOUT 120)
  # Built without sanitizers only: the example is compiled plainly, as a
  # user would, and cannot load a sanitized library (as install_check).
  if(NOT OCIDIR_SANITIZE AND NOT OCIDIR_TSAN)
    add_test(NAME man_c_example
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_man.sh c-example
              ${PROJECT_SOURCE_DIR}/man/libocidir.3.scd.in ${CMAKE_C_COMPILER}
              ${PROJECT_SOURCE_DIR}/include $<TARGET_FILE_DIR:ocidir> $<TARGET_FILE:ocidir_cli>)
    set_tests_properties(man_c_example PROPERTIES LABELS docs TIMEOUT 120)
  endif()

  add_test(NAME test_reflink
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_reflink.sh $<TARGET_FILE:ocidir_cli>)
  set_tests_properties(test_reflink PROPERTIES LABELS "root;reflink" TIMEOUT 300)
endif()
