package agentconsole

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tier0/tier0/adapters/sse"
	"github.com/tier0/tier0/conversation"
)

var _ conversation.EventSink = (*Console)(nil)

// tagDomain separates ticket tags from the other MACs made with the
// session secret.
const tagDomain = "tier0-console-ticket-tag-v1\x00"

// ticketTag names a conversation's ticket on live update streams without
// showing its key (agents of other teams see the stream too).
func (a *authenticator) ticketTag(key string) string {
	return base64.RawURLEncoding.EncodeToString(a.mac(tagDomain, key)[:12])
}

// streamRetry is the reconnect delay the stream suggests to browsers.
const streamRetry = 3 * time.Second

// maxPendingTags bounds the ticket tags a stream collects between two
// writes; past it the stream just says the queue changed, which makes
// the page reload everything it shows.
const maxPendingTags = 64

// Record tells open live streams about the tickets whose conversations
// the events changed: a conversation.EventSink for the engine's events
// (cmd fans them out to it). It never blocks.
func (c *Console) Record(events []conversation.Event) {
	for _, ev := range events {
		if ticketEvent(ev) {
			c.Changed(ev.ConversationKey)
		}
	}
}

// ticketEvent reports whether ev changes what agents see: the queue or a
// ticket's conversation.
func ticketEvent(ev conversation.Event) bool {
	switch ev.Type {
	case conversation.EventHandoff, conversation.EventAgent, conversation.EventRelayed,
		conversation.EventSLABreached, conversation.EventCSAT:
		return true
	case conversation.EventPhaseChanged:
		for _, p := range []string{ev.Data["from"], ev.Data["to"]} {
			if ph := conversation.Phase(p); ph.HumanOwned() || ph == conversation.PhaseResolved {
				return true
			}
		}
	}
	return false
}

// Changed tells open live streams that the ticket of conversation key
// changed (and with it, perhaps, the queue). It never blocks.
func (c *Console) Changed(key string) {
	c.live.notify(true, c.auth.ticketTag(key))
}

// Close ends every open live stream (browsers reconnect, e.g. to another
// replica) and stops the queue check. Call it before
// http.Server.Shutdown, which waits for open streams otherwise. Safe to
// call more than once.
func (c *Console) Close() error {
	c.live.close()
	return nil
}

// liveHub fans changes out to the open streams of this replica and, while
// any is open, watches the queue for changes made elsewhere: by its
// version when the queue is a conversation.QueueVersioner (one small read
// per check, the queue itself only when the version moved), else by
// reading the queue at every check.
type liveHub struct {
	c         *Console
	mu        sync.Mutex
	subs      map[*subscriber]struct{}
	perAgent  map[string]int
	stopWatch context.CancelFunc // stops the queue check; nil when none runs
	closing   chan struct{}
	closeOnce sync.Once
}

// subscriber is one open stream: what changed since its last write, and
// a signal that something did.
type subscriber struct {
	agent  string
	signal chan struct{} // capacity 1: changes coalesce

	mu    sync.Mutex
	queue bool
	tags  []string
}

func newLiveHub(c *Console) *liveHub {
	return &liveHub{c: c, subs: make(map[*subscriber]struct{}), perAgent: make(map[string]int), closing: make(chan struct{})}
}

var errStreamsClosed = &apiError{Status: http.StatusServiceUnavailable, Code: "shutting_down", Msg: msgBusy, RetryAfter: streamRetry}

// subscribe opens a stream for agent; the first open stream starts the
// queue check, after a first look at the queue and its version (so
// changes from then on are reported). Errors: 429 past
// MaxStreamsPerAgent, 503 after close.
func (h *liveHub) subscribe(ctx context.Context, agent string) (*subscriber, error) {
	h.mu.Lock()
	select {
	case <-h.closing:
		h.mu.Unlock()
		return nil, errStreamsClosed
	default:
	}
	if h.perAgent[agent] >= h.c.cfg.MaxStreamsPerAgent {
		h.mu.Unlock()
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: "too_many_streams",
			Msg: "too many open console tabs; close one and reload", RetryAfter: 30 * time.Second}
	}
	s := &subscriber{agent: agent, signal: make(chan struct{}, 1)}
	h.subs[s] = struct{}{}
	h.perAgent[agent]++
	var watchCtx context.Context
	if h.stopWatch == nil && h.c.cfg.QueueCheckInterval > 0 {
		var cancel context.CancelFunc
		watchCtx, cancel = context.WithCancel(context.Background())
		h.stopWatch = cancel
	}
	h.mu.Unlock()
	// The first look reads the store: not under the lock Record takes.
	if watchCtx != nil {
		go h.watch(watchCtx, h.view(ctx))
	}
	return s, nil
}

// unsubscribe closes s's stream; the last one stops the queue check.
func (h *liveHub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.perAgent[s.agent]--; h.perAgent[s.agent] <= 0 {
		delete(h.perAgent, s.agent)
	}
	if len(h.subs) == 0 && h.stopWatch != nil {
		h.stopWatch()
		h.stopWatch = nil
	}
}

