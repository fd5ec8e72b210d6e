package slack

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/tier0/tier0/conversation"
)

// placeholder is the "Looking that up…" message of one inbound message
// (by its dedupe key). mu serialises posting it, replacing it with the
// answer and removing it.
type placeholder struct {
	key     string
	channel string
	thread  string
	created time.Time

	mu   sync.Mutex
	ts   string // the posted placeholder; "" while none is posted
	used bool   // answered (replaced, or answered before one was posted) or removed: never post or replace again
	// earlier: ts is the placeholder of an earlier attempt at the message
	// (Slack's retry); that attempt's reply may replace it, so this one
	// never deletes it or turns it into an apology.
	earlier bool
}

// placeholders tracks the placeholders of turns running on this replica.
type placeholders struct {
	mu  sync.Mutex
	max int
	m   map[string]*placeholder
}

func newPlaceholders(max int) *placeholders {
	return &placeholders{max: max, m: make(map[string]*placeholder)}
}

// add starts tracking the turn of inbound message key. It returns nil
// when the key is tracked already (the same message delivered twice) or
// too many are.
func (p *placeholders) add(key, channel, thread string, now time.Time) *placeholder {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[key]; ok {
		return nil
	}
	if len(p.m) >= p.max {
		for k, ph := range p.m {
			if now.Sub(ph.created) > placeholderTTL {
				delete(p.m, k)
			}
		}
		if len(p.m) >= p.max {
			return nil
		}
	}
	ph := &placeholder{key: key, channel: channel, thread: thread, created: now}
	p.m[key] = ph
	return ph
}

func (p *placeholders) get(key string) *placeholder {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[key]
}

func (p *placeholders) remove(ph *placeholder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[ph.key] == ph {
		delete(p.m, ph.key)
	}
}

// postPlaceholder posts the placeholder of a slow turn, unless its answer
// was sent already, and remembers it in refs for senders on other
// replicas.
func (a *Adapter) postPlaceholder(ctx context.Context, ph *placeholder) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if ph.used {
		return
	}
	// An earlier attempt at this message (Slack's retry after a 503) may
	// have left its placeholder: the answer replaces that one.
	if v, err := a.refs.GetRef(ctx, nsPlaceholders, ph.key); err == nil && v != placeholderDone {
		if ch, ts, ok := strings.Cut(v, " "); ok && ch == ph.channel {
			ph.ts, ph.earlier = ts, true
			return
		}
	}
	if ra, err := a.pacer.wait(ctx, ph.channel, a.cfg.MaxPaceWait); err != nil || ra > 0 {
		return // the channel is busy; the answer will come without a placeholder
	}
	ts, err := a.postText(ctx, ph.channel, ph.thread, a.cfg.PlaceholderText)
	if err != nil {
		a.log.Debug("slack placeholder not posted", "channel", ph.channel, "err", err)
		return
	}
	ph.ts = ts
	if err := a.refs.PutRef(ctx, nsPlaceholders, ph.key, ph.channel+" "+ts, placeholderTTL); err != nil {
		a.log.Warn("slack: could not remember a placeholder", "channel", ph.channel, "err", err)
	}
}

// settlePlaceholder ends the tracking when the turn is over. A posted
// placeholder stays for the sender to replace when the turn queued a
// reply to the message; otherwise it is removed, or replaced by an
// apology when the turn failed.
// With retried set (the event was answered 503 and Slack sends it again)
// a retryable failure keeps the placeholder for the retry's answer; a
// placeholder taken over from an earlier attempt is never removed here
// (that attempt's reply may have replaced it already).
func (a *Adapter) settlePlaceholder(ctx context.Context, ph *placeholder, replied bool, turnErr error, retried bool) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if ph.ts == "" || ph.used || ph.earlier || (turnErr != nil && retried && retryable(turnErr)) {
		ph.used = true
		a.ph.remove(ph)
		return
	}
	if turnErr == nil && replied {
		return // the sender replaces it (and stops tracking it)
	}
	ph.used = true
	a.ph.remove(ph)
	var err error
	if turnErr != nil && conversation.ErrorCode(turnErr) != conversation.Invalid {
		_, _, _, err = a.api.UpdateMessageContext(ctx, ph.channel, ph.ts, slack.MsgOptionText(escapeMrkdwn(apology), false))
	} else {
		_, _, err = a.api.DeleteMessageContext(ctx, ph.channel, ph.ts)
	}
	if err != nil {
		a.log.Debug("slack placeholder not cleaned up", "channel", ph.channel, "err", err)
	}
	if err := a.refs.PutRef(ctx, nsPlaceholders, ph.key, placeholderDone, placeholderTTL); err != nil {
		a.log.Debug("slack: could not mark a placeholder done", "err", err)
	}
}

// overPlaceholder delivers a reply by replacing the placeholder of the
// message it answers (o.InReplyTo), when there is one in channel: first
// one tracked by this replica, else one recorded in refs by another. ok
// is false when there is none and the reply must be posted.
func (a *Adapter) overPlaceholder(ctx context.Context, o conversation.Outbound, channel string, opts []slack.MsgOption) (ts string, ok bool, err error) {
	if o.InReplyTo == "" || a.cfg.PlaceholderAfter < 0 {
		return "", false, nil
	}
	if ph := a.ph.get(o.InReplyTo); ph != nil {
		ph.mu.Lock()
		defer ph.mu.Unlock()
		if ph.used || ph.channel != channel {
			return "", false, nil
		}
		if ph.ts == "" {
			ph.used = true // answered before a placeholder was needed: none will be posted
			return "", false, nil
		}
		if err := a.replace(ctx, channel, ph.ts, opts); err != nil {
			if gone(err) {
				ph.used = true
				a.ph.remove(ph)
				return "", false, nil
			}
			return "", false, err
		}
		ph.used = true
		a.ph.remove(ph)
		a.placeholderDone(ctx, o.InReplyTo)
		return ph.ts, true, nil
	}
	v, err := a.refs.GetRef(ctx, nsPlaceholders, o.InReplyTo)
	if err != nil || v == placeholderDone {
		return "", false, nil // none (or the store is down: posting is the safe choice)
	}
	ch, phTS, found := strings.Cut(v, " ")
	if !found || ch != channel || !tsRE.MatchString(phTS) {
		return "", false, nil
	}
	if err := a.replace(ctx, channel, phTS, opts); err != nil {
		if gone(err) {
			return "", false, nil
		}
		return "", false, err
	}
	a.placeholderDone(ctx, o.InReplyTo)
	return phTS, true, nil
}

func (a *Adapter) replace(ctx context.Context, channel, ts string, opts []slack.MsgOption) error {
	_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts, opts...)
	return err
}

func (a *Adapter) placeholderDone(ctx context.Context, key string) {
	if err := a.refs.PutRef(ctx, nsPlaceholders, key, placeholderDone, placeholderTTL); err != nil {
		a.log.Debug("slack: could not mark a placeholder done", "err", err)
	}
}

// gone reports whether Slack says the message to update no longer exists.
func gone(err error) bool {
	var se slack.SlackErrorResponse
	if ok := asSlackError(err, &se); ok {
		return se.Err == "message_not_found" || se.Err == "cant_update_message" || se.Err == "edit_window_closed"
	}
	return false
}
