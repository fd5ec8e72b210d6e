package whatsapp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/tier0/tier0/conversation"
)

// keyPrefix starts every WhatsApp conversation key.
const keyPrefix = "whatsapp:"

// mediaScheme starts the attachment references DownloadAttachment takes.
const mediaScheme = "whatsapp-media:"

// inbound is a normalised message plus what the adapter needs to answer
// it: where it came from on WhatsApp.
type inbound struct {
	msg    conversation.Message
	chat   types.JID // the chat as addressed in this message
	sender types.JID // the author as addressed (no device part)
	phone  types.JID // the author's phone-number JID, when known
	id     types.MessageID
	ts     time.Time
	group  bool
	media  []mediaRecord // downloadable files, parallel to msg.Attachments
}

// chatInfo is where replies to one conversation go.
type chatInfo struct {
	Chat   string // chat JID as last seen
	LastID string // the customer's latest message id
	Group  bool
	// Phone is the customer's phone-number JID when known (the identity
	// is the LID); conversation.Identity has no field for it yet.
	Phone string
}

// inboundRecord is what quoting a customer message needs.
type inboundRecord struct {
	Sender  string // author JID
	Snippet string // start of the text, shown in the quote
}

// mediaRecord is a downloadable file of a recent inbound message, kept in
// memory only (it carries the file's decryption key).
type mediaRecord struct {
	msg  whatsmeow.DownloadableMessage
	mime string
	name string
	size int64
}

// skip is why an event is not handed to the engine.
type skip string

// Reasons to skip an inbound event.
const (
	skipNone        skip = ""
	skipEmpty       skip = "empty"
	skipOwn         skip = "own message"
	skipBroadcast   skip = "status or broadcast"
	skipNewsletter  skip = "newsletter or bot"
	skipGroup       skip = "group chat"
	skipProtocol    skip = "protocol, reaction or edit"
	skipOld         skip = "older than max backlog age"
	skipUnsupported skip = "no text, attachment or choice"
	skipPollVote    skip = "poll vote not on a current choice poll"
	skipInvalid     skip = "invalid after normalisation"
)

// normalize maps a WhatsApp message event to an engine message, or says
// why it must be skipped. It never downloads media.
func (a *Adapter) normalize(ctx context.Context, e *events.Message) (inbound, skip) {
	if e == nil || e.Message == nil {
		return inbound{}, skipEmpty
	}
	info := e.Info
	chat := info.Chat.ToNonAD()
	switch {
	case info.IsFromMe:
		return inbound{}, skipOwn
	case chat == types.StatusBroadcastJID || chat.Server == types.BroadcastServer || info.IsIncomingBroadcast():
		return inbound{}, skipBroadcast
	case chat.Server == types.NewsletterServer || chat.Server == types.BotServer || info.Sender.IsBot():
		return inbound{}, skipNewsletter
	case chat.Server == types.GroupServer && !a.cfg.Groups:
		return inbound{}, skipGroup
	case chat.User == "" || info.ID == "":
		return inbound{}, skipEmpty
	}
	m := e.Message
	if e.IsEdit || info.Edit != types.EditAttributeEmpty || m.ProtocolMessage != nil || m.ReactionMessage != nil ||
		m.EncReactionMessage != nil || m.EditedMessage != nil || m.KeepInChatMessage != nil || m.PinInChatMessage != nil ||
		m.PollCreationMessage != nil || m.PollCreationMessageV2 != nil || m.PollCreationMessageV3 != nil {
		return inbound{}, skipProtocol
	}
	now := a.cfg.Now()
	ts := info.Timestamp
	if ts.IsZero() {
		ts = now
	}
	if now.Sub(ts) > a.cfg.MaxBacklogAge {
		return inbound{}, skipOld
	}

	group := chat.Server == types.GroupServer
	person, phone := a.person(ctx, info.Sender, info.SenderAlt)
	keyUser := chat.User
	if !group && !person.IsEmpty() {
		keyUser = person.User // stable across PN and LID addressing of the same chat
	}
	key := keyPrefix + keyUser
	userID := person.String()
	if person.IsEmpty() {
		userID = info.Sender.ToNonAD().String()
	}
	in := inbound{
		chat:   chat,
		sender: info.Sender.ToNonAD(),
		phone:  phone,
		id:     info.ID,
		ts:     ts,
		group:  group,
		msg: conversation.Message{
			Channel:         conversation.ChannelWhatsApp,
			ConversationKey: key,
			PlatformMsgID:   info.ID,
			DedupeKey:       "wa:" + keyUser + ":" + info.ID,
			User:            conversation.Identity{ID: userID, DisplayName: cleanLine(info.PushName, 100), Phone: e164(phone), Locale: conversation.PhoneLocale(e164(phone))},
			SentAt:          ts,
			ReceivedAt:      now,
		},
	}

	if pu := m.GetPollUpdateMessage(); pu != nil {
		act, ok := a.pollVote(ctx, key, e, pu)
		if !ok {
			return inbound{}, skipPollVote
		}
		in.msg.Action = &act
		return in, a.finish(&in)
	}

	text, ci := messageText(m)
	in.msg.Text = cleanText(text)
	if ci != nil && ci.GetStanzaID() != "" {
		in.msg.ThreadKey = cleanLine(ci.GetStanzaID(), 128)
	}
	for _, md := range mediaOf(m) {
		if len(in.msg.Attachments) == conversation.MaxAttachments {
			break
		}
		in.msg.Attachments = append(in.msg.Attachments, conversation.Attachment{
			Name:     md.name,
			MIMEType: md.mime,
			URL:      mediaScheme + keyUser + "/" + string(info.ID),
			Size:     md.size,
		})
		in.media = append(in.media, md)
	}
	if len(in.msg.Attachments) == 0 && strings.TrimSpace(in.msg.Text) == "" {
		return inbound{}, skipUnsupported
	}
	if cs, ok := a.currentChoices(ctx, key); ok && len(in.msg.Attachments) == 0 {
		if i, ok := cs.pick(in.msg.Text); ok {
			in.msg.Action = &conversation.Action{ID: cs.Actions[i].ID, Value: cs.Actions[i].Value}
			in.msg.Text = ""
		}
	}
	return in, a.finish(&in)
}

