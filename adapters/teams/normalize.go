package teams

import (
	"encoding/json"
	"html"
	"mime"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/tier0/tier0/conversation"
)

// Limits of inbound mapping.
const (
	// maxConversationKeyLen: a conversation id that would make the key
	// longer is replaced by its hash.
	maxConversationKeyLen = 200
	maxNameLen            = 256
	maxMIMELen            = 128
	maxURLLen             = 2048
	maxLocaleLen          = 35
	maxTenantLen          = 64
	contentTypeFileInfo   = "application/vnd.microsoft.teams.file.download.info"
)

// Card data keys: what our Action.Submit buttons carry and Teams returns
// in the activity's value.
const (
	dataAction = "tier0_action"
	dataValue  = "tier0_value"
	dataKey    = "tier0_key"
)

// submitData is the value of an Action.Submit click on one of our cards.
type submitData struct {
	Action string `json:"tier0_action"`
	Value  string `json:"tier0_value"`
	Key    string `json:"tier0_key"`
}

// submitted decodes an activity's value as our card data; ok is false when
// there is none (no value, not an object, not ours).
func submitted(raw json.RawMessage) (submitData, bool) {
	var d submitData
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil || d.Action == "" {
		return submitData{}, false
	}
	return d, true
}

// ConversationKey returns the conversation key of a Teams conversation:
// "teams:<tenant>:<conversation id>", with the id replaced by "h:" and its
// SHA-256 (hex) when the key would be longer than 200 bytes, or the id is
// not printable or starts with "h:"; a tenant that is empty, long or holds
// a colon is replaced the same way ("-" when empty). A channel reply
// chain's id ends in ";messageid=<root>", so each chain is its own
// conversation.
func ConversationKey(tenant, conversationID string) string {
	switch {
	case tenant == "":
		tenant = "-"
	case len(tenant) > maxTenantLen || strings.Contains(tenant, ":") || !conversation.Printable(tenant, maxTenantLen):
		tenant = "h:" + sha256Hex(tenant)[:32]
	}
	key := "teams:" + tenant + ":" + conversationID
	if len(key) > maxConversationKeyLen || !conversation.Printable(conversationID, maxConversationKeyLen) || strings.HasPrefix(conversationID, "h:") {
		key = "teams:" + tenant + ":h:" + sha256Hex(conversationID)
	}
	return key
}

// boundedID returns id when it fits a dedupe key, else its hash.
func boundedID(id string) string {
	if conversation.Printable(id, 200) {
		return id
	}
	return "h:" + sha256Hex(id)
}

// normalize maps a message activity to the engine's message. ok is false
// for a message with nothing to handle (no text, our action or file).
// Errors: Invalid.
func normalize(a *inActivity, now time.Time) (m conversation.Message, ok bool, err error) {
	tenant := a.tenant()
	user := identityOf(a.From, a.Locale, tenant)
	if user.ID == "" {
		return conversation.Message{}, false, conversation.Errorf(conversation.Invalid, "teams activity %s has no sender", a.ID)
	}
	m = conversation.Message{
		Channel:         conversation.ChannelTeams,
		ConversationKey: ConversationKey(tenant, a.Conversation.ID),
		PlatformMsgID:   boundedID(a.ID),
		DedupeKey:       boundedID(a.ID),
		User:            user,
		// Teams allows ~28 KB; the engine takes MaxTextLen characters.
		Text:        truncate(cleanText(a.Text, a.Entities, a.Recipient), conversation.MaxTextLen),
		Attachments: attachments(a.Attachments),
		SentAt:      parseTime(a.Timestamp),
		ReceivedAt:  now,
	}
	if _, root, found := strings.Cut(a.Conversation.ID, messageIDMarker); found {
		m.ThreadKey = boundedID(root)
	}
	if d, found := submitted(a.Value); found {
		m.Action = &conversation.Action{ID: d.Action, Value: d.Value}
	}
	if strings.TrimSpace(m.Text) == "" && m.Action == nil && len(m.Attachments) == 0 {
		return conversation.Message{}, false, nil
	}
	if err := m.Validate(); err != nil {
		return conversation.Message{}, false, err
	}
	return m, true, nil
}

// identityOf maps a Teams account: the Entra object id when present (stable
// across chats and bots), else the Bot Framework user id.
func identityOf(from schema.ChannelAccount, locale, tenant string) conversation.Identity {
	id := from.AadObjectID
	if !conversation.Printable(id, maxNameLen) {
		id = from.ID
	}
	if !conversation.Printable(id, maxNameLen) {
		id = ""
	}
	return conversation.Identity{
		ID:          id,
		DisplayName: clip(from.Name, maxNameLen),
		Locale:      cleanLocale(locale),
		TenantID:    clip(tenant, maxTenantLen),
	}
}

