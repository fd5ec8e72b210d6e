package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/tier0/tier0/conversation"
)

// customerSender delivers customer messages (conversation.ChannelSlack).
type customerSender struct{ a *Adapter }

// staffSender delivers staff-channel messages ([StaffChannel]).
type staffSender struct{ a *Adapter }

var (
	_ conversation.Sender = customerSender{}
	_ conversation.Sender = staffSender{}
)

// Send posts o into its conversation's thread as Block Kit, replacing the
// placeholder of the message it answers if one was posted. Errors:
// Invalid for an outbound that is not a customer-facing Slack message
// (permanent), a *conversation.RetryAfterError (Unavailable) when Slack
// answered 429 or the channel's pace would make it wait too long,
// Unavailable for 5xx, timeouts and transport errors, Unauthorized for a
// rejected token, Invalid for other Slack errors.
func (s customerSender) Send(ctx context.Context, o conversation.Outbound) error {
	a := s.a
	if err := conversation.CheckCustomerOutbound(o, conversation.ChannelSlack); err != nil {
		return err
	}
	_, channel, keyThread, ok := parseKey(o.ConversationKey)
	if !ok {
		return conversation.Errorf(conversation.Invalid, "outbound %s: %q is not a slack conversation key", o.ID, o.ConversationKey)
	}
	thread := o.ThreadKey
	if thread == "" {
		thread = keyThread
	}
	if thread != "" && !tsRE.MatchString(thread) {
		return conversation.Errorf(conversation.Invalid, "outbound %s: thread key %q is not a slack ts", o.ID, thread)
	}
	if done, err := a.sent.Sent(ctx, o.ID); err != nil || done {
		return err
	}
	fallback, blocks := messageBlocks(o)
	if len(blocks) == 0 {
		return conversation.Errorf(conversation.Invalid, "outbound %s has neither text nor buttons", o.ID)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)}
	if err := a.pace(ctx, channel); err != nil {
		return err
	}
	ts, replaced, err := a.overPlaceholder(ctx, o, channel, opts)
	if err != nil {
		return a.deliveryError(channel, "chat.update", err)
	}
	if !replaced {
		if thread != "" {
			opts = append(opts, slack.MsgOptionTS(thread))
		}
		if _, ts, err = a.api.PostMessageContext(ctx, channel, opts...); err != nil {
			return a.deliveryError(channel, "chat.postMessage", err)
		}
	}
	a.sent.Mark(ctx, o.ID, channel+" "+ts)
	a.log.Debug("slack message sent", "conversation", o.ConversationKey, "kind", o.Kind, "replaced_placeholder", replaced)
	return nil
}

// pace waits for channel's turn to post. Errors: a RetryAfterError when
// the wait would be longer than MaxPaceWait, ctx's error as Unavailable.
func (a *Adapter) pace(ctx context.Context, channel string) error {
	ra, err := a.pacer.wait(ctx, channel, a.cfg.MaxPaceWait)
	if err != nil {
		return conversation.Errorf(conversation.Unavailable, "slack channel %s: waiting to post: %w", channel, err)
	}
	if ra > 0 {
		return &conversation.RetryAfterError{After: ra, Err: conversation.Errorf(conversation.Unavailable, "slack channel %s is busy: posting paced", channel)}
	}
	return nil
}

// postText posts plain text (escaped) into channel, in thread if set.
func (a *Adapter) postText(ctx context.Context, channel, thread, text string) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(escapeMrkdwn(truncateRunes(text, maxSectionText)), false)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := a.api.PostMessageContext(ctx, channel, opts...)
	return ts, err
}

