package slack

import (
	"context"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/tier0/tier0/conversation"
)

// Send posts o into the staff channel (Config.StaffChannelID; the
// outbound's ThreadKey, the desk's StaffThread, is not consulted): a
// handoff card opens a new thread for the ticket (with the agent
// buttons), later messages of the conversation go into its thread (a
// message whose thread is unknown opens one). Errors: Invalid for an outbound that
// is not a staff message or without a configured staff channel
// (permanent), otherwise as the customer sender's.
func (s staffSender) Send(ctx context.Context, o conversation.Outbound) error {
	a := s.a
	switch {
	case o.ID == "":
		return conversation.Errorf(conversation.Invalid, "slack staff outbound has no id")
	case o.Channel != StaffChannel:
		return conversation.Errorf(conversation.Invalid, "outbound %s is for channel %q, not %s", o.ID, o.Channel, StaffChannel)
	case a.cfg.StaffChannelID == "":
		return conversation.Errorf(conversation.Invalid, "outbound %s: no slack staff channel is configured", o.ID)
	case o.ConversationKey == "" || len(o.ConversationKey) > conversation.MaxKeyLen:
		return conversation.Errorf(conversation.Invalid, "outbound %s: bad conversation key", o.ID)
	}
	if done, err := a.sent.Sent(ctx, o.ID); err != nil || done {
		return err
	}
	channel := a.cfg.StaffChannelID
	thread := ""
	if o.Kind != conversation.KindHandoff {
		v, err := a.refs.GetRef(ctx, nsStaffByConv, o.ConversationKey)
		switch {
		case err == nil:
			if ch, ts, ok := strings.Cut(v, ":"); ok && ch == channel && tsRE.MatchString(ts) {
				thread = ts
			}
		case conversation.ErrorCode(err) != conversation.NotFound:
			return conversation.Errorf(conversation.Unavailable, "slack staff: look up the thread of %s: %w", o.ConversationKey, err)
		}
	}
	var fallback string
	var blocks []slack.Block
	if thread == "" {
		// A new ticket (or a message whose ticket thread is unknown):
		// open a thread with the card and its buttons.
		fallback, blocks = cardBlocks(o)
	} else {
		fallback, blocks = messageBlocks(conversation.Outbound{Text: o.Text})
	}
	if len(blocks) == 0 {
		return conversation.Errorf(conversation.Invalid, "slack staff outbound %s is empty", o.ID)
	}
	if err := a.pace(ctx, channel); err != nil {
		return err
	}
	opts := []slack.MsgOption{slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := a.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return a.deliveryError(channel, "chat.postMessage", err)
	}
	if thread == "" {
		ref := channel + ":" + ts
		// Thread → conversation first: a card whose conversation is not
		// recorded would be a card whose buttons do nothing.
		if err := a.refs.PutRef(ctx, nsStaffByThread, ref, o.ConversationKey, 0); err != nil {
			return conversation.Errorf(conversation.Unavailable, "slack staff: remember the thread of %s: %w", o.ConversationKey, err)
		}
		if err := a.refs.PutRef(ctx, nsStaffByConv, o.ConversationKey, ref, 0); err != nil {
			return conversation.Errorf(conversation.Unavailable, "slack staff: remember the thread of %s: %w", o.ConversationKey, err)
		}
	}
	a.sent.Mark(ctx, o.ID, channel+" "+ts)
	a.log.Debug("slack staff message sent", "conversation", o.ConversationKey, "kind", o.Kind, "new_thread", thread == "")
	return nil
}

// Staff action ids (after staffActionPrefix) and the agent action each is.
var staffKinds = map[string]conversation.AgentActionKind{
	"claim":     conversation.AgentClaim,
	"resolve":   conversation.AgentResolve,
	"hand_back": conversation.AgentHandBack,
	"escalate":  conversation.AgentEscalate,
	"priority":  conversation.AgentPriority,
}

