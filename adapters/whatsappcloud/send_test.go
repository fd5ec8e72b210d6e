package whatsappcloud_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

func buttons(n int) []conversation.Button {
	bs := make([]conversation.Button, n)
	for i := range bs {
		v := strconv.Itoa(i + 1)
		bs[i] = conversation.Button{Action: conversation.Action{ID: conversation.ActionConsult, Value: "option " + v}, Label: "Option " + v}
	}
	return bs
}

func TestSendRendersMessages(t *testing.T) {
	cites := []conversation.Citation{
		{Title: "Returns policy", Source: "returns.md", URL: "https://shop.example/returns"},
		{Title: "Returns policy", Source: "returns.md", URL: "https://shop.example/returns"}, // repeated: listed once
		{Title: "Internal note", Source: "notes.md"},
		{Title: "Bad link", Source: "x.md", URL: "javascript:alert(1)"},
	}
	longLabel := "Return shoes bought in a store abroad, without the receipt"
	tests := []struct {
		name  string
		o     conversation.Outbound
		check func(t *testing.T, sent []whatsappgraph.Sent)
	}{
		{"text with citations", conversation.Outbound{Kind: conversation.KindAnswer, Text: "You can return shoes within 30 days.", Citations: cites},
			func(t *testing.T, sent []whatsappgraph.Sent) {
				if len(sent) != 1 || sent[0].Type != "text" || !sent[0].PreviewURL {
					t.Fatalf("sent %+v, want one text message with link preview", sent)
				}
				want := "You can return shoes within 30 days.\n\nSources:\n- Returns policy\nhttps://shop.example/returns\n- Internal note\n- Bad link"
				if sent[0].Text != want {
					t.Errorf("text = %q, want %q", sent[0].Text, want)
				}
				if sent[0].To != shopper || sent[0].ReplyTo != "" {
					t.Errorf("to %q, reply to %q; want %s and no quote", sent[0].To, sent[0].ReplyTo, shopper)
				}
			}},
		{"reply to a quoted message", conversation.Outbound{Kind: conversation.KindAnswer, Text: "That one ships tomorrow.", ThreadKey: "wamid.Q0", ReplyTo: "wamid.Q1"},
			func(t *testing.T, sent []whatsappgraph.Sent) {
				if len(sent) != 1 || sent[0].ReplyTo != "wamid.Q1" || sent[0].PreviewURL {
					t.Errorf("sent %+v, want one text quoting wamid.Q1 without preview", sent)
				}
			}},
		{"three reply buttons", conversation.Outbound{Kind: conversation.KindAnswer, Text: "Here is how.", Buttons: []conversation.Button{
			{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"},
			{Action: conversation.Action{ID: conversation.ActionNotHelpful}, Label: "Not helpful"},
			{Action: conversation.Action{ID: conversation.ActionHuman}, Label: "Talk to a person about this order"},
		}}, func(t *testing.T, sent []whatsappgraph.Sent) {
			if len(sent) != 1 || sent[0].Interactive != "button" || sent[0].Text != "Here is how." || len(sent[0].Choices) != 3 {
				t.Fatalf("sent %+v, want one interactive message with 3 reply buttons", sent)
			}
			titles := []string{sent[0].Choices[0].Title, sent[0].Choices[1].Title, sent[0].Choices[2].Title}
			if titles[0] != "Helpful" || titles[1] != "Not helpful" || titles[2] != "Talk to a person ab…" {
				t.Errorf("titles = %q, want Helpful, Not helpful and a title cut to 20 characters", titles)
			}
		}},
		{"duplicate labels stay unique", conversation.Outbound{Kind: conversation.KindNotice, Text: "Pick", Buttons: []conversation.Button{
			{Action: conversation.Action{ID: "a"}, Label: "Same"}, {Action: conversation.Action{ID: "a"}, Label: "Same"},
		}}, func(t *testing.T, sent []whatsappgraph.Sent) {
			if len(sent) != 1 || sent[0].Choices[0].Title == sent[0].Choices[1].Title || sent[0].Choices[0].ID == sent[0].Choices[1].ID {
				t.Errorf("sent %+v, want distinct titles and ids", sent)
			}
		}},
		{"four to ten buttons make a list", conversation.Outbound{Kind: conversation.KindConsulting, Text: "Which one?",
			Buttons: append(buttons(4), conversation.Button{Action: conversation.Action{ID: conversation.ActionHuman}, Label: longLabel})},
			func(t *testing.T, sent []whatsappgraph.Sent) {
				if len(sent) != 1 || sent[0].Interactive != "list" || sent[0].ListButton != "Choose" || len(sent[0].Choices) != 5 {
					t.Fatalf("sent %+v, want one list of 5 rows", sent)
				}
				last := sent[0].Choices[4]
				if utf8.RuneCountInString(last.Title) > 24 || !strings.HasSuffix(last.Title, "…") || utf8.RuneCountInString(last.Description) > 72 || !strings.HasPrefix(last.Description, "Return shoes bought") {
					t.Errorf("long row = %+v, want a title of 24 and the label in the description", last)
				}
			}},
		{"ten buttons still a list", conversation.Outbound{Kind: conversation.KindConsulting, Text: "Which one?", Buttons: buttons(10)},
			func(t *testing.T, sent []whatsappgraph.Sent) {
				if len(sent) != 1 || sent[0].Interactive != "list" || len(sent[0].Choices) != 10 {
					t.Errorf("sent %+v, want a list of 10 rows", sent)
				}
			}},
		{"more than ten buttons make numbered text", conversation.Outbound{Kind: conversation.KindConsulting, Text: "Which store?", Buttons: buttons(11)},
			func(t *testing.T, sent []whatsappgraph.Sent) {
				if len(sent) != 1 || sent[0].Type != "text" {
					t.Fatalf("sent %+v, want one text message", sent)
				}
				contains(t, "text", sent[0].Text, "Which store?\n\n1. Option 1\n2. Option 2")
				contains(t, "text", sent[0].Text, "11. Option 11\n\nReply with the number of your choice.")
			}},
		{"long text is split", conversation.Outbound{Kind: conversation.KindAnswer, Text: strings.Repeat("All about returns. ", 400), Buttons: buttons(2)},
			func(t *testing.T, sent []whatsappgraph.Sent) {
				if len(sent) != 3 || sent[0].Type != "text" || sent[1].Type != "text" || sent[2].Interactive != "button" {
					t.Fatalf("sent %d messages (%v), want two texts then the buttons", len(sent), sent)
				}
				var all []string
				for _, s := range sent {
					if n := utf8.RuneCountInString(s.Text); n > 4096 || (s.Interactive != "" && n > 1024) {
						t.Errorf("part of %d characters is over the limit", n)
					}
					all = append(all, s.Text)
				}
				if got, want := strings.Join(strings.Fields(strings.Join(all, " ")), " "), strings.TrimSpace(strings.Repeat("All about returns. ", 400)); got != want {
					t.Errorf("the parts do not add up to the text")
				}
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.o.ID = "o_render_" + strconv.Itoa(i)
			if err := h.send(t, tt.o); err != nil {
				t.Fatalf("Send: %v", err)
			}
			tt.check(t, h.graph.Sent())
		})
	}
}

func TestSendIsIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	o := conversation.Outbound{ID: "o_once", Kind: conversation.KindAnswer, Text: "Hello"}
	for range 3 {
		if err := h.send(t, o); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.graph.Sent()); n != 1 {
		t.Errorf("sent %d messages for one outbound id, want 1", n)
	}
}

