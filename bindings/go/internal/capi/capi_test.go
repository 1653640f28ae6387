package capi

import "testing"

// The header the package was compiled against and the library loaded at
// run time agree on the major version and on the digest buffer size.
func TestHeaderMatchesLoadedLibrary(t *testing.T) {
	if int(VersionNumber()/10000) != HeaderVersionMajor {
		t.Fatalf("library %d, header major %d", VersionNumber(), HeaderVersionMajor)
	}
	if DigestMaxRuntime() != DigestMax {
		t.Fatalf("ocidir_digest_max() = %d, OCIDIR_DIGEST_MAX = %d", DigestMaxRuntime(), DigestMax)
	}
}

// Strings with a NUL byte never reach C, where they would name something else.
func TestNulBytesAreRefusedBeforeC(t *testing.T) {
	err := TagValidate("latest\x00/../x")
	e, ok := err.(*Error)
	if !ok || e.Code != EInvalid {
		t.Fatalf("TagValidate with a NUL: %v", err)
	}
}