// notify records a change for every open stream and wakes them.
func (h *liveHub) notify(queue bool, tags ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		s.queue = s.queue || queue
		for _, t := range tags {
			if len(s.tags) >= maxPendingTags {
				s.queue, s.tags = true, nil
				break
			}
			if !slices.Contains(s.tags, t) {
				s.tags = append(s.tags, t)
			}
		}
		s.mu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

// take returns and clears what changed since the last call.
func (s *subscriber) take() changeEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := changeEvent{Queue: s.queue, Tickets: s.tags}
	if ev.Tickets == nil {
		ev.Tickets = []string{}
	}
	s.queue, s.tags = false, nil
	return ev
}

func (h *liveHub) close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		close(h.closing)
		if h.stopWatch != nil {
			h.stopWatch()
			h.stopWatch = nil
		}
	})
}

// queueView is what one look at the queue saw.
type queueView struct {
	// entries maps conversation key → fingerprint of its queue entry;
	// nil when the queue could not be read.
	entries map[string]string
	// version is the queue version read just before entries, when
	// versioned (the queue is a QueueVersioner and answered).
	version   uint64
	versioned bool
}

// view reads the queue's version (when it has one), then the queue.
func (h *liveHub) view(ctx context.Context) queueView {
	v, ok := h.version(ctx)
	return queueView{entries: h.look(ctx), version: v, versioned: ok}
}

// version reads the queue version; ok is false when the queue has none
// (it is not a conversation.QueueVersioner) or it could not be read.
func (h *liveHub) version(ctx context.Context) (v uint64, ok bool) {
	qv, has := h.c.queue.(conversation.QueueVersioner)
	if !has {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := qv.QueueVersion(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.c.log.Debug("live queue version check failed", "err", err)
		}
		return 0, false
	}
	return v, true
}

// look reads the queue as conversation key → fingerprint of its entry;
// nil when the store cannot be read.
func (h *liveHub) look(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := h.c.queue.Tickets(ctx, conversation.TicketQuery{Limit: DefaultQueueLimit})
	if err != nil {
		if ctx.Err() == nil {
			h.c.log.Debug("live queue check failed", "err", err)
		}
		return nil
	}
	out := make(map[string]string, len(list))
	for _, e := range list {
		tk := e.Ticket
		out[e.ConversationKey] = tk.ID + "|" + tk.Status + "|" + tk.Assignee + "|" + tk.Priority + "|" + tk.Team + "|" +
			strconv.FormatInt(e.UpdatedAt.UnixNano(), 10)
	}
	return out
}

// watch checks the queue every QueueCheckInterval until ctx ends and
// tells the streams which tickets appeared, left or changed since the
// previous look: how changes made by other replicas get here. With a
// queue version it reads the queue only when the version moved, and once
// more at the check after a move, since a store may show the new version
// a moment before the commit behind it (see conversation.QueueVersioner).
// Without one (or when the version cannot be read) it reads the queue at
// every check. A last without entries (no first look) only takes note
// at the first check.
func (h *liveHub) watch(ctx context.Context, last queueView) {
	t := time.NewTicker(h.c.cfg.QueueCheckInterval)
	defer t.Stop()
	recheck := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, ok := h.version(ctx)
		if ok && last.versioned && v == last.version && last.entries != nil && !recheck {
			continue // nothing was committed to the queue since the last look
		}
		now := queueView{entries: h.look(ctx), version: v, versioned: ok}
		if now.entries == nil {
			continue
		}
		recheck = ok && (!last.versioned || v != last.version)
		if last.entries != nil {
			var tags []string
			for k, fp := range now.entries {
				if last.entries[k] != fp {
					tags = append(tags, h.c.auth.ticketTag(k))
				}
			}
			for k := range last.entries {
				if _, ok := now.entries[k]; !ok {
					tags = append(tags, h.c.auth.ticketTag(k))
				}
			}
			if len(tags) > 0 {
				h.notify(true, tags...)
			}
		}
		last = now
	}
}

// changeEvent is the data of a "changed" stream event.
type changeEvent struct {
	// Queue: reload the queue.
	Queue bool `json:"queue"`
	// Tickets are the tags of tickets whose conversation changed.
	Tickets []string `json:"tickets"`
}

// stream serves GET /console/api/stream: server-sent events telling the
// page when to reload. It sends "changed" events, a comment line every
// StreamHeartbeat, and "logout" (then ends) when the session expires.
func (c *Console) stream(w http.ResponseWriter, r *http.Request, s *session, _ string) error {
	sub, err := c.live.subscribe(r.Context(), s.account.Username)
	if err != nil {
		return err
	}
	defer c.live.unsubscribe(sub)

	st := sse.Start(w, r, streamRetry, c.log, "console stream")
	if st == nil {
		return nil
	}
	heartbeat := time.NewTicker(c.cfg.StreamHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-c.live.closing:
			return nil
		case <-heartbeat.C:
			if _, err := c.auth.verify(s.cookie); err != nil {
				st.Event("", "logout", []byte("{}"))
				st.Flush()
				return nil
			}
			st.Ping()
		case <-sub.signal:
			data, err := json.Marshal(sub.take())
			if err != nil {
				c.log.Error("encode console stream event", "err", err)
				continue
			}
			st.Event("", "changed", data)
		}
		if !st.Flush() {
			return nil
		}
	}
}
