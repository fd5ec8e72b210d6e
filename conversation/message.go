package conversation

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Channel names the platform a message came from or goes to.
type Channel string

// Built-in channels. Adapters for other platforms may define their own.
const (
	ChannelWebChat  Channel = "webchat"
	ChannelConsole  Channel = "console"
	ChannelSlack    Channel = "slack"
	ChannelTeams    Channel = "teams"
	ChannelTelegram Channel = "telegram"
	ChannelWhatsApp Channel = "whatsapp"
)

// Limits on inbound messages; Validate enforces them.
const (
	MaxKeyLen         = 256
	MaxTextLen        = 8000 // characters (runes)
	MaxAttachments    = 10
	MaxActionValueLen = 512
)

// Identity is who wrote a message, as the platform knows them.
type Identity struct {
	ID          string `json:"id"`                     // platform user id (Slack U…, Teams AAD object id, phone JID, web chat visitor id)
	DisplayName string `json:"display_name,omitempty"` // for agents and handoff cards; never logged at info level
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`  // E.164 ("+4915112345678") when the platform tells (WhatsApp)
	Locale      string `json:"locale,omitempty"` // BCP 47, e.g. "de-DE", when the platform tells
	TenantID    string `json:"tenant_id,omitempty"`
	IsBot       bool   `json:"is_bot,omitempty"`
}

// Attachment is a file or image sent with a message. Content is not copied:
// URL points at the platform (or our own storage).
type Attachment struct {
	Name     string `json:"name,omitempty"`
	MIMEType string `json:"mime_type,omitempty"`
	URL      string `json:"url,omitempty"`
	Size     int64  `json:"size,omitempty"`
}

// Action is a clicked button, card submit, quick reply or numbered choice.
type Action struct {
	ID    string `json:"id"`              // one of the Action* constants or a consulting option id
	Value string `json:"value,omitempty"` // payload carried by the button
}

// Action ids the engine understands.
const (
	ActionHelpful    = "helpful"
	ActionNotHelpful = "not_helpful"
	ActionHuman      = "human"
)

// Message is one inbound message, normalised by an adapter.
type Message struct {
	Channel Channel `json:"channel"`
	// ConversationKey identifies the dialogue; all messages with the same key
	// are handled in order. Adapters build it from platform ids, e.g.
	// "slack:T1:C2:1700000000.000100" or "webchat:<session id>".
	ConversationKey string `json:"conversation_key"`
	// ThreadKey is where replies go on the platform (Slack thread_ts, Teams
	// reply chain id, Telegram message_thread_id); empty for flat chats.
	ThreadKey string `json:"thread_key,omitempty"`
	// PlatformMsgID is the platform's id of this message (Slack ts, Telegram
	// message_id, WhatsApp message id, Teams activity id).
	PlatformMsgID string `json:"platform_msg_id,omitempty"`
	// DedupeKey is unique per delivery of the same logical message: a
	// platform retry carries the same key (Slack event_id, Telegram
	// update_id, WhatsApp chat+message id).
	DedupeKey   string       `json:"dedupe_key"`
	User        Identity     `json:"user"`
	Text        string       `json:"text,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Action      *Action      `json:"action,omitempty"`
	SentAt      time.Time    `json:"sent_at,omitempty"`     // platform timestamp
	ReceivedAt  time.Time    `json:"received_at,omitempty"` // set by the adapter on arrival
}

