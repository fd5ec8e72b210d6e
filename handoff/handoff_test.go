package handoff_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/handoff"
)

// openStore returns a fresh bolt store in a temporary directory, closed
// when the test ends.
func openStore(tb testing.TB) *boltstore.Store {
	tb.Helper()
	s, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
	if err != nil {
		tb.Fatalf("boltstore.Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func newDesk(tb testing.TB, seq handoff.Sequencer, cfg handoff.Config) *handoff.Desk {
	tb.Helper()
	d, err := handoff.NewDesk(seq, cfg)
	if err != nil {
		tb.Fatalf("NewDesk(%+v): %v", cfg, err)
	}
	return d
}

func at(min int) time.Time { return time.Date(2025, 5, 2, 9, min, 0, 0, time.UTC) }

// vpnConversation is a conversation with five turns: the bot cited two
// sources in its answer, and the customer clicked a button.
func vpnConversation() *conversation.Conversation {
	return &conversation.Conversation{
		Key:     "webchat:s1",
		Channel: conversation.ChannelWebChat,
		User:    conversation.Identity{ID: "u-7", DisplayName: "Ada Lovelace"},
		Phase:   conversation.PhaseBot,
		Ticket:  "IT-1001",
		History: []conversation.Turn{
			{Role: conversation.RoleCustomer, Text: "Hello", At: at(0)},
			{Role: conversation.RoleCustomer, Text: "The VPN drops every hour", At: at(1)},
			{Role: conversation.RoleBot, Text: "Renew the certificate.", At: at(2), Kind: conversation.KindAnswer,
				Citations: []conversation.Citation{
					{Title: "VPN guide", Source: "vpn.md", Section: "Certificates", URL: "https://docs.example.org/vpn"},
					{Title: "Known issues", Source: "issues.md"},
				}},
			{Role: conversation.RoleCustomer, At: at(3), Action: &conversation.Action{ID: conversation.ActionNotHelpful}},
			{Role: conversation.RoleCustomer, Text: "Still broken", At: at(4)},
		},
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  handoff.Config
		ok   bool
	}{
		{"Prefix", handoff.Config{TicketPrefix: "IT"}, true},
		{"PrefixWithDigits", handoff.Config{TicketPrefix: "HR2"}, true},
		{"PrefixOneLetter", handoff.Config{TicketPrefix: "T"}, true},
		{"PrefixTenCharacters", handoff.Config{TicketPrefix: "ABCDEFGHIJ"}, true},
		{"PrefixEmpty", handoff.Config{}, false},
		{"PrefixElevenCharacters", handoff.Config{TicketPrefix: "ABCDEFGHIJK"}, false},
		{"PrefixLowerCase", handoff.Config{TicketPrefix: "it"}, false},
		{"PrefixStartsWithDigit", handoff.Config{TicketPrefix: "1T"}, false},
		{"PrefixWithDash", handoff.Config{TicketPrefix: "I-T"}, false},
		{"PrefixWithNewline", handoff.Config{TicketPrefix: "IT\n"}, false},
		{"PrefixUnicode", handoff.Config{TicketPrefix: "ÜT"}, false},
		{"PriorityEmpty", handoff.Config{TicketPrefix: "IT", Priority: ""}, true},
		{"PriorityP1", handoff.Config{TicketPrefix: "IT", Priority: "P1"}, true},
		{"PriorityP4", handoff.Config{TicketPrefix: "IT", Priority: "P4"}, true},
		{"PriorityP0", handoff.Config{TicketPrefix: "IT", Priority: "P0"}, false},
		{"PriorityP5", handoff.Config{TicketPrefix: "IT", Priority: "P5"}, false},
		{"PriorityLowerCase", handoff.Config{TicketPrefix: "IT", Priority: "p2"}, false},
		{"PriorityWord", handoff.Config{TicketPrefix: "IT", Priority: "high"}, false},
		{"PriorityTrailing", handoff.Config{TicketPrefix: "IT", Priority: "P2 "}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate(%+v): got %v, want ok=%v", tc.cfg, err, tc.ok)
			}
			if err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Fatalf("Validate: got code %q, want %q", conversation.ErrorCode(err), conversation.Invalid)
			}
		})
	}
}