// finish validates the message.
func (a *Adapter) finish(in *inbound) skip {
	if err := in.msg.Validate(); err != nil {
		a.log.Warn("whatsapp: dropping a message that does not validate", "conversation", in.msg.ConversationKey, "err", err)
		return skipInvalid
	}
	return skipNone
}

// person returns the author's stable identity — the LID when one is known
// (from the message, its alternative address or the store's LID map),
// else the phone-number JID — and the phone-number JID when known.
func (a *Adapter) person(ctx context.Context, sender, alt types.JID) (id, phone types.JID) {
	var lid, pn types.JID
	for _, j := range []types.JID{sender, alt} {
		j = j.ToNonAD()
		switch j.Server {
		case types.HiddenUserServer:
			if lid.IsEmpty() {
				lid = j
			}
		case types.DefaultUserServer:
			if pn.IsEmpty() {
				pn = j
			}
		}
	}
	if lid.IsEmpty() && !pn.IsEmpty() {
		if l, err := a.cli.LIDForPN(ctx, pn); err == nil && l.Server == types.HiddenUserServer {
			lid = l.ToNonAD()
		}
	}
	if pn.IsEmpty() && !lid.IsEmpty() {
		if p, err := a.cli.PNForLID(ctx, lid); err == nil && p.Server == types.DefaultUserServer {
			pn = p.ToNonAD()
		}
	}
	if !lid.IsEmpty() {
		return lid, pn
	}
	return pn, pn
}

// messageText returns a message's text (body or caption) and its context
// (the quoted message), from whichever part carries them.
func messageText(m *waE2E.Message) (string, *waE2E.ContextInfo) {
	switch {
	case m.GetExtendedTextMessage() != nil:
		return m.GetExtendedTextMessage().GetText(), m.GetExtendedTextMessage().GetContextInfo()
	case m.GetImageMessage() != nil:
		return m.GetImageMessage().GetCaption(), m.GetImageMessage().GetContextInfo()
	case m.GetDocumentMessage() != nil:
		return m.GetDocumentMessage().GetCaption(), m.GetDocumentMessage().GetContextInfo()
	case m.GetVideoMessage() != nil:
		return m.GetVideoMessage().GetCaption(), m.GetVideoMessage().GetContextInfo()
	case m.GetAudioMessage() != nil:
		return "", m.GetAudioMessage().GetContextInfo()
	}
	return m.GetConversation(), nil
}

