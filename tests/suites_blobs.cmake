# Suites about blobs: writers, readers, concurrency, fd hygiene; the pure-C
# walk through the API; the header compiled alone as C and C++; the exported
# symbols.  test_blob and test_concurrency run twice: with O_TMPFILE
# temporary files and with named ".ocidir-tmp-*" ones.
ocidir_cmocka_test(test_blob test_blob.c
  VARIANTS named=OCIDIR_FORCE_NAMED_TEMP=1)
ocidir_cmocka_test(test_concurrency test_concurrency.c
  VARIANTS named=OCIDIR_FORCE_NAMED_TEMP=1)
ocidir_cmocka_test(test_fdleak test_fdleak.c)

# leveldb's db/c_test.c: C99, public header only, no test framework.  Also run
# under valgrind by scripts/test.
add_executable(c_api_test c_api_test.c)
target_link_libraries(c_api_test PRIVATE ocidir)
set_target_properties(c_api_test PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(c_api_test PRIVATE -Wall -Wextra -pedantic)
add_test(NAME c_api_test COMMAND c_api_test)
set_tests_properties(c_api_test PROPERTIES TIMEOUT 60 LABELS cmocka)

# The public header compiles alone, warning-free, as C and as C++.
set(_ht_inc -I${PROJECT_SOURCE_DIR}/include)
set(_ht_out ${CMAKE_CURRENT_BINARY_DIR}/headertest)
file(MAKE_DIRECTORY ${_ht_out})
foreach(std c99 c11)
  add_test(NAME headertest_${std}
    COMMAND ${CMAKE_C_COMPILER} -std=${std} -Wall -Wextra -pedantic -Werror ${_ht_inc}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/headertest.c -o ${_ht_out}/headertest_${std}.o)
endforeach()
foreach(std c++11 c++20)
  string(REPLACE "+" "x" _name ${std})
  add_test(NAME headertest_${_name}
    COMMAND ${CMAKE_CXX_COMPILER} -std=${std} -Wall -Wextra -pedantic -Werror ${_ht_inc}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/headertest.cc -o ${_ht_out}/headertest_${_name}.o)
endforeach()
# ... and the header tests name every function the header declares.
add_test(NAME headertest_covers_every_function
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_exports.sh --covers
          ${PROJECT_SOURCE_DIR}/include/ocidir.h
          ${CMAKE_CURRENT_SOURCE_DIR}/headertest.c ${CMAKE_CURRENT_SOURCE_DIR}/headertest.cc)

# Only ocidir_* leaves the shared library, exactly what the header declares,
# and the SONAME carries the major version.
add_test(NAME check_exports
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_exports.sh $<TARGET_FILE:ocidir>
          ${PROJECT_SOURCE_DIR}/include/ocidir.h)

# The ABI only grows: the built library against the baseline kept in abi/
# (abidiff from abigail-tools), and a self-test that a removal is caught.
# Not under sanitizers: the instrumented library is not the one shipped.
if(NOT OCIDIR_SANITIZE AND NOT OCIDIR_TSAN)
  add_test(NAME check_abi
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_abi.sh ${PROJECT_SOURCE_DIR}/abi/libocidir.abi
            $<TARGET_FILE:ocidir> ${PROJECT_SOURCE_DIR}/include)
  add_test(NAME check_abi_detects_removal
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_abi_selftest.sh ${CMAKE_CURRENT_SOURCE_DIR}/check_abi.sh
            ${PROJECT_SOURCE_DIR}/abi/libocidir.abi $<TARGET_FILE:ocidir> ${PROJECT_SOURCE_DIR}/include)
endif()