func TestNewDesk(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	// Defaults fill an empty config, so it is valid for NewDesk.
	d := newDesk(t, s, handoff.Config{})
	tk, _, err := d.Open(ctx, conversation.HandoffRequest{Conversation: vpnConversation(), Reason: "not_sure"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := conversation.Ticket{ID: "T-1001", Status: "open", Priority: "P3", Team: "Support"}
	if tk != want {
		t.Fatalf("ticket with defaults: got %+v, want %+v", tk, want)
	}
	if _, err := handoff.NewDesk(s, handoff.Config{TicketPrefix: "it"}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("NewDesk with a bad prefix: got %v, want an Invalid error", err)
	}
}

func TestTicketIDs(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	it := newDesk(t, s, handoff.Config{TicketPrefix: "IT", Team: "IT Service Desk", Priority: "P2"})
	hr := newDesk(t, s, handoff.Config{TicketPrefix: "HR", FirstNumber: 500})
	steps := []struct {
		desk *handoff.Desk
		want conversation.Ticket
	}{
		{it, conversation.Ticket{ID: "IT-1001", Status: "open", Priority: "P2", Team: "IT Service Desk"}},
		{it, conversation.Ticket{ID: "IT-1002", Status: "open", Priority: "P2", Team: "IT Service Desk"}},
		{hr, conversation.Ticket{ID: "HR-501", Status: "open", Priority: "P3", Team: "Support"}},
		{it, conversation.Ticket{ID: "IT-1003", Status: "open", Priority: "P2", Team: "IT Service Desk"}},
	}
	for i, st := range steps {
		got, outs, err := st.desk.Open(ctx, conversation.HandoffRequest{Conversation: vpnConversation(), Reason: "customer_request"})
		if err != nil {
			t.Fatalf("step %d: Open: %v", i, err)
		}
		if got != st.want {
			t.Fatalf("step %d: got ticket %+v, want %+v", i, got, st.want)
		}
		if len(outs) != 0 {
			t.Fatalf("step %d: got %d staff messages without a staff channel, want none", i, len(outs))
		}
	}
	// The numbers survive a restart of the store.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	reopened, err := boltstore.Open(path, boltstore.Config{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = reopened.Close() })
	tk, _, err := newDesk(t, reopened, handoff.Config{TicketPrefix: "IT"}).Open(ctx, conversation.HandoffRequest{Conversation: vpnConversation()})
	if err != nil || tk.ID != "IT-1004" {
		t.Fatalf("Open after reopening the store: got %q, %v; want IT-1004", tk.ID, err)
	}
}

func TestOpenStoreDown(t *testing.T) {
	s := openStore(t)
	d := newDesk(t, s, handoff.Config{TicketPrefix: "IT"})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, outs, err := d.Open(context.Background(), conversation.HandoffRequest{Conversation: vpnConversation()})
	if conversation.ErrorCode(err) != conversation.Unavailable || outs != nil {
		t.Fatalf("Open with the store closed: got %v and %d messages, want an Unavailable error and none", err, len(outs))
	}
}

func TestCard(t *testing.T) {
	tk := conversation.Ticket{ID: "IT-1001", Status: "open", Priority: "P2", Team: "IT Service Desk"}
	header := "New ticket IT-1001 (P2, IT Service Desk) for Ada Lovelace\n" +
		"Reason: not_helpful · Channel: webchat · Conversation: webchat:s1\n" +
		"Transcript:\n"
	lines := []string{ // the transcript, one entry per turn
		"  customer: Hello\n",
		"  customer: The VPN drops every hour\n",
		"  bot: Renew the certificate.\n    cited: VPN guide (vpn.md)\n    cited: Known issues (issues.md)\n",
		"  customer: [clicked not_helpful]\n",
		"  customer: Still broken\n",
	}
	cases := []struct {
		name  string
		turns int
		want  []string // the transcript lines the card quotes
	}{
		{"LastTwo", 2, lines[3:]},
		{"LastThreeWithCitations", 3, lines[2:]},
		{"Exactly", 5, lines},
		{"MoreThanTheHistory", 50, lines},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := conversation.HandoffRequest{Conversation: vpnConversation(), Reason: "not_helpful"}
			got := handoff.Card(tk, r, tc.turns)
			if want := header + strings.Join(tc.want, ""); got != want {
				t.Fatalf("Card(turns %d):\n got %q\nwant %q", tc.turns, got, want)
			}
		})
	}
	t.Run("ConsultingAnswers", func(t *testing.T) {
		c := vpnConversation()
		c.History = nil
		c.Slots = []conversation.Slot{{Question: "Which device are you on?", Answer: "Windows laptop"}, {Question: "What error?", Answer: "809"}}
		got := handoff.Card(tk, conversation.HandoffRequest{Conversation: c, Reason: "consulting_cap"}, 10)
		want := "New ticket IT-1001 (P2, IT Service Desk) for Ada Lovelace\n" +
			"Reason: consulting_cap · Channel: webchat · Conversation: webchat:s1\n" +
			"Consulting:\n  Q: Which device are you on?\n  A: Windows laptop\n  Q: What error?\n  A: 809\n" +
			"Transcript:\n"
		if got != want {
			t.Fatalf("Card with consulting answers:\n got %q\nwant %q", got, want)
		}
	})
	t.Run("SentimentTrend", func(t *testing.T) {
		c := vpnConversation()
		c.History = []conversation.Turn{
			{Role: conversation.RoleCustomer, Text: "hm", Sentiment: -0.2},
			{Role: conversation.RoleCustomer, Text: "useless!!!", Sentiment: -0.8},
		}
		got := handoff.Card(tk, conversation.HandoffRequest{Conversation: c, Reason: "frustration"}, 10)
		want := fmt.Sprintf("Sentiment: trend %+.2f, last -0.80\n", handoff.Trend([]float64{-0.2, -0.8}))
		if !strings.Contains(got, want) {
			t.Fatalf("Card with sentiment:\n got %q\nwant it to contain %q", got, want)
		}
	})
	t.Run("Phone", func(t *testing.T) {
		c := vpnConversation()
		c.User.Phone, c.History = "+4915112345678", nil
		got := handoff.Card(tk, conversation.HandoffRequest{Conversation: c, Reason: "customer_request"}, 10)
		want := "Reason: customer_request · Channel: webchat · Conversation: webchat:s1\nPhone: +4915112345678\nTranscript:\n"
		if !strings.HasSuffix(got, want) {
			t.Fatalf("Card with a phone number:\n got %q\nwant it to end with %q", got, want)
		}
	})
	t.Run("Language", func(t *testing.T) {
		c := vpnConversation()
		c.Language, c.History = "de", nil
		got := handoff.Card(tk, conversation.HandoffRequest{Conversation: c, Reason: "customer_request"}, 10)
		want := "Reason: customer_request · Channel: webchat · Conversation: webchat:s1\nLanguage: German (de) (write to the customer in it; replies are not translated)\nTranscript:\n"
		if !strings.HasSuffix(got, want) {
			t.Fatalf("Card of a German conversation:\n got %q\nwant it to end with %q", got, want)
		}
	})
	t.Run("NoDisplayName", func(t *testing.T) {
		c := vpnConversation()
		c.User.DisplayName, c.History = "", nil
		got := handoff.Card(tk, conversation.HandoffRequest{Conversation: c, Reason: "customer_request"}, 10)
		want := "New ticket IT-1001 (P2, IT Service Desk) for u-7\n" +
			"Reason: customer_request · Channel: webchat · Conversation: webchat:s1\n" +
			"Transcript:\n"
		if got != want {
			t.Fatalf("Card without a name or history:\n got %q\nwant %q", got, want)
		}
	})
}

