package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

func TestBadInput(t *testing.T) {
	h := newHarness(t, func(c *teams.Config) { c.MaxBodyBytes = 8 << 10 })
	valid := "Bearer " + h.token(t, botframework.Claims{})
	withType := func(typ string) []byte {
		a := h.fake.PersonalMessage(alice, "hi")
		a.Type = typ
		return mustJSON(t, a)
	}
	noConversation := h.fake.PersonalMessage(alice, "hi")
	noConversation.Conversation = schema.ConversationAccount{}
	oversized := h.fake.PersonalMessage(alice, strings.Repeat("x", 9<<10))
	tests := []struct {
		name string
		body []byte
		want int
	}{
		{"malformed JSON", []byte(`{"type":"message",`), http.StatusBadRequest},
		{"not an object", []byte(`[1,2,3]`), http.StatusBadRequest},
		{"wrong field types", []byte(`{"type":"message","from":"alice"}`), http.StatusBadRequest},
		{"oversized", mustJSON(t, oversized), http.StatusRequestEntityTooLarge},
		{"unknown activity type", withType("somethingNew"), http.StatusOK},
		{"conversation update", withType("conversationUpdate"), http.StatusOK},
		{"invoke", withType("invoke"), http.StatusOK},
		{"message without conversation", mustJSON(t, noConversation), http.StatusBadRequest},
		{"message with nothing in it", mustJSON(t, h.fake.PersonalMessage(alice, "   ")), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.post(t, valid, tt.body); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
		})
	}
	if n := len(h.eng.messages()); n != 0 {
		t.Fatalf("engine got %d messages from bad or ignored input, want 0", n)
	}

	t.Run("GET", func(t *testing.T) {
		res, err := http.Get(h.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != http.MethodPost {
			t.Fatalf("GET: %d Allow=%q, want 405 Allow=POST", res.StatusCode, res.Header.Get("Allow"))
		}
	})
	t.Run("odd shapes never panic", func(t *testing.T) {
		base := string(mustJSON(t, h.fake.PersonalMessage(alice, "hi")))
		with := func(field string) []byte {
			return []byte(strings.Replace(base, `{"type":"message",`, `{"type":"message",`+field+`,`, 1))
		}
		odd := []struct {
			name string
			body []byte
			want int
		}{
			{"string value", with(`"value":"just text"`), http.StatusAccepted},
			{"array value", with(`"value":[1,2]`), http.StatusAccepted},
			{"mention without account", with(`"entities":[{"type":"mention","text":"<at>x</at>"}]`), http.StatusAccepted},
			{"garbage timestamps", with(`"localTimestamp":42,"expiration":"soon"`), http.StatusAccepted},
			{"file info that is not an object", with(`"attachments":[{"contentType":"application/vnd.microsoft.teams.file.download.info","content":"x"}]`), http.StatusAccepted},
			{"null from", []byte(strings.Replace(base, `"from":{`, `"from":null,"x":{`, 1)), http.StatusBadRequest},
			{"very long text", mustJSON(t, h.fake.PersonalMessage(alice, strings.Repeat("é", 5000))), http.StatusRequestEntityTooLarge},
		}
		for _, tt := range odd {
			if got := h.post(t, valid, tt.body); got != tt.want {
				t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
			}
		}
	})
	t.Run("plain http serviceUrl", func(t *testing.T) {
		a := h.fake.PersonalMessage(alice, "hi")
		a.ServiceURL = "http://connector.example/"
		if got := h.deliver(t, a); got != http.StatusBadRequest {
			t.Fatalf("status = %d, want 400", got)
		}
	})
}

func TestTenantRestriction(t *testing.T) {
	h := newHarness(t, func(c *teams.Config) { c.TenantID = "00000000-0000-4000-8000-00000000a11c" })
	if got := h.deliver(t, h.fake.PersonalMessage(alice, "hi")); got != http.StatusAccepted {
		t.Fatalf("own tenant: %d, want 202", got)
	}
	a := h.fake.PersonalMessage(alice, "hi")
	a.Conversation.TenantID = "other-tenant"
	a.ChannelData.Tenant.ID = "other-tenant"
	if got := h.deliver(t, a); got != http.StatusForbidden {
		t.Fatalf("other tenant: %d, want 403", got)
	}
}