// cardBlocks renders a handoff card: its first line bold, the rest
// preformatted, then the agent buttons carrying the conversation key and
// the priority select.
func cardBlocks(o conversation.Outbound) (string, []slack.Block) {
	head, rest, _ := strings.Cut(strings.TrimSpace(o.Text), "\n")
	var blocks []slack.Block
	if h := escapedChunks(truncateRunes(head, 1000), maxSectionText-2); len(h) > 0 {
		blocks = append(blocks, section("*"+h[0]+"*"))
	}
	for _, c := range escapedChunks(strings.TrimSpace(rest), maxSectionText-8) {
		blocks = append(blocks, section("```"+c+"```"))
	}
	if len(blocks) > maxCardSections {
		blocks = blocks[:maxCardSections]
	}
	btn := func(kind, label string, style slack.Style) slack.BlockElement {
		b := slack.NewButtonBlockElement(staffActionPrefix+kind, o.ConversationKey, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		if style != "" {
			b = b.WithStyle(style)
		}
		return b
	}
	var opts []*slack.OptionBlockObject
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
		opts = append(opts, slack.NewOptionBlockObject(p, slack.NewTextBlockObject(slack.PlainTextType, p, false, false), nil))
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, slack.NewTextBlockObject(slack.PlainTextType, "Priority", false, false), staffActionPrefix+"priority", opts...)
	blocks = append(blocks, slack.NewActionBlock("tier0_staff",
		btn("claim", "Claim", slack.StylePrimary),
		btn("resolve", "Resolve", ""),
		btn("hand_back", "Hand back to bot", ""),
		btn("escalate", "Escalate", slack.StyleDanger),
		sel,
	))
	return escapeMrkdwn(truncateRunes(head, maxFallbackRunes)), blocks
}

// maxCardSections keeps a card within Slack's 50 blocks.
const maxCardSections = 40

func section(mrkdwn string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, mrkdwn, false, false), nil, nil)
}

// replyPrefix starts a staff-thread message that goes to the customer.
const replyPrefix = "reply:"

// cutReply returns the text after a leading "reply:" (any case).
func cutReply(text string) (string, bool) {
	t := strings.TrimSpace(text)
	if len(t) < len(replyPrefix) || !strings.EqualFold(t[:len(replyPrefix)], replyPrefix) {
		return text, false
	}
	return strings.TrimSpace(t[len(replyPrefix):]), true
}

// agent returns the identity of a Slack user acting as an agent.
func (a *Adapter) agent(ctx context.Context, team, user string) conversation.Identity {
	p := a.person(ctx, team, user)
	p.ID = "slack:" + user
	return p
}