var (
	atTag     = regexp.MustCompile(`(?is)<at[^>]*>(.*?)</at>`)
	localeRE  = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)
	spaceRuns = regexp.MustCompile(`[ \t]{2,}`)
)

// cleanText removes the bot's own @mention (from the mention entities, or
// an <at> tag with the bot's name), keeps other mentions as plain names,
// and undoes the HTML escaping Teams applies to channel messages.
func cleanText(text string, ents []entity, bot schema.ChannelAccount) string {
	for _, e := range ents {
		if e.Type == "mention" && e.Text != "" && e.Mentioned != nil && e.Mentioned.ID != "" && e.Mentioned.ID == bot.ID {
			text = strings.ReplaceAll(text, e.Text, " ")
		}
	}
	text = atTag.ReplaceAllStringFunc(text, func(tag string) string {
		name := strings.TrimSpace(atTag.FindStringSubmatch(tag)[1])
		if bot.Name != "" && strings.EqualFold(name, bot.Name) {
			return " "
		}
		return name
	})
	text = html.UnescapeString(text)
	text = strings.ReplaceAll(text, "\u00a0", " ")
	text = spaceRuns.ReplaceAllString(text, " ")
	return strings.TrimSpace(text)
}

// mentionsBot reports whether the message @mentions the bot: a mention
// entity naming it, or an <at> tag with its name.
func mentionsBot(a *inActivity) bool {
	for _, e := range a.Entities {
		if e.Type == "mention" && e.Mentioned != nil && e.Mentioned.ID != "" && e.Mentioned.ID == a.Recipient.ID {
			return true
		}
	}
	for _, m := range atTag.FindAllStringSubmatch(a.Text, 20) {
		if a.Recipient.Name != "" && strings.EqualFold(strings.TrimSpace(m[1]), a.Recipient.Name) {
			return true
		}
	}
	return false
}

// shared reports whether the conversation has more people than the
// employee and the bot (a channel or a group chat).
func shared(a *inActivity) bool {
	t := a.Conversation.ConversationType
	return a.Conversation.IsGroup || t == "channel" || t == "groupChat"
}

// attachments maps files and images; Teams' HTML copy of the message text
// and cards are skipped, as are links that are not https.
func attachments(in []schema.Attachment) []conversation.Attachment {
	var out []conversation.Attachment
	for _, at := range in {
		if len(out) == conversation.MaxAttachments {
			break
		}
		ct := strings.ToLower(strings.TrimSpace(at.ContentType))
		var link, mimeType string
		switch {
		case ct == "text/html" || strings.HasPrefix(ct, "application/vnd.microsoft.card."):
			continue
		case ct == contentTypeFileInfo:
			info, _ := at.Content.(map[string]any)
			link, _ = info["downloadUrl"].(string)
			ft, _ := info["fileType"].(string)
			mimeType = mime.TypeByExtension("." + ft)
			if mimeType == "" {
				mimeType = "application/octet-stream"
			}
		default:
			link, mimeType = at.ContentURL, ct
		}
		link = httpsLink(link)
		if link == "" {
			continue
		}
		out = append(out, conversation.Attachment{Name: clip(at.Name, maxNameLen), MIMEType: clip(mimeType, maxMIMELen), URL: link})
	}
	return out
}

// httpsLink returns raw when it is an absolute https URL of bounded length
// without credentials, else "".
func httpsLink(raw string) string {
	if raw == "" || len(raw) > maxURLLen || strings.ContainsAny(raw, " \t\r\n\\\x00") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	return raw
}

// cleanLocale keeps a BCP 47-looking tag, else "".
func cleanLocale(l string) string {
	if len(l) > maxLocaleLen || !localeRE.MatchString(l) {
		return ""
	}
	return l
}

// clip returns s cut to at most max bytes on a rune boundary, with
// control characters removed.
func clip(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// parseTime reads an activity timestamp, zero when absent or malformed.
func parseTime(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// referenceOf is what a later proactive message to the activity's
// conversation needs.
func referenceOf(a *inActivity) schema.ConversationReference {
	return schema.ConversationReference{
		ActivityID: a.ID,
		User:       schema.ChannelAccount{ID: a.From.ID, Name: clip(a.From.Name, maxNameLen), AadObjectID: a.From.AadObjectID},
		Bot:        schema.ChannelAccount{ID: a.Recipient.ID, Name: clip(a.Recipient.Name, maxNameLen)},
		Conversation: schema.ConversationAccount{
			ID:               a.Conversation.ID,
			TenantID:         a.tenant(),
			ConversationType: a.Conversation.ConversationType,
			IsGroup:          a.Conversation.IsGroup,
		},
		ChannelID:  a.ChannelID,
		ServiceURL: a.ServiceURL,
	}
}
