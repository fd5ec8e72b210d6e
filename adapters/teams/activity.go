package teams

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Activity types and content types on the wire.
const (
	typeMessage             = "message"
	typeTyping              = "typing"
	contentTypeAdaptiveCard = "application/vnd.microsoft.card.adaptive"
	messageIDMarker         = ";messageid="
)

// inActivity is an inbound activity: the library's schema.Activity with
// the fields it models lossily shadowed (see the package documentation).
// encoding/json fills the outer field when the embedded struct has one of
// the same name.
type inActivity struct {
	schema.Activity
	Timestamp      json.RawMessage `json:"timestamp"`
	LocalTimestamp json.RawMessage `json:"localTimestamp"`
	Expiration     json.RawMessage `json:"expiration"`
	Entities       []entity        `json:"entities"`
	Value          json.RawMessage `json:"value"`
	ChannelData    *channelData    `json:"channelData"`
}

// entity is an activity entity; Teams marks @mentions with type "mention".
type entity struct {
	Type      string                 `json:"type"`
	Mentioned *schema.ChannelAccount `json:"mentioned"`
	Text      string                 `json:"text"`
}

// channelData is the Teams part of channelData.
type channelData struct {
	Tenant  *idName `json:"tenant,omitempty"`
	Channel *idName `json:"channel,omitempty"`
	Team    *idName `json:"team,omitempty"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// tenant returns the activity's tenant id: conversation.tenantId, else
// channelData.tenant.id.
func (a *inActivity) tenant() string {
	if a.Conversation.TenantID != "" {
		return a.Conversation.TenantID
	}
	if a.ChannelData != nil && a.ChannelData.Tenant != nil {
		return a.ChannelData.Tenant.ID
	}
	return ""
}

// channelID returns the Teams channel of a channel message ("" in chats).
func (a *inActivity) channelID() string {
	if a.ChannelData != nil && a.ChannelData.Channel != nil && a.ChannelData.Channel.ID != "" {
		return a.ChannelData.Channel.ID
	}
	if base, _, ok := strings.Cut(a.Conversation.ID, messageIDMarker); ok && a.Conversation.ConversationType == "channel" {
		return base
	}
	return ""
}

// outActivity is an activity the bot sends. It reuses the schema's
// account and attachment types but leaves zero fields out, unlike
// schema.Activity (see the package documentation).
type outActivity struct {
	Type         string                      `json:"type"`
	From         *schema.ChannelAccount      `json:"from,omitempty"`
	Recipient    *schema.ChannelAccount      `json:"recipient,omitempty"`
	Conversation *schema.ConversationAccount `json:"conversation,omitempty"`
	Text         string                      `json:"text,omitempty"`
	TextFormat   string                      `json:"textFormat,omitempty"`
	Summary      string                      `json:"summary,omitempty"`
	Attachments  []schema.Attachment         `json:"attachments,omitempty"`
	ReplyToID    string                      `json:"replyToId,omitempty"`
}

// conversationParameters is the body of POST /v3/conversations.
type conversationParameters struct {
	IsGroup     bool                   `json:"isGroup"`
	Bot         *schema.ChannelAccount `json:"bot,omitempty"`
	TenantID    string                 `json:"tenantId,omitempty"`
	Activity    *outActivity           `json:"activity"`
	ChannelData *channelData           `json:"channelData"`
}

// staffThread is a ticket's reply chain in the staff channel.
type staffThread struct {
	ServiceURL     string `json:"serviceUrl"`
	ConversationID string `json:"conversationId"` // "<channel>;messageid=<root>"
	ActivityID     string `json:"activityId"`     // the root: the handoff card
	HandoffID      string `json:"handoffId,omitempty"`
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
