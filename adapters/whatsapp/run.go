package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/tier0/tier0/conversation"
)

// keepAliveGiveUp is how long keepalive pings may fail before Run drops
// the connection and reconnects.
const keepAliveGiveUp = 3 * time.Minute

// handleTries is how often a turn that failed with Unavailable or
// Conflict is tried.
const handleTries = 3

// Run connects to WhatsApp and stays connected until ctx ends, handing
// inbound messages to the Handler (in order per conversation, different
// conversations concurrently). It reconnects after disconnects and
// connection failures with exponential backoff and jitter
// (Config.ReconnectMin … ReconnectMax). It returns nil when ctx ends, and
// stops with a typed error when reconnecting cannot help: ErrNotPaired,
// ErrLoggedOut (re-pair), ErrStreamReplaced (another client took the
// connection; this one does not fight), *BanError (ErrBanned),
// ErrClientOutdated, ErrAlreadyRunning. In-flight turns finish (bounded by
// HandleTimeout) before Run returns.
func (a *Adapter) Run(ctx context.Context) error {
	if !a.cli.Paired() {
		return ErrNotPaired
	}
	if !a.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer a.running.Store(false)

	stop := make(chan struct{}) // closed when Run ends: handlers stop waiting
	life := make(chan any, 16)
	in := newInbox(a.cfg.MaxPending, func(j inbound) { a.handle(ctx, j) })
	id := a.cli.AddEventHandler(func(evt any) { a.onEvent(ctx, evt, life, in, stop) })
	defer func() {
		close(stop)
		in.close()
		a.cli.Disconnect()
		a.cli.RemoveEventHandler(id)
		in.wait()
	}()

	attempt := 0
	for {
		err := a.cli.Connect(ctx)
		if err != nil && !errors.Is(err, whatsmeow.ErrAlreadyConnected) {
			if ctx.Err() != nil {
				return nil
			}
			wait := backoff(a.cfg.ReconnectMin, a.cfg.ReconnectMax, attempt)
			attempt++
			a.log.Warn("whatsapp: connect failed; retrying", "attempt", attempt, "retry_in", wait, "err", err)
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		reconnect, err := a.follow(ctx, life, &attempt)
		if err != nil || !reconnect {
			return err
		}
		a.cli.Disconnect()
		wait := backoff(a.cfg.ReconnectMin, a.cfg.ReconnectMax, attempt)
		attempt++
		a.log.Info("whatsapp: reconnecting", "attempt", attempt, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// follow follows one connection's lifecycle events. It returns
// reconnect == true when the connection is gone and should be made
// again, an error when Run must stop, and (false, nil) when ctx ended.
func (a *Adapter) follow(ctx context.Context, life <-chan any, attempt *int) (reconnect bool, err error) {
	for {
		var evt any
		select {
		case <-ctx.Done():
			return false, nil
		case evt = <-life:
		}
		switch e := evt.(type) {
		case *events.Connected:
			*attempt = 0
			a.log.Info("whatsapp: connected")
			// Tells the server our push name; needed for typing presence.
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := a.cli.SendPresence(pctx, types.PresenceAvailable); err != nil {
				a.log.Debug("whatsapp: cannot send presence", "err", err)
			}
			cancel()
		case *events.Disconnected:
			a.log.Warn("whatsapp: disconnected")
			return true, nil
		case *events.ConnectFailure:
			a.log.Warn("whatsapp: connection refused by WhatsApp", "reason", e.Reason.String(), "code", int(e.Reason))
			return true, nil
		case *events.KeepAliveTimeout:
			if !e.LastSuccess.IsZero() && time.Since(e.LastSuccess) > keepAliveGiveUp {
				a.log.Warn("whatsapp: keepalive failing; dropping the connection", "failures", e.ErrorCount)
				return true, nil
			}
		case *events.LoggedOut:
			a.log.Error("whatsapp: WhatsApp logged this device out; re-pair it with `tier0 whatsapp pair`",
				"reason", e.Reason.String(), "on_connect", e.OnConnect)
			return false, fmt.Errorf("%w (%s)", ErrLoggedOut, e.Reason.String())
		case *events.StreamReplaced:
			a.log.Error("whatsapp: another client connected with this device's keys; stopping without reconnecting")
			return false, ErrStreamReplaced
		case *events.TemporaryBan:
			ban := &BanError{Code: int(e.Code), Reason: e.Code.String(), Expire: e.Expire}
			if e.Expire > 0 {
				ban.Until = a.cfg.Now().Add(e.Expire)
			}
			a.log.Error("whatsapp: the account is temporarily banned; stopping", "code", ban.Code, "reason", ban.Reason,
				"expires_in", ban.Expire, "until", ban.Until)
			return false, ban
		case *events.ClientOutdated:
			a.log.Error("whatsapp: WhatsApp says this client is outdated; update tier0 (whatsmeow)")
			return false, ErrClientOutdated
		}
	}
}

// onEvent routes one whatsmeow event. whatsmeow calls it from its own
// goroutines; it blocks only to hand work over, and never after Run ended.
func (a *Adapter) onEvent(ctx context.Context, evt any, life chan<- any, in *inbox, stop <-chan struct{}) {
	switch e := evt.(type) {
	case *events.Message:
		a.onMessage(ctx, e, in, stop)
	case *events.HistorySync:
		// History is what was said before; answering it would answer
		// old questions twice.
		a.log.Debug("whatsapp: ignoring history sync", "conversations", len(e.Data.GetConversations()))
	case *events.OfflineSyncCompleted:
		a.log.Info("whatsapp: offline backlog delivered", "count", e.Count)
	case *events.UndecryptableMessage:
		a.log.Debug("whatsapp: a message could not be decrypted", "unavailable", e.IsUnavailable)
	case *events.Connected, *events.Disconnected, *events.ConnectFailure, *events.KeepAliveTimeout,
		*events.LoggedOut, *events.StreamReplaced, *events.TemporaryBan, *events.ClientOutdated:
		select {
		case life <- evt:
		case <-stop:
		}
	}
}

// onMessage normalises a message event and queues it for its
// conversation.
func (a *Adapter) onMessage(ctx context.Context, e *events.Message, in *inbox, stop <-chan struct{}) {
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	j, why := a.normalize(nctx, e)
	cancel()
	switch why {
	case skipNone:
	case skipOld:
		a.log.Info("whatsapp: skipping an old message from the offline backlog", "age", a.cfg.Now().Sub(e.Info.Timestamp).Round(time.Second), "max_age", a.cfg.MaxBacklogAge)
		return
	default:
		a.log.Debug("whatsapp: ignoring a message", "reason", string(why))
		return
	}
	key := j.msg.ConversationKey
	ci := chatInfo{Chat: j.chat.String(), LastID: string(j.id), Group: j.group}
	if !j.phone.IsEmpty() {
		ci.Phone = j.phone.String()
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	a.rememberChat(rctx, key, ci)
	cancel()
	a.recent.put(key+"/"+string(j.id), inboundRecord{Sender: j.sender.String(), Snippet: cleanLine(j.msg.Text, 100)}, a.cfg.Now())
	for i, md := range j.media {
		a.media.put(j.msg.Attachments[i].URL, md, a.cfg.Now())
	}
	j.media = nil
	if !in.add(key, j, stop) {
		a.log.Warn("whatsapp: stopping; a message arrived too late to be handled", "conversation", key)
	}
}

// handle runs one turn: typing presence while the engine works, then a
// read receipt.
func (a *Adapter) handle(ctx context.Context, j inbound) {
	// The turn finishes even when Run is stopping: WhatsApp already
	// acknowledged the message and will not send it again.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HandleTimeout)
	defer cancel()
	stopTyping := a.typing(hctx, j.chat)
	var res conversation.Result
	var err error
	for try := 1; ; try++ {
		res, err = a.h.Handle(hctx, j.msg)
		code := conversation.ErrorCode(err)
		// WhatsApp will not deliver the message again: retry what may
		// pass (store down, lease held), a few times within the timeout.
		if err == nil || try == handleTries || (code != conversation.Unavailable && code != conversation.Conflict) ||
			!sleep(hctx, time.Duration(try)*200*time.Millisecond) {
			break
		}
	}
	stopTyping()
	switch {
	case err != nil:
		a.log.Warn("whatsapp: handling a message failed", "conversation", j.msg.ConversationKey, "code", conversation.ErrorCode(err), "err", err)
		return
	case res.Duplicate:
		a.log.Debug("whatsapp: duplicate message", "conversation", j.msg.ConversationKey)
	}
	if !a.cfg.DisableReadReceipts {
		if err := a.cli.MarkRead(hctx, []types.MessageID{j.id}, j.ts, j.chat, j.sender); err != nil {
			a.log.Debug("whatsapp: cannot send read receipt", "conversation", j.msg.ConversationKey, "err", err)
		}
	}
}

// typing shows "typing…" in chat when the turn takes longer than
// TypingDelay, refreshing it while the turn runs (WhatsApp clears it
// after a while). The returned func ends it and waits.
func (a *Adapter) typing(ctx context.Context, chat types.JID) func() {
	if a.cfg.TypingDelay < 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTimer(a.cfg.TypingDelay)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
		}
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			if err := a.cli.SendChatPresence(ctx, chat, types.ChatPresenceComposing); err != nil {
				a.log.Debug("whatsapp: cannot send typing presence", "err", err)
			}
			select {
			case <-done:
				pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				if err := a.cli.SendChatPresence(pctx, chat, types.ChatPresencePaused); err != nil {
					a.log.Debug("whatsapp: cannot clear typing presence", "err", err)
				}
				cancel()
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// backoff is the delay before reconnect attempt n (0-based): min doubled
// n times, capped at max, with "equal jitter" (between half and all of it)
// so many clients do not reconnect in step.
func backoff(min, max time.Duration, n int) time.Duration {
	d := max
	if n < 62 {
		if m := min << n; m > 0 && m < max {
			d = m
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// inbox runs inbound messages in order per conversation and different
// conversations concurrently, with at most max messages queued or in
// flight: when full, add waits (which holds up reading from WhatsApp).
type inbox struct {
	run    func(inbound)
	slots  chan struct{}
	mu     sync.Mutex
	queue  map[string][]inbound // a key is present while a drainer runs for it
	closed bool
	wg     sync.WaitGroup
}

func newInbox(max int, run func(inbound)) *inbox {
	return &inbox{run: run, slots: make(chan struct{}, max), queue: make(map[string][]inbound)}
}

// add queues j for key; it gives up when stop is closed.
func (b *inbox) add(key string, j inbound, stop <-chan struct{}) bool {
	select {
	case b.slots <- struct{}{}:
	case <-stop:
		return false
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.slots
		return false
	}
	q, busy := b.queue[key]
	b.queue[key] = append(q, j)
	if !busy {
		b.wg.Add(1)
		go b.drain(key)
	}
	b.mu.Unlock()
	return true
}

func (b *inbox) drain(key string) {
	defer b.wg.Done()
	for {
		b.mu.Lock()
		q := b.queue[key]
		if len(q) == 0 {
			delete(b.queue, key)
			b.mu.Unlock()
			return
		}
		j := q[0]
		q[0] = inbound{}
		b.queue[key] = q[1:]
		b.mu.Unlock()
		b.run(j)
		<-b.slots
	}
}

// close refuses further messages.
func (b *inbox) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// wait blocks until every queued message was handled; call close first.
func (b *inbox) wait() { b.wg.Wait() }
