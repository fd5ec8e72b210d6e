package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/conversation/actions/fakebackend"
)

// fastChat lifts the web chat's per-visitor rate limit for tests that
// say a lot.
func fastChat(c map[string]any) { yamlSet(c, "webchat.rate_per_minute", 60000) }

// startBackend serves a fake back end (or h) on a loopback port.
func startBackend(tb testing.TB, s *fakebackend.Server, h ...http.Handler) string {
	tb.Helper()
	var handler http.Handler = s
	if len(h) > 0 {
		handler = h[0]
	}
	srv := httptest.NewServer(handler)
	tb.Cleanup(srv.Close)
	return srv.URL
}

// click posts a button click as the visitor's next message.
func (v *chatVisitor) click(tb testing.TB, id, value, clientMsgID string) {
	tb.Helper()
	body := map[string]any{"action": map[string]string{"id": id, "value": value}, "client_msg_id": clientMsgID}
	doJSON(tb, http.MethodPost, v.url("messages"), v.Token, body, http.StatusAccepted, nil)
}

// The shop's actions through the web chat: order status asked in German
// with the e-mail asked for, a wrong e-mail answered like an unknown
// order, a return with confirmation whose retried click makes one POST at
// the back end, and analytics counting the runs.
func TestActionsShopWebChat(t *testing.T) {
	shop := fakebackend.NewShop(fakebackend.Config{Token: "shop-secret"})
	url := startBackend(t, shop)
	m, _ := startChannelServer(t, writeChannelConfig(t, shopSampleConfig, fastChat), t.TempDir(), map[string]string{
		"TIER0_SHOP_API_URL": url, "TIER0_SHOP_API_TOKEN": "shop-secret", "TIER0_CONSOLE_PASSWORD": consolePass,
	})

	v := newVisitor(t, m)
	ev := v.events(t)
	v.say(t, "Wo ist meine Bestellung 10042?", "o-1")
	if got := ev.next(t); got.Kind != "consulting" || got.Text != "Mit welcher E-Mail-Adresse haben Sie bestellt?" {
		t.Fatalf("reply = %+v, want the German e-mail question", got)
	}
	v.say(t, "max@example.com", "o-2")
	status := ev.next(t)
	if !strings.Contains(status.Text, "Ihre Bestellung 10042 ist unterwegs") || !strings.Contains(status.Text, "https://tracking.example/dhl/00340434161094042") ||
		len(status.Citations) != 1 || status.Citations[0].Title != "Alpenglow orders" {
		t.Fatalf("status = %+v, want the German status with the tracking link, citing the shop", status)
	}

	// Wrong e-mail and unknown order: the same sentence, nothing leaked.
	v = newVisitor(t, m)
	ev = v.events(t)
	v.say(t, "Wo ist meine Bestellung 10042?", "o-3")
	ev.next(t)
	v.say(t, "eve@example.com", "o-4")
	wrong := ev.next(t)
	v.say(t, "Wo ist meine Bestellung 99999?", "o-5")
	ev.next(t)
	v.say(t, "eve@example.com", "o-6")
	unknown := ev.next(t)
	if strings.ReplaceAll(wrong.Text, "10042", "N") != strings.ReplaceAll(unknown.Text, "99999", "N") || strings.Contains(wrong.Text, "max@") || strings.Contains(wrong.Text, "DHL") {
		t.Errorf("wrong e-mail %q and unknown order %q must read the same", wrong.Text, unknown.Text)
	}

	// A return: order and e-mail from the first message and the reply,
	// the reason as a button, then [Ja]/[Nein].
	v = newVisitor(t, m)
	ev = v.events(t)
	v.say(t, "Ich möchte meine Bestellung 10042 zurückschicken", "r-1")
	if got := ev.next(t); !strings.Contains(got.Text, "E-Mail-Adresse") {
		t.Fatalf("reply = %q, want the e-mail question", got.Text)
	}
	v.say(t, "max@example.com", "r-2")
	if got := ev.next(t); got.Text != "Warum schicken Sie es zurück?" {
		t.Fatalf("reply = %q, want the reason question", got.Text)
	}
	v.click(t, "act_choose", "size", "r-3")
	if got := ev.next(t); got.Text != "Soll ich die Rücksendung für Bestellung 10042 starten?" {
		t.Fatalf("reply = %q, want the confirmation", got.Text)
	}
	if st := shop.Stats(); st.Posts != 0 {
		t.Fatalf("back end got %d POSTs before the confirmation", st.Posts)
	}
	v.click(t, "act_confirm", "", "r-4")
	done := ev.next(t)
	if !strings.Contains(done.Text, "Rücksendeetikett") || !strings.Contains(done.Text, "https://shop.example/returns/R-10042-1/label.pdf") {
		t.Fatalf("reply = %q, want the return label link", done.Text)
	}
	// The platform retries the click, and the customer clicks again.
	v.click(t, "act_confirm", "", "r-4")
	v.click(t, "act_confirm", "", "r-5")
	ev.next(t) // the stale click's answer
	if st := shop.Stats(); st.Posts != 1 || st.Effects != 1 {
		t.Errorf("back end stats %+v, want one POST and one effect", st)
	}

	// Analytics count the runs by outcome.
	agent := consoleLogin(t, m, "admin", consolePass)
	var rep struct {
		Actions []struct {
			Label string `json:"label"`
			Count int64  `json:"count"`
		} `json:"actions"`
	}
	agent.do(t, http.MethodGet, "/console/api/analytics?days=1", nil, http.StatusOK, &rep)
	got := map[string]int64{}
	for _, c := range rep.Actions {
		got[c.Label] = c.Count
	}
	if got["order_status.ok"] != 1 || got["order_status.not_found"] != 2 || got["start_return.ok"] != 1 {
		t.Errorf("analytics actions = %v, want order_status ok 1, not_found 2, start_return ok 1", got)
	}
}

