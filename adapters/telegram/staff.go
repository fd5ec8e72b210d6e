package telegram

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/conversation"
)

// topicRef is where a conversation's current ticket lives in the staff
// group, stored in refs under "conv:<conversation key>" as
// "<chat id>:<thread id>:<ticket id>"; "topic:<chat id>:<thread id>"
// holds the conversation key.
type topicRef struct {
	chat   int64
	thread int
	ticket string
}

func (r topicRef) String() string {
	return itoa(r.chat) + ":" + strconv.Itoa(r.thread) + ":" + r.ticket
}

func parseTopicRef(v string) (topicRef, bool) {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) != 3 {
		return topicRef{}, false
	}
	chat, err1 := strconv.ParseInt(parts[0], 10, 64)
	thread, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || thread <= 0 {
		return topicRef{}, false
	}
	return topicRef{chat: chat, thread: thread, ticket: parts[2]}, true
}

func topicRefKey(chat int64, thread int) string {
	return "topic:" + itoa(chat) + ":" + strconv.Itoa(thread)
}
func convRefKey(key string) string { return "conv:" + key }

// currentTopic returns the topic of a conversation's current ticket.
func (a *Adapter) currentTopic(ctx context.Context, key string) (topicRef, bool, error) {
	v, err := a.refs.GetRef(ctx, refsNamespace, convRefKey(key))
	if errors.Is(err, conversation.ErrNotFound) {
		return topicRef{}, false, nil
	}
	if err != nil {
		return topicRef{}, false, fmt.Errorf("load staff topic of %s: %w", key, err)
	}
	r, ok := parseTopicRef(v)
	return r, ok, nil
}

// topicConversation returns the conversation a staff topic belongs to;
// ok only when refs agree both ways (the topic names the conversation and
// the conversation's current ticket lives in this topic), so input in the
// topic of an earlier ticket acts on nothing.
func (a *Adapter) topicConversation(ctx context.Context, chat int64, thread int) (string, bool, error) {
	key, err := a.refs.GetRef(ctx, refsNamespace, topicRefKey(chat, thread))
	if errors.Is(err, conversation.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load conversation of staff topic %d: %w", thread, err)
	}
	r, ok, err := a.currentTopic(ctx, key)
	if err != nil || !ok {
		return "", false, err
	}
	return key, r.chat == chat && r.thread == thread, nil
}

// ticketRE finds a ticket id such as "T-1001" or "IT-42" (handoff ids).
var ticketRE = regexp.MustCompile(`\b[A-Z][A-Z0-9]{0,9}-[0-9]+\b`)

// ticketOf returns the ticket id in the first line of a staff message
// (the handoff card's "New ticket T-1001 (…)", a relay's "T-1001 (…): …").
func ticketOf(text string) string {
	first, _, _ := strings.Cut(text, "\n")
	return ticketRE.FindString(first)
}

// topicName is the name of a ticket's topic: the ticket id and, from the
// card's first line, whom it is for.
func topicName(card, ticket string) string {
	first, _, _ := strings.Cut(card, "\n")
	name := ticket
	if name == "" {
		name = "Ticket"
	}
	if i := strings.LastIndex(first, " for "); i >= 0 {
		if who := strings.TrimSpace(first[i+5:]); who != "" {
			name += " · " + who
		}
	}
	return clip(name, 128)
}

