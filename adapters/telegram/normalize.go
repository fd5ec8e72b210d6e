package telegram

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/conversation"
)

// FileRefPrefix starts the URL of a Telegram attachment: "tg-file:<file_id>".
// Adapter.OpenFile resolves it. Telegram's own download URL carries the
// bot token, so it is never stored.
const FileRefPrefix = "tg-file:"

// ConversationKey returns the conversation key of a chat, or of a forum
// topic in it when threadID is not 0: "telegram:<chat id>" or
// "telegram:<chat id>:<thread id>".
func ConversationKey(chatID int64, threadID int) string {
	k := "telegram:" + itoa(chatID)
	if threadID != 0 {
		k += ":" + strconv.Itoa(threadID)
	}
	return k
}

// ParseConversationKey is the inverse of ConversationKey; ok is false
// for keys of other channels.
func ParseConversationKey(key string) (chatID int64, threadID int, ok bool) {
	rest, found := strings.CutPrefix(key, "telegram:")
	if !found {
		return 0, 0, false
	}
	chat, thread, hasThread := strings.Cut(rest, ":")
	id, err := strconv.ParseInt(chat, 10, 64)
	if err != nil || id == 0 {
		return 0, 0, false
	}
	if hasThread {
		t, err := strconv.Atoi(thread)
		if err != nil || t <= 0 {
			return 0, 0, false
		}
		threadID = t
	}
	return id, threadID, true
}

// dedupeKey is the engine's dedupe key of an update.
func (a *Adapter) dedupeKey(updateID int64) string {
	return "tg:" + itoa(a.botID) + ":" + itoa(updateID)
}

// topicOf returns a message's forum topic id, 0 outside topics (the
// message_thread_id of reply threads in non-forum groups is not a topic).
func topicOf(m *models.Message) int {
	if m == nil || !m.IsTopicMessage || m.MessageThreadID <= 0 {
		return 0
	}
	return m.MessageThreadID
}

// displayName is a user's first and last name.
func displayName(u *models.User) string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// customerIdentity is the Identity of a Telegram user writing to the bot.
func customerIdentity(u *models.User) conversation.Identity {
	return conversation.Identity{ID: itoa(u.ID), DisplayName: displayName(u), Locale: conversation.CleanLocale(u.LanguageCode)}
}

// agentIdentity is the Identity of an agent in the staff group.
func agentIdentity(u *models.User) conversation.Identity {
	return conversation.Identity{ID: "telegram:" + itoa(u.ID), DisplayName: displayName(u), Locale: conversation.CleanLocale(u.LanguageCode)}
}

func isGroup(c models.Chat) bool {
	return c.Type == models.ChatTypeGroup || c.Type == models.ChatTypeSupergroup
}

// textOf returns a message's text (or media caption) and its entities.
func textOf(m *models.Message) (string, []models.MessageEntity) {
	if m.Text != "" {
		return m.Text, m.Entities
	}
	return m.Caption, m.CaptionEntities
}

// entityText returns the part of text an entity covers; offsets and
// lengths count UTF-16 code units. ok is false for entities out of range.
func entityText(text string, e models.MessageEntity) (before, covered, after string, ok bool) {
	if e.Offset < 0 || e.Length <= 0 {
		return "", "", "", false
	}
	u := utf16.Encode([]rune(text))
	if e.Offset+e.Length > len(u) || e.Offset+e.Length < e.Offset {
		return "", "", "", false
	}
	return string(utf16.Decode(u[:e.Offset])), string(utf16.Decode(u[e.Offset : e.Offset+e.Length])), string(utf16.Decode(u[e.Offset+e.Length:])), true
}

// command is a /command at the start of a message.
type command struct {
	name   string // lower case, without the slash
	target string // the @bot it names, "" when none
	args   string // the rest of the text, trimmed
}

