package main

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	tgadapter "github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/language"
)

// englishBotSentences are the built-in English sentences and the English
// consulting questions of a sample configuration: none may reach a German
// conversation.
func englishBotSentences(tb testing.TB, configPath string) []string {
	tb.Helper()
	en, _ := conversation.BuiltinTexts("en")
	var out []string
	v := reflect.ValueOf(en)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.String {
			if s, _, _ := strings.Cut(f.String(), "{"); len(strings.TrimSpace(s)) >= 12 || !strings.Contains(f.String(), "{") {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	c, err := LoadConfig(configPath, func(string) string { return "" })
	if err != nil {
		tb.Fatalf("load %s: %v", configPath, err)
	}
	for _, f := range c.Consulting.Flows {
		for _, q := range f.Questions {
			out = append(out, q.in("en"))
		}
	}
	if t := c.Texts; t.NotSure != "" {
		out = append(out, t.NotSure, t.HandoffOpened)
	}
	return out
}

// checkGerman fails for every bot sentence (not a knowledge answer, not
// an agent's words) that is English or does not read as German.
func checkGerman(tb testing.TB, english []string, kind, text string) {
	tb.Helper()
	if kind == string(conversation.KindAnswer) || kind == string(conversation.KindAgent) || text == "" {
		return
	}
	for _, e := range english {
		if e != "" && strings.HasPrefix(text, e) {
			tb.Errorf("German conversation got the English %s sentence %q", kind, text)
		}
	}
	d, err := language.New(language.Config{Languages: []string{"de", "en"}})
	if err != nil {
		tb.Fatal(err)
	}
	if g := d.Detect(text, ""); g.Language != "de" {
		tb.Errorf("German conversation got %s %q, which reads as %+v", kind, text, g)
	}
}

// A German employee in the web chat (browser locale de-DE) of the IT
// sample, through the whole server: a German question gets the printer
// flow's German consulting questions, the answers lead to a handoff in
// German, an agent in the console claims, replies and resolves, and the
// satisfaction question and its thanks are German. No English bot sentence
// reaches the conversation; the console shows the agent it is German.
func TestGermanWebChatConversation(t *testing.T) {
	m, _ := startChannelServer(t, sampleConfig, t.TempDir(), map[string]string{"TIER0_CONSOLE_PASSWORD": channelAgentPass})
	english := englishBotSentences(t, sampleConfig)
	v := &chatVisitor{base: baseURL(m)}
	doJSON(t, http.MethodPost, v.base+"/api/webchat/sessions", "", map[string]string{"name": "Max Mustermann", "locale": "de-DE"}, http.StatusCreated, v)
	ev := v.events(t)
	next := func(wantKind, wantPrefix string) chatMessage {
		t.Helper()
		msg := ev.next(t)
		checkGerman(t, english, msg.Kind, msg.Text)
		if msg.Kind != wantKind || !strings.HasPrefix(msg.Text, wantPrefix) {
			t.Fatalf("reply %s %q, want %s starting %q", msg.Kind, msg.Text, wantKind, wantPrefix)
		}
		return msg
	}

	v.say(t, "Mein Drucker macht ein seltsames Schleifgeräusch", "c1") // a vague problem: consulting first, as in English
	next("consulting", "Um welchen Drucker geht es")
	v.say(t, "Der große Drucker im 2. Stock", "c2")
	next("consulting", "Was passiert, wenn Sie drucken")
	v.say(t, "Es kommt gar nichts raus, keine Meldung", "c3")
	next("handoff", "Ich habe Ihr Anliegen als Ticket "+firstTicket+" an ")
	key := webchat.KeyPrefix + v.Session
	// The sample routes German conversations to the German desk (or its
	// on-call team out of hours).
	if c, err := m.store.Load(context.Background(), key); err != nil || c.TicketState == nil ||
		!slices.Contains([]string{"IT Service Desk (Deutsch)", "IT On-call"}, c.TicketState.Team) {
		t.Fatalf("ticket %+v (%v), want the German route's team", c.TicketState, err)
	}

	agent := consoleLogin(t, m, "admin", channelAgentPass)
	var ticket struct {
		Language     string `json:"language"`
		LanguageName string `json:"language_name"`
	}
	agent.do(t, http.MethodGet, "/console/api/tickets/"+key+"?suggest=0", nil, http.StatusOK, &ticket)
	if ticket.Language != "de" || ticket.LanguageName != "German (de)" {
		t.Errorf("console ticket language %+v, want German (de)", ticket)
	}
	consoleAct(t, agent, key, "a-1", "claim", "")
	next("notice", "Admin hat Ihr Anliegen übernommen")
	const reply = "Ich habe die Druckerwarteschlange geleert, bitte drucken Sie noch einmal."
	consoleAct(t, agent, key, "a-2", "reply", reply)
	if got := ev.next(t); got.Text != reply || got.Role != "agent" {
		t.Errorf("agent reply on the web chat %s %q, want %q", got.Role, got.Text, reply)
	}
	consoleAct(t, agent, key, "a-3", "resolve", "")
	next("notice", "Ticket "+firstTicket+" ist erledigt. Wie zufrieden sind Sie")
	doJSON(t, http.MethodPost, v.url("messages"), v.Token, map[string]any{"action": map[string]string{"id": conversation.ActionCSAT, "value": "5"}, "client_msg_id": "c4"}, http.StatusAccepted, nil)
	next("notice", "Vielen Dank für Ihre Rückmeldung!")

	for _, msg := range v.history(t) {
		if msg.Role == "bot" {
			checkGerman(t, english, msg.Kind, msg.Text)
		}
	}
	c, err := m.store.Load(context.Background(), key)
	if err != nil || c.Language != "de" {
		t.Fatalf("conversation language %q (%v), want de", c.Language, err)
	}
}

// A German shopper on Telegram (language_code de) asks the shop sample
// about ski boots: the ski-boots flow asks its German questions ("… eher
// Piste oder Gelände …"), the shopper asks for a person, the German
// handoff of the shop's configuration follows, the agent in the console
// replies and resolves, and the satisfaction question is German.
func TestGermanTelegramConversation(t *testing.T) {
	tg := tgfake.Start(tgfake.Config{})
	t.Cleanup(tg.Close)
	cfg := writeChannelConfig(t, shopSampleConfig, func(c map[string]any) {
		yamlSet(c, "telegram.api_url", tg.URL())
		yamlSet(c, "telegram.mode", "polling")
	})
	m, _ := startChannelServer(t, cfg, t.TempDir(), map[string]string{
		"TIER0_TELEGRAM_TOKEN":   tg.Token(),
		"TIER0_CONSOLE_PASSWORD": channelAgentPass,
	})
	english := englishBotSentences(t, shopSampleConfig)
	const chat = 4242002
	shopper := models.User{ID: chat, FirstName: "Lena", LanguageCode: "de"}
	say := func(text string) {
		tg.EnqueueMessage(models.Message{Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate, FirstName: "Lena"}, From: &shopper, Text: text})
	}
	seen := 0
	toShopper := func(what, prefix string) string {
		t.Helper()
		sm, err := tg.WaitSent(channelCtx(t), func(sm tgfake.SentMessage) bool {
			return sm.ChatID == chat && strings.HasPrefix(sm.Plain, prefix)
		})
		if err != nil {
			for _, sm := range tg.Sent() {
				t.Logf("telegram has: chat %d %q", sm.ChatID, sm.Plain)
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return sm.Plain
	}

	say("Ich suche neue Skischuhe für mich") // not a listing ("welche …?"), which the catalogue answers at once
	toShopper("the first German consulting question", "Wie sicher fahren Sie Ski")
	say("Fortgeschritten, ich fahre eher Piste")
	toShopper("the second German consulting question", "Wie lang ist Ihr Fuß")
	say("Ich möchte lieber mit einem Mitarbeiter sprechen")
	toShopper("the German handoff", "Ich habe Ihre Frage an unseren Kundenservice weitergegeben (Ticket SHOP-1001)")

	key := tgadapter.ConversationKey(chat, 0)
	agent := consoleLogin(t, m, "admin", channelAgentPass)
	if q := consoleQueue(t, agent); len(q) != 1 || q[0].ConversationKey != key {
		t.Fatalf("console queue %+v, want the shopper's ticket", q)
	}
	consoleAct(t, agent, key, "a-1", "claim", "")
	toShopper("the German agent-joined notice", "Admin hat Ihr Anliegen übernommen")
	consoleAct(t, agent, key, "a-2", "reply", "Gern! Welche Schuhgröße tragen Sie?")
	toShopper("the agent's reply", "Gern! Welche Schuhgröße")
	consoleAct(t, agent, key, "a-3", "resolve", "")
	toShopper("the German satisfaction question", "Ticket SHOP-1001 ist erledigt. Wie zufrieden sind Sie")

	for _, sm := range tg.SentTo(chat) {
		if sm.Plain == "Gern! Welche Schuhgröße tragen Sie?" {
			continue
		}
		seen++
		checkGerman(t, english, "bot", sm.Plain)
		for _, l := range sm.Labels() {
			if slices.Contains([]string{"Talk to a person", "Helpful", "Not helpful"}, l) {
				t.Errorf("German shopper got the English button %q", l)
			}
		}
	}
	if seen < 5 {
		t.Errorf("checked %d bot messages to the shopper, want at least 5", seen)
	}
}