// Validate checks a message from outside against the limits above. It
// returns an Invalid error naming the first problem.
func (m *Message) Validate() error {
	switch {
	case m.Channel == "":
		return Errorf(Invalid, "message has no channel")
	case !validKey(m.ConversationKey):
		return Errorf(Invalid, "conversation key must be 1..%d printable characters", MaxKeyLen)
	case !validKey(m.DedupeKey):
		return Errorf(Invalid, "dedupe key must be 1..%d printable characters", MaxKeyLen)
	case len(m.ThreadKey) > MaxKeyLen || len(m.PlatformMsgID) > MaxKeyLen:
		return Errorf(Invalid, "thread key and platform message id are limited to %d bytes", MaxKeyLen)
	case !utf8.ValidString(m.Text):
		return Errorf(Invalid, "text is not valid UTF-8")
	case utf8.RuneCountInString(m.Text) > MaxTextLen:
		return Errorf(Invalid, "text is longer than %d characters", MaxTextLen)
	case len(m.Attachments) > MaxAttachments:
		return Errorf(Invalid, "more than %d attachments", MaxAttachments)
	case strings.TrimSpace(m.Text) == "" && m.Action == nil && len(m.Attachments) == 0:
		return Errorf(Invalid, "message is empty")
	}
	if m.Action != nil && (m.Action.ID == "" || len(m.Action.ID) > MaxKeyLen || len(m.Action.Value) > MaxActionValueLen) {
		return Errorf(Invalid, "action id must be 1..%d bytes and its value at most %d", MaxKeyLen, MaxActionValueLen)
	}
	return nil
}

func validKey(s string) bool { return Printable(s, MaxKeyLen) }

// Printable reports whether s is 1..max bytes of valid UTF-8 without
// control characters: what keys, ids and names from outside must be.
func Printable(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Citation points at the source of an answer.
type Citation struct {
	Title   string `json:"title"`
	Source  string `json:"source"`            // path or id of the source document
	URL     string `json:"url,omitempty"`     // link a user can open
	Section string `json:"section,omitempty"` // heading within the source
}

// Button is an action a reply offers. Channels without buttons render them
// as numbered choices.
type Button struct {
	Action Action `json:"action"`
	Label  string `json:"label"`
}

// OutboundKind says what an outbound message is for, so channels can render
// it (and analytics can count it) differently.
type OutboundKind string

// Outbound kinds.
const (
	KindAnswer     OutboundKind = "answer"     // an answer from knowledge, with citations
	KindNotSure    OutboundKind = "not_sure"   // the bot could not answer confidently
	KindConsulting OutboundKind = "consulting" // a clarifying question
	KindHandoff    OutboundKind = "handoff"    // the thread was handed to a human
	KindNotice     OutboundKind = "notice"     // acknowledgements and status notes
	KindAgent      OutboundKind = "agent"      // a human agent's reply relayed to the customer
	KindStaff      OutboundKind = "staff"      // something posted into the staff channel
	KindNote       OutboundKind = "note"       // an agent's internal note (history only, never sent)
)

// Outbound is one message to deliver, written to the outbox in the same
// atomic step as the state that produced it.
type Outbound struct {
	// ID is stable across retries; channels use it as an idempotency key.
	ID              string       `json:"id"`
	ConversationKey string       `json:"conversation_key"`
	Channel         Channel      `json:"channel"`
	ThreadKey       string       `json:"thread_key,omitempty"`
	ReplyTo         string       `json:"reply_to,omitempty"` // platform message id answered
	Recipient       string       `json:"recipient,omitempty"`
	Kind            OutboundKind `json:"kind"`
	Text            string       `json:"text"`
	Citations       []Citation   `json:"citations,omitempty"`
	Buttons         []Button     `json:"buttons,omitempty"`
	InReplyTo       string       `json:"in_reply_to,omitempty"` // dedupe key of the inbound message this answers
	// Language is the conversation's language ("" when not known), for
	// the hints a channel adds around the text (ChannelTextsIn).
	Language  string    `json:"language,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CheckCustomerOutbound is the first check of a customer channel's
// Sender: an Invalid error (permanent, the message is never sent) when o
// has no id, is for another channel than ch, or is a staff message or an
// internal note, which never go to a customer.
func CheckCustomerOutbound(o Outbound, ch Channel) error {
	switch {
	case o.ID == "":
		return Errorf(Invalid, "%s outbound has no id", ch)
	case o.Channel != ch:
		return Errorf(Invalid, "outbound %s is for channel %q, not %q", o.ID, o.Channel, ch)
	case o.Kind == KindStaff || o.Kind == KindNote:
		return Errorf(Invalid, "outbound %s is a %s message and never goes to a customer", o.ID, o.Kind)
	}
	return nil
}