// ensureTopic returns the topic of the conversation's ticket, creating it
// (createForumTopic) and linking it in refs when the conversation has
// none for this ticket. Errors: Unavailable (retry), Invalid when the
// staff chat cannot have topics.
func (a *Adapter) ensureTopic(ctx context.Context, key, ticket, name string) (int, error) {
	a.topicMu.Lock()
	defer a.topicMu.Unlock()
	r, found, err := a.currentTopic(ctx, key)
	if err != nil {
		return 0, unavailable(err)
	}
	if found && r.chat == a.cfg.StaffChatID && r.ticket == ticket {
		return r.thread, nil
	}
	pending := key + "\x00" + ticket
	thread, ok := a.pendingTopics[pending]
	if !ok {
		t, err := a.api.CreateForumTopic(ctx, &bot.CreateForumTopicParams{ChatID: a.cfg.StaffChatID, Name: name})
		if err != nil {
			err = classify(err)
			if conversation.ErrorCode(err) == conversation.Invalid {
				a.log.Error("telegram staff topic not created: the staff chat must be a supergroup with topics, and the bot an admin allowed to manage topics", "err", err)
			}
			return 0, fmt.Errorf("create staff topic for ticket %s: %w", ticket, err)
		}
		if t == nil || t.MessageThreadID <= 0 {
			return 0, conversation.Errorf(conversation.Unavailable, "create staff topic for ticket %s: no thread id in the answer", ticket)
		}
		thread = t.MessageThreadID
		a.pendingTopics[pending] = thread
	}
	ref := topicRef{chat: a.cfg.StaffChatID, thread: thread, ticket: ticket}
	if err := a.refs.PutRef(ctx, refsNamespace, topicRefKey(ref.chat, thread), key, 0); err != nil {
		return 0, unavailable(fmt.Errorf("link staff topic %d: %w", thread, err))
	}
	if err := a.refs.PutRef(ctx, refsNamespace, convRefKey(key), ref.String(), 0); err != nil {
		return 0, unavailable(fmt.Errorf("link conversation to staff topic %d: %w", thread, err))
	}
	delete(a.pendingTopics, pending)
	return thread, nil
}

// unavailable gives errors without a code (refs failures) code Unavailable.
func unavailable(err error) error {
	if conversation.ErrorCode(err) == conversation.Internal {
		return conversation.Errorf(conversation.Unavailable, "%w", err)
	}
	return err
}

// staffSender delivers channel "telegram-staff".
type staffSender struct{ a *Adapter }

var _ conversation.Sender = staffSender{}

// StaffSender returns the conversation.Sender of channel "telegram-staff"
// (StaffChannel): handoff cards open a topic per ticket in
// Config.StaffChatID, everything else goes into the conversation's topic.
// Errors: Invalid when no staff chat is configured or the outbound is not
// a staff message; Unavailable (with RetryAfterError on 429) for
// retryable failures.
func (a *Adapter) StaffSender() conversation.Sender { return staffSender{a} }

// Send delivers a staff outbound.
func (s staffSender) Send(ctx context.Context, o conversation.Outbound) error {
	return s.a.sendStaff(ctx, o)
}

func (a *Adapter) sendStaff(ctx context.Context, o conversation.Outbound) error {
	switch {
	case a.cfg.StaffChatID == 0:
		return conversation.Errorf(conversation.Invalid, "telegram: no staff chat configured for outbound %s", o.ID)
	case o.ID == "" || o.ConversationKey == "":
		return conversation.Errorf(conversation.Invalid, "telegram staff outbound without id or conversation")
	case o.Channel != StaffChannel:
		return conversation.Errorf(conversation.Invalid, "outbound %s is for channel %q, not %q", o.ID, o.Channel, StaffChannel)
	case strings.TrimSpace(o.Text) == "":
		return conversation.Errorf(conversation.Invalid, "telegram staff outbound %s is empty", o.ID)
	}
	if a.staffOut.Remembered(o.ID) {
		return nil
	}
	parts := renderParts(o.Text, nil, o.Kind == conversation.KindHandoff, "")
	todo, err := a.staffOut.Unsent(ctx, o.ID, len(parts))
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		a.staffOut.Remember(o.ID)
		return nil
	}
	ticket := ticketOf(o.Text)
	var thread int
	if o.Kind == conversation.KindHandoff {
		thread, err = a.ensureTopic(ctx, o.ConversationKey, ticket, topicName(o.Text, ticket))
	} else {
		var r topicRef
		var found bool
		r, found, err = a.currentTopic(ctx, o.ConversationKey)
		switch {
		case err != nil:
			err = unavailable(err)
		case found && r.chat == a.cfg.StaffChatID:
			thread = r.thread
		case ticket != "":
			thread, err = a.ensureTopic(ctx, o.ConversationKey, ticket, topicName(o.Text, ticket))
		}
		// Otherwise: no topic and no ticket to name one; the General topic.
	}
	if err != nil {
		return err
	}
	var kb *inlineKeyboard
	if o.Kind == conversation.KindHandoff {
		kb = staffKeyboard(o.ConversationKey)
	}
	if err := a.sendParts(ctx, a.staffOut, o.ID, a.cfg.StaffChatID, thread, nil, parts, todo, kb); err != nil {
		return err
	}
	a.staffOut.Remember(o.ID)
	return nil
}