func TestNormalization(t *testing.T) {
	h := newHarness(t, nil)
	tenant := h.fake.Config().TenantID
	const channel = "19:helpdesk42@thread.tacv2"

	personal := h.fake.PersonalMessage(alice, "How do I reset my VPN token?")

	mention := h.fake.ChannelMessage(channel, "", alice, "the printer on floor 3 is jammed")

	chain := h.fake.ChannelMessage(channel, "1699999999999", alice, "still jammed, <at>Bob Agent</at> saw it &amp; agreed")
	chain.Entities = append(chain.Entities, botframework.Entity{Type: "mention", Text: "<at>Bob Agent</at>",
		Mentioned: &schema.ChannelAccount{ID: bob.ID, Name: bob.Name}})

	click := h.fake.Submit(botframework.PersonalConversationID(alice), "1700000000123", alice, json.RawMessage(`{"tier0_action":"helpful","tier0_value":"yes"}`))

	files := h.fake.PersonalMessage(alice, "here is the log")
	files.Attachments = []schema.Attachment{
		{ContentType: "application/vnd.microsoft.teams.file.download.info", Name: "vpn.log.pdf",
			Content: map[string]any{"downloadUrl": "https://contoso.sharepoint.com/dl/vpn.log.pdf", "fileType": "pdf", "uniqueId": "u1"}},
		{ContentType: "image/png", Name: "screen.png", ContentURL: "https://smba.trafficmanager.net/amer/v3/attachments/abc/views/original"},
		{ContentType: "text/html", Content: "<p>here is the log</p>"},
		{ContentType: "image/png", Name: "insecure.png", ContentURL: "http://example.com/x.png"},
	}

	tests := []struct {
		name string
		act  botframework.Activity
		want conversation.Message
	}{
		{"personal chat", personal, conversation.Message{
			ConversationKey: teams.ConversationKey(tenant, botframework.PersonalConversationID(alice)),
			Text:            "How do I reset my VPN token?",
		}},
		{"channel mention, bot's <at> stripped", mention, conversation.Message{
			ConversationKey: teams.ConversationKey(tenant, channel+";messageid="+mention.ID),
			ThreadKey:       mention.ID,
			Text:            "the printer on floor 3 is jammed",
		}},
		{"reply chain, other mentions kept as names", chain, conversation.Message{
			ConversationKey: teams.ConversationKey(tenant, channel+";messageid=1699999999999"),
			ThreadKey:       "1699999999999",
			Text:            "still jammed, Bob Agent saw it & agreed",
		}},
		{"Action.Submit", click, conversation.Message{
			ConversationKey: teams.ConversationKey(tenant, botframework.PersonalConversationID(alice)),
			Action:          &conversation.Action{ID: "helpful", Value: "yes"},
		}},
		{"attachments", files, conversation.Message{
			ConversationKey: teams.ConversationKey(tenant, botframework.PersonalConversationID(alice)),
			Text:            "here is the log",
			Attachments: []conversation.Attachment{
				{Name: "vpn.log.pdf", MIMEType: "application/pdf", URL: "https://contoso.sharepoint.com/dl/vpn.log.pdf"},
				{Name: "screen.png", MIMEType: "image/png", URL: "https://smba.trafficmanager.net/amer/v3/attachments/abc/views/original"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.eng.messages())
			if got := h.deliver(t, tt.act); got != http.StatusAccepted {
				t.Fatalf("status = %d, want 202", got)
			}
			msgs := h.eng.messages()
			if len(msgs) != before+1 {
				t.Fatalf("engine got %d new messages, want 1", len(msgs)-before)
			}
			got := msgs[len(msgs)-1]
			want := tt.want
			want.Channel = conversation.ChannelTeams
			want.PlatformMsgID, want.DedupeKey = tt.act.ID, tt.act.ID
			want.User = conversation.Identity{ID: alice.AADObjectID, DisplayName: alice.Name, Locale: "en-US", TenantID: tenant}
			want.SentAt, want.ReceivedAt = tt.act.Timestamp, h.clock.Now()
			if !got.SentAt.Equal(want.SentAt) {
				t.Errorf("SentAt = %v, want %v", got.SentAt, want.SentAt)
			}
			got.SentAt = want.SentAt
			if !reflect.DeepEqual(got, want) {
				t.Errorf("message:\n got %+v\nwant %+v", got, want)
			}
			// The conversation reference for proactive replies is stored.
			raw, ok := h.refs.get("teams.ref", want.ConversationKey)
			if !ok {
				t.Fatalf("no conversation reference stored for %s", want.ConversationKey)
			}
			var ref schema.ConversationReference
			if err := json.Unmarshal([]byte(raw), &ref); err != nil {
				t.Fatal(err)
			}
			if ref.ServiceURL != h.fake.ServiceURL() || ref.Conversation.ID != tt.act.Conversation.ID ||
				ref.Conversation.TenantID != tenant || ref.Bot.ID != h.fake.Bot().ID || ref.ActivityID != tt.act.ID {
				t.Errorf("stored reference = %+v", ref)
			}
		})
	}

	t.Run("foreign card data and no text is ignored", func(t *testing.T) {
		before := len(h.eng.messages())
		a := h.fake.Submit(botframework.PersonalConversationID(alice), "1", alice, json.RawMessage(`{"foo":1}`))
		if got := h.deliver(t, a); got != http.StatusOK {
			t.Fatalf("status = %d, want 200", got)
		}
		if n := len(h.eng.messages()); n != before {
			t.Fatalf("engine got a message for foreign card data")
		}
	})
	t.Run("text over the engine's limit is cut", func(t *testing.T) {
		if got := h.deliver(t, h.fake.PersonalMessage(alice, strings.Repeat("é", conversation.MaxTextLen+500))); got != http.StatusAccepted {
			t.Fatalf("status = %d, want 202", got)
		}
		msgs := h.eng.messages()
		if n := utf8.RuneCountInString(msgs[len(msgs)-1].Text); n != conversation.MaxTextLen {
			t.Fatalf("text has %d characters, want %d", n, conversation.MaxTextLen)
		}
	})
	t.Run("long conversation ids are hashed into a bounded key", func(t *testing.T) {
		long := "a:" + strings.Repeat("x", 400)
		key := teams.ConversationKey(tenant, long)
		if len(key) > 200 || !strings.HasPrefix(key, "teams:"+tenant+":h:") {
			t.Fatalf("key %q is not a bounded hashed key", key)
		}
		if key != teams.ConversationKey(tenant, long) || key == teams.ConversationKey(tenant, long+"y") {
			t.Fatal("hashed keys must be stable and distinct")
		}
	})
}

func TestEngineErrorsMapToStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{conversation.Errorf(conversation.Invalid, "text too long"), http.StatusBadRequest},
		{conversation.Errorf(conversation.Unavailable, "store down"), http.StatusServiceUnavailable},
		{conversation.ErrLeaseHeld, http.StatusServiceUnavailable},
		{errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			h := newHarness(t, nil)
			h.eng.handle = func(context.Context, conversation.Message) (conversation.Result, error) {
				return conversation.Result{}, tt.err
			}
			if got := h.deliver(t, h.fake.PersonalMessage(alice, "hi")); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("refs store down", func(t *testing.T) {
		h := newHarness(t, nil)
		h.refs.setErr(conversation.Errorf(conversation.Unavailable, "down"))
		if got := h.deliver(t, h.fake.PersonalMessage(alice, "hi")); got != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", got)
		}
		if n := len(h.eng.messages()); n != 0 {
			t.Fatalf("the engine got the message although its reference could not be stored")
		}
	})
}

