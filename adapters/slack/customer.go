package slack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/tier0/tier0/conversation"
)

// Namespaces of the adapter's refs.
const (
	nsThreads       = "slack:threads"      // customer conversation key → "1": channel threads the bot is part of
	nsStaffByConv   = "slack:staff:conv"   // conversation key → "<channel>:<thread ts>" of its current ticket thread
	nsStaffByThread = "slack:staff:thread" // "<channel>:<thread ts>" → conversation key
	nsPlaceholders  = "slack:placeholder"  // inbound dedupe key → "<channel> <ts>", or "done"
	nsSent          = "slack:sent"         // outbound id → "<channel> <ts>"
	placeholderTTL  = time.Hour            // how long a placeholder may wait for its answer
	sentCacheSize   = 10000                // sent ids kept in memory
	maxPlaceholders = 10000                // placeholders tracked in memory
	maxPaceBuckets  = 10000                // channels paced at once
	placeholderDone = "done"
)

// customerEvent handles a customer's message: a DM, a mention, or a reply
// in a channel thread the bot is part of. It returns an error when the
// message may be worth sending again: its turn (or the thread lookup)
// failed with a retryable error.
// With retried set a failed turn is answered 503 and Slack sends the
// event again.
func (a *Adapter) customerEvent(ctx context.Context, in inbound, bot *botIdentity, retried bool) error {
	var key, thread string
	if in.isDM() {
		key, thread = dmKey(in.team, in.channel), in.threadTS
	} else {
		thread = in.threadTS
		if thread == "" {
			thread = in.ts
		}
		key = threadKey(in.team, in.channel, thread)
		if in.mention {
			if err := a.refs.PutRef(ctx, nsThreads, key, "1", 0); err != nil {
				a.log.Warn("slack: could not remember the thread", "conversation", key, "err", err)
			}
		} else {
			_, err := a.refs.GetRef(ctx, nsThreads, key)
			if conversation.ErrorCode(err) == conversation.NotFound {
				a.log.Debug("slack message ignored", "reason", "thread without the bot", "conversation", key)
				return nil
			}
			if err != nil {
				a.log.Warn("slack message not handled: thread lookup failed", "conversation", key, "err", err)
				return err
			}
		}
	}
	m := a.customerMessage(ctx, in, key, thread, bot)
	if err := m.Validate(); err != nil {
		a.log.Debug("slack message ignored", "conversation", key, "reason", err)
		return nil
	}
	if err := a.handleCustomer(ctx, m, in.channel, retried); err != nil && retryable(err) {
		return err
	}
	return nil
}

// buttonValue is what a customer button carries: the action id and value.
type buttonValue struct {
	ID    string `json:"id"`
	Value string `json:"v,omitempty"`
}

// maxButtonValue is Slack's limit on a button's value.
const maxButtonValue = 2000

// encodeButton renders an action as a button value of at most 2000
// bytes; an over-long value is cut (the engine takes at most
// conversation.MaxActionValueLen bytes anyway).
func encodeButton(act conversation.Action) string {
	v := buttonValue{ID: truncateBytes(act.ID, conversation.MaxKeyLen), Value: truncateBytes(act.Value, conversation.MaxActionValueLen)}
	for {
		b, err := json.Marshal(v)
		if err == nil && len(b) <= maxButtonValue {
			return string(b)
		}
		v.Value = truncateBytes(v.Value, len(v.Value)/2)
	}
}

// decodeButton reads a button value. ok is false for anything malformed.
func decodeButton(s string) (conversation.Action, bool) {
	if len(s) > maxButtonValue || !utf8.ValidString(s) {
		return conversation.Action{}, false
	}
	var v buttonValue
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.ID == "" || len(v.ID) > conversation.MaxKeyLen || len(v.Value) > conversation.MaxActionValueLen {
		return conversation.Action{}, false
	}
	return conversation.Action{ID: v.ID, Value: v.Value}, true
}

