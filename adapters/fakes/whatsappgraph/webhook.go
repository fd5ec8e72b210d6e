package whatsappgraph

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Payload is a webhook notification of the whatsapp_business_account
// object, as Meta posts it.
type Payload struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WhatsApp Business Account's part of a notification.
type Entry struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
}

// Change is one change of a subscribed field ("messages").
type Change struct {
	Field string `json:"field"`
	Value Value  `json:"value"`
}

// Value holds the messages and statuses of one business phone number.
type Value struct {
	MessagingProduct string    `json:"messaging_product"`
	Metadata         Metadata  `json:"metadata"`
	Contacts         []Contact `json:"contacts,omitempty"`
	Messages         []Message `json:"messages,omitempty"`
	Statuses         []Status  `json:"statuses,omitempty"`
}

// Metadata names the business phone number a change is for.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Contact is the profile of a shopper who wrote.
type Contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

// Message is one inbound message.
type Message struct {
	From        string          `json:"from"`
	ID          string          `json:"id"`
	Timestamp   string          `json:"timestamp"`
	Type        string          `json:"type"`
	Context     *MessageContext `json:"context,omitempty"`
	Text        *Text           `json:"text,omitempty"`
	Interactive *Interactive    `json:"interactive,omitempty"`
	Button      *QuickReply     `json:"button,omitempty"`
	Image       *MediaObject    `json:"image,omitempty"`
	Document    *MediaObject    `json:"document,omitempty"`
	Audio       *MediaObject    `json:"audio,omitempty"`
	Video       *MediaObject    `json:"video,omitempty"`
	Sticker     *MediaObject    `json:"sticker,omitempty"`
	Location    *Location       `json:"location,omitempty"`
	Contacts    []SharedContact `json:"contacts,omitempty"`
	Errors      []Error         `json:"errors,omitempty"`
}

// MessageContext is set on a message that quotes (replies to) another,
// and on button and list replies (the message with the buttons).
type MessageContext struct {
	From string `json:"from"`
	ID   string `json:"id"`
}

// Text is a text message's content.
type Text struct {
	Body string `json:"body"`
}

// Interactive is a tapped reply button or list row.
type Interactive struct {
	Type        string `json:"type"` // "button_reply" or "list_reply"
	ButtonReply *Reply `json:"button_reply,omitempty"`
	ListReply   *Reply `json:"list_reply,omitempty"`
}

// Reply is the id and title of a tapped button or row.
type Reply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// QuickReply is a tapped quick-reply button of a template message.
type QuickReply struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// MediaObject is an image, document, audio, video or sticker.
type MediaObject struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// SharedContact is a contact card shared by the shopper.
type SharedContact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
	} `json:"name"`
	Phones []struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id,omitempty"`
	} `json:"phones,omitempty"`
}

// Status is a delivery status of a message the business sent.
type Status struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"` // sent, delivered, read, failed
	Timestamp   string  `json:"timestamp"`
	RecipientID string  `json:"recipient_id"`
	Errors      []Error `json:"errors,omitempty"`
}

// Error is an error attached to a status or an unsupported message.
type Error struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message,omitempty"`
	ErrorData *struct {
		Details string `json:"details"`
	} `json:"error_data,omitempty"`
}

func stamp() string { return strconv.FormatInt(time.Now().Unix(), 10) }

// TextMessage is a text message from wa_id from with message id id.
func TextMessage(from, id, body string) Message {
	return Message{From: from, ID: id, Timestamp: stamp(), Type: "text", Text: &Text{Body: body}}
}

// ButtonReply is a tap on the reply button replyID (title) of the
// business's message inReplyTo (may be empty).
func ButtonReply(from, id, inReplyTo, replyID, title string) Message {
	m := Message{From: from, ID: id, Timestamp: stamp(), Type: "interactive",
		Interactive: &Interactive{Type: "button_reply", ButtonReply: &Reply{ID: replyID, Title: title}}}
	if inReplyTo != "" {
		m.Context = &MessageContext{ID: inReplyTo}
	}
	return m
}

// ListReply is a choice of the list row rowID of the business's message
// inReplyTo (may be empty).
func ListReply(from, id, inReplyTo, rowID, title, description string) Message {
	m := Message{From: from, ID: id, Timestamp: stamp(), Type: "interactive",
		Interactive: &Interactive{Type: "list_reply", ListReply: &Reply{ID: rowID, Title: title, Description: description}}}
	if inReplyTo != "" {
		m.Context = &MessageContext{ID: inReplyTo}
	}
	return m
}

// QuickReplyMessage is a tap on a template's quick-reply button.
func QuickReplyMessage(from, id, payload, text string) Message {
	return Message{From: from, ID: id, Timestamp: stamp(), Type: "button", Button: &QuickReply{Payload: payload, Text: text}}
}