// mediaOf describes a message's files without downloading them.
func mediaOf(m *waE2E.Message) []mediaRecord {
	var out []mediaRecord
	if im := m.GetImageMessage(); im != nil {
		mt := cleanMIME(im.GetMimetype(), "image/jpeg")
		out = append(out, mediaRecord{msg: im, mime: mt, name: "image" + extension(mt), size: clampSize(im.GetFileLength())})
	}
	if doc := m.GetDocumentMessage(); doc != nil {
		mt := cleanMIME(doc.GetMimetype(), "application/octet-stream")
		name := cleanLine(doc.GetFileName(), 200)
		if name == "" {
			name = cleanLine(doc.GetTitle(), 200)
		}
		if name == "" {
			name = "document" + extension(mt)
		}
		out = append(out, mediaRecord{msg: doc, mime: mt, name: name, size: clampSize(doc.GetFileLength())})
	}
	if v := m.GetVideoMessage(); v != nil {
		mt := cleanMIME(v.GetMimetype(), "video/mp4")
		out = append(out, mediaRecord{msg: v, mime: mt, name: "video" + extension(mt), size: clampSize(v.GetFileLength())})
	}
	if au := m.GetAudioMessage(); au != nil {
		mt := cleanMIME(au.GetMimetype(), "audio/ogg")
		name := "audio" + extension(mt)
		if au.GetPTT() {
			name = "voice message" + extension(mt)
		}
		out = append(out, mediaRecord{msg: au, mime: mt, name: name, size: clampSize(au.GetFileLength())})
	}
	return out
}

var mimeRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}$`)

// cleanMIME keeps the media type (no parameters) when it is well formed.
func cleanMIME(s, fallback string) string {
	s, _, _ = strings.Cut(s, ";")
	s = strings.ToLower(strings.TrimSpace(s))
	if !mimeRE.MatchString(s) {
		return fallback
	}
	return s
}

// extension returns a file extension for a media type, "" when unknown.
func extension(mt string) string {
	switch mt {
	case "image/jpeg":
		return ".jpg"
	case "audio/ogg":
		return ".ogg"
	}
	if exts, err := mime.ExtensionsByType(mt); err == nil && len(exts) > 0 {
		return exts[0]
	}
	return ""
}

func clampSize(n uint64) int64 {
	if n > 1<<53 {
		return 1 << 53
	}
	return int64(n)
}

// cleanText makes text valid UTF-8 without NULs and cuts it to the
// engine's limit.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if utf8.RuneCountInString(s) > conversation.MaxTextLen {
		s = string([]rune(s)[:conversation.MaxTextLen])
	}
	return s
}

// cleanLine returns s as one line of printable characters, at most max
// runes.
func cleanLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

// pollVote maps a vote on our current choice poll to the chosen button's
// action. Votes on other polls, withdrawn votes and votes that cannot be
// decrypted are not actions.
func (a *Adapter) pollVote(ctx context.Context, key string, e *events.Message, pu *waE2E.PollUpdateMessage) (conversation.Action, bool) {
	cs, ok := a.currentChoices(ctx, key)
	if !ok || cs.PollID == "" || pu.GetPollCreationMessageKey().GetID() != cs.PollID {
		return conversation.Action{}, false
	}
	vote, err := a.cli.DecryptPollVote(ctx, e)
	if err != nil {
		a.log.Debug("whatsapp: cannot decrypt a poll vote", "conversation", key, "err", err)
		return conversation.Action{}, false
	}
	options := pollOptions(cs.Labels)
	for _, sel := range vote.GetSelectedOptions() {
		for i, opt := range options {
			h := sha256.Sum256([]byte(opt))
			if string(h[:]) == string(sel) {
				return cs.Actions[i], true
			}
		}
	}
	return conversation.Action{}, false
}

// pollOptions are the option names of a choice poll: numbered labels,
// which keeps them unique and short.
func pollOptions(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = fmt.Sprintf("%d. %s", i+1, cleanLine(l, 90))
	}
	return out
}

// e164 writes a phone-number JID as "+<digits>", "" when it is not one.
func e164(j types.JID) string {
	if j.Server != types.DefaultUserServer || j.User == "" {
		return ""
	}
	return "+" + j.User
}
