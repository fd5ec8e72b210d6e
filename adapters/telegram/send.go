package telegram

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/conversation"
)

// Telegram's limits on a message.
const (
	maxMessageLen = 4096 // UTF-16 code units of visible text
	maxCitations  = 10
	maxLabelLen   = 64
)

// inlineKeyboard is reply_markup with an inline keyboard. It is our own
// type rather than the SDK's so a button carries exactly one action field
// (text and callback_data), as the Bot API requires.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// customerSender delivers channel "telegram".
type customerSender struct{ a *Adapter }

var _ conversation.Sender = customerSender{}

// Sender returns the conversation.Sender of channel "telegram". Errors:
// Invalid for an outbound that is not for a Telegram customer (or that
// Telegram rejects: 400, 403 blocked, chat gone); Unavailable for 5xx,
// network failures and refs that cannot be read; a
// *conversation.RetryAfterError (Unavailable) for 429 and for a chat
// whose pace is far behind.
func (a *Adapter) Sender() conversation.Sender { return customerSender{a} }

// Send delivers a customer outbound.
func (s customerSender) Send(ctx context.Context, o conversation.Outbound) error {
	return s.a.sendCustomer(ctx, o)
}

func (a *Adapter) sendCustomer(ctx context.Context, o conversation.Outbound) error {
	if err := conversation.CheckCustomerOutbound(o, Channel); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(o.Text) == "":
		return conversation.Errorf(conversation.Invalid, "telegram outbound %s is empty", o.ID)
	}
	chatID, thread, ok := ParseConversationKey(o.ConversationKey)
	if !ok {
		return conversation.Errorf(conversation.Invalid, "outbound %s: %q is not a telegram conversation key", o.ID, o.ConversationKey)
	}
	if thread == 0 && o.ThreadKey != "" {
		if t, err := strconv.Atoi(o.ThreadKey); err == nil && t > 0 {
			thread = t
		}
	}
	if a.sent.Remembered(o.ID) {
		return nil
	}
	parts := renderParts(o.Text, o.Citations, false, o.Language)
	todo, err := a.sent.Unsent(ctx, o.ID, len(parts))
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		a.sent.Remember(o.ID)
		return nil
	}
	kb, err := a.keyboard(ctx, o.Buttons)
	if err != nil {
		return unavailable(err)
	}
	var reply *models.ReplyParameters
	if id, err := strconv.Atoi(o.ReplyTo); err == nil && id > 0 && (chatID < 0 || a.cfg.ReplyInPrivate) {
		reply = &models.ReplyParameters{MessageID: id, AllowSendingWithoutReply: true}
	}
	if err := a.sendParts(ctx, a.sent, o.ID, chatID, thread, reply, parts, todo, kb); err != nil {
		return err
	}
	a.sent.Remember(o.ID)
	return nil
}

// keyboard builds the inline keyboard of an outbound's buttons: one row
// when they are few and short, else one button per row.
func (a *Adapter) keyboard(ctx context.Context, buttons []conversation.Button) (*inlineKeyboard, error) {
	if len(buttons) == 0 {
		return nil, nil
	}
	row := make([]inlineButton, 0, len(buttons))
	total := 0
	for _, b := range buttons {
		if b.Action.ID == "" {
			continue
		}
		data, err := a.encodeAction(ctx, b.Action)
		if err != nil {
			return nil, err
		}
		label := strings.TrimSpace(b.Label)
		if label == "" {
			label = b.Action.ID
		}
		label = clip(label, maxLabelLen)
		total += utf8.RuneCountInString(label)
		row = append(row, inlineButton{Text: label, CallbackData: data})
	}
	if len(row) == 0 {
		return nil, nil
	}
	if len(row) <= 5 && total <= 30 {
		return &inlineKeyboard{InlineKeyboard: [][]inlineButton{row}}, nil
	}
	kb := &inlineKeyboard{}
	for _, b := range row {
		kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineButton{b})
	}
	return kb, nil
}