// staffMessage handles a message in a ticket thread of the staff
// channel: an internal note, or a reply when it starts with "reply:".
func (a *Adapter) staffMessage(ctx context.Context, in inbound, bot *botIdentity) {
	key, err := a.refs.GetRef(ctx, nsStaffByThread, in.channel+":"+in.threadTS)
	if conversation.ErrorCode(err) == conversation.NotFound {
		a.log.Debug("slack staff message ignored", "reason", "thread is not a ticket")
		return
	}
	if err != nil {
		a.log.Warn("slack staff message dropped: thread lookup failed", "err", err)
		a.ephemeral(ctx, in.channel, in.threadTS, in.user, "tier0 could not look this ticket up right now. Please post your message again in a moment.")
		return
	}
	text := plainText(in.text, bot.UserID)
	act := conversation.AgentAction{ConversationKey: key, Kind: conversation.AgentNote, DedupeKey: "note:" + in.channel + ":" + in.ts}
	if rest, ok := cutReply(text); ok {
		if rest == "" {
			a.ephemeral(ctx, in.channel, in.threadTS, in.user, "Write the message for the customer after \"reply:\", e.g. \"reply: I've reset your password.\"")
			return
		}
		act.Kind, act.DedupeKey, text = conversation.AgentReply, "reply:"+in.channel+":"+in.ts, rest
	} else {
		for _, f := range attachments(in.files) {
			text += "\n[file] " + f.Name + " " + f.URL
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
	}
	act.Text = truncateRunes(text, conversation.MaxTextLen)
	act.Agent = a.agent(ctx, in.team, in.user)
	a.act(ctx, act, in.channel, in.threadTS, in.user)
}

// act runs an agent action and tells the agent, ephemerally, when the
// engine refused it. It reports whether the action took effect (or had
// before: a duplicate).
func (a *Adapter) act(ctx context.Context, act conversation.AgentAction, channel, thread, user string) (conversation.Result, bool) {
	res, err := withRetry(ctx, func() (conversation.Result, error) { return a.eng.Act(ctx, act) })
	if err == nil {
		a.log.Debug("slack agent action", "conversation", act.ConversationKey, "kind", act.Kind, "duplicate", res.Duplicate)
		return res, true
	}
	code := conversation.ErrorCode(err)
	a.log.Info("slack agent action refused", "conversation", act.ConversationKey, "kind", act.Kind, "code", code, "err", err)
	msg := "tier0 could not do that right now. Please try again in a moment."
	switch code {
	case conversation.Invalid, conversation.NotFound, conversation.Conflict:
		if !retryable(err) {
			msg = "That didn't work: " + conversation.ErrorMessage(err) + "."
		}
	}
	a.ephemeral(ctx, channel, thread, user, msg)
	return res, false
}

// staffAction handles a click on a handoff card's button or select.
func (a *Adapter) staffAction(ctx context.Context, cb slack.InteractionCallback, act slack.BlockAction, bot *botIdentity) {
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	user := cb.User.ID
	if channel == "" || channel != a.cfg.StaffChannelID || !slackIDRE.MatchString(user) {
		a.log.Debug("slack staff click ignored", "reason", "not in the staff channel")
		return
	}
	root := cb.Container.ThreadTs
	if root == "" {
		root = cb.Container.MessageTs
	}
	kind, ok := staffKinds[strings.TrimPrefix(act.ActionID, staffActionPrefix)]
	if !ok || !tsRE.MatchString(root) {
		a.log.Debug("slack staff click ignored", "reason", "unknown action or malformed message ts")
		return
	}
	tell := func(msg string) { a.ephemeral(ctx, channel, root, user, msg) }
	key, err := a.cardConversation(ctx, channel+":"+root)
	if err != nil {
		if conversation.ErrorCode(err) == conversation.NotFound {
			tell("This card is not linked to a ticket.")
		} else {
			a.log.Warn("slack staff click dropped: thread lookup failed", "err", err)
			tell("tier0 could not look this ticket up right now. Please try again in a moment.")
		}
		return
	}
	if kind != conversation.AgentPriority && act.Value != key {
		a.log.Warn("slack staff click refused: button value does not match its ticket thread")
		tell("This button does not belong to this ticket.")
		return
	}
	// The card must be its conversation's current ticket thread. (No
	// entry yet means the card's refs are still being written.)
	current, err := a.refs.GetRef(ctx, nsStaffByConv, key)
	switch {
	case conversation.ErrorCode(err) == conversation.NotFound:
	case err != nil:
		a.log.Warn("slack staff click dropped: ticket lookup failed", "err", err)
		tell("tier0 could not look this ticket up right now. Please try again in a moment.")
		return
	case current != channel+":"+root:
		tell("This card belongs to an earlier ticket of this conversation; please use the newest ticket thread.")
		return
	}
	action := conversation.AgentAction{ConversationKey: key, Kind: kind, Agent: a.agent(ctx, cb.Team.ID, user)}
	if kind == conversation.AgentPriority {
		action.Text = act.SelectedOption.Value
	}
	id := cb.TriggerID
	if id == "" {
		id = act.ActionTs
	}
	if id == "" || len(id) > 200 {
		a.log.Debug("slack staff click ignored", "reason", "no trigger id or action ts")
		return
	}
	action.DedupeKey = "click:" + id
	res, ok := a.act(ctx, action, channel, root, user)
	if !ok || res.Duplicate {
		return
	}
	name := action.Agent.DisplayName
	if name == "" {
		name = user
	}
	note := map[conversation.AgentActionKind]string{
		conversation.AgentClaim:    "%s claimed the ticket.",
		conversation.AgentResolve:  "%s resolved the ticket.",
		conversation.AgentHandBack: "%s handed the conversation back to the bot.",
		conversation.AgentEscalate: "%s escalated the ticket.",
		conversation.AgentPriority: "%s set the priority to " + action.Text + ".",
	}[kind]
	if err := a.pace(ctx, channel); err != nil {
		return // a confirmation is not worth waiting for
	}
	if _, err := a.postText(ctx, channel, root, strings.ReplaceAll(note, "%s", name)); err != nil {
		a.log.Debug("slack staff confirmation not posted", "err", err)
	}
}

// sendToCustomer handles the "Send to customer" message shortcut on a
// message in a ticket thread.
func (a *Adapter) sendToCustomer(ctx context.Context, cb slack.InteractionCallback, bot *botIdentity) {
	channel, user, msg := cb.Channel.ID, cb.User.ID, cb.Message
	if !slackIDRE.MatchString(user) || !slackIDRE.MatchString(channel) {
		return
	}
	thread := msg.ThreadTimestamp
	tell := func(text string) { a.ephemeral(ctx, channel, thread, user, text) }
	switch {
	case channel != a.cfg.StaffChannelID:
		tell("\"Send to customer\" works on messages in a ticket thread of the staff channel.")
		return
	case thread == "" || thread == msg.Timestamp || !tsRE.MatchString(thread) || !tsRE.MatchString(msg.Timestamp):
		tell("\"Send to customer\" works on replies inside a ticket thread.")
		return
	case msg.BotID != "" || msg.User == bot.UserID || msg.SubType != "":
		tell("Only messages written by agents can be sent to the customer.")
		return
	}
	key, err := a.refs.GetRef(ctx, nsStaffByThread, channel+":"+thread)
	if err != nil {
		if conversation.ErrorCode(err) == conversation.NotFound {
			tell("This thread is not linked to a ticket.")
		} else {
			tell("tier0 could not look this ticket up right now. Please try again in a moment.")
		}
		return
	}
	text := plainText(msg.Text, bot.UserID)
	if rest, ok := cutReply(text); ok {
		text = rest
	}
	if text == "" {
		tell("That message has no text to send.")
		return
	}
	res, ok := a.act(ctx, conversation.AgentAction{
		ConversationKey: key,
		// The same key as a "reply:" message: a message is sent once,
		// however it was asked for.
		DedupeKey: "reply:" + channel + ":" + msg.Timestamp,
		Agent:     a.agent(ctx, cb.Team.ID, user),
		Kind:      conversation.AgentReply,
		Text:      text,
	}, channel, thread, user)
	switch {
	case !ok:
	case res.Duplicate:
		tell("This message was sent to the customer already.")
	default:
		tell("Sent to the customer.")
	}
}

// cardConversation returns the conversation of the card at ref
// ("<channel>:<ts>"). A card is posted before its refs are written, so a
// click that comes in between waits for them a little (up to about 1.5s)
// before the card counts as unknown. Errors: NotFound, Unavailable.
func (a *Adapter) cardConversation(ctx context.Context, ref string) (string, error) {
	wait := 50 * time.Millisecond
	for {
		key, err := a.refs.GetRef(ctx, nsStaffByThread, ref)
		if conversation.ErrorCode(err) != conversation.NotFound || wait > time.Second {
			return key, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", err
		case <-t.C:
		}
		wait *= 2
	}
}