func TestTypingWhenTheTurnIsSlow(t *testing.T) {
	h := newHarness(t, func(c *teams.Config) { c.TypingDelay = 1 })
	conv := botframework.PersonalConversationID(alice)
	isTyping := func(r botframework.Recorded) bool {
		return r.ConversationID == conv && r.Activity.Type == "typing"
	}
	// The turn lasts until the typing indicator arrived: no clock involved.
	h.eng.handle = func(ctx context.Context, _ conversation.Message) (conversation.Result, error) {
		_, err := h.fake.WaitActivity(ctx, isTyping)
		return conversation.Result{}, err
	}
	if got := h.deliver(t, h.fake.PersonalMessage(alice, "slow question")); got != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", got)
	}
	r := h.waitActivity(t, "typing", isTyping)
	if !bytes.Contains(r.Raw, []byte(`"type":"typing"`)) || r.Activity.Text != "" {
		t.Fatalf("typing activity = %s", r.Raw)
	}

	// The hook sends one on demand.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.adapter.Typing(ctx, h.personalKey(alice)); err != nil {
		t.Fatalf("Typing: %v", err)
	}
	if n := len(h.fake.InConversation(conv)); n < 2 {
		t.Fatalf("%d activities after Typing, want 2 typing indicators", n)
	}
	if err := h.adapter.Typing(ctx, "teams:x:unknown"); conversation.ErrorCode(err) != conversation.NotFound {
		t.Fatalf("Typing for an unknown conversation: %v, want NotFound", err)
	}
}