// customerClick handles a click on a button the bot posted to a customer.
func (a *Adapter) customerClick(ctx context.Context, cb slack.InteractionCallback, act slack.BlockAction, bot *botIdentity) {
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	team := cb.Team.ID
	if team == "" {
		team = bot.TeamID
	}
	actionTS := act.ActionTs
	if actionTS == "" {
		actionTS = cb.ActionTs
	}
	action, ok := decodeButton(act.Value)
	switch {
	case !ok:
		a.log.Debug("slack click ignored", "reason", "malformed button value")
		return
	case !slackIDRE.MatchString(channel) || !slackIDRE.MatchString(team) || !slackIDRE.MatchString(cb.User.ID) || !tsRE.MatchString(actionTS):
		a.log.Debug("slack click ignored", "reason", "malformed channel, team, user or action_ts")
		return
	case channel == a.cfg.StaffChannelID:
		a.log.Debug("slack click ignored", "reason", "customer button in the staff channel")
		return
	}
	var key, thread string
	if strings.HasPrefix(channel, "D") {
		key, thread = dmKey(team, channel), cb.Container.ThreadTs
	} else {
		thread = cb.Container.ThreadTs
		if thread == "" {
			thread = cb.Container.MessageTs
		}
		key = threadKey(team, channel, thread)
	}
	if thread != "" && !tsRE.MatchString(thread) {
		a.log.Debug("slack click ignored", "reason", "malformed thread ts")
		return
	}
	m := conversation.Message{
		Channel:         conversation.ChannelSlack,
		ConversationKey: key,
		ThreadKey:       thread,
		PlatformMsgID:   cb.Container.MessageTs,
		DedupeKey:       "act:" + channel + ":" + actionTS,
		User:            a.person(ctx, team, cb.User.ID),
		Action:          &action,
		SentAt:          slackTime(actionTS),
		ReceivedAt:      time.Now().UTC(),
	}
	if err := m.Validate(); err != nil {
		a.log.Debug("slack click ignored", "conversation", key, "reason", err)
		return
	}
	_ = a.handleCustomer(ctx, m, channel, false)
}

// retryable reports whether an engine error may go away on its own: the
// store is down or another replica holds the conversation.
func retryable(err error) bool {
	return conversation.ErrorCode(err) == conversation.Unavailable ||
		errors.Is(err, conversation.ErrLeaseHeld) || errors.Is(err, conversation.ErrLeaseLost) || errors.Is(err, conversation.ErrStaleVersion)
}

// engineAttempts is how often a turn is tried before the event is given
// up (the event was acknowledged: Slack will not send it again).
const engineAttempts = 3

// withRetry calls fn until it succeeds, fails for good, or the attempts
// or ctx run out.
func withRetry(ctx context.Context, fn func() (conversation.Result, error)) (conversation.Result, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := fn()
		// An overloaded engine is not asked again at once: the event is
		// answered 503 and Slack's retry comes later.
		if err == nil || attempt == engineAttempts || !retryable(err) || errors.Is(err, conversation.ErrOverloaded) || ctx.Err() != nil {
			return res, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
		wait *= 4
	}
}

// apology is posted when a customer's message could not be handled.
const apology = "Sorry, I couldn't handle that message just now. Please send it again in a moment."

// handleCustomer runs the turn of m, with a placeholder when it is slow,
// and returns the turn's error. retried: the platform sends m again when
// the turn fails (see settlePlaceholder).
func (a *Adapter) handleCustomer(ctx context.Context, m conversation.Message, channel string, retried bool) error {
	turn := func() (conversation.Result, error) {
		return withRetry(ctx, func() (conversation.Result, error) { return a.eng.Handle(ctx, m) })
	}
	var res conversation.Result
	var err error
	var ph *placeholder
	if a.cfg.PlaceholderAfter >= 0 {
		ph = a.ph.add(m.DedupeKey, channel, m.ThreadKey, time.Now())
	}
	if ph == nil {
		res, err = turn()
	} else {
		stop := make(chan struct{})
		posted := make(chan struct{})
		go func() {
			defer close(posted)
			t := time.NewTimer(a.cfg.PlaceholderAfter)
			defer t.Stop()
			select {
			case <-stop:
			case <-ctx.Done():
			case <-t.C:
				a.postPlaceholder(ctx, ph)
			}
		}()
		res, err = turn()
		close(stop)
		<-posted
	}
	if err != nil {
		a.log.Warn("slack message not handled", "conversation", m.ConversationKey, "code", conversation.ErrorCode(err), "err", err)
	} else {
		a.log.Debug("slack message handled", "conversation", m.ConversationKey, "duplicate", res.Duplicate, "phase", res.Phase)
	}
	if ph != nil {
		a.settlePlaceholder(ctx, ph, repliesTo(res, m.DedupeKey), err, retried)
	}
	return err
}

// repliesTo reports whether res holds a Slack message answering the
// inbound message with dedupe key.
func repliesTo(res conversation.Result, dedupe string) bool {
	for _, o := range res.Outbound {
		if o.Channel == conversation.ChannelSlack && o.InReplyTo == dedupe {
			return true
		}
	}
	return false
}
