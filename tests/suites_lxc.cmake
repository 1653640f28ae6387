# contrib/lxc/lxc-oci with Debian's real LXC (lxc-create -P <temporary
# lxcpath>), privileged and through lxc.idmap (lxc-usernsexec), compared with
# LXC's stock template (umoci, jq, skopeo); the shared cache and
# lxc-oci-cache-gc.  Needs root and the packages scripts/setup installs: the
# test FAILS (never skips) when one is missing, or when the ocidir tool lacks
# a subcommand the template uses.  Labelled `lxc` and `root`.  A few seconds.
if(OCIDIR_BUILD_CLI AND NOT OCIDIR_SANITIZE)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME lxc_template
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/lxc
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(lxc_template PROPERTIES
    ENVIRONMENT "OCIDIR_BIN=$<TARGET_FILE:ocidir_cli>;LXC_OCI=${CMAKE_SOURCE_DIR}/contrib/lxc/lxc-oci;LXC_OCI_GC=${CMAKE_SOURCE_DIR}/contrib/lxc/lxc-oci-cache-gc;PYTHONDONTWRITEBYTECODE=1"
    LABELS "lxc;root"
    TIMEOUT 600)
endif()