// staffKeyboard is the handoff card's buttons.
func staffKeyboard(key string) *inlineKeyboard {
	b := func(label string, code byte) inlineButton {
		return inlineButton{Text: label, CallbackData: staffData(code, key)}
	}
	return &inlineKeyboard{InlineKeyboard: [][]inlineButton{
		{b("Claim", 'c'), b("Resolve", 'r')},
		{b("Hand back", 'b'), b("Escalate", 'e')},
		{b("P1", '1'), b("P2", '2'), b("P3", '3'), b("P4", '4')},
	}}
}

// onStaffMessage turns agent input in a ticket topic into an AgentAction.
func (a *Adapter) onStaffMessage(ctx context.Context, updateID int64, m *models.Message) error {
	thread := topicOf(m)
	if thread == 0 {
		return a.ignore(updateID, "staff chat outside a ticket topic")
	}
	text, ents := textOf(m)
	files := attachments(m)
	if strings.TrimSpace(text) == "" && len(files) == 0 {
		return a.ignore(updateID, "staff service message")
	}
	cmd, isCmd := parseCommand(text, ents)
	if isCmd && a.forOtherBot(cmd) {
		return a.ignore(updateID, "command for another bot")
	}
	key, linked, err := a.topicConversation(ctx, m.Chat.ID, thread)
	if err != nil {
		return err
	}
	if !linked {
		if isCmd {
			a.staffNotice(ctx, thread, msgNotTicket)
		}
		return a.ignore(updateID, "staff topic without an open ticket")
	}
	act := conversation.AgentAction{ConversationKey: key, DedupeKey: a.dedupeKey(updateID), Agent: agentIdentity(m.From)}
	switch {
	case isCmd:
		switch cmd.name {
		case "reply", "r":
			act.Kind, act.Text = conversation.AgentReply, cmd.args
		case "note":
			act.Kind, act.Text = conversation.AgentNote, cmd.args
		case "claim":
			act.Kind = conversation.AgentClaim
		case "resolve":
			act.Kind = conversation.AgentResolve
		case "handback", "hand_back":
			act.Kind = conversation.AgentHandBack
		case "escalate":
			act.Kind = conversation.AgentEscalate
		case "priority":
			act.Kind, act.Text = conversation.AgentPriority, strings.ToUpper(cmd.args)
		case "p1", "p2", "p3", "p4":
			act.Kind, act.Text = conversation.AgentPriority, strings.ToUpper(cmd.name)
		default:
			a.staffNotice(ctx, thread, agentCommandHelp)
			return nil
		}
		if (act.Kind == conversation.AgentReply || act.Kind == conversation.AgentNote) && act.Text == "" {
			a.staffNotice(ctx, thread, "Usage: /"+cmd.name+" <text>")
			return nil
		}
	case hasPrefixFold(strings.TrimSpace(text), "reply:"):
		act.Kind, act.Text = conversation.AgentReply, strings.TrimSpace(strings.TrimSpace(text)[len("reply:"):])
		if act.Text == "" {
			a.staffNotice(ctx, thread, "Usage: reply: <text>")
			return nil
		}
	default:
		act.Kind, act.Text = conversation.AgentNote, strings.TrimSpace(text)
		for _, f := range files {
			act.Text = strings.TrimSpace(act.Text + " [" + attachmentLabel(f) + "]")
		}
	}
	act.Text = clip(act.Text, conversation.MaxTextLen)
	return a.act(ctx, thread, act, "")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func attachmentLabel(f conversation.Attachment) string {
	if f.MIMEType == "image/jpeg" && f.Name == "photo.jpg" {
		return "photo"
	}
	if f.Name != "" {
		return "file " + clip(f.Name, 100)
	}
	return "file"
}

// onStaffCallback handles a button under a handoff card.
func (a *Adapter) onStaffCallback(ctx context.Context, updateID int64, q *models.CallbackQuery, thread int) error {
	kind, text, tag, ok := decodeStaff(q.Data)
	if !ok {
		a.answer(ctx, q.ID, msgButtonGone)
		return a.ignore(updateID, "unknown staff button")
	}
	if thread == 0 {
		a.answer(ctx, q.ID, msgOldStaffCard)
		return a.ignore(updateID, "staff button outside a topic")
	}
	key, linked, err := a.topicConversation(ctx, a.cfg.StaffChatID, thread)
	if err != nil {
		return err
	}
	if !linked {
		a.answer(ctx, q.ID, msgNotTicket)
		return a.ignore(updateID, "staff button in a topic without an open ticket")
	}
	if convTag(key) != tag {
		a.answer(ctx, q.ID, msgOtherTicket)
		return a.ignore(updateID, "staff button of another conversation")
	}
	act := conversation.AgentAction{ConversationKey: key, DedupeKey: a.dedupeKey(updateID), Agent: agentIdentity(&q.From), Kind: kind, Text: text}
	return a.act(ctx, thread, act, q.ID)
}

// act runs an agent action. A failure the agent can fix is explained in
// the topic (and on the button); a retryable one is returned.
func (a *Adapter) act(ctx context.Context, thread int, act conversation.AgentAction, queryID string) error {
	res, err := a.eng.Act(ctx, act)
	if err != nil && !errors.Is(err, conversation.ErrDuplicate) {
		if retryable(err) {
			return err
		}
		a.log.Info("telegram agent action rejected", "conversation", act.ConversationKey, "kind", act.Kind, "code", conversation.ErrorCode(err))
		msg := "Could not " + verb(act.Kind) + ": " + conversation.ErrorMessage(err)
		a.answer(ctx, queryID, msg)
		a.staffNotice(ctx, thread, msg)
		return nil
	}
	a.answer(ctx, queryID, doneText(act))
	if err == nil && !res.Duplicate && act.Kind != conversation.AgentReply && act.Kind != conversation.AgentNote {
		// Let the other agents in the topic see what changed.
		a.staffNotice(ctx, thread, actorName(act.Agent)+" "+doneText(act)+".")
	}
	return nil
}

func actorName(id conversation.Identity) string {
	if id.DisplayName != "" {
		return id.DisplayName
	}
	return id.ID
}

func verb(k conversation.AgentActionKind) string {
	switch k {
	case conversation.AgentHandBack:
		return "hand back"
	case conversation.AgentPriority:
		return "change the priority"
	}
	return string(k)
}

func doneText(act conversation.AgentAction) string {
	switch act.Kind {
	case conversation.AgentClaim:
		return "claimed the ticket"
	case conversation.AgentResolve:
		return "resolved the ticket"
	case conversation.AgentHandBack:
		return "handed the conversation back to the bot"
	case conversation.AgentEscalate:
		return "escalated the ticket"
	case conversation.AgentPriority:
		return "set the priority to " + act.Text
	case conversation.AgentReply:
		return "sent the reply"
	}
	return "noted"
}

// staffNotice posts a short message into a staff topic (best effort).
func (a *Adapter) staffNotice(ctx context.Context, thread int, text string) {
	if err := a.pace.wait(ctx, a.cfg.StaffChatID); err != nil {
		a.log.Debug("telegram staff notice not sent", "err", err)
		return
	}
	_, err := a.api.SendMessage(ctx, &bot.SendMessageParams{
		ChatID: a.cfg.StaffChatID, MessageThreadID: thread, Text: escapeHTML(text), ParseMode: models.ParseModeHTML,
	})
	if err != nil {
		a.log.Warn("telegram staff notice not sent", "err", classify(err))
	}
}
