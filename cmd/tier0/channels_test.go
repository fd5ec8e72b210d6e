package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/teams"
	tgadapter "github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

// End-to-end tests of the chat platforms through the whole server: Main
// runs in-process with the sample configurations extended by the
// channels' settings, the platforms are their local fakes, and every
// message travels the real path (signed webhook or long poll → adapter →
// engine → store → outbox → dispatcher → adapter → fake).

// The shop sample (Alpenglow Outfitters) and a question its catalogue
// answers from the products' attributes.
const (
	shopSampleConfig = "../../configs/shop/tier0.yaml"
	// bootQ names a boot and a binding that share the ISO 5355 sole norm.
	bootQ = "Does the Firnline Apex 120 boot fit the Bergriegel Race 16 binding?"
	// bootAnswer is the start of the catalogue's answer to bootQ.
	bootAnswer = "Yes. The Firnline Apex 120 (FB-APEX120) is compatible with the Bergriegel Race 16 (BR-RACE16)."
	// bootCrossSell is the related-product line: the first two products
	// the catalogue lists as related to the Apex 120 (GH-SUMMIT, KS-SPHERE).
	bootCrossSell = "Goes well with: Gipfelhut Summit MIPS (169.00 EUR), Klarsicht Sphere S2 (119.00 EUR)."
	bootURL       = "https://shop.alpenglow.example/p/fb-apex120"
	bindingURL    = "https://shop.alpenglow.example/p/br-race16"
	// shopHandoff is the shop's texts.handoff_opened.
	shopHandoff      = "I've passed your question to our customer service team."
	shopTicket       = "SHOP-1001"
	channelAgentPass = "correct horse battery"
)

// The fake Slack workspace of the IT tests.
const (
	slackTeam       = "T0FAKE"
	slackStaffChan  = "CSTAFF"
	slackGeneral    = "CGENERAL"
	slackEmployee   = "UEMP"
	slackAgent      = "UAGENT"
	slackAgentName  = "Sam"
	slackStaffClaim = "tier0_staff_claim"
)

var slackUsers = []slackfake.User{
	{ID: slackEmployee, Name: "erin", RealName: "Erin Employee", DisplayName: "Erin", Email: "erin@example.test", Locale: "en-US"},
	{ID: slackAgent, Name: "sam", RealName: "Sam Agent", DisplayName: slackAgentName, Email: "sam@example.test", Locale: "en-US"},
}

// writeChannelConfig writes a copy of the sample configuration base with its
// relative paths made absolute, changed by edit (keys as dotted paths with
// yamlSet), into a temporary directory, and returns the file's path.
func writeChannelConfig(tb testing.TB, base string, edit func(c map[string]any)) string {
	tb.Helper()
	raw, err := os.ReadFile(base)
	if err != nil {
		tb.Fatalf("read %s: %v", base, err)
	}
	c := map[string]any{}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		tb.Fatalf("parse %s: %v", base, err)
	}
	dir, err := filepath.Abs(filepath.Dir(base))
	if err != nil {
		tb.Fatal(err)
	}
	for _, key := range []string{"knowledge.path", "handoff.profiles.file"} {
		if v, ok := yamlGet(c, key).(string); ok && v != "" && !filepath.IsAbs(v) {
			yamlSet(c, key, filepath.Join(dir, v))
		}
	}
	if edit != nil {
		edit(c)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		tb.Fatalf("encode config: %v", err)
	}
	path := filepath.Join(tb.TempDir(), "tier0.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		tb.Fatalf("write config: %v", err)
	}
	return path
}

// yamlGet returns the value at a dotted path of a decoded YAML document.
func yamlGet(c map[string]any, path string) any {
	var cur any = c
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// yamlSet sets the value at a dotted path, creating the maps on the way.
func yamlSet(c map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	m := c
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// startChannelServer is startMain with a configuration file of the test's own.
func startChannelServer(tb testing.TB, configPath, dataDir string, env map[string]string) (*Main, func() string) {
	tb.Helper()
	logs, err := os.Create(filepath.Join(tb.TempDir(), "server.log"))
	if err != nil {
		tb.Fatalf("create server log: %v", err)
	}
	readLog := func() string {
		b, err := os.ReadFile(logs.Name())
		if err != nil {
			tb.Errorf("read server log: %v", err)
		}
		return string(b)
	}
	m := NewMain()
	m.Getenv = func(k string) string { return env[k] }
	m.Stdout, m.Stderr = logs, logs
	ctx := context.Background()
	if err := m.ParseFlags(ctx, []string{"-config", configPath, "-listen", "127.0.0.1:0", "-data", dataDir}); err != nil {
		tb.Fatalf("ParseFlags: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		if tb.Failed() {
			tb.Logf("server log (%s):\n%s", configPath, readLog())
		}
		logs.Close()
	})
	if err := m.Run(ctx); err != nil {
		tb.Fatalf("Run: %v\nserver log:\n%s", err, readLog())
	}
	return m, readLog
}

// channelCtx is a context bounded by waitLimit, cancelled when the test ends.
func channelCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	tb.Cleanup(cancel)
	return ctx
}

