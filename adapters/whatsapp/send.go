package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/tier0/tier0/conversation"
)

// notConnectedRetry is the delay suggested to the dispatcher while the
// adapter is not connected (reconnecting, or another replica leads).
const notConnectedRetry = 5 * time.Second

// part is one WhatsApp message of an outbound message.
type part struct {
	id  string // outbound id + suffix: the idempotency key of this part
	msg *waE2E.Message
}

// Send delivers o to the shopper's chat: the text in WhatsApp formatting,
// citations as plain links on their own lines, buttons as numbered
// choices (and, with Config.ChoicePolls, a single-choice poll), quoting
// the customer's message when o replies to one (see QuoteMode).
//
// o.ID is the idempotency key: an id delivered before (kept in a bounded
// set) is not sent again, and each WhatsApp message gets an id derived
// from it, so a retry after a lost acknowledgement reuses the id.
// Errors: Invalid for messages this channel never sends (staff messages,
// notes, other channels, unknown chats) — permanent; Unavailable when not
// connected, on timeouts, WhatsApp rate limits or server errors, and when
// the adapter's own rate limit asks to wait (a conversation.RetryAfterError);
// anything else is permanent.
func (a *Adapter) Send(ctx context.Context, o conversation.Outbound) error {
	if err := conversation.CheckCustomerOutbound(o, conversation.ChannelWhatsApp); err != nil {
		return err
	}
	switch {
	case !strings.HasPrefix(o.ConversationKey, keyPrefix):
		return conversation.Errorf(conversation.Invalid, "outbound %s: %q is not a whatsapp conversation key", o.ID, o.ConversationKey)
	case strings.TrimSpace(o.Text) == "" && len(o.Buttons) == 0:
		return conversation.Errorf(conversation.Invalid, "outbound %s has no text", o.ID)
	}
	now := a.cfg.Now()
	if _, done := a.sent.get(o.ID, now); done {
		return nil
	}
	chat, info, err := a.chatFor(ctx, o)
	if err != nil {
		return err
	}
	parts, cs := a.render(o, chat, info)

	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	var pending []part
	for _, p := range parts {
		if _, done := a.sent.get(p.id, now); !done {
			pending = append(pending, p)
		}
	}
	if len(pending) > 0 {
		if !a.cli.IsLoggedIn() {
			// Not a failed attempt: the replica that holds (or is
			// restoring) the connection delivers it.
			return &conversation.RetryAfterError{After: notConnectedRetry,
				Err: fmt.Errorf("whatsapp is not connected on this replica: %w", conversation.ErrElsewhere)}
		}
		if ok, wait := a.limits.take(chat.String(), len(pending), now); !ok {
			return &conversation.RetryAfterError{After: wait,
				Err: conversation.Errorf(conversation.Unavailable, "whatsapp send rate limit for %s", o.ConversationKey)}
		}
		// Remember the choices before the menu can reach the phone, so
		// even the quickest answer finds them.
		a.rememberChoices(ctx, o.ConversationKey, cs)
		for _, p := range pending {
			if err := a.cli.SendMessage(ctx, chat, p.msg, messageID(p.id)); err != nil {
				return sendError(o.ID, err)
			}
			a.sent.put(p.id, struct{}{}, now)
		}
	}
	a.sent.put(o.ID, struct{}{}, now)
	return nil
}

// chatFor finds where the conversation's replies go: the chat last seen
// on this replica, the one stored in Refs, or the recipient's JID.
func (a *Adapter) chatFor(ctx context.Context, o conversation.Outbound) (types.JID, chatInfo, error) {
	key := o.ConversationKey
	ci, cached := a.chats.get(key, a.cfg.Now())
	found := cached
	if !found && a.cfg.Refs != nil {
		v, err := a.cfg.Refs.GetRef(ctx, refChats, key)
		switch {
		case err == nil:
			ci, found = chatInfo{Chat: v}, true
		case !errors.Is(err, conversation.ErrNotFound):
			return types.JID{}, chatInfo{}, conversation.Errorf(conversation.Unavailable, "whatsapp: look up the chat of %s: %w", key, err)
		}
	}
	if !found {
		if r, err := types.ParseJID(o.Recipient); err == nil && r.User != "" && keyPrefix+r.User == key {
			ci, found = chatInfo{Chat: r.ToNonAD().String()}, true
		}
	}
	if !found {
		return types.JID{}, chatInfo{}, conversation.Errorf(conversation.Invalid, "whatsapp: no chat known for conversation %s", key)
	}
	chat, err := types.ParseJID(ci.Chat)
	if err != nil || chat.User == "" {
		return types.JID{}, chatInfo{}, conversation.Errorf(conversation.Invalid, "whatsapp: bad chat address for conversation %s", key)
	}
	chat = chat.ToNonAD()
	switch chat.Server {
	case types.DefaultUserServer, types.HiddenUserServer:
	case types.GroupServer:
		ci.Group = true
	default:
		return types.JID{}, chatInfo{}, conversation.Errorf(conversation.Invalid, "whatsapp: conversation %s is not a person or group chat", key)
	}
	if !cached {
		a.chats.put(key, ci, a.cfg.Now())
	}
	return chat, ci, nil
}