// ephemeral tells user something in channel's thread that only they see.
func (a *Adapter) ephemeral(ctx context.Context, channel, thread, user, text string) {
	opts := []slack.MsgOption{slack.MsgOptionText(escapeMrkdwn(text), false)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	if _, err := a.api.PostEphemeralContext(ctx, channel, user, opts...); err != nil {
		a.log.Debug("slack ephemeral message not posted", "channel", channel, "err", err)
	}
}

// deliveryError classifies a Web API error and, for a 429, holds the
// channel back for the Retry-After.
func (a *Adapter) deliveryError(channel, op string, err error) error {
	e := apiError(op, err)
	if ra := conversation.RetryAfter(e); ra > 0 {
		a.pacer.block(channel, time.Now(), ra)
	}
	return e
}

// Slack error codes that are worth retrying, and those of a bad token.
var (
	transientCodes = map[string]bool{"ratelimited": true, "internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true}
	authCodes      = map[string]bool{"invalid_auth": true, "not_authed": true, "token_revoked": true, "token_expired": true, "account_inactive": true, "not_allowed_token_type": true, "missing_scope": true}
)

func asSlackError(err error, se *slack.SlackErrorResponse) bool { return errors.As(err, se) }

// apiError maps a slack-go error to a conversation error: 429 →
// *conversation.RetryAfterError, 5xx/408/timeouts/transport → Unavailable,
// rejected tokens and scopes → Unauthorized, other API errors → Invalid.
func apiError(op string, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &conversation.RetryAfterError{After: max(rl.RetryAfter, time.Second), Err: conversation.Errorf(conversation.Unavailable, "slack %s: rate limited: %w", op, err)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		if sc.Code >= 500 || sc.Code == 408 || sc.Code == 429 {
			return conversation.Errorf(conversation.Unavailable, "slack %s: %w", op, err)
		}
		return conversation.Errorf(conversation.Invalid, "slack %s: %w", op, err)
	}
	var se slack.SlackErrorResponse
	if asSlackError(err, &se) {
		switch {
		case transientCodes[se.Err]:
			return conversation.Errorf(conversation.Unavailable, "slack %s: %w", op, err)
		case authCodes[se.Err]:
			return conversation.Errorf(conversation.Unauthorized, "slack %s: %w", op, err)
		}
		return conversation.Errorf(conversation.Invalid, "slack %s: %w", op, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return conversation.Errorf(conversation.Unavailable, "slack %s: %w", op, err)
	}
	// Anything else (a garbled answer, a proxy's HTML page) is treated as
	// passing trouble: the dispatcher retries a bounded number of times.
	return conversation.Errorf(conversation.Unavailable, "slack %s: %w", op, err)
}

// Block Kit limits.
const (
	maxSectionText   = 3000
	maxButtonLabel   = 75
	maxButtons       = 25
	maxContextItems  = 10
	maxFallbackRunes = 3000
)

// escapeMrkdwn escapes the three characters Slack's mrkdwn reserves.
func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// escapedChunks escapes s and splits it into pieces of at most max
// characters, preferring to break at a newline, then a space, and never
// inside an escape.
func escapedChunks(s string, max int) []string {
	var out []string
	var cur strings.Builder
	n, lastBreak := 0, -1 // lastBreak: byte offset in cur after the last newline/space
	for _, r := range s {
		piece := string(r)
		switch r {
		case '&':
			piece = "&amp;"
		case '<':
			piece = "&lt;"
		case '>':
			piece = "&gt;"
		}
		w := utf8.RuneCountInString(piece)
		if n+w > max {
			str := cur.String()
			cut := len(str)
			if lastBreak > 0 && lastBreak > len(str)/2 {
				cut = lastBreak
			}
			out = append(out, str[:cut])
			rest := str[cut:]
			cur.Reset()
			cur.WriteString(rest)
			n, lastBreak = utf8.RuneCountInString(rest), -1
		}
		cur.WriteString(piece)
		n += w
		if r == '\n' || r == ' ' {
			lastBreak = cur.Len()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	// Slack rejects a section whose text is only whitespace.
	kept := out[:0]
	for _, c := range out {
		if strings.TrimSpace(c) != "" {
			kept = append(kept, c)
		}
	}
	return kept
}

// linkTarget returns u made safe for a mrkdwn link (<url|label>): an
// absolute http(s) URL with the link delimiters percent-encoded, or "".
func linkTarget(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.ContainsAny(u, " \t\r\n") {
		return ""
	}
	return strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", "&", "&amp;").Replace(u)
}

// citationText renders one citation as a mrkdwn link (or its title).
func citationText(c conversation.Citation) string {
	title := c.Title
	if title == "" {
		title = c.Section
	}
	if title == "" {
		title = c.Source
	}
	if title == "" {
		title = "source"
	}
	title = escapeMrkdwn(truncateRunes(title, 200))
	if t := linkTarget(c.URL); t != "" {
		return ":page_facing_up: <" + t + "|" + title + ">"
	}
	return ":page_facing_up: " + title
}

// messageBlocks renders a customer message: text sections, a context
// block of citations, and an actions block of buttons. fallback is the
// notification text.
func messageBlocks(o conversation.Outbound) (fallback string, blocks []slack.Block) {
	for _, c := range escapedChunks(o.Text, maxSectionText) {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, c, false, false), nil, nil))
	}
	if len(o.Citations) > 0 {
		var els []slack.MixedElement
		for i, c := range o.Citations {
			if i == maxContextItems {
				break
			}
			els = append(els, slack.NewTextBlockObject(slack.MarkdownType, citationText(c), false, false))
		}
		blocks = append(blocks, slack.NewContextBlock("tier0_citations", els...))
	}
	if len(o.Buttons) > 0 {
		var els []slack.BlockElement
		for i, b := range o.Buttons {
			if i == maxButtons {
				break
			}
			label := truncateRunes(strings.TrimSpace(b.Label), maxButtonLabel)
			if label == "" {
				label = truncateRunes(b.Action.ID, maxButtonLabel)
			}
			els = append(els, slack.NewButtonBlockElement(fmt.Sprintf("%s%d", customerActionPrefix, i), encodeButton(b.Action),
				slack.NewTextBlockObject(slack.PlainTextType, label, false, false)))
		}
		blocks = append(blocks, slack.NewActionBlock("tier0_buttons", els...))
	}
	fallback = escapeMrkdwn(truncateRunes(o.Text, maxFallbackRunes))
	if strings.TrimSpace(fallback) == "" && len(o.Buttons) > 0 {
		fallback = escapeMrkdwn(truncateRunes(o.Buttons[0].Label, maxButtonLabel))
	}
	return fallback, blocks
}
