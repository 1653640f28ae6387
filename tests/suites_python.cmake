# The Python ctypes binding (bindings/python), tested with pytest against the
# library just built.  Not under sanitizers: a sanitized libocidir.so cannot
# be dlopen'ed by an unsanitized python3.
if(NOT OCIDIR_SANITIZE)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME python_binding
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/bindings/python/tests
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(python_binding PROPERTIES
    ENVIRONMENT "OCIDIR_LIBRARY=$<TARGET_FILE:ocidir>;PYTHONPATH=${CMAKE_SOURCE_DIR}/bindings/python;PYTHONDONTWRITEBYTECODE=1"
    TIMEOUT 600)
  # mypy --strict on the package (as Python 3.9 sees it) and on the tests'
  # use of it (as this interpreter sees them); mypy from this interpreter or
  # Debian's (scripts/setup installs the `mypy` package).  Static only: the
  # library is not loaded.
  add_test(NAME python_mypy
    COMMAND sh ${CMAKE_SOURCE_DIR}/bindings/python/mypy_check.sh ${Python3_EXECUTABLE}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(python_mypy PROPERTIES TIMEOUT 300)
endif()