// render turns o into WhatsApp messages and the choices they offer.
func (a *Adapter) render(o conversation.Outbound, chat types.JID, ci chatInfo) ([]part, choiceSet) {
	buttons := o.Buttons
	if len(buttons) > maxChoices {
		buttons = buttons[:maxChoices]
	}
	cs := choiceSet{At: a.cfg.Now()}
	for _, b := range buttons {
		label := cleanLine(b.Label, 90)
		if label == "" {
			label = cleanLine(b.Action.Value, 90)
		}
		cs.Actions = append(cs.Actions, b.Action)
		cs.Labels = append(cs.Labels, label)
	}
	poll := a.cfg.ChoicePolls && len(cs.Labels) >= 2

	var b strings.Builder
	b.WriteString(strings.TrimSpace(formatText(o.Text)))
	if cites := formatCitations(o.Citations, o.Language); cites != "" {
		b.WriteString("\n\n")
		b.WriteString(cites)
	}
	if len(cs.Labels) > 0 && !poll {
		b.WriteString("\n\n")
		b.WriteString(a.formatChoices(cs.Labels, o.Language))
	}
	text := strings.TrimSpace(b.String())

	var msg *waE2E.Message
	if q := a.quote(o, chat, ci); q != nil {
		msg = &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(text), ContextInfo: q}}
	} else {
		msg = &waE2E.Message{Conversation: proto.String(text)}
	}
	parts := []part{{id: o.ID + "#text", msg: msg}}
	if poll {
		id := o.ID + "#poll"
		cs.PollID = string(messageID(id))
		opts := make([]*waE2E.PollCreationMessage_Option, 0, len(cs.Labels))
		for _, name := range pollOptions(cs.Labels) {
			opts = append(opts, &waE2E.PollCreationMessage_Option{OptionName: proto.String(name)})
		}
		parts = append(parts, part{id: id, msg: &waE2E.Message{
			PollCreationMessage: &waE2E.PollCreationMessage{
				Name:                   proto.String(conversation.ChannelText(o.Language, a.cfg.PollTitle, func(t conversation.ChannelTexts) string { return t.ChooseOption })),
				Options:                opts,
				SelectableOptionsCount: proto.Uint32(1),
			},
			MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: pollSecret(id)},
		}})
	}
	return parts, cs
}

// quote returns the context that quotes the customer's message o answers,
// or nil when the reply should not quote (see QuoteMode).
func (a *Adapter) quote(o conversation.Outbound, chat types.JID, ci chatInfo) *waE2E.ContextInfo {
	if o.ReplyTo == "" || a.cfg.Quote == QuoteNever {
		return nil
	}
	if a.cfg.Quote == QuoteAuto && !ci.Group && o.ThreadKey == "" && (ci.LastID == "" || ci.LastID == o.ReplyTo) {
		return nil
	}
	rec, ok := a.recent.get(o.ConversationKey+"/"+o.ReplyTo, a.cfg.Now())
	if !ok {
		rec = inboundRecord{Sender: chat.String()}
	}
	return &waE2E.ContextInfo{
		StanzaID:      proto.String(o.ReplyTo),
		Participant:   proto.String(rec.Sender),
		QuotedMessage: &waE2E.Message{Conversation: proto.String(rec.Snippet)},
	}
}