// waitAgentEvent waits until the conversation's events hold an agent
// action of kind (claim, note, reply, …): the engine committed it.
func waitAgentEvent(tb testing.TB, m *Main, key, action string) {
	tb.Helper()
	ctx := channelCtx(tb)
	for {
		evs, err := m.store.Events(ctx, key, 500)
		if err == nil && slices.ContainsFunc(evs, func(e conversation.Event) bool {
			return e.Type == conversation.EventAgent && e.Data["action"] == action
		}) {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("no agent %s was committed on %s (last error %v)", action, key, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// --- Slack ---------------------------------------------------------------

// startSlackFake starts a fake Slack workspace with the test's users.
func startSlackFake(tb testing.TB) *slackfake.Server {
	tb.Helper()
	f, err := slackfake.Start(slackfake.Config{Users: slackUsers})
	if err != nil {
		tb.Fatalf("start fake slack: %v", err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

// withSlackStaff configures Slack (Events API) as the staff channel.
func withSlackStaff(f *slackfake.Server) func(c map[string]any) {
	return func(c map[string]any) {
		yamlSet(c, "handoff.staff_channel", "slack")
		yamlSet(c, "slack.api_url", f.APIURL())
		yamlSet(c, "slack.staff_channel_id", slackStaffChan)
	}
}

// slackEnv is the environment that enables Slack with fake f's secrets.
func slackEnv(f *slackfake.Server) map[string]string {
	return map[string]string{
		"TIER0_SLACK_BOT_TOKEN":      f.Config().BotToken,
		"TIER0_SLACK_SIGNING_SECRET": f.Config().SigningSecret,
	}
}

// slackUser acts as Slack towards one server: signed Events API and
// interactivity requests.
type slackUser struct {
	fake *slackfake.Server
	base string
	seq  int
}

// event posts an event callback and wants 200.
func (s *slackUser) event(tb testing.TB, ev slackfake.Event) {
	tb.Helper()
	s.seq++
	id := "Ev" + strconv.Itoa(s.seq)
	res, err := s.fake.PostEvent(channelCtx(tb), s.base+"/slack/events", s.fake.EventCallback(id, ev))
	if err != nil {
		tb.Fatalf("post event %s: %v", id, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		tb.Fatalf("event %s: status %d %s, want 200", id, res.StatusCode, b)
	}
}

// click posts the block_actions payload of user clicking actionID on m.
func (s *slackUser) click(tb testing.TB, m slackfake.Message, actionID, user string) {
	tb.Helper()
	payload, err := s.fake.Click(m, actionID, user)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := s.fake.PostInteractive(channelCtx(tb), s.base+"/slack/interactive", payload)
	if err != nil {
		tb.Fatalf("post interaction: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		tb.Fatalf("interaction %s: status %d %s, want 200", actionID, res.StatusCode, b)
	}
}

// staffSays posts an agent's message into a ticket thread of the staff
// channel.
func (s *slackUser) staffSays(tb testing.TB, card slackfake.Message, text string) {
	tb.Helper()
	s.event(tb, slackfake.Event{Type: "message", ChannelType: "channel", Channel: slackStaffChan, User: slackAgent, Text: text, TS: s.ts(), ThreadTS: card.TS})
}

// ts returns a fresh message timestamp.
func (s *slackUser) ts() string {
	s.seq++
	return "1700000" + strconv.Itoa(100+s.seq) + ".000100"
}

// waitSlack waits for a message on the fake Slack.
func waitSlack(tb testing.TB, f *slackfake.Server, what string, match func(slackfake.Message) bool) slackfake.Message {
	tb.Helper()
	m, err := f.WaitMessage(channelCtx(tb), match)
	if err != nil {
		for _, m := range f.Messages() {
			tb.Logf("slack has: %s %s thread=%s ts=%s %q", m.Method, m.Channel, m.ThreadTS, m.TS, m.Text)
		}
		tb.Fatalf("waiting for %s: %v", what, err)
	}
	return m
}

// slackCard waits for the handoff card of ticket in the staff channel: a
// new top-level thread.
func slackCard(tb testing.TB, f *slackfake.Server, ticket string) slackfake.Message {
	tb.Helper()
	return waitSlack(tb, f, "the handoff card of "+ticket, func(m slackfake.Message) bool {
		return m.Channel == slackStaffChan && m.ThreadTS == "" && m.Method == "chat.postMessage" && strings.Contains(m.Text, "New ticket "+ticket)
	})
}

// An employee asks IT in Slack and is answered from the knowledge base in
// the thread; asks for a person, and the ticket opens as a thread in the
// Slack staff channel; an agent claims it with the card's button, writes an
// internal note and a "reply:" in the ticket thread: the reply reaches the
// employee's thread, the note never does.
func TestChannelSlackEmployeeSlackStaff(t *testing.T) {
	f := startSlackFake(t)
	cfg := writeChannelConfig(t, sampleConfig, withSlackStaff(f))
	m, _ := startChannelServer(t, cfg, t.TempDir(), slackEnv(f))
	checkProbes(t, m)
	s := &slackUser{fake: f, base: baseURL(m)}

	t1 := s.ts()
	key := "slack:" + slackTeam + ":" + slackGeneral + ":" + t1
	inThread := func(substr string) func(slackfake.Message) bool {
		return func(m slackfake.Message) bool {
			return m.Channel == slackGeneral && m.ThreadTS == t1 && m.Method == "chat.postMessage" && strings.Contains(m.Text, substr)
		}
	}

	// 1. A question answered from the knowledge base, in the thread under
	// the mention, citing the article.
	s.event(t, slackfake.Event{Type: "app_mention", Channel: slackGeneral, User: slackEmployee, Text: "<@U0BOT> " + passwordQ, TS: t1})
	ans := waitSlack(t, f, "the answer", inThread(passwordPhrase))
	if !strings.Contains(string(ans.Blocks), passwordURL) {
		t.Errorf("answer blocks %s do not cite %s", ans.Blocks, passwordURL)
	}

	// 2. A person, please: the employee hears the ticket id, the card opens
	// a thread in the staff channel.
	s.event(t, slackfake.Event{Type: "message", ChannelType: "channel", Channel: slackGeneral, User: slackEmployee, Text: humanQ, TS: s.ts(), ThreadTS: t1})
	waitSlack(t, f, "the handoff notice", inThread(firstTicket))
	card := slackCard(t, f, firstTicket)
	if !strings.Contains(card.Text+string(card.Blocks), passwordQ) {
		t.Errorf("the handoff card does not show the employee's question: %q %s", card.Text, card.Blocks)
	}

	// 3. The agent claims it; the employee hears an agent joined.
	s.click(t, card, slackStaffClaim, slackAgent)
	waitSlack(t, f, "the agent-joined notice", inThread(slackAgentName+" has joined"))

	// 4. Plain chatter in the ticket thread is an internal note.
	const secret = "AD account locked by the VPN client, unlocking"
	s.staffSays(t, card, secret)
	waitAgentEvent(t, m, key, "note")

	// 5. "reply:" reaches the employee in the original thread.
	const reply = "I've unlocked your account, please try again."
	s.staffSays(t, card, "reply: "+reply)
	waitSlack(t, f, "the agent's reply", inThread(reply))

	// 6. The employee's answer is relayed into the ticket thread.
	s.event(t, slackfake.Event{Type: "message", ChannelType: "channel", Channel: slackGeneral, User: slackEmployee, Text: "Works now, thanks!", TS: s.ts(), ThreadTS: t1})
	waitSlack(t, f, "the relayed answer", func(m slackfake.Message) bool {
		return m.Channel == slackStaffChan && m.ThreadTS == card.TS && strings.Contains(m.Text, "Works now, thanks!")
	})

	// The note was committed before the reply, and delivery of one
	// conversation is in order: had it been sent, it would be there now.
	for _, msg := range f.Messages() {
		if msg.Channel != slackStaffChan && strings.Contains(msg.Text+string(msg.Blocks), secret) {
			t.Errorf("the internal note reached the employee: %+v", msg)
		}
	}
}

// --- Teams ---------------------------------------------------------------

var teamsEmployee = botframework.User{ID: "29:1alice", Name: "Alice Employee", AADObjectID: "aad-alice-0001"}

// An employee asks in Teams, the agents work in Slack: the answer comes
// through the Bot Framework connector, the ticket opens in the Slack staff
// channel, and the agent's "reply:" there reaches the employee in Teams
// as a proactive message; the internal note does not.
func TestChannelTeamsEmployeeSlackAgent(t *testing.T) {
	bf, err := botframework.Start(botframework.Config{})
	if err != nil {
		t.Fatalf("start fake bot framework: %v", err)
	}
	t.Cleanup(func() { _ = bf.Close() })
	sf := startSlackFake(t)
	cfg := writeChannelConfig(t, sampleConfig, func(c map[string]any) {
		withSlackStaff(sf)(c)
		yamlSet(c, "teams.openid_metadata_url", bf.MetadataURL())
		yamlSet(c, "teams.token_url", bf.TokenURL())
	})
	env := slackEnv(sf)
	env["TIER0_TEAMS_APP_ID"] = bf.Config().AppID
	env["TIER0_TEAMS_APP_PASSWORD"] = bf.Config().AppPassword
	env["TIER0_TEAMS_TENANT_ID"] = bf.Config().TenantID
	m, _ := startChannelServer(t, cfg, t.TempDir(), env)
	endpoint := baseURL(m) + "/api/messages"
	s := &slackUser{fake: sf, base: baseURL(m)}

	deliver := func(a botframework.Activity) {
		t.Helper()
		status, err := bf.Deliver(channelCtx(t), endpoint, a)
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("deliver %q: status %d, %v; want 202", a.Text, status, err)
		}
	}
	aliceConv := botframework.PersonalConversationID(teamsEmployee)
	key := teams.ConversationKey(bf.Config().TenantID, aliceConv)
	toAlice := func(what, substr string) botframework.Recorded {
		t.Helper()
		r, err := bf.WaitActivity(channelCtx(t), func(r botframework.Recorded) bool {
			return r.ConversationID == aliceConv && r.Activity.Type == "message" && strings.Contains(r.Text(), substr)
		})
		if err != nil {
			for _, r := range bf.Activities() {
				t.Logf("connector has: %s %s %q", r.ConversationID, r.Activity.Type, r.Text())
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return r
	}

	// 1. Answered from the knowledge base through the connector, citing the
	// article.
	deliver(bf.PersonalMessage(teamsEmployee, passwordQ))
	ans := toAlice("the answer", passwordPhrase)
	if !strings.Contains(string(ans.Raw), passwordURL) {
		t.Errorf("the answer does not cite %s: %s", passwordURL, ans.Raw)
	}

	// 2. A person, please: the ticket opens in the Slack staff channel.
	deliver(bf.PersonalMessage(teamsEmployee, humanQ))
	toAlice("the handoff notice", firstTicket)
	card := slackCard(t, sf, firstTicket)

	// 3. The Slack agent claims and notes; Alice hears an agent joined.
	s.click(t, card, slackStaffClaim, slackAgent)
	toAlice("the agent-joined notice", slackAgentName+" has joined")
	const secret = "token server shows a locked account"
	s.staffSays(t, card, secret)
	waitAgentEvent(t, m, key, "note")

	// 4. The reply crosses over to Teams, proactively (not as a reply to
	// an activity of hers).
	const reply = "I reset your password, please sign in again."
	s.staffSays(t, card, "reply: "+reply)
	got := toAlice("the agent's reply", reply)
	if got.ReplyTo != "" {
		t.Errorf("the reply was posted as a reply to %q, want a proactive message", got.ReplyTo)
	}

	for _, r := range bf.InConversation(aliceConv) {
		if strings.Contains(r.Text()+string(r.Raw), secret) {
			t.Errorf("the internal note reached the employee in Teams: %s", r.Raw)
		}
	}
	for _, msg := range sf.Messages() {
		if msg.Channel != slackStaffChan && strings.Contains(msg.Text, secret) {
			t.Errorf("the internal note left the staff channel: %+v", msg)
		}
	}
}

// --- Shop: Telegram and WhatsApp with the agent console -------------------

// consoleTicket is a queue entry of the agent console.
type consoleTicket struct {
	ConversationKey string `json:"conversation_key"`
	Ticket          struct {
		ID string `json:"id"`
	} `json:"ticket"`
}

// consoleQueue returns the agent console's queue.
func consoleQueue(tb testing.TB, agent *consoleClient) []consoleTicket {
	tb.Helper()
	var q struct {
		Tickets []consoleTicket `json:"tickets"`
	}
	agent.do(tb, http.MethodGet, "/console/api/tickets", nil, http.StatusOK, &q)
	return q.Tickets
}

// consoleAct posts an agent action on a ticket.
func consoleAct(tb testing.TB, agent *consoleClient, key, id, kind, text string) {
	tb.Helper()
	agent.do(tb, http.MethodPost, "/console/api/tickets/"+url.PathEscape(key)+"/actions",
		map[string]string{"action_id": id, "kind": kind, "text": text}, http.StatusOK, nil)
}

// checkShopAnswer checks the catalogue's answer to bootQ as the shopper
// sees it: the compatibility verdict, the related products, the sources.
func checkShopAnswer(tb testing.TB, text string, links []string) {
	tb.Helper()
	for _, want := range []string{bootAnswer, bootCrossSell} {
		if !strings.Contains(text, want) {
			tb.Errorf("answer %q does not contain %q", text, want)
		}
	}
	for _, want := range []string{bootURL, bindingURL} {
		if !slices.Contains(links, want) && !strings.Contains(text, want) {
			tb.Errorf("answer %q (links %q) does not cite %s", text, links, want)
		}
	}
}

// A shopper asks the shop's Telegram bot (long polling) whether a boot
// fits a binding: a cited answer from the catalogue with related products.
// Asking for a person puts the ticket into the agent console's queue; the
// agent claims it and replies, and the reply reaches the shopper on
// Telegram; the agent's internal note does not.
func TestChannelTelegramShopperConsoleAgent(t *testing.T) {
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
	checkProbes(t, m)

	const chat = 4242001
	shopper := models.User{ID: chat, FirstName: "Sven", LanguageCode: "en"}
	say := func(text string) {
		tg.EnqueueMessage(models.Message{Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate, FirstName: "Sven"}, From: &shopper, Text: text})
	}
	toShopper := func(what, substr string) tgfake.SentMessage {
		t.Helper()
		sm, err := tg.WaitSent(channelCtx(t), func(sm tgfake.SentMessage) bool {
			return sm.ChatID == chat && strings.Contains(sm.Plain, substr)
		})
		if err != nil {
			for _, sm := range tg.Sent() {
				t.Logf("telegram has: chat %d %q", sm.ChatID, sm.Plain)
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return sm
	}

	// 1. The catalogue's answer, cited, with related products.
	say(bootQ)
	ans := toShopper("the answer", "FB-APEX120")
	checkShopAnswer(t, ans.Plain, ans.Links)
	if !slices.Contains(ans.Labels(), "Talk to a person") {
		t.Errorf("answer buttons %q, want one to talk to a person", ans.Labels())
	}

	// 2. A person, please: the ticket waits in the console's queue.
	say(humanQ)
	toShopper("the handoff notice", shopHandoff)
	agent := consoleLogin(t, m, "admin", channelAgentPass)
	q := consoleQueue(t, agent)
	key := tgadapter.ConversationKey(chat, 0)
	if len(q) != 1 || q[0].Ticket.ID != shopTicket || q[0].ConversationKey != key {
		t.Fatalf("console queue %+v, want ticket %s of %s", q, shopTicket, key)
	}

	// 3. Claim, note, reply.
	consoleAct(t, agent, key, "a-1", "claim", "")
	toShopper("the agent-joined notice", "Admin has joined")
	const secret = "warehouse says size 27.5 is back on Monday"
	consoleAct(t, agent, key, "a-2", "note", secret)
	const reply = "Yes, both use the ISO 5355 norm; our workshop mounts the binding for free."
	consoleAct(t, agent, key, "a-3", "reply", reply)
	if got := toShopper("the agent's reply", "workshop mounts"); got.Plain != reply {
		t.Errorf("reply on Telegram %q, want %q", got.Plain, reply)
	}
	for _, sm := range tg.SentTo(chat) {
		if strings.Contains(sm.Plain, secret) {
			t.Errorf("the internal note reached the shopper: %q", sm.Plain)
		}
	}
}

// The same flow over the WhatsApp Business Cloud API: Meta's verification
// handshake, signed webhook POSTs to /whatsapp/webhook, replies through the
// Graph API fake.
func TestChannelWhatsAppCloudShopperConsoleAgent(t *testing.T) {
	const (
		token   = "EAAGtestaccesstoken0123456789"
		secret  = "app-secret-0123456789abcdef"
		verify  = "verify-me-0123"
		phoneID = "106540352242922"
		shopper = "4915112345678"
	)
	graph := whatsappgraph.New(whatsappgraph.Config{AccessToken: token, PhoneNumberID: phoneID})
	gs := newLoopbackServer(t, graph)
	cfg := writeChannelConfig(t, shopSampleConfig, func(c map[string]any) {
		yamlSet(c, "whatsapp_cloud.phone_number_id", phoneID)
		yamlSet(c, "whatsapp_cloud.api_url", gs)
	})
	m, _ := startChannelServer(t, cfg, t.TempDir(), map[string]string{
		"TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN": token,
		"TIER0_WHATSAPP_CLOUD_APP_SECRET":   secret,
		"TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN": verify,
		"TIER0_CONSOLE_PASSWORD":            channelAgentPass,
	})
	hookURL := baseURL(m) + "/whatsapp/webhook"
	hook := whatsappgraph.Webhook{AppSecret: secret, PhoneNumberID: phoneID}

	// Meta verifies the webhook before it sends anything; a wrong token is
	// refused.
	for _, tc := range []struct {
		token string
		want  int
	}{{verify, http.StatusOK}, {"wrong", http.StatusForbidden}} {
		q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {tc.token}, "hub.challenge": {"1158201444"}}
		res, err := http.Get(hookURL + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || tc.want == http.StatusOK && string(body) != "1158201444" {
			t.Errorf("verification with token %q: %d %q, want %d (and the challenge)", tc.token, res.StatusCode, body, tc.want)
		}
	}
	// A notification signed with another secret is refused.
	forged := whatsappgraph.Webhook{AppSecret: "not-the-app-secret", PhoneNumberID: phoneID}
	if status, _, err := forged.Post(channelCtx(t), nil, hookURL, forged.Messages("Mallory", whatsappgraph.TextMessage(shopper, "wamid.F1", humanQ))); err != nil || status != http.StatusUnauthorized {
		t.Errorf("forged notification: status %d, %v; want 401", status, err)
	}

	seq := 0
	say := func(text string) {
		t.Helper()
		seq++
		body := hook.Messages("Kerry Fisher", whatsappgraph.TextMessage(shopper, "wamid.S"+strconv.Itoa(seq), text))
		status, resp, err := hook.Post(channelCtx(t), nil, hookURL, body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("webhook: %d %s %v, want 200", status, resp, err)
		}
	}
	toShopper := func(what, substr string) whatsappgraph.Sent {
		t.Helper()
		ctx := channelCtx(t)
		for n := 1; ; n++ {
			sent, err := graph.WaitSent(ctx, n)
			if err != nil {
				for _, s := range graph.Sent() {
					t.Logf("graph has: to %s %s %q", s.To, s.Type, s.Text)
				}
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if s := sent[n-1]; s.To == shopper && strings.Contains(s.Text, substr) {
				return s
			}
		}
	}

	// 1. The catalogue's answer, cited, with related products and buttons.
	say(bootQ)
	ans := toShopper("the answer", "FB-APEX120")
	checkShopAnswer(t, ans.Text, nil)
	if ans.Interactive != "button" || !slices.ContainsFunc(ans.Choices, func(c whatsappgraph.Choice) bool { return c.Title == "Talk to a person" }) {
		t.Errorf("answer %s with choices %+v, want reply buttons with Talk to a person", ans.Type, ans.Choices)
	}

	// 2. A person, please: the ticket waits in the console's queue.
	say(humanQ)
	toShopper("the handoff notice", shopHandoff)
	agent := consoleLogin(t, m, "admin", channelAgentPass)
	q := consoleQueue(t, agent)
	key := whatsappcloud.ConversationKey(shopper)
	if len(q) != 1 || q[0].Ticket.ID != shopTicket || q[0].ConversationKey != key {
		t.Fatalf("console queue %+v, want ticket %s of %s", q, shopTicket, key)
	}

	// 3. Claim, note, reply.
	consoleAct(t, agent, key, "w-1", "claim", "")
	toShopper("the agent-joined notice", "Admin has joined")
	const note = "courier confirms the boots ship tomorrow"
	consoleAct(t, agent, key, "w-2", "note", note)
	const reply = "Yes, the Apex 120 fits the Race 16; shall I reserve both for you?"
	consoleAct(t, agent, key, "w-3", "reply", reply)
	if got := toShopper("the agent's reply", "reserve both"); got.Text != reply || got.Type != "text" {
		t.Errorf("reply on WhatsApp %s %q, want the text %q", got.Type, got.Text, reply)
	}
	for _, s := range graph.Sent() {
		if strings.Contains(s.Text, note) {
			t.Errorf("the internal note reached the shopper: %q", s.Text)
		}
	}
}

// newLoopbackServer serves h on a loopback port until the test ends and
// returns its URL.
func newLoopbackServer(tb testing.TB, h http.Handler) string {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}

// --- Configuration errors --------------------------------------------------

// Channel settings that cannot work are refused by LoadConfig with an
// error that says what is missing; consistent ones load.
func TestChannelConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c map[string]any)
		env     map[string]string
		wantErr string // "" for success
		// wantStaff is the handoff desk's staff channel of a valid config.
		wantStaff conversation.Channel
	}{
		{
			name:    "slack staff channel without slack",
			edit:    func(c map[string]any) { yamlSet(c, "handoff.staff_channel", "slack") },
			wantErr: "handoff.staff_channel slack needs TIER0_SLACK_BOT_TOKEN and slack.staff_channel_id",
		},
		{
			name:    "slack staff channel without its channel id",
			edit:    func(c map[string]any) { yamlSet(c, "handoff.staff_channel", "slack") },
			env:     map[string]string{"TIER0_SLACK_BOT_TOKEN": "xoxb-1", "TIER0_SLACK_SIGNING_SECRET": "s"},
			wantErr: "handoff.staff_channel slack needs TIER0_SLACK_BOT_TOKEN and slack.staff_channel_id",
		},
		{
			name:    "slack events api without signing secret",
			env:     map[string]string{"TIER0_SLACK_BOT_TOKEN": "xoxb-1"},
			wantErr: "TIER0_SLACK_SIGNING_SECRET is required in http mode",
		},
		{
			name:    "telegram webhook without secret",
			edit:    func(c map[string]any) { yamlSet(c, "telegram.mode", "webhook") },
			env:     map[string]string{"TIER0_TELEGRAM_TOKEN": "123:abc"},
			wantErr: "TIER0_TELEGRAM_WEBHOOK_SECRET is required in webhook mode",
		},
		{
			name:    "unknown telegram mode",
			edit:    func(c map[string]any) { yamlSet(c, "telegram.mode", "push") },
			wantErr: `telegram.mode "push": want polling or webhook`,
		},
		{
			name:    "unknown staff channel",
			edit:    func(c map[string]any) { yamlSet(c, "handoff.staff_channel", "discord") },
			wantErr: `handoff.staff_channel "discord": want console, slack, teams or telegram`,
		},
		{
			name: "teams staff channel without service url",
			edit: func(c map[string]any) {
				yamlSet(c, "handoff.staff_channel", "teams")
				yamlSet(c, "teams.staff_channel_id", "19:x@thread.tacv2")
			},
			env:     map[string]string{"TIER0_TEAMS_APP_ID": "app", "TIER0_TEAMS_APP_PASSWORD": "pw"},
			wantErr: "handoff.staff_channel teams needs",
		},
		{
			name:    "telegram staff channel without a chat",
			edit:    func(c map[string]any) { yamlSet(c, "handoff.staff_channel", "telegram") },
			env:     map[string]string{"TIER0_TELEGRAM_TOKEN": "123:abc"},
			wantErr: "handoff.staff_channel telegram needs TIER0_TELEGRAM_TOKEN and telegram.staff_chat_id",
		},
		{
			name:    "whatsapp cloud without app secret",
			edit:    func(c map[string]any) { yamlSet(c, "whatsapp_cloud.phone_number_id", "1065") },
			env:     map[string]string{"TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN": "EAAG", "TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN": "v"},
			wantErr: "whatsapp_cloud: TIER0_WHATSAPP_CLOUD_APP_SECRET",
		},
		{
			name:    "unknown channel key",
			edit:    func(c map[string]any) { yamlSet(c, "slack.staff_channel", "CSTAFF") },
			wantErr: "field staff_channel not found",
		},
		{
			name: "slack staff channel complete",
			edit: func(c map[string]any) {
				yamlSet(c, "handoff.staff_channel", "slack")
				yamlSet(c, "slack.staff_channel_id", "CSTAFF")
			},
			env:       map[string]string{"TIER0_SLACK_BOT_TOKEN": "xoxb-1", "TIER0_SLACK_SIGNING_SECRET": "s"},
			wantStaff: "slack-staff",
		},
		{
			name: "telegram webhook with secret",
			edit: func(c map[string]any) { yamlSet(c, "telegram.mode", "webhook") },
			env:  map[string]string{"TIER0_TELEGRAM_TOKEN": "123:abc", "TIER0_TELEGRAM_WEBHOOK_SECRET": "s3cret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeChannelConfig(t, sampleConfig, tt.edit)
			c, err := LoadConfig(path, func(k string) string { return tt.env[k] })
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("LoadConfig = %v, want success", err)
			case tt.wantErr == "":
				if got := staffChannel(c); got != tt.wantStaff {
					t.Errorf("staff channel = %q, want %q", got, tt.wantStaff)
				}
			case err == nil:
				t.Fatalf("LoadConfig succeeded, want an error containing %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("LoadConfig = %v, want an error containing %q", err, tt.wantErr)
			case !strings.Contains(err.Error(), path):
				t.Errorf("LoadConfig = %v, want the error to name the file %s", err, path)
			}
		})
	}
	// The platform's own checks run when the server starts: Run fails with
	// an error that names the platform, and nothing is left listening.
	t.Run("slack token refused at start", func(t *testing.T) {
		f := startSlackFake(t)
		path := writeChannelConfig(t, sampleConfig, withSlackStaff(f))
		m := NewMain()
		env := map[string]string{"TIER0_SLACK_BOT_TOKEN": "xoxb-revoked", "TIER0_SLACK_SIGNING_SECRET": "s"}
		m.Getenv = func(k string) string { return env[k] }
		m.Stdout, m.Stderr = io.Discard, io.Discard
		if err := m.ParseFlags(context.Background(), []string{"-config", path, "-listen", "127.0.0.1:0", "-data", t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		if err == nil || !strings.HasPrefix(err.Error(), "slack:") {
			t.Errorf("Run = %v, want an error starting with slack:", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close after a failed Run: %v", err)
		}
		if m.Addr() != "" {
			t.Errorf("a failed Run listens on %s", m.Addr())
		}
	})
}

// WhatsApp on a device store that was never paired: the server starts
// (the other channels work), the WhatsApp connection stops at once and
// /readyz says so, with how to pair; `tier0 whatsapp` without "pair"
// prints its usage.
func TestChannelWhatsAppUnpaired(t *testing.T) {
	path := writeChannelConfig(t, sampleConfig, func(c map[string]any) {
		yamlSet(c, "whatsapp.enabled", true)
	})
	m := NewMain()
	m.Getenv = func(string) string { return "" }
	m.Stdout, m.Stderr = io.Discard, io.Discard
	if err := m.ParseFlags(context.Background(), []string{"-config", path, "-listen", "127.0.0.1:0", "-data", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	var body string
	deadline := time.Now().Add(waitLimit)
	for {
		resp, err := http.Get("http://" + m.Addr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "tier0 whatsapp pair") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s, want 503 naming the stopped WhatsApp connection and tier0 whatsapp pair", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var stderr strings.Builder
	err := run(context.Background(), []string{"whatsapp", "link"}, strings.NewReader(""), io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), "usage: tier0 whatsapp pair") {
		t.Errorf("tier0 whatsapp link = %v (stderr %q), want the usage", err, stderr.String())
	}
}

func TestChannelStopReasonHidesSecrets(t *testing.T) {
	ch := &channels{secrets: []string{"123456:AAsecret"}}
	got := ch.redact(`Post "https://api.telegram.org/bot123456:AAsecret/getUpdates": dial tcp: i/o timeout`)
	if strings.Contains(got, "AAsecret") || !strings.Contains(got, "bot[redacted]/getUpdates") {
		t.Errorf("redact = %q, want the token blanked out", got)
	}
	if got := truncate("aäbc", 2); got != "a…" {
		t.Errorf("truncate at a rune boundary = %q, want %q", got, "a…")
	}
}
