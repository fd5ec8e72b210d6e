package conversation_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/tier0/tier0/conversation"
)

func TestErrorTextAndCodes(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantText string
		wantCode conversation.Code
	}{
		{"errorf wraps once", conversation.Errorf(conversation.Unavailable, "post embeddings: %w", io.EOF), "post embeddings: EOF", conversation.Unavailable},
		{"explicit cause", &conversation.Error{Code: conversation.Invalid, Message: "bad input", Err: io.EOF}, "bad input: EOF", conversation.Invalid},
		{"wrapped sentinel", fmt.Errorf("load x: %w", conversation.ErrNotFound), "load x: not found", conversation.NotFound},
		{"plain error", errors.New("boom"), "boom", conversation.Internal},
		{"nil", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conversation.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if tt.err != nil && tt.err.Error() != tt.wantText {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.wantText)
			}
		})
	}
	if !errors.Is(conversation.Errorf(conversation.Unavailable, "x: %w", io.EOF), io.EOF) {
		t.Error("Errorf does not unwrap to its cause")
	}
}
