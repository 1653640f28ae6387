package ocidir

import (
	"context"
	"errors"
	"testing"

	"github.com/ocidir/libocidir/bindings/go/internal/capi"
)

// The codes -16 and -17 map to their sentinels, with the library's text.
func TestNewCodesMapToSentinels(t *testing.T) {
	if CodeCanceled != -16 || CodeNotDurable != -17 {
		t.Fatalf("codes %d %d", CodeCanceled, CodeNotDurable)
	}
	for _, tc := range []struct {
		code      int
		is, isNot error
	}{
		{capi.ECanceled, ErrCanceled, ErrNotDurable},
		{capi.ENotDurable, ErrNotDurable, ErrCanceled},
	} {
		err := wrap(&capi.Error{Op: "ocidir_x", Code: tc.code, Message: "what failed"})
		if !errors.Is(err, tc.is) || errors.Is(err, tc.isNot) || errors.Is(err, ErrIO) {
			t.Fatalf("code %d: %v matches the wrong sentinels", tc.code, err)
		}
		if errors.Is(err, context.Canceled) {
			t.Fatalf("code %d without a context matches context.Canceled", tc.code)
		}
		if s := Code(tc.code).String(); s == "" || s == Code(-999).String() {
			t.Fatalf("code %d has no text of its own: %q", tc.code, s)
		}
	}
	// A cancellation a context brought about unwraps to its error; another
	// failure under a done context does not.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	err := wrapCtx(done, &capi.Error{Op: "ocidir_gc", Code: capi.ECanceled, Message: "canceled"})
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled by a context: %v", err)
	}
	err = wrapCtx(done, &capi.Error{Op: "ocidir_gc", Code: capi.EIO, Message: "io"})
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrCanceled) {
		t.Fatalf("an I/O error under a done context: %v", err)
	}
	err = wrapCtx(context.Background(), &capi.Error{Op: "ocidir_gc", Code: capi.ECanceled, Message: "canceled"})
	if !errors.Is(err, ErrCanceled) || errors.Is(err, context.Canceled) {
		t.Fatalf("canceled with no context done: %v", err)
	}
}
