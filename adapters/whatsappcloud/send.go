package whatsappcloud

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/conversation"
)

// WhatsApp's limits on outbound messages, in characters. The adapter
// counts UTF-16 code units (an emoji counts twice), which never
// undercounts what Meta measures.
const (
	maxTextBody        = 4096
	maxInteractiveBody = 1024
	maxButtonTitle     = 20
	maxRowTitle        = 24
	maxRowDescription  = 72
	maxListButton      = 20
	maxReplyButtons    = 3
	maxListRows        = 10
)

// outMessage is the JSON body of POST /{phone-number-id}/messages.
type outMessage struct {
	MessagingProduct string          `json:"messaging_product"`
	RecipientType    string          `json:"recipient_type,omitempty"`
	To               string          `json:"to"`
	Type             string          `json:"type"`
	Context          *outContext     `json:"context,omitempty"`
	Text             *outText        `json:"text,omitempty"`
	Interactive      *outInteractive `json:"interactive,omitempty"`
}

type outContext struct {
	MessageID string `json:"message_id"`
}

type outText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

type outInteractive struct {
	Type   string    `json:"type"` // "button" or "list"
	Body   outBody   `json:"body"`
	Action outAction `json:"action"`
}

type outBody struct {
	Text string `json:"text"`
}

type outAction struct {
	Buttons  []outButton  `json:"buttons,omitempty"`
	Button   string       `json:"button,omitempty"`
	Sections []outSection `json:"sections,omitempty"`
}

type outButton struct {
	Type  string   `json:"type"` // "reply"
	Reply outReply `json:"reply"`
}

type outReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type outSection struct {
	Title string   `json:"title,omitempty"`
	Rows  []outRow `json:"rows"`
}

type outRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Send delivers o to the shopper of o.ConversationKey: text (split at
// 4096 characters, citations as links), then buttons as reply buttons
// (up to 3), an interactive list (4 to 10) or a numbered list (more).
// o.ID is the idempotency key: parts of o already sent, by this process
// or (with Config.Refs) by any replica, are not sent again. Errors:
// Unavailable (retryable: Config.Refs cannot be read, rate limits, Meta's
// temporary errors, 5xx, timeouts; a conversation.RetryAfterError when
// the delay is known), ErrOutsideWindow (131047), ErrAccessToken (190),
// Invalid for a message that is not for a WhatsApp shopper or that Meta
// rejects.
func (a *Adapter) Send(ctx context.Context, o conversation.Outbound) error {
	if err := conversation.CheckCustomerOutbound(o, a.cfg.Channel); err != nil {
		return err
	}
	to, ok := WaIDFromKey(o.ConversationKey)
	if !ok {
		return conversation.Errorf(conversation.Invalid, "outbound %s: %q is not a WhatsApp Cloud conversation key", o.ID, o.ConversationKey)
	}
	if a.sent.Remembered(o.ID) {
		return nil
	}
	msgs, numbered, err := a.render(ctx, to, o)
	if err != nil {
		return fmt.Errorf("render whatsapp outbound %s: %w", o.ID, err)
	}
	todo, err := a.sent.Unsent(ctx, o.ID, len(msgs))
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		// Delivered before (a retry after a lost acknowledgement): the
		// numbered choices were settled then.
		a.sent.Remember(o.ID)
		return nil
	}
	if numbered {
		if err := a.rememberChoices(ctx, o.ConversationKey, o.ID, o.Buttons); err != nil {
			return conversation.Errorf(conversation.Unavailable, "store numbered choices of %s: %w", o.ID, err)
		}
	} else {
		a.forgetChoices(ctx, o.ConversationKey)
	}
	for _, i := range todo {
		m := msgs[i]
		if err := a.waitTurn(ctx, to); err != nil {
			return err
		}
		wamid, err := a.graph.sendMessage(ctx, m)
		if err != nil {
			return a.classify(err, fmt.Sprintf("send whatsapp outbound %s part %d/%d", o.ID, i+1, len(msgs)))
		}
		a.sent.Mark(ctx, delivered.PartKey(o.ID, i), wamid)
		a.log.Debug("whatsapp message sent", "conversation", o.ConversationKey, "outbound", o.ID, "part", i+1, "wamid", wamid, "type", m.Type)
	}
	a.sent.Remember(o.ID)
	return nil
}