// formatChoices renders buttons as a numbered list, its hint in lang.
// Buttons labelled with their own numbers (a 1–5 rating) become one line.
func (a *Adapter) formatChoices(labels []string, lang string) string {
	numeric := true
	for i, l := range labels {
		if l != strconv.Itoa(i+1) {
			numeric = false
		}
	}
	if numeric {
		t, _ := conversation.ChannelTextsIn(lang)
		return fmt.Sprintf(t.NumberRange, len(labels))
	}
	var b strings.Builder
	for i, l := range labels {
		fmt.Fprintf(&b, "%d. %s\n", i+1, l)
	}
	b.WriteString(conversation.ChannelText(lang, a.cfg.ChoiceHint, func(t conversation.ChannelTexts) string { return t.ChoiceHint }))
	return b.String()
}

var (
	mdBold    = regexp.MustCompile(`\*\*([^*\n]+?)\*\*|__([^_\n]+?)__`)
	mdStrike  = regexp.MustCompile(`~~([^~\n]+?)~~`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
	mdLink    = regexp.MustCompile(`\[([^\]\n]+)\]\(([^)\s]+)\)`)
)

// formatText rewrites common Markdown into WhatsApp's formatting: bold
// (**x**, __x__, headings) becomes *x*, ~~x~~ becomes ~x~, and a link
// [text](url) becomes "text (url)" for web links, "text" otherwise.
func formatText(s string) string {
	s = mdHeading.ReplaceAllString(s, "*$1*")
	s = mdBold.ReplaceAllString(s, "*$1$2*")
	s = mdStrike.ReplaceAllString(s, "~$1~")
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdLink.FindStringSubmatch(m)
		if u := webLink(sub[2]); u != "" && u != sub[1] {
			return sub[1] + " (" + u + ")"
		}
		return sub[1]
	})
	return s
}

// formatCitations lists sources: each title on its own line, its link
// alone on the next (WhatsApp makes it tappable), under a heading in lang.
func formatCitations(cs []conversation.Citation, lang string) string {
	if len(cs) == 0 {
		return ""
	}
	var b strings.Builder
	t, _ := conversation.ChannelTextsIn(lang)
	b.WriteString("*" + strings.TrimSuffix(t.Sources, ":") + "*")
	seen := map[string]bool{}
	for _, c := range cs {
		title := cleanLine(c.Title, 200)
		if title == "" {
			title = cleanLine(c.Section, 200)
		}
		u := webLink(c.URL)
		id := title + "\x00" + u
		if (title == "" && u == "") || seen[id] {
			continue
		}
		seen[id] = true
		if title != "" {
			b.WriteString("\n" + title)
		}
		if u != "" {
			b.WriteString("\n" + u)
		}
	}
	return b.String()
}

// webLink returns u when it is an absolute http(s) URL on one line.
func webLink(u string) string {
	if strings.ContainsAny(u, " \t\r\n\x00") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// messageID derives the WhatsApp message id of an outbound part, in the
// shape WhatsApp Web uses ("3EB0" and 18 hex digits).
func messageID(partID string) types.MessageID {
	h := sha256.Sum256([]byte("tier0/whatsapp/" + partID))
	return types.MessageID(whatsmeow.WebMessageIDPrefix + strings.ToUpper(hex.EncodeToString(h[:9])))
}

// pollKey makes poll secrets unpredictable outside this process yet equal
// across retries within it (whatsmeow keeps the first secret stored for a
// message id).
var pollKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

func pollSecret(partID string) []byte {
	m := hmac.New(sha256.New, pollKey)
	m.Write([]byte(partID))
	return m.Sum(nil)
}

// sendError classifies a whatsmeow send error.
func sendError(id string, err error) error {
	if retryable(err) {
		return conversation.Errorf(conversation.Unavailable, "whatsapp: send %s: %w", id, err)
	}
	return fmt.Errorf("whatsapp: send %s: %w", id, err)
}

// retryable reports whether an error of whatsmeow may go away on retry:
// no connection, timeouts, network errors, and server answers 408, 429
// and 5xx.
func retryable(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn),
		errors.Is(err, whatsmeow.ErrIQTimedOut), errors.Is(err, whatsmeow.ErrMessageTimedOut),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne):
		return true
	case errors.Is(err, whatsmeow.ErrServerReturnedError):
		msg := err.Error()
		i := strings.LastIndexByte(msg, ' ')
		code, cerr := strconv.Atoi(msg[i+1:])
		return cerr == nil && (code == 408 || code == 429 || code >= 500)
	}
	return false
}