// sendParts sends the parts of one outbound whose indexes are in todo
// (those not sent before: see delivered.Log.Unsent), in order; reply goes on the
// first part, the keyboard on the last. Each part Telegram accepts is
// marked sent ("<id>#<n>") in done and in refs.
func (a *Adapter) sendParts(ctx context.Context, done *delivered.Log, id string, chatID int64, thread int, reply *models.ReplyParameters, parts []string, todo []int, kb *inlineKeyboard) error {
	noPreview := true
	for _, i := range todo {
		p := parts[i]
		params := &bot.SendMessageParams{
			ChatID:             chatID,
			MessageThreadID:    thread,
			Text:               p,
			ParseMode:          models.ParseModeHTML,
			LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: &noPreview},
		}
		if i == 0 && reply != nil {
			params.ReplyParameters = reply
		}
		if i == len(parts)-1 && kb != nil {
			params.ReplyMarkup = kb
		}
		if err := a.pace.wait(ctx, chatID); err != nil {
			return err
		}
		m, err := a.api.SendMessage(ctx, params)
		if err != nil {
			return fmt.Errorf("telegram sendMessage %s part %d: %w", id, i+1, classify(err))
		}
		msgID := ""
		if m != nil && m.ID > 0 {
			msgID = strconv.Itoa(m.ID)
		}
		done.Mark(ctx, delivered.PartKey(id, i), msgID)
	}
	return nil
}

// renderParts turns a text and its citations into HTML messages of at
// most 4096 visible characters each: the text split at paragraph, line
// or word boundaries, every part escaped, the sources as links after the
// text (in a part of their own when they do not fit). boldFirst sets the
// first line in bold (the handoff card's headline). lang is the
// conversation's, for the sources' heading.
func renderParts(text string, cites []conversation.Citation, boldFirst bool, lang string) []string {
	sources, sourcesLen := renderCitations(cites, lang)
	chunks := splitText(strings.TrimSpace(text), maxMessageLen)
	parts := make([]string, 0, len(chunks)+1)
	for i, c := range chunks {
		if i == 0 && boldFirst {
			first, rest, more := strings.Cut(c, "\n")
			h := "<b>" + escapeHTML(first) + "</b>"
			if more {
				h += "\n" + escapeHTML(rest)
			}
			parts = append(parts, h)
			continue
		}
		parts = append(parts, escapeHTML(c))
	}
	if sources == "" {
		return parts
	}
	if n := len(chunks); n > 0 && utf16Len(chunks[n-1])+2+sourcesLen <= maxMessageLen {
		parts[n-1] += "\n\n" + sources
		return parts
	}
	return append(parts, sources)
}

// renderCitations renders the sources block and returns its visible length.
func renderCitations(cites []conversation.Citation, lang string) (string, int) {
	if len(cites) == 0 {
		return "", 0
	}
	if len(cites) > maxCitations {
		cites = cites[:maxCitations]
	}
	var html, plain strings.Builder
	t, _ := conversation.ChannelTextsIn(lang)
	html.WriteString(t.Sources)
	plain.WriteString(t.Sources)
	for i, c := range cites {
		title := c.Title
		if title == "" {
			title = c.Section
		}
		if title == "" {
			title = "source"
		}
		title = clip(strings.Join(strings.Fields(title), " "), 200)
		n := "\n" + strconv.Itoa(i+1) + ". "
		html.WriteString(n)
		plain.WriteString(n + title)
		if u := safeLink(c.URL); u != "" {
			html.WriteString(`<a href="` + escapeHTML(u) + `">` + escapeHTML(title) + "</a>")
		} else {
			html.WriteString(escapeHTML(title))
		}
	}
	return html.String(), utf16Len(plain.String())
}

// safeLink returns u when it is an absolute http(s) URL, "" otherwise.
func safeLink(u string) string {
	if u == "" || len(u) > 2048 || strings.ContainsAny(u, "\\\x00\r\n\t \"<>") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// escapeHTML escapes the characters Telegram's HTML parse mode requires
// escaped (&, <, >) and the double quote, for attribute values.
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, `&<>"`) {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// utf16Len is a text's length as Telegram counts it.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// splitText cuts s into pieces of at most limit UTF-16 code units,
// preferring a paragraph break, then a line break, then a space in the
// second half of each piece; a word longer than that is cut.
func splitText(s string, limit int) []string {
	var out []string
	for utf16Len(s) > limit {
		// The longest prefix that fits.
		cut, n := 0, 0
		for i, r := range s {
			if n+utf16.RuneLen(r) > limit {
				break
			}
			n += utf16.RuneLen(r)
			cut = i + utf8.RuneLen(r)
		}
		window := s[:cut]
		at := cut
		for _, sep := range []string{"\n\n", "\n", " "} {
			if i := strings.LastIndex(window, sep); i > len(window)/2 {
				at = i
				break
			}
		}
		piece := strings.TrimRight(s[:at], " \n")
		if piece == "" { // only separators: cut hard to make progress
			piece, at = window, cut
		}
		out = append(out, piece)
		s = strings.TrimLeft(s[at:], " \n")
	}
	if s != "" || len(out) == 0 {
		out = append(out, s)
	}
	return out
}