// parseCommand reads a leading bot_command entity (or, for texts without
// entities, a leading "/word").
func parseCommand(text string, ents []models.MessageEntity) (command, bool) {
	raw, rest := "", ""
	for _, e := range ents {
		if e.Type == models.MessageEntityTypeBotCommand && e.Offset == 0 {
			_, cov, after, ok := entityText(text, e)
			if !ok {
				return command{}, false
			}
			raw, rest = cov, after
			break
		}
	}
	if raw == "" {
		if !strings.HasPrefix(text, "/") {
			return command{}, false
		}
		raw, rest, _ = strings.Cut(text, " ")
		if i := strings.IndexAny(raw, "\n\t"); i >= 0 {
			raw, rest = raw[:i], raw[i:]+" "+rest
		}
	}
	name, target, _ := strings.Cut(strings.TrimPrefix(raw, "/"), "@")
	if name == "" || len(name) > 64 {
		return command{}, false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return command{}, false
		}
	}
	return command{name: strings.ToLower(name), target: target, args: strings.TrimSpace(rest)}, true
}

// forOtherBot reports whether a command names another bot.
func (a *Adapter) forOtherBot(c command) bool {
	return c.target != "" && !strings.EqualFold(c.target, a.botName)
}

// mentionsBot reports whether the message @mentions the bot, and returns
// the text without those mentions.
func (a *Adapter) mentionsBot(text string, ents []models.MessageEntity) (bool, string) {
	found := false
	out := text
	// Remove from the end so earlier offsets stay valid.
	for i := len(ents) - 1; i >= 0; i-- {
		e := ents[i]
		before, cov, after, ok := entityText(out, e)
		if !ok {
			continue
		}
		switch {
		case e.Type == models.MessageEntityTypeMention && a.botName != "" && strings.EqualFold(strings.TrimPrefix(cov, "@"), a.botName):
		case e.Type == models.MessageEntityTypeTextMention && e.User != nil && e.User.ID == a.botID:
		default:
			continue
		}
		found = true
		out = before + after
	}
	if !found && a.botName != "" {
		// Clients always mark mentions, but a message typed through an
		// API may not: look for the plain @username too.
		lower := strings.ToLower(out)
		at := "@" + strings.ToLower(a.botName)
		if i := strings.Index(lower, at); i >= 0 {
			end := i + len(at)
			if end == len(lower) || !isWordByte(lower[end]) {
				found = true
				out = out[:i] + out[end:]
			}
		}
	}
	return found, strings.Join(strings.Fields(out), " ")
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_'
}

// repliesToBot reports whether m answers one of the bot's messages. In
// forum topics every message "replies" to the topic's creation message;
// that is not a reply to the bot.
func (a *Adapter) repliesToBot(m *models.Message) bool {
	r := m.ReplyToMessage
	return r != nil && r.From != nil && r.From.ID == a.botID && r.ForumTopicCreated == nil
}

// attachments returns a message's files as attachments.
func attachments(m *models.Message) []conversation.Attachment {
	var out []conversation.Attachment
	if len(m.Photo) > 0 {
		best := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.Width*p.Height > best.Width*best.Height || p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize {
				best = p
			}
		}
		if best.FileID != "" {
			out = append(out, conversation.Attachment{Name: "photo.jpg", MIMEType: "image/jpeg", URL: FileRefPrefix + best.FileID, Size: int64(best.FileSize)})
		}
	}
	add := func(id, name, mime string, size int64) {
		if id != "" {
			out = append(out, conversation.Attachment{Name: clip(name, 255), MIMEType: clip(mime, 255), URL: FileRefPrefix + id, Size: size})
		}
	}
	if d := m.Document; d != nil {
		add(d.FileID, d.FileName, d.MimeType, d.FileSize)
	}
	if d := m.Audio; d != nil {
		add(d.FileID, d.FileName, d.MimeType, d.FileSize)
	}
	if d := m.Voice; d != nil {
		add(d.FileID, "voice.ogg", d.MimeType, d.FileSize)
	}
	if d := m.Video; d != nil {
		add(d.FileID, d.FileName, d.MimeType, d.FileSize)
	}
	if len(out) > conversation.MaxAttachments {
		out = out[:conversation.MaxAttachments]
	}
	return out
}

// sentAt is a message's platform time.
func sentAt(unix int) time.Time {
	if unix <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(unix), 0).UTC()
}

// clip cuts s to at most n runes (conversation.MaxTextLen for texts).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