func TestSendPacesOneShopperAndResumes(t *testing.T) {
	h := newHarness(t, func(c *whatsappcloud.Config) {
		c.RecipientBurst, c.RecipientInterval, c.MaxPaceWait = 1, time.Minute, time.Millisecond
	})
	o := conversation.Outbound{ID: "o_paced", Kind: conversation.KindAnswer, Text: strings.Repeat("word ", 1000)} // two parts
	err := h.send(t, o)
	if conversation.ErrorCode(err) != conversation.Unavailable || conversation.RetryAfter(err) <= 0 {
		t.Fatalf("error = %v, want Unavailable with a retry delay once the burst is used", err)
	}
	if n := len(h.graph.Sent()); n != 1 {
		t.Fatalf("sent %d parts before pacing, want 1", n)
	}
	h.clock.Advance(time.Minute)
	if err := h.send(t, o); err != nil {
		t.Fatalf("retry: %v", err)
	}
	sent := h.graph.Sent()
	if len(sent) != 2 || sent[0].Text == sent[1].Text {
		t.Errorf("sent %d parts, want the first once and then the second", len(sent))
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     whatsappgraph.Fault
		wantCode  conversation.Code
		wantAfter time.Duration
		wantIs    error
	}{
		{"429 with Retry-After", withRetryAfter(whatsappgraph.FaultThroughput, 7*time.Second), conversation.Unavailable, 7 * time.Second, nil},
		{"throughput 130429", whatsappgraph.Fault{Status: 400, Code: 130429, Message: "(#130429) Rate limit hit"}, conversation.Unavailable, 0, nil},
		{"pair rate limit 131056", whatsappgraph.FaultPairRateLimit, conversation.Unavailable, 6 * time.Second, nil},
		{"account rate limit 80007", whatsappgraph.Fault{Status: 400, Code: 80007, Message: "(#80007) Rate limit issues"}, conversation.Unavailable, 0, nil},
		{"server error", whatsappgraph.FaultServerError, conversation.Unavailable, 0, nil},
		{"24-hour window closed 131047", whatsappgraph.FaultReengagement, conversation.Conflict, 0, whatsappcloud.ErrOutsideWindow},
		{"token expired 190", whatsappgraph.FaultTokenExpired, conversation.Unauthorized, 0, whatsappcloud.ErrAccessToken},
		{"invalid parameter 100", whatsappgraph.Fault{Status: 400, Code: 100, Message: "(#100) Invalid parameter"}, conversation.Invalid, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.graph.FailNext(1, tt.fault)
			o := conversation.Outbound{ID: "o_err", Kind: conversation.KindAgent, Text: "An agent reply"}
			err := h.send(t, o)
			if code := conversation.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error %v has code %q, want %q", err, code, tt.wantCode)
			}
			if got := conversation.RetryAfter(err); got != tt.wantAfter {
				t.Errorf("RetryAfter = %s, want %s", got, tt.wantAfter)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if tt.wantCode == conversation.Unavailable {
				// The dispatcher's retry goes out once.
				if err := h.send(t, o); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if n := len(h.graph.Sent()); n != 1 {
					t.Errorf("sent %d after the retry, want 1", n)
				}
			}
		})
	}
}

