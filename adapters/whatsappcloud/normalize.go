package whatsappcloud

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// The webhook payload of the WhatsApp Business Account object, as far as
// the adapter reads it.
type webhookPayload struct {
	Object string         `json:"object"`
	Entry  []webhookEntry `json:"entry"`
}

type webhookEntry struct {
	ID      string          `json:"id"`
	Changes []webhookChange `json:"changes"`
}

type webhookChange struct {
	Field string      `json:"field"`
	Value changeValue `json:"value"`
}

type changeValue struct {
	MessagingProduct string         `json:"messaging_product"`
	Metadata         changeMetadata `json:"metadata"`
	Contacts         []waContact    `json:"contacts"`
	Messages         []waMessage    `json:"messages"`
	Statuses         []waStatus     `json:"statuses"`
}

type changeMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type waContact struct {
	WaID    string `json:"wa_id"`
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
}

type waMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Context   *struct {
		From string `json:"from"`
		ID   string `json:"id"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive *struct {
		Type        string   `json:"type"`
		ButtonReply *waReply `json:"button_reply"`
		ListReply   *waReply `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Image    *waMedia `json:"image"`
	Document *waMedia `json:"document"`
	Audio    *waMedia `json:"audio"`
	Video    *waMedia `json:"video"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	} `json:"contacts"`
	Errors []waError `json:"errors"`
}

type waReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type waMedia struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
}

type waStatus struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Timestamp   string    `json:"timestamp"`
	RecipientID string    `json:"recipient_id"`
	Errors      []waError `json:"errors"`
}

type waError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// inbound is one normalised message with what the webhook still needs
// to finish it: a button id to look up, a bare number that may pick a
// numbered choice.
type inbound struct {
	msg conversation.Message
	// choiceID is an interactive reply id or template payload to decode
	// into msg.Action (see decodeChoice).
	choiceID string
	// kind is the WhatsApp message type, for logs.
	kind string
}

// maxMessageID bounds a WhatsApp message id (wamid.… are ~60 bytes).
const maxMessageID = 200

// normalize turns one change value into inbound messages for the
// configured phone number. Messages it cannot use are skipped and logged
// (type and id only; never their content).
func (a *Adapter) normalize(v changeValue, now time.Time) []inbound {
	names := make(map[string]string, len(v.Contacts))
	for _, c := range v.Contacts {
		names[c.WaID] = c.Profile.Name
	}
	var out []inbound
	for _, wm := range v.Messages {
		in, ok, why := a.normalizeMessage(wm, names, now)
		if !ok {
			a.log.Info("whatsapp message ignored", "type", clip(wm.Type, 32), "message_id", clip(wm.ID, maxMessageID), "reason", why)
			continue
		}
		out = append(out, in)
	}
	return out
}

// normalizeMessage maps one message. It returns false and the reason
// when the message is ignored.
func (a *Adapter) normalizeMessage(wm waMessage, names map[string]string, now time.Time) (inbound, bool, string) {
	if !validWaID(wm.From) {
		return inbound{}, false, "sender is not a WhatsApp id"
	}
	if !conversation.Printable(wm.ID, maxMessageID) {
		return inbound{}, false, "message id is missing or malformed"
	}
	name := names[wm.From]
	if name == "" && len(names) == 1 {
		for _, n := range names {
			name = n
		}
	}
	m := conversation.Message{
		Channel:         a.cfg.Channel,
		ConversationKey: ConversationKey(wm.From),
		PlatformMsgID:   wm.ID,
		DedupeKey:       DedupePrefix + wm.ID,
		User:            conversation.Identity{ID: wm.From, DisplayName: cleanLine(name, 128), Phone: "+" + wm.From, Locale: conversation.PhoneLocale("+" + wm.From)},
		ReceivedAt:      now,
	}
	if sec, err := strconv.ParseInt(wm.Timestamp, 10, 64); err == nil && sec > 0 {
		m.SentAt = time.Unix(sec, 0).UTC()
	}
	quoted := func() {
		if wm.Context != nil && conversation.Printable(wm.Context.ID, maxMessageID) {
			m.ThreadKey = wm.Context.ID
		}
	}
	in := inbound{kind: wm.Type}
	switch wm.Type {
	case "text":
		if wm.Text == nil || strings.TrimSpace(wm.Text.Body) == "" {
			return inbound{}, false, "text message without text"
		}
		m.Text = wm.Text.Body
		quoted()
	case "interactive":
		if wm.Interactive == nil {
			return inbound{}, false, "interactive message without content"
		}
		var r *waReply
		switch wm.Interactive.Type {
		case "button_reply":
			r = wm.Interactive.ButtonReply
		case "list_reply":
			r = wm.Interactive.ListReply
		default:
			return inbound{}, false, "interactive type " + clip(wm.Interactive.Type, 32) + " is not supported"
		}
		if r == nil || r.ID == "" {
			return inbound{}, false, "interactive reply without id"
		}
		m.Text = cleanLine(r.Title, 200)
		in.choiceID = r.ID
		in.kind = wm.Interactive.Type
	case "button":
		if wm.Button == nil || (wm.Button.Payload == "" && wm.Button.Text == "") {
			return inbound{}, false, "quick reply without payload"
		}
		m.Text = cleanLine(wm.Button.Text, 200)
		in.choiceID = wm.Button.Payload
	case "image", "document", "audio", "video":
		md := map[string]*waMedia{"image": wm.Image, "document": wm.Document, "audio": wm.Audio, "video": wm.Video}[wm.Type]
		if md == nil || !validMediaID(md.ID) {
			return inbound{}, false, "media message without a usable media id"
		}
		m.Text = md.Caption
		m.Attachments = []conversation.Attachment{{
			Name:     cleanLine(md.Filename, 255),
			MIMEType: cleanLine(md.MIMEType, 128),
			URL:      MediaURLPrefix + md.ID,
		}}
		quoted()
	case "location":
		l := wm.Location
		if l == nil {
			return inbound{}, false, "location message without location"
		}
		parts := []string{"Shared a location:"}
		if s := cleanLine(l.Name, 200); s != "" {
			parts = append(parts, s+",")
		}
		if s := cleanLine(l.Address, 300); s != "" {
			parts = append(parts, s)
		}
		parts = append(parts, "("+strconv.FormatFloat(l.Latitude, 'f', 5, 64)+", "+strconv.FormatFloat(l.Longitude, 'f', 5, 64)+")")
		m.Text = strings.Join(parts, " ")
		quoted()
	case "contacts":
		if len(wm.Contacts) == 0 {
			return inbound{}, false, "contacts message without contacts"
		}
		var cards []string
		for i, c := range wm.Contacts {
			if i == 5 {
				break
			}
			s := cleanLine(c.Name.FormattedName, 128)
			if len(c.Phones) > 0 {
				s = strings.TrimSpace(s + " " + cleanLine(c.Phones[0].Phone, 32))
			}
			if s != "" {
				cards = append(cards, s)
			}
		}
		if len(cards) == 0 {
			return inbound{}, false, "contacts message without names or numbers"
		}
		m.Text = "Shared a contact: " + strings.Join(cards, "; ")
		quoted()
	default:
		// sticker, reaction, order, system, request_welcome, unsupported …
		reason := "message type is not supported"
		if len(wm.Errors) > 0 {
			reason += " (whatsapp error " + strconv.Itoa(wm.Errors[0].Code) + ")"
		}
		return inbound{}, false, reason
	}
	if !utf8.ValidString(m.Text) {
		m.Text = strings.ToValidUTF8(m.Text, "\uFFFD")
	}
	in.msg = m
	return in, true, ""
}

// cleanLine makes s one line of valid text of at most max bytes: control
// characters become spaces, the ends are trimmed.
func cleanLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}

// decodePayload parses a webhook body. It reports an error for bodies
// that are not a JSON object of the expected shape.
func decodePayload(body []byte) (webhookPayload, error) {
	var p webhookPayload
	err := json.Unmarshal(body, &p)
	return p, err
}