// waitTurn paces messages to one shopper: it returns at once while the
// recipient's burst lasts, waits up to MaxPaceWait after that, and
// returns a retryable error when the wait would be longer.
func (a *Adapter) waitTurn(ctx context.Context, to string) error {
	wait, ok := a.pace.reserve(to, a.cfg.Now(), a.cfg.MaxPaceWait)
	if !ok {
		return &conversation.RetryAfterError{After: wait,
			Err: conversation.Errorf(conversation.Unavailable, "whatsapp: pacing messages to one shopper, next slot in %s", wait.Round(time.Millisecond))}
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return conversation.Errorf(conversation.Unavailable, "whatsapp: waiting to pace messages: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// render builds the Graph messages of o, in order. numbered reports
// whether the buttons went out as a numbered list.
func (a *Adapter) render(ctx context.Context, to string, o conversation.Outbound) (msgs []*outMessage, numbered bool, err error) {
	body := strings.TrimSpace(o.Text)
	if src := a.sources(o.Citations, o.Language); src != "" {
		body = strings.TrimSpace(body + "\n\n" + src)
	}
	buttons := o.Buttons
	if len(buttons) > maxListRows {
		var sb strings.Builder
		sb.WriteString(body)
		sb.WriteString("\n")
		for i, b := range buttons {
			fmt.Fprintf(&sb, "\n%d. %s", i+1, cleanLine(b.Label, 200))
		}
		sb.WriteString("\n\n" + conversation.ChannelText(o.Language, a.cfg.ChoicePrompt, func(t conversation.ChannelTexts) string { return t.ChoiceHint }))
		body, buttons, numbered = strings.TrimSpace(sb.String()), nil, true
	}
	if body == "" {
		if len(buttons) == 0 {
			return nil, false, conversation.Errorf(conversation.Invalid, "outbound %s has no text and no buttons", o.ID)
		}
		body = "…"
	}
	var quote *outContext
	if o.ThreadKey != "" && o.ReplyTo != "" && conversation.Printable(o.ReplyTo, maxMessageID) {
		// The shopper quoted a message: answer quoting theirs.
		quote = &outContext{MessageID: o.ReplyTo}
	}
	text := func(s string) *outMessage {
		return &outMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "text",
			Text: &outText{Body: s, PreviewURL: hasLink(s)}}
	}
	chunks := splitText(body, maxTextBody)
	var last string
	if len(buttons) > 0 {
		// Interactive bodies are shorter: the tail goes with the buttons.
		head, tail := splitTail(chunks[len(chunks)-1], maxInteractiveBody)
		chunks = chunks[:len(chunks)-1]
		if head != "" {
			chunks = append(chunks, head)
		}
		last = tail
	}
	for _, c := range chunks {
		msgs = append(msgs, text(c))
	}
	switch {
	case len(buttons) > 0 && len(buttons) <= maxReplyButtons:
		it := &outInteractive{Type: "button", Body: outBody{Text: last}}
		used, titles := map[string]bool{}, map[string]bool{}
		for _, b := range buttons {
			id, err := a.encodeChoice(ctx, b.Action, used)
			if err != nil {
				return nil, false, conversation.Errorf(conversation.Unavailable, "store button of %s: %w", o.ID, err)
			}
			it.Action.Buttons = append(it.Action.Buttons, outButton{Type: "reply", Reply: outReply{ID: id, Title: uniqueTitle(b.Label, maxButtonTitle, titles)}})
		}
		msgs = append(msgs, &outMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "interactive", Interactive: it})
	case len(buttons) > 0:
		it := &outInteractive{Type: "list", Body: outBody{Text: last}, Action: outAction{Button: truncate(a.cfg.ListButton, maxListButton)}}
		sec := outSection{}
		used, titles := map[string]bool{}, map[string]bool{}
		for _, b := range buttons {
			id, err := a.encodeChoice(ctx, b.Action, used)
			if err != nil {
				return nil, false, conversation.Errorf(conversation.Unavailable, "store list row of %s: %w", o.ID, err)
			}
			label := cleanLine(b.Label, 400)
			row := outRow{ID: id, Title: uniqueTitle(label, maxRowTitle, titles)}
			if row.Title != label && label != "" {
				row.Description = truncate(label, maxRowDescription)
			}
			sec.Rows = append(sec.Rows, row)
		}
		it.Action.Sections = []outSection{sec}
		msgs = append(msgs, &outMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "interactive", Interactive: it})
	}
	if quote != nil && len(msgs) > 0 {
		msgs[0].Context = quote
	}
	return msgs, numbered, nil
}