func withRetryAfter(f whatsappgraph.Fault, d time.Duration) whatsappgraph.Fault {
	f.RetryAfter = d
	return f
}

func TestSendWithWrongTokenIsLoud(t *testing.T) {
	h := newHarness(t, func(c *whatsappcloud.Config) { c.AccessToken = "EAAGwrongtoken" })
	err := h.send(t, conversation.Outbound{ID: "o_tok", Kind: conversation.KindAnswer, Text: "hi"})
	if !errors.Is(err, whatsappcloud.ErrAccessToken) || conversation.ErrorCode(err) == conversation.Unavailable {
		t.Fatalf("error = %v, want the permanent ErrAccessToken", err)
	}
	contains(t, "logs", h.logs.String(), "level=ERROR")
	contains(t, "logs", h.logs.String(), "TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN")
	if strings.Contains(h.logs.String(), "EAAGwrongtoken") {
		t.Error("the token was logged")
	}
}

func TestSendTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	h := newHarness(t, func(c *whatsappcloud.Config) { c.APIURL, c.HTTPTimeout = slow.URL, 20*time.Millisecond })
	err := h.send(t, conversation.Outbound{ID: "o_slow", Kind: conversation.KindAnswer, Text: "hi"})
	if conversation.ErrorCode(err) != conversation.Unavailable {
		t.Errorf("error = %v, want Unavailable", err)
	}
}

func TestSendRefusesWhatIsNotForAShopper(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name string
		o    conversation.Outbound
	}{
		{"staff message", conversation.Outbound{ID: "o1", Kind: conversation.KindStaff, Text: "card"}},
		{"internal note", conversation.Outbound{ID: "o2", Kind: conversation.KindNote, Text: "note"}},
		{"other channel", conversation.Outbound{ID: "o3", Channel: "slack", Kind: conversation.KindAnswer, Text: "x"}},
		{"whatsmeow key", conversation.Outbound{ID: "o4", ConversationKey: "whatsapp:4915112345678@s.whatsapp.net", Kind: conversation.KindAnswer, Text: "x"}},
		{"no id", conversation.Outbound{Kind: conversation.KindAnswer, Text: "x"}},
		{"nothing to say", conversation.Outbound{ID: "o5", Kind: conversation.KindAnswer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.send(t, tt.o); conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("error = %v, want Invalid", err)
			}
		})
	}
	if n := h.graph.Attempts(); n != 0 {
		t.Errorf("%d calls reached the Graph API, want 0", n)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := testConfig("")
	tests := []struct {
		name   string
		modify func(*whatsappcloud.Config)
		valid  bool
	}{
		{"defaults", func(*whatsappcloud.Config) {}, true},
		{"no access token", func(c *whatsappcloud.Config) { c.AccessToken = "" }, false},
		{"token with newline", func(c *whatsappcloud.Config) { c.AccessToken = "abc\nX-Evil: 1" }, false},
		{"no app secret", func(c *whatsappcloud.Config) { c.AppSecret = "" }, false},
		{"no verify token", func(c *whatsappcloud.Config) { c.VerifyToken = "" }, false},
		{"phone number instead of id", func(c *whatsappcloud.Config) { c.PhoneNumberID = "+49 30 123" }, false},
		{"bad API URL", func(c *whatsappcloud.Config) { c.APIURL = "graph.facebook.com" }, false},
		{"bad version", func(c *whatsappcloud.Config) { c.APIVersion = "21" }, false},
		{"negative timeout", func(c *whatsappcloud.Config) { c.HTTPTimeout = -1 }, false},
		{"long list button", func(c *whatsappcloud.Config) { c.ListButton = "Choose one of these options" }, false},
		{"own channel", func(c *whatsappcloud.Config) { c.Channel = "whatsappcloud" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.modify(&c)
			err := c.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, want valid %v", err, tt.valid)
			}
			if err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("error code = %q, want Invalid", conversation.ErrorCode(err))
			}
		})
	}
}

func TestConversationKeys(t *testing.T) {
	key := whatsappcloud.ConversationKey(shopper)
	if key != "wacloud:"+shopper || !whatsappcloud.IsConversationKey(key) {
		t.Errorf("key %q is not recognised", key)
	}
	for _, k := range []string{"whatsapp:" + shopper, "wacloud:", "wacloud:12ab", "webchat:x"} {
		if whatsappcloud.IsConversationKey(k) {
			t.Errorf("IsConversationKey(%q) = true, want false", k)
		}
	}
}
