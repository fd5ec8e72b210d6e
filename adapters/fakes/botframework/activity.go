package botframework

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Activity is an activity on the wire, as the Bot Framework posts it to a
// bot and as the fake records what a bot posts. It uses the msbotbuilder-go
// schema for accounts and attachments; entities, channel data and the
// value carry what Teams sends there (the library's Entity type keeps only
// the type, and its Value only objects). Zero fields are left out.
type Activity struct {
	Type           string                     `json:"type"`
	ID             string                     `json:"id,omitempty"`
	Timestamp      time.Time                  `json:"timestamp,omitzero"`
	LocalTimestamp string                     `json:"localTimestamp,omitempty"`
	ServiceURL     string                     `json:"serviceUrl,omitempty"`
	ChannelID      string                     `json:"channelId,omitempty"`
	From           schema.ChannelAccount      `json:"from,omitzero"`
	Conversation   schema.ConversationAccount `json:"conversation,omitzero"`
	Recipient      schema.ChannelAccount      `json:"recipient,omitzero"`
	TextFormat     string                     `json:"textFormat,omitempty"`
	Locale         string                     `json:"locale,omitempty"`
	Text           string                     `json:"text,omitempty"`
	Summary        string                     `json:"summary,omitempty"`
	Attachments    []schema.Attachment        `json:"attachments,omitempty"`
	Entities       []Entity                   `json:"entities,omitempty"`
	ChannelData    *ChannelData               `json:"channelData,omitempty"`
	ReplyToID      string                     `json:"replyToId,omitempty"`
	Name           string                     `json:"name,omitempty"`
	Value          json.RawMessage            `json:"value,omitempty"`
}

// Entity is an activity entity; Teams uses "mention" entities for @mentions.
type Entity struct {
	Type      string                 `json:"type"`
	Mentioned *schema.ChannelAccount `json:"mentioned,omitempty"`
	Text      string                 `json:"text,omitempty"`
}

// ChannelData is the Teams part of channelData.
type ChannelData struct {
	Tenant    *IDName `json:"tenant,omitempty"`
	Channel   *IDName `json:"channel,omitempty"`
	Team      *IDName `json:"team,omitempty"`
	EventType string  `json:"eventType,omitempty"`
}

// IDName is an id with an optional display name.
type IDName struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// User is a Teams user: ID is the Bot Framework user id ("29:…"),
// AADObjectID the Entra ID object id.
type User struct {
	ID          string
	Name        string
	AADObjectID string
}

func (u User) account() schema.ChannelAccount {
	return schema.ChannelAccount{ID: u.ID, Name: u.Name, AadObjectID: u.AADObjectID}
}

// Bot returns the bot's account as Teams puts it in recipient: "28:<app id>".
func (s *Server) Bot() schema.ChannelAccount {
	return schema.ChannelAccount{ID: "28:" + s.cfg.AppID, Name: s.cfg.BotName}
}

// PersonalConversationID returns the id of the 1:1 chat between the bot
// and u (stable for u, opaque like the real "a:…" ids).
func PersonalConversationID(u User) string {
	h := sha256.Sum256([]byte(u.ID))
	return "a:1" + base64.RawURLEncoding.EncodeToString(h[:24])
}

func (s *Server) base(from User) Activity {
	return Activity{
		Type:       "message",
		ID:         s.NextID(),
		Timestamp:  s.cfg.Now().UTC(),
		ServiceURL: s.ServiceURL(),
		ChannelID:  "msteams",
		From:       from.account(),
		Recipient:  s.Bot(),
		Locale:     "en-US",
		TextFormat: "plain",
	}
}

// PersonalMessage builds the activity of u writing text to the bot in
// their personal chat.
func (s *Server) PersonalMessage(u User, text string) Activity {
	a := s.base(u)
	a.Text = text
	a.Conversation = schema.ConversationAccount{ID: PersonalConversationID(u), ConversationType: "personal", TenantID: s.cfg.TenantID}
	a.ChannelData = &ChannelData{Tenant: &IDName{ID: s.cfg.TenantID}}
	return a
}

// ChannelMessage builds the activity of u posting text in a Teams channel
// with an @mention of the bot in front ("<at>tier0</at> text"). rootID is
// the first message of the reply chain; "" starts a new chain, whose root
// is this message.
func (s *Server) ChannelMessage(channelID, rootID string, u User, text string) Activity {
	a := s.base(u)
	if rootID == "" {
		rootID = a.ID
	}
	mention := "<at>" + s.cfg.BotName + "</at>"
	bot := s.Bot()
	a.Text = mention + " " + text
	a.TextFormat = "xml"
	a.Entities = []Entity{{Type: "mention", Mentioned: &bot, Text: mention}}
	a.Conversation = schema.ConversationAccount{ID: channelID + ";messageid=" + rootID, ConversationType: "channel", IsGroup: true, TenantID: s.cfg.TenantID}
	a.ChannelData = &ChannelData{
		Tenant:  &IDName{ID: s.cfg.TenantID},
		Channel: &IDName{ID: channelID},
		Team:    &IDName{ID: channelID},
	}
	return a
}

// Submit builds the activity of u clicking an Adaptive Card Action.Submit
// button whose data is data, on the card activity replyToID in
// conversation conversationID: a message with no text and the data as
// value, as Teams sends it.
func (s *Server) Submit(conversationID, replyToID string, u User, data json.RawMessage) Activity {
	a := s.base(u)
	a.TextFormat = ""
	a.ReplyToID = replyToID
	a.Value = data
	a.Conversation = schema.ConversationAccount{ID: conversationID, ConversationType: "personal", TenantID: s.cfg.TenantID}
	a.ChannelData = &ChannelData{Tenant: &IDName{ID: s.cfg.TenantID}}
	if ch, _, ok := strings.Cut(conversationID, ";messageid="); ok {
		a.Conversation.ConversationType, a.Conversation.IsGroup = "channel", true
		a.ChannelData.Channel = &IDName{ID: ch}
		a.ChannelData.Team = &IDName{ID: ch}
	}
	return a
}

// Deliver signs a token for a (serviceurl = a.ServiceURL, the fake's
// service URL when empty) and POSTs a as JSON to the bot's messaging
// endpoint, as the Bot Framework does. It returns the HTTP status.
// Errors: signing, encoding, the request.
func (s *Server) Deliver(ctx context.Context, endpoint string, a Activity) (int, error) {
	if a.ServiceURL == "" {
		a.ServiceURL = s.ServiceURL()
	}
	if a.ChannelID == "" {
		a.ChannelID = "msteams"
	}
	if a.ID == "" {
		a.ID = s.NextID()
	}
	tok, err := s.SignToken(Claims{ServiceURL: a.ServiceURL})
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return 0, fmt.Errorf("botframework fake: encode activity: %w", err)
	}
	status, _, err := Post(ctx, endpoint, "Bearer "+tok, body)
	return status, err
}

// Post sends body to endpoint with the given Authorization header ("" for
// none) and returns the status and the (bounded) response body. It is the
// raw form of [Server.Deliver], for malformed requests.
func Post(ctx context.Context, endpoint, authorization string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("botframework fake: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("botframework fake: post activity: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("botframework fake: read answer: %w", err)
	}
	return res.StatusCode, b, nil
}