// A back end that is down: an apology and a person offered; cancel
// half-way stops without a call.
func TestActionsBackendDownAndCancel(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	m, _ := startChannelServer(t, writeChannelConfig(t, shopSampleConfig, fastChat), t.TempDir(), map[string]string{"TIER0_SHOP_API_URL": dead})
	v := newVisitor(t, m)
	ev := v.events(t)
	v.say(t, "where is my order 10042", "d-1")
	ev.next(t)
	v.say(t, "max@example.com", "d-2")
	if got := ev.next(t); !strings.Contains(got.Text, "isn't reachable") || !strings.Contains(got.Text, "person") {
		t.Errorf("reply = %q, want the apology with a person offered", got.Text)
	}
	v.say(t, "I want to return my order", "c-1")
	if got := ev.next(t); !strings.Contains(got.Text, "five-digit order number") {
		t.Fatalf("reply = %q, want the order question", got.Text)
	}
	v.say(t, "cancel", "c-2")
	if got := ev.next(t); !strings.HasPrefix(got.Text, "All right, I've stopped") {
		t.Errorf("reply = %q, want the cancel notice", got.Text)
	}
}

// The IT desk's unlock over Telegram: the confirmation in German, the
// account from the verified Telegram identity whatever the message names.
func TestActionsUnlockTelegram(t *testing.T) {
	it := fakebackend.NewIT(fakebackend.Config{Token: "it-secret"})
	url := startBackend(t, it)
	tg := tgfake.Start(tgfake.Config{})
	t.Cleanup(tg.Close)
	cfg := writeChannelConfig(t, sampleConfig, func(c map[string]any) {
		yamlSet(c, "telegram.api_url", tg.URL())
		yamlSet(c, "telegram.mode", "polling")
	})
	startChannelServer(t, cfg, t.TempDir(), map[string]string{
		"TIER0_TELEGRAM_TOKEN": tg.Token(), "TIER0_IT_API_URL": url, "TIER0_IT_API_TOKEN": "it-secret",
	})
	const chat = 4242002
	user := models.User{ID: chat, FirstName: "Anna", LanguageCode: "de"}
	say := func(text string) {
		tg.EnqueueMessage(models.Message{Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate, FirstName: "Anna"}, From: &user, Text: text})
	}
	wait := func(what, substr string) tgfake.SentMessage {
		t.Helper()
		sm, err := tg.WaitSent(channelCtx(t), func(sm tgfake.SentMessage) bool { return sm.ChatID == chat && strings.Contains(sm.Plain, substr) })
		if err != nil {
			for _, sm := range tg.Sent() {
				t.Logf("telegram has: %q", sm.Plain)
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return sm
	}
	say("Bitte entsperren Sie mein Konto, ich bin chef@northwind.example")
	q := wait("the confirmation", "Soll ich Ihr Konto entsperren?")
	if labels := q.Labels(); len(labels) < 2 || labels[0] != "Ja" || labels[1] != "Nein" {
		t.Errorf("buttons %q, want [Ja] [Nein]", labels)
	}
	say("Ja")
	wait("the result", "Ihr Konto ist entsperrt")
	if st, keys := it.Stats(), it.Keys(); st.Posts != 1 || st.Effects != 1 || len(keys) != 1 {
		t.Errorf("IT back end %+v keys %v, want one POST", st, keys)
	}
	if got := it.Unlocked(); len(got) != 1 || got[0] != "telegram:4242002" {
		t.Errorf("unlocked %q, want only the asker's own Telegram identity", got)
	}
}

// toolChat is a fake /v1/chat/completions that answers a request with
// tools with the tool call set by the test, and anything else with a
// plain reply.
type toolChat struct {
	mu        sync.Mutex
	name      string
	args      string
	toolCalls int
}

func (f *toolChat) set(name, args string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.name, f.args = name, args
}

func (f *toolChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
	msg := map[string]any{"role": "assistant", "content": "I don't know."}
	f.mu.Lock()
	if _, ok := req["tools"]; ok {
		f.toolCalls++
		msg["content"] = ""
		if f.name != "" {
			msg["tool_calls"] = []any{map[string]any{"id": "c1", "type": "function", "function": map[string]any{"name": f.name, "arguments": f.args}}}
		}
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"model": "fake", "choices": []any{map[string]any{"message": msg, "finish_reason": "stop"}}})
}

