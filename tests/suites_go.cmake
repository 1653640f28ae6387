# The Go binding (bindings/go): `go vet` and `go test -race` with the
# machine's Go, and `go test` with Debian 12's Go 1.19 (the oldest the module
# supports).  cgo finds the library through pkg-config: an
# ocidir-uninstalled.pc generated here points at the source headers and at
# this build's libocidir.so (with an rpath), and pkg-config prefers it when
# its directory is first in PKG_CONFIG_PATH.  Go's caches live in the build
# directory and nothing is fetched from the network (the module has no
# dependencies).  Not under sanitizers: Go's test binaries are not built
# with ASan.
if(NOT OCIDIR_SANITIZE)
  set(OCIDIR_GO_DIR ${CMAKE_BINARY_DIR}/go)
  file(GENERATE OUTPUT ${OCIDIR_GO_DIR}/pkgconfig/ocidir-uninstalled.pc CONTENT
"Name: ocidir
Description: libocidir from the build tree ${CMAKE_BINARY_DIR}
Version: ${PROJECT_VERSION}
Libs: -L$<TARGET_FILE_DIR:ocidir> -Wl,-rpath,$<TARGET_FILE_DIR:ocidir> -locidir
Cflags: -I${PROJECT_SOURCE_DIR}/include
")

  set(OCIDIR_GO_ENV
    PKG_CONFIG_PATH=${OCIDIR_GO_DIR}/pkgconfig
    GOFLAGS=-mod=mod
    GOCACHE=${OCIDIR_GO_DIR}/cache
    GOPATH=${OCIDIR_GO_DIR}/path
    GOPROXY=off
    GOTOOLCHAIN=local
    XDG_CONFIG_HOME=${OCIDIR_GO_DIR}/config
    CGO_ENABLED=1)

  # The machine's Go (first `go` on PATH, /usr/local/go as a Go tarball
  # installs it), else Debian's.
  find_program(OCIDIR_GO NAMES go HINTS /usr/local/go/bin /usr/lib/go-1.19/bin)
  set(OCIDIR_GO119 /usr/lib/go-1.19/bin/go)
  if(NOT OCIDIR_GO)
    set(OCIDIR_GO ${OCIDIR_GO119})
  endif()

  # A missing toolchain fails the test (scripts/setup installs golang-go);
  # it is never skipped.
  add_test(NAME go_binding
    COMMAND sh -c "\"$0\" version && \"$0\" vet ./... && \"$0\" test -race -count=1 ./..." ${OCIDIR_GO}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/go)
  add_test(NAME go_binding_go119
    COMMAND sh -c "\"$0\" version && \"$0\" test -race -count=1 ./..." ${OCIDIR_GO119}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/go)
  set_tests_properties(go_binding go_binding_go119 PROPERTIES
    ENVIRONMENT "${OCIDIR_GO_ENV}" TIMEOUT 1200)
endif()
