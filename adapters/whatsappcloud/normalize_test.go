package whatsappcloud_test

import (
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

// offered sends the shopper reply buttons and a list and returns the
// button ids WhatsApp would echo, by label.
func offered(t *testing.T, h *harness) map[string]string {
	t.Helper()
	longQuery := strings.Repeat("Größentabelle für Skischuhe und Wanderschuhe ", 6)
	if err := h.send(t, conversation.Outbound{ID: "o_buttons", Kind: conversation.KindConsulting, Text: "Which one do you mean?",
		Buttons: []conversation.Button{
			{Action: conversation.Action{ID: conversation.ActionConsult, Value: "returns: shoes"}, Label: "Returning shoes"},
			{Action: conversation.Action{ID: conversation.ActionConsult, Value: longQuery}, Label: "Size charts"},
			{Action: conversation.Action{ID: conversation.ActionHuman}, Label: "Talk to a person"},
		}}); err != nil {
		t.Fatalf("send buttons: %v", err)
	}
	csat := make([]conversation.Button, 5)
	for i := range csat {
		v := strconv.Itoa(i + 1)
		csat[i] = conversation.Button{Action: conversation.Action{ID: conversation.ActionCSAT, Value: v}, Label: v}
	}
	if err := h.send(t, conversation.Outbound{ID: "o_list", Kind: conversation.KindNotice, Text: "How satisfied are you?", Buttons: csat}); err != nil {
		t.Fatalf("send list: %v", err)
	}
	ids := map[string]string{}
	for _, s := range h.graph.Sent() {
		for _, c := range s.Choices {
			ids[s.Interactive+":"+c.Title] = c.ID
		}
	}
	return ids
}

func TestNormalize(t *testing.T) {
	h := newHarness(t, nil)
	ids := offered(t, h)
	key := whatsappcloud.ConversationKey(shopper)
	user := conversation.Identity{ID: shopper, DisplayName: "Kerry Fisher", Phone: "+" + shopper, Locale: "de"} // +49: a German prior
	base := func(id string) conversation.Message {
		return conversation.Message{Channel: conversation.ChannelWhatsApp, ConversationKey: key, PlatformMsgID: id,
			DedupeKey: "wac:" + id, User: user}
	}
	with := func(id string, f func(*conversation.Message)) conversation.Message {
		m := base(id)
		f(&m)
		return m
	}
	longQuery := strings.Repeat("Größentabelle für Skischuhe und Wanderschuhe ", 6)
	tests := []struct {
		name string
		in   whatsappgraph.Message
		want *conversation.Message // nil: ignored
	}{
		{"text", whatsappgraph.TextMessage(shopper, "wamid.N1", "Where is my order?"),
			ptr(with("wamid.N1", func(m *conversation.Message) { m.Text = "Where is my order?" }))},
		{"quoted text", whatsappgraph.TextMessage(shopper, "wamid.N2", "this one").Quoting("wamid.OUT9"),
			ptr(with("wamid.N2", func(m *conversation.Message) { m.Text, m.ThreadKey = "this one", "wamid.OUT9" }))},
		{"reply button", whatsappgraph.ButtonReply(shopper, "wamid.N3", "wamid.OUT1", ids["button:Returning shoes"], "Returning shoes"),
			ptr(with("wamid.N3", func(m *conversation.Message) {
				m.Text, m.Action = "Returning shoes", &conversation.Action{ID: conversation.ActionConsult, Value: "returns: shoes"}
			}))},
		{"reply button with a long value", whatsappgraph.ButtonReply(shopper, "wamid.N4", "wamid.OUT1", ids["button:Size charts"], "Size charts"),
			ptr(with("wamid.N4", func(m *conversation.Message) {
				m.Text, m.Action = "Size charts", &conversation.Action{ID: conversation.ActionConsult, Value: longQuery}
			}))},
		{"human button", whatsappgraph.ButtonReply(shopper, "wamid.N5", "", ids["button:Talk to a person"], "Talk to a person"),
			ptr(with("wamid.N5", func(m *conversation.Message) {
				m.Text, m.Action = "Talk to a person", &conversation.Action{ID: conversation.ActionHuman}
			}))},
		{"list reply", whatsappgraph.ListReply(shopper, "wamid.N6", "wamid.OUT2", ids["list:4"], "4", ""),
			ptr(with("wamid.N6", func(m *conversation.Message) {
				m.Text, m.Action = "4", &conversation.Action{ID: conversation.ActionCSAT, Value: "4"}
			}))},
		{"reply button of unknown origin", whatsappgraph.ButtonReply(shopper, "wamid.N7", "", "legacy-42", "Track parcel"),
			ptr(with("wamid.N7", func(m *conversation.Message) { m.Text = "Track parcel" }))},
		{"template quick reply", whatsappgraph.QuickReplyMessage(shopper, "wamid.N8", "STOP_PROMOS", "Stop promotions"),
			ptr(with("wamid.N8", func(m *conversation.Message) {
				m.Text, m.Action = "Stop promotions", &conversation.Action{ID: whatsappcloud.ActionQuickReply, Value: "STOP_PROMOS"}
			}))},
		{"template quick reply with our payload", whatsappgraph.QuickReplyMessage(shopper, "wamid.N9", ids["button:Talk to a person"], "Talk to us"),
			ptr(with("wamid.N9", func(m *conversation.Message) {
				m.Text, m.Action = "Talk to us", &conversation.Action{ID: conversation.ActionHuman}
			}))},
		{"image with caption", whatsappgraph.MediaMessage(shopper, "wamid.N10", "image", "1479537139650973", "image/jpeg", "the scratch", ""),
			ptr(with("wamid.N10", func(m *conversation.Message) {
				m.Text = "the scratch"
				m.Attachments = []conversation.Attachment{{MIMEType: "image/jpeg", URL: "wacloud-media:1479537139650973"}}
			}))},
		{"document", whatsappgraph.MediaMessage(shopper, "wamid.N11", "document", "2212", "application/pdf", "", "invoice-1001.pdf"),
			ptr(with("wamid.N11", func(m *conversation.Message) {
				m.Attachments = []conversation.Attachment{{Name: "invoice-1001.pdf", MIMEType: "application/pdf", URL: "wacloud-media:2212"}}
			}))},
		{"voice note", whatsappgraph.MediaMessage(shopper, "wamid.N12", "audio", "3301", "audio/ogg; codecs=opus", "", ""),
			ptr(with("wamid.N12", func(m *conversation.Message) {
				m.Attachments = []conversation.Attachment{{MIMEType: "audio/ogg; codecs=opus", URL: "wacloud-media:3301"}}
			}))},
		{"video", whatsappgraph.MediaMessage(shopper, "wamid.N13", "video", "4401", "video/mp4", "unboxing", ""),
			ptr(with("wamid.N13", func(m *conversation.Message) {
				m.Text = "unboxing"
				m.Attachments = []conversation.Attachment{{MIMEType: "video/mp4", URL: "wacloud-media:4401"}}
			}))},
		{"location", whatsappgraph.LocationMessage(shopper, "wamid.N14", 52.52, 13.405, "Shop Mitte", "Alexanderplatz 1, Berlin"),
			ptr(with("wamid.N14", func(m *conversation.Message) {
				m.Text = "Shared a location: Shop Mitte, Alexanderplatz 1, Berlin (52.52000, 13.40500)"
			}))},
		{"contacts", whatsappgraph.ContactsMessage(shopper, "wamid.N15", "Alex Doe", "+49 30 1234567"),
			ptr(with("wamid.N15", func(m *conversation.Message) { m.Text = "Shared a contact: Alex Doe +49 30 1234567" }))},
		{"sticker is ignored", whatsappgraph.MediaMessage(shopper, "wamid.N16", "sticker", "5501", "image/webp", "", ""), nil},
		{"unsupported is ignored", whatsappgraph.UnsupportedMessage(shopper, "wamid.N17"), nil},
		{"empty text is ignored", whatsappgraph.TextMessage(shopper, "wamid.N18", "  "), nil},
		{"sender that is not a wa_id is ignored", whatsappgraph.TextMessage("+49 151", "wamid.N19", "hi"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.eng.messages())
			h.mustPost(t, h.hook.Messages("Kerry Fisher", tt.in))
			got := h.eng.messages()[before:]
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("engine got %+v, want the message ignored", got)
				}
				contains(t, "logs", h.logs.String(), "message_id="+tt.in.ID)
				return
			}
			if len(got) != 1 {
				t.Fatalf("engine got %d messages, want 1", len(got))
			}
			m := got[0]
			sec, _ := strconv.ParseInt(tt.in.Timestamp, 10, 64)
			if !m.SentAt.Equal(time.Unix(sec, 0)) {
				t.Errorf("SentAt = %v, want %v", m.SentAt, time.Unix(sec, 0))
			}
			if m.ReceivedAt.IsZero() {
				t.Error("ReceivedAt is not set")
			}
			m.SentAt, m.ReceivedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(m, *tt.want) {
				t.Errorf("message =\n%+v\nwant\n%+v", m, *tt.want)
				if m.Action != nil && tt.want.Action != nil {
					t.Errorf("action = %+v, want %+v", *m.Action, *tt.want.Action)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A webhook delivered twice reaches the engine as the same message: the
// same dedupe key, which the engine drops the second time.
func TestDuplicateDeliveryHasOneDedupeKey(t *testing.T) {
	h := newHarness(t, nil)
	body := h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.D1", "hello"))
	h.mustPost(t, body)
	h.mustPost(t, body)
	got := h.eng.messages()
	if len(got) != 1 || got[0].DedupeKey != "wac:wamid.D1" {
		t.Errorf("engine accepted %+v, want one message with dedupe key wac:wamid.D1", got)
	}
}

func TestNumberedChoiceReply(t *testing.T) {
	h := newHarness(t, nil)
	buttons := make([]conversation.Button, 12)
	for i := range buttons {
		buttons[i] = conversation.Button{Action: conversation.Action{ID: conversation.ActionConsult, Value: "store " + strconv.Itoa(i+1)},
			Label: "Store " + strconv.Itoa(i+1)}
	}
	if err := h.send(t, conversation.Outbound{ID: "o_many", Kind: conversation.KindConsulting, Text: "Which store?", Buttons: buttons}); err != nil {
		t.Fatal(err)
	}
	h.mustPost(t, h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.C1", " 11. ")))
	got := h.eng.messages()
	if len(got) != 1 || got[0].Action == nil || *got[0].Action != (conversation.Action{ID: conversation.ActionConsult, Value: "store 11"}) {
		t.Fatalf("engine got %+v, want the action of choice 11", got)
	}
	// Another message to the shopper retires the list: "3" is text again.
	if err := h.send(t, conversation.Outbound{ID: "o_next", Kind: conversation.KindAnswer, Text: "Store 11 opens at 9."}); err != nil {
		t.Fatal(err)
	}
	h.mustPost(t, h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.C2", "3")))
	got = h.eng.messages()
	if len(got) != 2 || got[1].Action != nil || got[1].Text != "3" {
		t.Errorf("after another message, engine got %+v, want plain text 3", got[len(got)-1])
	}
}

func TestMedia(t *testing.T) {
	h := newHarness(t, nil)
	h.graph.AddMedia("1479537139650973", "image/jpeg", []byte("JPEGDATA"))
	m, err := h.a.ResolveMedia(waitCtx(t), "wacloud-media:1479537139650973")
	if err != nil {
		t.Fatalf("ResolveMedia: %v", err)
	}
	if m.MIMEType != "image/jpeg" || m.FileSize != 8 || !strings.HasPrefix(m.URL, h.graphTS.URL) || strings.Contains(m.URL, testToken) {
		t.Errorf("media = %+v, want image/jpeg, 8 bytes, a URL at the fake without the token", m)
	}
	rc, _, err := h.a.OpenMedia(waitCtx(t), "1479537139650973")
	if err != nil {
		t.Fatalf("OpenMedia: %v", err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "JPEGDATA" {
		t.Errorf("content = %q, want JPEGDATA", data)
	}
	for _, id := range []string{"404404", "../../me", ""} {
		if _, err := h.a.ResolveMedia(waitCtx(t), id); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("ResolveMedia(%q) error = %v, want Invalid", id, err)
		}
	}
}