func TestOpenPostsCard(t *testing.T) {
	s := openStore(t)
	cfg := handoff.Config{TicketPrefix: "IT", Team: "IT Service Desk", StaffChannel: conversation.ChannelSlack,
		StaffThread: "C-staff", TranscriptTurns: 2}
	d := newDesk(t, s, cfg)
	r := conversation.HandoffRequest{Conversation: vpnConversation(), Reason: "not_sure"}
	tk, outs, err := d.Open(context.Background(), r)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if len(outs) != 1 {
		t.Fatalf("staff messages: got %d, want 1", len(outs))
	}
	want := conversation.Outbound{Channel: conversation.ChannelSlack, ThreadKey: "C-staff", Kind: conversation.KindHandoff,
		Text: handoff.Card(tk, r, 2)}
	if got := outs[0]; got.Channel != want.Channel || got.ThreadKey != want.ThreadKey || got.Kind != want.Kind || got.Text != want.Text {
		t.Fatalf("handoff card: got %+v, want %+v", got, want)
	}
	for _, part := range []string{"IT-1001", "Reason: not_sure", "customer: [clicked not_helpful]", "customer: Still broken"} {
		if !strings.Contains(outs[0].Text, part) {
			t.Fatalf("handoff card %q lacks %q", outs[0].Text, part)
		}
	}
	if strings.Contains(outs[0].Text, "The VPN drops") {
		t.Fatalf("handoff card %q quotes more than the last 2 turns", outs[0].Text)
	}
}

