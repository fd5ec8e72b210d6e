package slack

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/tier0/tier0/conversation"
)

// inbound is a message event reduced to what routing needs.
type inbound struct {
	team        string
	channel     string
	channelType string // im, channel, group, mpim; "" for app_mention
	user        string
	text        string
	ts          string
	threadTS    string
	files       []slack.File
	mention     bool
}

// Subtypes of message events that are still a person writing.
var keptSubtypes = map[string]bool{"": true, "file_share": true, "thread_broadcast": true}

// fromEvent reduces a parsed Events API event. It returns the reason for
// ignoring it, or "".
func fromEvent(ev slackevents.EventsAPIEvent, bot *botIdentity) (inbound, string) {
	team := ev.TeamID
	if team == "" {
		team = bot.TeamID
	}
	var in inbound
	var subtype, botID string
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		in = inbound{team: team, channel: e.Channel, channelType: e.ChannelType, user: e.User, text: e.Text, ts: e.TimeStamp, threadTS: e.ThreadTimeStamp}
		subtype, botID = e.SubType, e.BotID
		if e.Message != nil {
			in.files = e.Message.Files
			if botID == "" {
				botID = e.Message.BotID
			}
		}
	case *slackevents.AppMentionEvent:
		in = inbound{team: team, channel: e.Channel, user: e.User, text: e.Text, ts: e.TimeStamp, threadTS: e.ThreadTimeStamp, files: e.Files, mention: true}
		botID = e.BotID
	default:
		return inbound{}, "event type " + ev.InnerEvent.Type
	}
	switch {
	case !keptSubtypes[subtype]:
		return inbound{}, "subtype " + subtype
	case in.user == bot.UserID || botID != "" && botID == bot.BotID:
		return inbound{}, "own message"
	case botID != "":
		return inbound{}, "another bot's message"
	case !slackIDRE.MatchString(in.user):
		return inbound{}, "no user"
	case !slackIDRE.MatchString(in.channel) || !tsRE.MatchString(in.ts) || !slackIDRE.MatchString(in.team):
		return inbound{}, "malformed channel, team or ts"
	case in.threadTS != "" && !tsRE.MatchString(in.threadTS):
		return inbound{}, "malformed thread_ts"
	}
	if in.threadTS == in.ts {
		in.threadTS = "" // a thread's root message
	}
	return in, ""
}

// tsRE matches a Slack message timestamp, e.g. "1700000000.000100".
var tsRE = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,9}$`)

// isDM reports whether the message is in a direct message with the bot.
func (in inbound) isDM() bool {
	return in.channelType == slackevents.ChannelTypeIM || in.channelType == "" && strings.HasPrefix(in.channel, "D")
}

// Conversation keys:
//
//	slack:<team>:<dm channel>
//	slack:<team>:<channel>:<thread ts>
func dmKey(team, channel string) string { return "slack:" + team + ":" + channel }

func threadKey(team, channel, thread string) string {
	return "slack:" + team + ":" + channel + ":" + thread
}

// parseKey splits a Slack conversation key; thread is "" for a DM.
func parseKey(key string) (team, channel, thread string, ok bool) {
	parts := strings.Split(key, ":")
	if (len(parts) != 3 && len(parts) != 4) || parts[0] != "slack" || !slackIDRE.MatchString(parts[1]) || !slackIDRE.MatchString(parts[2]) {
		return "", "", "", false
	}
	if len(parts) == 4 {
		if !tsRE.MatchString(parts[3]) {
			return "", "", "", false
		}
		thread = parts[3]
	}
	return parts[1], parts[2], thread, true
}

// messageDedupe is the dedupe key of a message: the same for every
// delivery of it (retries, app_mention and message events, HTTP and
// Socket Mode).
func messageDedupe(channel, ts string) string { return channel + ":" + ts }

// slackTime converts a message ts to a time.
func slackTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		ns, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(s, ns).UTC()
}

// markupRE matches Slack's angle-bracket markup: <@U…>, <@U…|name>,
// <#C…|name>, <!here>, <https://…|label>, <mailto:…>.
var markupRE = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// plainText turns Slack message text into plain text: the bot's own
// mention is dropped, links become their label (or URL), other mentions
// become @id / #name, and the &amp; &lt; &gt; escapes are undone. The
// result is trimmed and cut to conversation.MaxTextLen characters.
func plainText(s, botUserID string) string {
	s = markupRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := markupRE.FindStringSubmatch(m)
		target, label := sub[1], sub[2]
		switch {
		case target == "@"+botUserID:
			return ""
		case strings.HasPrefix(target, "@"):
			if label != "" {
				return "@" + label
			}
			return target
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			if label != "" {
				return label
			}
			name, _, _ := strings.Cut(target[1:], "^")
			return "@" + name
		case label == "":
			return strings.TrimPrefix(target, "mailto:")
		case strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(target, "mailto:"), "https://"), "http://") == label:
			return label // an auto-linked address
		}
		return label + " (" + target + ")" // keep the link: an agent's reply may point somewhere
	})
	s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
	return truncateRunes(strings.TrimSpace(s), conversation.MaxTextLen)
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// truncateBytes cuts s to at most n bytes without splitting a character.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// attachments maps shared files (at most conversation.MaxAttachments).
func attachments(files []slack.File) []conversation.Attachment {
	var out []conversation.Attachment
	for _, f := range files {
		if len(out) == conversation.MaxAttachments {
			break
		}
		name := f.Name
		if name == "" {
			name = f.Title
		}
		out = append(out, conversation.Attachment{Name: truncateRunes(name, 255), MIMEType: truncateBytes(f.Mimetype, 255), URL: f.URLPrivate, Size: int64(f.Size)})
	}
	return out
}

// maxNameLen bounds names taken from users.info.
const maxNameLen = 200

// person returns the identity of Slack user id of team, with the profile
// from users.info (cached). When users.info fails the identity has only
// the ids: a message is never dropped for want of a name.
func (a *Adapter) person(ctx context.Context, team, id string) conversation.Identity {
	key := team + ":" + id
	now := time.Now()
	if v, ok := a.users.get(key, now); ok {
		return v
	}
	ident := conversation.Identity{ID: id, TenantID: team}
	u, err := a.api.GetUserInfoContext(ctx, id)
	if err != nil {
		a.log.Debug("users.info failed", "user", id, "err", err)
		return ident
	}
	for _, n := range []string{u.Profile.DisplayName, u.RealName, u.Profile.RealName, u.Name} {
		if strings.TrimSpace(n) != "" {
			ident.DisplayName = truncateRunes(strings.TrimSpace(n), maxNameLen)
			break
		}
	}
	ident.Email = truncateBytes(u.Profile.Email, 254)
	ident.Locale = truncateBytes(u.Locale, 35)
	ident.IsBot = u.IsBot
	a.users.put(key, ident, now)
	return ident
}

// customerMessage builds the engine message of a customer's Slack
// message in conversation key, replies going to thread.
func (a *Adapter) customerMessage(ctx context.Context, in inbound, key, thread string, bot *botIdentity) conversation.Message {
	return conversation.Message{
		Channel:         conversation.ChannelSlack,
		ConversationKey: key,
		ThreadKey:       thread,
		PlatformMsgID:   in.ts,
		DedupeKey:       messageDedupe(in.channel, in.ts),
		User:            a.person(ctx, in.team, in.user),
		Text:            plainText(in.text, bot.UserID),
		Attachments:     attachments(in.files),
		SentAt:          slackTime(in.ts),
		ReceivedAt:      time.Now().UTC(),
	}
}
