package webchat_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
)

func TestEventsDeliverReply(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	st := h.openEvents(t, s, false)
	if first := st.next(t); len(first.comments) == 0 {
		t.Fatalf("stream did not start with a comment: %+v", first)
	}

	res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"How do I reset my VPN?","client_msg_id":"c-1"}`)
	if res.status != http.StatusAccepted {
		t.Fatalf("post: status %d, body %s", res.status, res.body)
	}
	ev := st.nextMessage(t)
	if ev.id != "o_c-1" || ev.event != "message" {
		t.Errorf("id, event = %q, %q; want o_c-1, message", ev.id, ev.event)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatalf("event data %q: %v", ev.data, err)
	}
	want := map[string]any{
		"id":   "o_c-1",
		"role": "bot",
		"kind": "answer",
		"text": "To reset your VPN, open the portal.",
		"citations": []any{
			map[string]any{"title": "VPN guide", "url": "https://docs.example/vpn"},
			map[string]any{"title": "Unsafe link"},
		},
		"buttons": []any{
			map[string]any{"label": "Helpful", "action": map[string]any{"id": "helpful"}},
			map[string]any{"label": "Talk to a person", "action": map[string]any{"id": "human", "value": "now"}},
		},
		"at": h.clock.Now().UTC().Format(time.RFC3339),
	}
	if at, ok := got["at"].(string); ok {
		if ts, err := time.Parse(time.RFC3339Nano, at); err == nil {
			got["at"] = ts.UTC().Format(time.RFC3339)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event data =\n%v\nwant\n%v", got, want)
	}
}

func TestEventsTokenInHeaderAndHeartbeat(t *testing.T) {
	h := newHarness(t, func(c *webchat.Config) { c.Heartbeat = time.Millisecond })
	st := h.openEvents(t, h.session(t), true)
	for {
		ev := st.next(t)
		if len(ev.comments) > 0 && ev.comments[0] == "ping" {
			return
		}
	}
}

func TestSendValidation(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	valid := conversation.Outbound{ID: "o_1", ConversationKey: "webchat:" + s.SessionID, Channel: conversation.ChannelWebChat, Kind: conversation.KindAnswer, Text: "hi"}
	tests := []struct {
		name string
		mod  func(*conversation.Outbound)
		want conversation.Code
	}{
		{"no subscriber is fine", func(*conversation.Outbound) {}, ""},
		{"agent reply", func(o *conversation.Outbound) { o.ID, o.Kind = "o_2", conversation.KindAgent }, ""},
		{"no id", func(o *conversation.Outbound) { o.ID = "" }, conversation.Invalid},
		{"other channel", func(o *conversation.Outbound) { o.Channel = conversation.ChannelSlack }, conversation.Invalid},
		{"staff message", func(o *conversation.Outbound) { o.Kind = conversation.KindStaff }, conversation.Invalid},
		{"not a web chat key", func(o *conversation.Outbound) { o.ConversationKey = "slack:T1:C1" }, conversation.Invalid},
		{"malformed session id", func(o *conversation.Outbound) { o.ConversationKey = "webchat:../x" }, conversation.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mod(&o)
			if got := conversation.ErrorCode(h.a.Send(context.Background(), o)); got != tt.want {
				t.Errorf("Send error code = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSendIsIdempotentAndPrivate(t *testing.T) {
	hub := webchat.NewMemoryHub(webchat.HubConfig{})
	h := newHarness(t, func(c *webchat.Config) { c.Hub = hub })
	me, other := h.session(t), h.session(t)
	mine, cancelMine := hub.Subscribe("webchat:" + me.SessionID)
	defer cancelMine()
	theirs, cancelTheirs := hub.Subscribe("webchat:" + other.SessionID)
	defer cancelTheirs()

	out := func(s sessionInfo, id string) conversation.Outbound {
		return conversation.Outbound{ID: id, ConversationKey: "webchat:" + s.SessionID, Channel: conversation.ChannelWebChat, Kind: conversation.KindAnswer, Text: id}
	}
	ctx := context.Background()
	for _, o := range []conversation.Outbound{out(me, "o_1"), out(me, "o_1"), out(other, "o_x"), out(me, "o_2")} {
		if err := h.a.Send(ctx, o); err != nil {
			t.Fatalf("Send %s: %v", o.ID, err)
		}
	}
	if got := []string{(<-mine).ID, (<-mine).ID}; !reflect.DeepEqual(got, []string{"o_1", "o_2"}) {
		t.Errorf("my stream got %v, want [o_1 o_2]: a resend must not show twice", got)
	}
	if got := (<-theirs).ID; got != "o_x" {
		t.Errorf("the other visitor got %q first, want only their own o_x", got)
	}
}

func TestHistoryMapping(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	h.hist.put(&conversation.Conversation{
		Key:     "webchat:" + s.SessionID,
		Channel: conversation.ChannelWebChat,
		User:    conversation.Identity{ID: s.SessionID, DisplayName: "Ada", Email: "ada@example.com"},
		Phase:   conversation.PhaseAgentActive,
		Ticket:  "T-7",
		History: []conversation.Turn{
			{Role: conversation.RoleCustomer, Text: "VPN broken", At: at, MessageID: "c-1", AuthorName: "Ada"},
			{Role: conversation.RoleBot, Text: "Try this.", At: at, MessageID: "o_1", Kind: conversation.KindAnswer, Citations: []conversation.Citation{
				{Title: "VPN guide", Source: "internal/wiki/vpn.md", URL: "https://docs.example/vpn", Section: "Reset"},
				{Title: "Portal", Source: "portal.md", URL: "/kb/portal"},
				{Source: "x.md", URL: "javascript:alert(1)", Section: "Scripts"},
			}},
			{Role: conversation.RoleCustomer, At: at, MessageID: "c-2", Action: &conversation.Action{ID: "not_helpful"}},
			{Role: conversation.RoleSystem, Text: "phase changed", At: at},
			{Role: conversation.RoleBot, Text: "handoff card for staff", At: at, MessageID: "o_s", Kind: conversation.KindStaff},
			{Role: conversation.RoleAgent, Text: "internal note: customer is VIP", At: at, AuthorName: "Bob"},
			{Role: conversation.RoleAgent, Text: "Hi, Bob here.", At: at, MessageID: "o_3", Kind: conversation.KindAgent, AuthorName: "Bob"},
		},
	})
	res := h.do(t, http.MethodGet, historyPath(s.SessionID), s.Token, "")
	if res.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", res.status, res.body)
	}
	var got any
	res.json(t, &got)
	var want any
	if err := json.Unmarshal([]byte(`{"messages":[
		{"id":"c-1","role":"customer","text":"VPN broken","at":"2026-03-01T09:30:00Z"},
		{"id":"o_1","role":"bot","kind":"answer","text":"Try this.","at":"2026-03-01T09:30:00Z","citations":[
			{"title":"VPN guide","url":"https://docs.example/vpn"},
			{"title":"Portal","url":"/kb/portal"},
			{"title":"Scripts"}]},
		{"id":"o_3","role":"agent","kind":"agent","text":"Hi, Bob here.","at":"2026-03-01T09:30:00Z"}
	]}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history =\n%s\nwant\n%v", res.body, want)
	}

	t.Run("new session", func(t *testing.T) {
		fresh := h.session(t)
		res := h.do(t, http.MethodGet, historyPath(fresh.SessionID), fresh.Token, "")
		if res.status != http.StatusOK || string(res.body) != "{\"messages\":[]}\n" {
			t.Errorf("status, body = %d, %s; want 200 and no messages", res.status, res.body)
		}
	})
	t.Run("store down", func(t *testing.T) {
		h.hist.mu.Lock()
		h.hist.err = conversation.Errorf(conversation.Unavailable, "bbolt: timeout")
		h.hist.mu.Unlock()
		wantError(t, h.do(t, http.MethodGet, historyPath(s.SessionID), s.Token, ""), http.StatusServiceUnavailable, "unavailable")
	})
}

func TestCloseEndsStreams(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	st := h.openEvents(t, s, false)
	st.next(t) // the opening comment
	if err := h.a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := io.ReadAll(st.r); err != nil {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
	res := h.do(t, http.MethodGet, eventsPath(s.SessionID), s.Token, "")
	wantError(t, res, http.StatusServiceUnavailable, "shutting_down")
	if res.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestSendWithCancelledContextIsRetryable(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.a.Send(ctx, conversation.Outbound{ID: "o_1", ConversationKey: "webchat:" + s.SessionID, Channel: conversation.ChannelWebChat, Kind: conversation.KindAnswer})
	if got := conversation.ErrorCode(err); got != conversation.Unavailable {
		t.Errorf("Send error code = %q (%v), want %q so the dispatcher retries", got, err, conversation.Unavailable)
	}
}
