# contrib/lxc/lxc-oci with Debian's real LXC (lxc-create -P <temporary
# lxcpath>), privileged and through lxc.idmap (lxc-usernsexec), compared with
# LXC's stock template (umoci, jq, skopeo) on images made by ocidir, umoci and
# skopeo, and on the mount-helper path with LXC 6's template; a rootfs that is
# a tmpfs mount point; the shared cache and lxc-oci-cache-gc.  Needs root and
# what scripts/setup installs: the test FAILS (never skips) when one is
# missing, or when the ocidir tool lacks a subcommand the template uses.
# Labelled `lxc` and `root`.  About a minute (some 70 lxc-create runs).
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