// With llm_tools on, the chat model's tool call for another person's
// account is refused through the whole server and reaches no back end;
// its call without an account is confirmed for the asker's own.
func TestActionsHostileToolCallThroughServer(t *testing.T) {
	it := fakebackend.NewIT(fakebackend.Config{})
	itURL := startBackend(t, it)
	chat := &toolChat{}
	chatURL := startBackend(t, nil, chat)
	cfg := writeChannelConfig(t, sampleConfig, func(c map[string]any) {
		yamlSet(c, "actions.llm_tools", true)
		fastChat(c)
	})
	m, _ := startChannelServer(t, cfg, t.TempDir(), map[string]string{
		"TIER0_IT_API_URL": itURL, "TIER0_LLM_BASE_URL": chatURL + "/v1", "TIER0_LLM_MODEL": "fake",
	})
	v := newVisitor(t, m)
	ev := v.events(t)
	chat.set("unlock_account", `{"account":"boss@northwind.example"}`)
	v.say(t, "I need the boss account opened up, please", "h-1")
	if got := ev.next(t); !strings.HasPrefix(got.Text, "I can only do that for you yourself") {
		t.Errorf("reply = %q, want the refusal", got.Text)
	}
	chat.set("unlock_account", `{}`)
	v.say(t, "I need my login opened up, please", "h-2")
	if got := ev.next(t); got.Text != "Shall I unlock your account?" {
		t.Errorf("reply = %q, want the confirmation", got.Text)
	}
	chat.mu.Lock()
	calls := chat.toolCalls
	chat.mu.Unlock()
	if st := it.Stats(); st.Posts != 0 || calls != 2 {
		t.Errorf("IT back end %+v, tool requests %d: want no POST and 2 tool requests", st, calls)
	}
}
