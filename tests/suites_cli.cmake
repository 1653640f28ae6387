# The ocidir command-line tool (cli/): its DIR:REF splitter alone
# (test_cli_ref, cmocka), the tool itself driven as a user would
# (tests/cli/test_cli.py, pytest, with skopeo and umoci reading what it
# imports), and the session that scripts/run shows (cli/demo.sh).
if(TARGET ocidir_cli)
  find_program(PYTHON3 python3 REQUIRED)

  ocidir_cmocka_test(test_cli_ref cli/test_ref.c)
  target_link_libraries(test_cli_ref PRIVATE ocidir_cli_ref)

  add_test(NAME test_cli
    COMMAND ${PYTHON3} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli.py)
  set_tests_properties(test_cli PROPERTIES
    ENVIRONMENT "OCIDIR_CLI=$<TARGET_FILE:ocidir_cli>" TIMEOUT 300)

  add_test(NAME cli_demo
    COMMAND ${CMAKE_SOURCE_DIR}/cli/demo.sh $<TARGET_FILE:ocidir_cli> ${CMAKE_CURRENT_BINARY_DIR}/cli-demo)
  set_tests_properties(cli_demo PROPERTIES TIMEOUT 120)
endif()
