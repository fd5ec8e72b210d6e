package telegram_test

import (
	"io"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
)

func TestOpenFile(t *testing.T) {
	fake := startFake(t)
	a := newAdapter(t, baseConfig(fake), newRecorder(), openStore(t, t.TempDir()))
	ctx := ctxT(t)
	fake.AddFile("D-1", "documents/file_1.pdf", []byte("%PDF-1.7 invoice"))

	rc, err := a.OpenFile(ctx, "tg-file:D-1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(body) != "%PDF-1.7 invoice" {
		t.Fatalf("content = %q, %v", body, err)
	}
	tests := []struct {
		ref  string
		code conversation.Code
	}{
		{"https://api.telegram.org/file/bot123:abc/x", conversation.Invalid},
		{"tg-file:", conversation.Invalid},
		{"tg-file:unknown", conversation.Invalid},
	}
	for _, tt := range tests {
		_, err := a.OpenFile(ctx, tt.ref)
		if conversation.ErrorCode(err) != tt.code {
			t.Errorf("OpenFile(%q) = %v, want code %s", tt.ref, err, tt.code)
		}
		if err != nil && strings.Contains(err.Error(), fake.Token()) {
			t.Errorf("error %q contains the bot token", err)
		}
	}
}
