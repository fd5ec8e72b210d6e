package conversation_test

import (
	"context"
	"testing"

	"github.com/tier0/tier0/conversation"
)

func TestSuggestReply(t *testing.T) {
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	ctx := context.Background()
	for i, text := range []string{"hello", "my password expired", "please a human"} {
		if _, err := e.Handle(ctx, msg("webchat:as", string(rune('a'+i)), text)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.Load(ctx, "webchat:as")
	if err != nil {
		t.Fatal(err)
	}
	ans, err := e.SuggestReply(ctx, "webchat:as")
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Confident || len(ans.Citations) == 0 || ans.Citations[0].Source != "password-reset.md" {
		t.Errorf("suggestion %+v, want the password answer, cited", ans)
	}
	after, err := s.Load(ctx, "webchat:as")
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version {
		t.Errorf("SuggestReply changed the conversation (version %d → %d)", before.Version, after.Version)
	}
	if _, err := e.SuggestReply(ctx, "webchat:nobody"); conversation.ErrorCode(err) != conversation.NotFound {
		t.Errorf("unknown conversation: %v, want not found", err)
	}
}
