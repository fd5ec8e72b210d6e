package console_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/console"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

func TestFormat(t *testing.T) {
	buttons := []conversation.Button{
		{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"},
		{Action: conversation.Action{ID: conversation.ActionNotHelpful}, Label: "Not helpful"},
		{Action: conversation.Action{ID: conversation.ActionHuman}, Label: "Talk to a person"},
	}
	cases := []struct {
		name string
		o    conversation.Outbound
		want string
	}{
		{"Text", conversation.Outbound{Text: "Hello there."}, "bot> Hello there.\n"},
		{"TrimmedSpace", conversation.Outbound{Text: "\n  Hello.  \n"}, "bot> Hello.\n"},
		{"MultiLine", conversation.Outbound{Text: "Step one.\nStep two."}, "bot> Step one.\n     Step two.\n"},
		{"Agent", conversation.Outbound{Kind: conversation.KindAgent, Text: "Bob here."}, "agent> Bob here.\n"},
		{"OtherKindsAreTheBot", conversation.Outbound{Kind: conversation.KindHandoff, Text: "Passed on."}, "bot> Passed on.\n"},
		{"CitationWithSectionAndURL", conversation.Outbound{Text: "Renew it.", Citations: []conversation.Citation{
			{Title: "VPN guide", Source: "vpn.md", Section: "Certificates", URL: "https://docs.example.org/vpn"}}},
			"bot> Renew it.\n     Source: VPN guide › Certificates <https://docs.example.org/vpn>\n"},
		{"CitationsPartial", conversation.Outbound{Text: "See both.", Citations: []conversation.Citation{
			{Title: "Known issues", Source: "issues.md"},
			{Title: "FAQ", Source: "faq.md", URL: "https://docs.example.org/faq"},
			{Title: "Policy", Source: "policy.md", Section: "Laptops"}}},
			"bot> See both.\n     Source: Known issues\n     Source: FAQ <https://docs.example.org/faq>\n     Source: Policy › Laptops\n"},
		{"NumberedButtons", conversation.Outbound{Text: "Did that help?", Buttons: buttons},
			"bot> Did that help?\n     [1] Helpful  [2] Not helpful  [3] Talk to a person\n"},
		{"Everything", conversation.Outbound{Kind: conversation.KindAgent, Text: "Try this.\nThen reboot.", Buttons: buttons[2:],
			Citations: []conversation.Citation{{Title: "Reboot", Section: "Windows", URL: "https://docs.example.org/reboot"}}},
			"agent> Try this.\n     Then reboot.\n     Source: Reboot › Windows <https://docs.example.org/reboot>\n     [1] Talk to a person\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := console.Format(tc.o); got != tc.want {
				t.Fatalf("Format:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// syncBuffer is the console's output: written by the dispatcher's
// goroutine, read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineReader hands Run one line per Read and records what the console had
// printed at the moment each line (and finally EOF) was read.
type lineReader struct {
	lines []string
	out   *syncBuffer
	seen  []string // seen[i]: the output when line i was read; the last one at EOF
}

func (r *lineReader) Read(p []byte) (int, error) {
	r.seen = append(r.seen, r.out.String())
	if len(r.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.lines[0]+"\n")
	r.lines = r.lines[1:]
	return n, nil
}

// passwordKnowledge is the knowledge base of these tests: it answers
// questions about passwords, with a cited source, and nothing else. It
// records the questions it was asked.
type passwordKnowledge struct {
	mu      sync.Mutex
	queries []string
}

var _ conversation.Knowledge = (*passwordKnowledge)(nil)

func (k *passwordKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	k.mu.Lock()
	k.queries = append(k.queries, q.Text)
	k.mu.Unlock()
	if !strings.Contains(strings.ToLower(q.Text), "password") {
		return conversation.Answer{Score: 0.1}, nil
	}
	return conversation.Answer{
		Text: "Reset it at the password portal.",
		Citations: []conversation.Citation{{Title: "Password reset", Source: "password.md", Section: "Self-service",
			URL: "https://docs.example.org/password"}},
		Score: 0.9, Confident: true,
	}, nil
}

func (k *passwordKnowledge) asked() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.queries)
}

// chat is an engine over a bolt store with passwordKnowledge.
type chat struct {
	store     *boltstore.Store
	knowledge *passwordKnowledge
	engine    *conversation.Engine
}

func newChat(tb testing.TB) *chat {
	tb.Helper()
	s, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
	if err != nil {
		tb.Fatalf("boltstore.Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	k := &passwordKnowledge{}
	return &chat{store: s, knowledge: k, engine: conversation.NewEngine(s, k, nil, conversation.EngineConfig{})}
}

// deliverTo runs a dispatcher that delivers the engine's console replies
// to c until the test ends.
func (ch *chat) deliverTo(tb testing.TB, c *console.Console) {
	tb.Helper()
	d := conversation.NewDispatcher(ch.store, conversation.DispatcherConfig{})
	d.Register(conversation.ChannelConsole, c)
	ch.engine.DeliverWith(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
}

// customerTurns returns the customer turns of the console's conversation.
func (ch *chat) customerTurns(tb testing.TB, c *console.Console) []conversation.Turn {
	tb.Helper()
	conv, err := ch.store.Load(context.Background(), c.ConversationKey())
	if err != nil {
		tb.Fatalf("Load(%q): %v", c.ConversationKey(), err)
	}
	var turns []conversation.Turn
	for _, tn := range conv.History {
		if tn.Role == conversation.RoleCustomer {
			turns = append(turns, tn)
		}
	}
	return turns
}

func run(tb testing.TB, c *console.Console, h console.Handler, in io.Reader) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.Run(ctx, h, in)
}

func TestScriptedRun(t *testing.T) {
	tx := conversation.DefaultTexts()
	ch := newChat(t)
	out := &syncBuffer{}
	c := console.New(console.Config{Session: "s1"}, out)
	ch.deliverTo(t, c)
	in := &lineReader{out: out, lines: []string{"How do I reset my password?", "1", "What is the meaning of life?"}}
	replies := []string{
		"bot> Reset it at the password portal.\n" +
			"     Source: Password reset › Self-service <https://docs.example.org/password>\n" +
			"     [1] " + tx.ButtonHelpful + "  [2] " + tx.ButtonNotHelp + "  [3] " + tx.ButtonHuman + "\n",
		"bot> " + tx.Helpful + "\n",
		"bot> " + tx.NotSure + "\n     [1] " + tx.ButtonHuman + "\n",
	}
	if err := run(t, c, ch.engine, in); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Each line was read only after the replies to the ones before it
	// were printed.
	if len(in.seen) != len(replies)+1 {
		t.Fatalf("reads: got %d, want %d (one per line and EOF)", len(in.seen), len(replies)+1)
	}
	for i, got := range in.seen {
		if want := strings.Join(replies[:i], ""); got != want {
			t.Fatalf("output when line %d was read:\n got %q\nwant %q", i+1, got, want)
		}
	}
	if got := c.ConversationKey(); got != "console:local:s1" {
		t.Fatalf("ConversationKey: got %q, want %q", got, "console:local:s1")
	}
	// "1" clicked the first button of the answer: the engine got the
	// action, and knowledge was not asked about "1".
	turns := ch.customerTurns(t, c)
	if len(turns) != 3 || turns[1].Action == nil || turns[1].Action.ID != conversation.ActionHelpful || turns[1].Text != "" {
		t.Fatalf("customer turns: got %+v, want the second to be a click on %q", turns, conversation.ActionHelpful)
	}
	if got, want := ch.knowledge.asked(), []string{"How do I reset my password?", "What is the meaning of life?"}; !slices.Equal(got, want) {
		t.Fatalf("knowledge was asked %q, want %q", got, want)
	}
}

func TestChoices(t *testing.T) {
	const question = "I forgot my password"
	cases := []struct {
		name   string
		lines  []string
		action string // the action of the last customer turn, "" for text
		text   string // the text of the last customer turn
	}{
		{"FirstButton", []string{question, "1"}, conversation.ActionHelpful, ""},
		{"SecondButton", []string{question, " 2 "}, conversation.ActionNotHelpful, ""},
		{"NoChoicesYet", []string{"1"}, "", "1"},
		{"OutOfRange", []string{question, "4"}, "", "4"},
		{"Zero", []string{question, "0"}, "", "0"},
		{"NotANumber", []string{question, "one"}, "", "one"},
		{"ChoicesOfTheLastReplyWithButtons", []string{question, "1", "1"}, conversation.ActionHelpful, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := newChat(t)
			c := console.New(console.Config{Session: tc.name}, &syncBuffer{})
			ch.deliverTo(t, c)
			if err := run(t, c, ch.engine, strings.NewReader(strings.Join(tc.lines, "\n"))); err != nil {
				t.Fatalf("Run: %v", err)
			}
			turns := ch.customerTurns(t, c)
			if len(turns) != len(tc.lines) {
				t.Fatalf("customer turns: got %d, want %d", len(turns), len(tc.lines))
			}
			last := turns[len(turns)-1]
			var action string
			if last.Action != nil {
				action = last.Action.ID
			}
			if action != tc.action || last.Text != tc.text {
				t.Fatalf("last customer turn: got action %q text %q, want action %q text %q", action, last.Text, tc.action, tc.text)
			}
		})
	}
}

func TestSendIsIdempotent(t *testing.T) {
	out := &syncBuffer{}
	c := console.New(console.Config{}, out)
	ctx := context.Background()
	first := conversation.Outbound{ID: "o-1", Channel: conversation.ChannelConsole, Text: "Once."}
	second := conversation.Outbound{ID: "o-2", Channel: conversation.ChannelConsole, Text: "Twice."}
	for _, o := range []conversation.Outbound{first, first, second, first} {
		if err := c.Send(ctx, o); err != nil {
			t.Fatalf("Send(%q): %v", o.ID, err)
		}
	}
	if got, want := out.String(), "bot> Once.\nbot> Twice.\n"; got != want {
		t.Fatalf("output after a repeated Send:\n got %q\nwant %q", got, want)
	}
}

func TestRunErrors(t *testing.T) {
	cases := []struct {
		name     string
		input    string
		deliver  bool
		wantCode conversation.Code
		wantText string // part of the error message
	}{
		{"ReplyTimeout", "How do I reset my password?\n", false, conversation.Unavailable, "no reply within"},
		{"TooLongForTheEngine", strings.Repeat("a", conversation.MaxTextLen+1) + "\n", true, conversation.Invalid, "longer than"},
		{"TooLongToRead", strings.Repeat("a", 70_000) + "\n", true, conversation.Invalid, "longer than 64 KiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := newChat(t)
			out := &syncBuffer{}
			c := console.New(console.Config{ReplyTimeout: 50 * time.Millisecond}, out)
			if tc.deliver {
				ch.deliverTo(t, c)
			}
			err := run(t, c, ch.engine, strings.NewReader(tc.input))
			if got := conversation.ErrorCode(err); got != tc.wantCode {
				t.Fatalf("Run: got code %q (error %v), want %q", got, err, tc.wantCode)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Run: got error %q, want it to mention %q", err, tc.wantText)
			}
			if got := out.String(); got != "" {
				t.Fatalf("output: got %q, want nothing", got)
			}
		})
	}
}

func TestInteractiveQuit(t *testing.T) {
	ch := newChat(t)
	out := &syncBuffer{}
	c := console.New(console.Config{Interactive: true, Prompt: "> "}, out)
	if err := run(t, c, ch.engine, strings.NewReader("\n/quit\nHow do I reset my password?\n")); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := out.String(), "> > "; got != want {
		t.Fatalf("output: got %q, want %q (a prompt, another after the empty line)", got, want)
	}
	if got := ch.knowledge.asked(); len(got) != 0 {
		t.Fatalf("knowledge was asked %q after /quit, want nothing", got)
	}
}