// sources renders citations as a block of links, one per line, under
// SourcesLabel (in lang). Citations without an http(s) link are listed by
// title.
func (a *Adapter) sources(cs []conversation.Citation, lang string) string {
	var lines []string
	seen := map[string]bool{}
	for _, c := range cs {
		title := cleanLine(c.Title, 200)
		if title == "" {
			title = cleanLine(c.Section, 200)
		}
		link := safeLink(c.URL)
		k := title + "\x00" + link
		if seen[k] || (title == "" && link == "") {
			continue
		}
		seen[k] = true
		switch {
		case link != "" && title != "":
			lines = append(lines, "- "+title+"\n"+link)
		case link != "":
			lines = append(lines, link)
		default:
			lines = append(lines, "- "+title)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	label := conversation.ChannelText(lang, a.cfg.SourcesLabel, func(t conversation.ChannelTexts) string { return t.Sources })
	return label + "\n" + strings.Join(lines, "\n")
}

// safeLink returns u when it is an absolute http(s) URL without spaces,
// and "" otherwise.
func safeLink(u string) string {
	if u == "" || len(u) > 2000 || strings.ContainsAny(u, " \\\x00\r\n\t") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// hasLink reports whether s contains an http(s) link (WhatsApp then shows
// a preview of the first one).
func hasLink(s string) bool {
	return strings.Contains(s, "https://") || strings.Contains(s, "http://")
}

// width is the length of s as WhatsApp may count it: UTF-16 code units.
func width(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}

// truncate shortens s to at most max characters (UTF-16 units), ending
// in "…" when cut.
func truncate(s string, limit int) string {
	if width(s) <= limit {
		return s
	}
	n, cut := 0, 0
	for i, r := range s {
		l := max(utf16.RuneLen(r), 1)
		if n+l > limit-1 {
			break
		}
		n += l
		cut = i + utf8.RuneLen(r)
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

// uniqueTitle truncates label to max characters and makes it differ
// from the titles in used (WhatsApp rejects repeated titles).
func uniqueTitle(label string, limit int, used map[string]bool) string {
	label = cleanLine(label, 400)
	if label == "" {
		label = "Option"
	}
	t := truncate(label, limit)
	for n := 2; used[t]; n++ {
		suffix := " " + strconv.Itoa(n)
		t = truncate(label, limit-len(suffix)) + suffix
	}
	used[t] = true
	return t
}

// splitText cuts s into pieces of at most limit characters (UTF-16
// units), preferring paragraph breaks, then line breaks, then spaces.
func splitText(s string, limit int) []string {
	s = strings.TrimSpace(s)
	var out []string
	for width(s) > limit {
		// The longest prefix within the limit, in bytes.
		n, end := 0, 0
		for i, r := range s {
			l := max(utf16.RuneLen(r), 1)
			if n+l > limit {
				break
			}
			n += l
			end = i + utf8.RuneLen(r)
		}
		if end == 0 { // a limit below one character: still make progress
			_, end = utf8.DecodeRuneInString(s)
		}
		cut := end
		for _, sep := range []string{"\n\n", "\n", " "} {
			if i := strings.LastIndex(s[:end], sep); i > end/2 {
				cut = i
				break
			}
		}
		if p := strings.TrimSpace(s[:cut]); p != "" {
			out = append(out, p)
		}
		s = strings.TrimSpace(s[cut:])
	}
	if s != "" || len(out) == 0 {
		out = append(out, s)
	}
	return out
}

// splitTail cuts s into a head and a tail of at most limit characters,
// at a paragraph break, line break or space near the start of the tail
// when there is one. head is empty when s fits.
func splitTail(s string, limit int) (head, tail string) {
	if width(s) <= limit {
		return "", s
	}
	// start: the first byte of the longest suffix within the limit.
	n, start := 0, len(s)
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:start])
		l := max(utf16.RuneLen(r), 1)
		if n+l > limit {
			break
		}
		n += l
		start -= size
	}
	cut := start
	window := s[start : start+(len(s)-start)/2]
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.Index(window, sep); i >= 0 {
			cut = start + i
			break
		}
	}
	return strings.TrimSpace(s[:cut]), strings.TrimSpace(s[cut:])
}