// MediaMessage is an image, document, audio or video message (kind is
// the type) of the media object mediaID.
func MediaMessage(from, id, kind, mediaID, mimeType, caption, filename string) Message {
	mo := &MediaObject{ID: mediaID, MIMEType: mimeType, SHA256: "c2hhMjU2", Caption: caption, Filename: filename}
	m := Message{From: from, ID: id, Timestamp: stamp(), Type: kind}
	switch kind {
	case "image":
		m.Image = mo
	case "document":
		m.Document = mo
	case "audio":
		mo.Caption = ""
		m.Audio = mo
	case "video":
		m.Video = mo
	case "sticker":
		m.Sticker = mo
	}
	return m
}

// LocationMessage is a shared location.
func LocationMessage(from, id string, lat, lon float64, name, address string) Message {
	return Message{From: from, ID: id, Timestamp: stamp(), Type: "location",
		Location: &Location{Latitude: lat, Longitude: lon, Name: name, Address: address}}
}

// ContactsMessage is a shared contact card with one phone number.
func ContactsMessage(from, id, name, phone string) Message {
	var c SharedContact
	c.Name.FormattedName = name
	c.Phones = append(c.Phones, struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id,omitempty"`
	}{Phone: phone})
	return Message{From: from, ID: id, Timestamp: stamp(), Type: "contacts", Contacts: []SharedContact{c}}
}

// UnsupportedMessage is what Meta sends for a message type the Cloud API
// cannot deliver (error 131051).
func UnsupportedMessage(from, id string) Message {
	return Message{From: from, ID: id, Timestamp: stamp(), Type: "unsupported",
		Errors: []Error{{Code: 131051, Title: "Message type unknown", Message: "Message type unknown"}}}
}

// Quoting returns m as a reply quoting the message quotedID.
func (m Message) Quoting(quotedID string) Message {
	m.Context = &MessageContext{ID: quotedID}
	return m
}

// StatusUpdate is a delivery status (sent, delivered, read) of the
// business's message wamid.
func StatusUpdate(wamid, recipient, status string) Status {
	return Status{ID: wamid, Status: status, Timestamp: stamp(), RecipientID: recipient}
}

// FailedStatus is a "failed" status with one error, e.g. 131047.
func FailedStatus(wamid, recipient string, code int, title string) Status {
	return Status{ID: wamid, Status: "failed", Timestamp: stamp(), RecipientID: recipient,
		Errors: []Error{{Code: code, Title: title, Message: title}}}
}

// Webhook builds and delivers notifications for one business phone
// number, signed with the app secret.
type Webhook struct {
	AppSecret          string
	PhoneNumberID      string
	DisplayPhoneNumber string // default "15550001234"
	WABAID             string // default "102290129340398"
}

// Value returns an empty change value for the webhook's phone number.
func (w Webhook) Value() Value {
	disp := w.DisplayPhoneNumber
	if disp == "" {
		disp = "15550001234"
	}
	return Value{MessagingProduct: "whatsapp", Metadata: Metadata{DisplayPhoneNumber: disp, PhoneNumberID: w.PhoneNumberID}}
}

// Encode wraps change values in a notification body; nil when a value
// cannot be encoded (NaN or infinite coordinates).
func (w Webhook) Encode(values ...Value) []byte {
	waba := w.WABAID
	if waba == "" {
		waba = "102290129340398"
	}
	e := Entry{ID: waba}
	for _, v := range values {
		e.Changes = append(e.Changes, Change{Field: "messages", Value: v})
	}
	b, err := json.Marshal(Payload{Object: "whatsapp_business_account", Entry: []Entry{e}})
	if err != nil {
		return nil // only NaN or infinite coordinates fail to encode
	}
	return b
}

// Messages is a notification of msgs from one shopper named profileName
// (the contact is taken from the first message's sender).
func (w Webhook) Messages(profileName string, msgs ...Message) []byte {
	v := w.Value()
	if len(msgs) > 0 {
		var c Contact
		c.Profile.Name, c.WaID = profileName, msgs[0].From
		v.Contacts = []Contact{c}
	}
	v.Messages = msgs
	return w.Encode(v)
}

// Statuses is a notification of delivery statuses.
func (w Webhook) Statuses(ss ...Status) []byte {
	v := w.Value()
	v.Statuses = ss
	return w.Encode(v)
}

// Sign returns the X-Hub-Signature-256 header Meta sends for body:
// "sha256=" and the hex HMAC-SHA256 of the raw body keyed with the app
// secret.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Request returns a signed POST of body to url.
func (w Webhook) Request(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set("X-Hub-Signature-256", Sign(w.AppSecret, body))
	return req, nil
}

// Post delivers body to the webhook at url, signed, and returns the
// status and the answer's body (at most 64 KiB). client may be nil
// (http.DefaultClient).
func (w Webhook) Post(ctx context.Context, client *http.Client, url string, body []byte) (int, string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := w.Request(ctx, url, body)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), err
}

// Serve delivers body, signed, to the handler h in process (path is the
// request path, e.g. "/whatsapp/webhook") and returns the status and the
// answer's body.
func (w Webhook) Serve(ctx context.Context, h http.Handler, path string, body []byte) (int, string) {
	req, err := w.Request(ctx, "http://webhook.local"+path, body)
	if err != nil {
		return 0, err.Error()
	}
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.body.String()
}

// recorder is a minimal http.ResponseWriter for Serve.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