func TestRelay(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	staffed := newDesk(t, s, handoff.Config{TicketPrefix: "IT", StaffChannel: conversation.ChannelSlack, StaffThread: "C-staff"})
	unstaffed := newDesk(t, s, handoff.Config{TicketPrefix: "IT"})
	anonymous := vpnConversation()
	anonymous.User.DisplayName = ""
	cases := []struct {
		name string
		desk *handoff.Desk
		conv *conversation.Conversation
		msg  conversation.Message
		want []string // texts of the staff messages
	}{
		{"Text", staffed, vpnConversation(), conversation.Message{Text: "Any news?"}, []string{"IT-1001 (Ada Lovelace): Any news?"}},
		{"Click", staffed, vpnConversation(), conversation.Message{Action: &conversation.Action{ID: conversation.ActionHuman}},
			[]string{"IT-1001 (Ada Lovelace): [clicked human]"}},
		{"NoDisplayName", staffed, anonymous, conversation.Message{Text: "Hello?"}, []string{"IT-1001 (u-7): Hello?"}},
		{"NoStaffChannel", unstaffed, vpnConversation(), conversation.Message{Text: "Any news?"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outs, err := tc.desk.Relay(ctx, tc.conv, &tc.msg)
			if err != nil {
				t.Fatalf("Relay: %v", err)
			}
			var got []string
			for _, o := range outs {
				got = append(got, o.Text)
				if o.Channel != conversation.ChannelSlack || o.ThreadKey != "C-staff" || o.Kind != conversation.KindStaff {
					t.Fatalf("relayed message: got channel %q thread %q kind %q, want slack, C-staff, staff", o.Channel, o.ThreadKey, o.Kind)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Relay: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOpenAppliesPriorityAndRoutingRules(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	monday10 := time.Date(2026, 11, 23, 10, 0, 0, 0, berlin)
	sunday10 := time.Date(2026, 11, 22, 10, 0, 0, 0, berlin)
	cfg := handoff.Config{
		TicketPrefix: "IT", Team: "IT Service Desk", Priority: "P3",
		Priorities: handoff.Priorities{Rules: []handoff.PriorityRule{
			{Keywords: []string{"outage", "ausfall"}, Priority: "P1"},
			{MinNegativeSentiment: -0.5, Priority: "P2"},
		}},
		Routes: handoff.Routes{Rules: []handoff.RouteRule{{
			Languages: []string{"de"}, Team: "IT Service Desk DE",
			BusinessHours: &handoff.BusinessHours{TimeZone: "Europe/Berlin", Start: "08:00", End: "18:00", OutOfHoursTeam: "On-call"},
		}}},
	}
	tests := []struct {
		name         string
		locale       string
		language     string // detected; "" = not known
		text         string
		sentiment    float64
		now          time.Time
		wantPriority string
		wantTeam     string
	}{
		{"default", "en", "", "my mouse is slow", 0, monday10, "P3", "IT Service Desk"},
		{"outage keyword", "en", "", "VPN outage in Munich", 0, monday10, "P1", "IT Service Desk"},
		{"angry customer", "en", "", "still broken", -0.7, monday10, "P2", "IT Service Desk"},
		{"german in hours", "de-DE", "", "Drucker geht nicht", 0, monday10, "P3", "IT Service Desk DE"},
		{"german out of hours", "de", "", "Totaler Ausfall!", 0, sunday10, "P1", "On-call"},
		{"detected german beats an english locale", "en-US", "de", "Drucker geht nicht", 0, monday10, "P3", "IT Service Desk DE"},
		{"detected english beats a german locale", "de-DE", "en", "printer is broken", 0, monday10, "P3", "IT Service Desk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.Now = func() time.Time { return tt.now }
			desk, err := handoff.NewDesk(openStore(t), c)
			if err != nil {
				t.Fatal(err)
			}
			conv := &conversation.Conversation{Key: "webchat:r", Channel: conversation.ChannelWebChat, User: conversation.Identity{ID: "u", Locale: tt.locale},
				Language: tt.language, History: []conversation.Turn{{Role: conversation.RoleCustomer, Text: tt.text, Sentiment: tt.sentiment}}}
			tk, _, err := desk.Open(context.Background(), conversation.HandoffRequest{Conversation: conv, Reason: "customer_request"})
			if err != nil {
				t.Fatal(err)
			}
			if tk.Priority != tt.wantPriority || tk.Team != tt.wantTeam {
				t.Errorf("ticket %s/%s, want %s/%s", tk.Priority, tk.Team, tt.wantPriority, tt.wantTeam)
			}
		})
	}
	bad := cfg
	bad.Priorities.Rules = []handoff.PriorityRule{{Keywords: []string{"x"}, Priority: "P9"}}
	if _, err := handoff.NewDesk(nil, bad); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("NewDesk with priority P9: err %v, want invalid", err)
	}
}

func TestCardListsActionRuns(t *testing.T) {
	c := vpnConversation()
	c.ActionLog = []conversation.ActionRun{{Action: "order_status", Params: "order=***42 email=m***@e***.com", Outcome: "not_found", At: time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)}}
	card := handoff.Card(conversation.Ticket{ID: "SHOP-1"}, conversation.HandoffRequest{Conversation: c, Reason: "customer_request"}, 5)
	if !strings.Contains(card, "Actions:\n  09:30 order_status: not_found (order=***42 email=m***@e***.com)\n") || strings.Contains(card, "max@") {
		t.Errorf("card = %s, want the masked action run", card)
	}
}
