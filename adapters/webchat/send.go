package webchat

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

var _ conversation.Sender = (*Adapter)(nil)

// Send pushes o to the visitor's live event streams through the hub. A
// visitor with no stream open is not an error: the message is in the
// conversation's history, which the widget loads when it (re)connects.
// Sending the same o.ID twice shows it once (the hub and the widget both
// drop repeats). Errors: Invalid for a message that is not a customer-facing
// web chat message (permanent), Unavailable when the hub cannot publish.
func (a *Adapter) Send(ctx context.Context, o conversation.Outbound) error {
	if err := conversation.CheckCustomerOutbound(o, conversation.ChannelWebChat); err != nil {
		return err
	}
	if _, ok := SessionIDFromKey(o.ConversationKey); !ok {
		return conversation.Errorf(conversation.Invalid, "outbound %s: %q is not a web chat conversation key", o.ID, o.ConversationKey)
	}
	if err := a.hub.Publish(ctx, o.ConversationKey, o); err != nil {
		if conversation.ErrorCode(err) == conversation.Internal {
			return conversation.Errorf(conversation.Unavailable, "publish web chat outbound %s: %w", o.ID, err)
		}
		return fmt.Errorf("publish web chat outbound %s: %w", o.ID, err)
	}
	return nil
}

// wireMessage is a message as the widget sees it, in the event stream and
// in the history. It carries nothing internal (no keys, recipients, source
// paths or agent names).
type wireMessage struct {
	ID        string         `json:"id,omitempty"`
	Role      string         `json:"role"`
	Kind      string         `json:"kind,omitempty"`
	Text      string         `json:"text"`
	Citations []wireCitation `json:"citations,omitempty"`
	Buttons   []wireButton   `json:"buttons,omitempty"`
	At        time.Time      `json:"at,omitzero"`
}

type wireCitation struct {
	Title string `json:"title"`
	URL   string `json:"url,omitempty"`
}

type wireButton struct {
	Label  string     `json:"label"`
	Action wireAction `json:"action"`
}

type wireAction struct {
	ID    string `json:"id"`
	Value string `json:"value,omitempty"`
}

// historyResponse is the body of GET …/history.
type historyResponse struct {
	Messages []wireMessage `json:"messages"`
}

// outboundRole is who the visitor sees speaking in an outbound message.
func outboundRole(k conversation.OutboundKind) conversation.Role {
	if k == conversation.KindAgent {
		return conversation.RoleAgent
	}
	return conversation.RoleBot
}

// wireOutbound maps a live outbound message.
func wireOutbound(o conversation.Outbound) wireMessage {
	m := wireMessage{
		ID:        o.ID,
		Role:      string(outboundRole(o.Kind)),
		Kind:      string(o.Kind),
		Text:      o.Text,
		Citations: wireCitations(o.Citations),
		At:        o.CreatedAt,
	}
	for _, b := range o.Buttons {
		m.Buttons = append(m.Buttons, wireButton{Label: b.Label, Action: wireAction{ID: b.Action.ID, Value: b.Action.Value}})
	}
	return m
}

// wireHistory maps the turns a visitor may see: their own messages with
// text, the bot's replies, and human agents' replies relayed to them.
// System turns, staff messages and anything else stay on the server.
func wireHistory(c *conversation.Conversation) historyResponse {
	res := historyResponse{Messages: []wireMessage{}}
	if c == nil {
		return res
	}
	for _, t := range c.History {
		switch {
		case t.Role == conversation.RoleCustomer && strings.TrimSpace(t.Text) != "":
		case t.Role == conversation.RoleBot && t.Kind != conversation.KindStaff:
		case t.Role == conversation.RoleAgent && t.Kind == conversation.KindAgent:
		default:
			continue
		}
		res.Messages = append(res.Messages, wireMessage{
			ID:        t.MessageID,
			Role:      string(t.Role),
			Kind:      string(t.Kind),
			Text:      t.Text,
			Citations: wireCitations(t.Citations),
			At:        t.At,
		})
	}
	return res
}

// wireCitations keeps the title and a link the visitor can open; links
// other than http(s) or site-relative paths are dropped.
func wireCitations(cs []conversation.Citation) []wireCitation {
	var out []wireCitation
	for _, c := range cs {
		title := c.Title
		if title == "" {
			title = c.Section
		}
		if title == "" {
			title = "source"
		}
		out = append(out, wireCitation{Title: title, URL: safeLink(c.URL)})
	}
	return out
}

// safeLink returns u when it is an absolute http(s) URL or a path on the
// same site, and "" otherwise (javascript:, data:, protocol-relative …).
func safeLink(u string) string {
	if u == "" || strings.HasPrefix(u, "//") || strings.ContainsAny(u, "\\\x00\r\n\t") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	switch {
	case p.Scheme == "" && p.Host == "" && strings.HasPrefix(p.Path, "/"):
		return u
	case (p.Scheme == "http" || p.Scheme == "https") && p.Host != "":
		return u
	}
	return ""
}
