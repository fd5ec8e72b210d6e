package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// EngineConfig tunes the Engine. Zero values take the defaults.
type EngineConfig struct {
	// LeaseTTL bounds how long one turn may hold a conversation (default 15s).
	// A turn that takes longer loses its lease and is not committed; the
	// platform's retry (or the caller) handles the message again.
	LeaseTTL time.Duration
	// LockWait is how long Handle waits for a lease held by another replica
	// (default 10s).
	LockWait time.Duration
	// MaxHistory caps the stored history per conversation (default 100 turns).
	MaxHistory int
	// HandoffAfterNotHelpful hands off after this many "not helpful" clicks (default 2).
	HandoffAfterNotHelpful int
	// Consulting configures the questions asked before handing off.
	Consulting ConsultingConfig
	// Actions are what the bot can do besides answering (see ActionSpec).
	Actions ActionsConfig
	// Sentiment, when set, scores every customer message; a frustrated
	// customer is handed to a person at once (reason "frustration").
	Sentiment SentimentScorer
	// Events, when set, sees every committed turn's events (after the
	// commit, in the handling goroutine): metrics, analytics.
	Events EventSink
	// Texts are the default language's sentences (see LanguageConfig.Texts
	// for the others); empty fields take the built-in ones.
	Texts Texts
	// Language: detection of each conversation's language, the default
	// language and the sentences of the other languages.
	Language LanguageConfig
	// Admission bounds the customer turns waiting inside the engine
	// (ErrOverloaded beyond its latency budget).
	Admission AdmissionConfig
	Logger    *slog.Logger
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

func (c EngineConfig) withDefaults() EngineConfig {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.LockWait <= 0 {
		c.LockWait = 10 * time.Second
	}
	if c.MaxHistory <= 0 {
		c.MaxHistory = 100
	}
	if c.HandoffAfterNotHelpful <= 0 {
		c.HandoffAfterNotHelpful = 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Language = c.Language.withDefaults()
	c.Consulting = c.Consulting.withDefaults()
	return c
}

// Result tells the caller of Handle what happened.
type Result struct {
	// Duplicate is true when the message had been handled before; nothing
	// was written and nothing is sent again.
	Duplicate bool
	Phase     Phase
	// Outbound is what this turn committed for delivery.
	Outbound []Outbound
}

// Engine handles turns. It is safe for concurrent use by many goroutines
// and by many replicas sharing one Store.
type Engine struct {
	store     Store
	knowledge Knowledge
	handoff   Handoff
	cfg       EngineConfig
	texts     TextSet
	local     keyLock
	delivery  Delivery
	actions   *actionSet
	adm       *admission
}

// Delivery is what the engine hands committed messages to;
// *Dispatcher satisfies it.
type Delivery interface {
	// Notify schedules delivery of key's outbox.
	Notify(key string)
	// DeliverClaimed delivers a batch the engine claimed while committing
	// (see CommitClaimer).
	DeliverClaimed(c OutboxClaim)
	// ClaimTTL is how long such a claim's delivery lease should last.
	ClaimTTL() time.Duration
}

// NewEngine returns an engine over the given ports. knowledge and handoff
// may be nil (the bot then never answers, or never hands off).
// Actions that fail ActionSpec.Validate are left out and logged; call
// ActionsConfig.Validate first to refuse them instead.
func NewEngine(store Store, knowledge Knowledge, handoff Handoff, cfg EngineConfig) *Engine {
	cfg = cfg.withDefaults()
	overrides := make(map[string]Texts, len(cfg.Language.Texts)+1)
	for l, t := range cfg.Language.Texts {
		overrides[BaseLanguage(l)] = t
	}
	d := cfg.Language.Default
	overrides[d] = cfg.Texts.over(overrides[d])
	e := &Engine{store: store, knowledge: knowledge, handoff: handoff, cfg: cfg, texts: NewTextSet(d, overrides), adm: newAdmission(cfg.Admission)}
	var err error
	if e.actions, err = newActionSet(cfg.Actions); err != nil {
		e.cfg.Logger.Error("actions left out", "err", err)
	}
	return e
}

// DeliverWith hands committed messages to d, claiming them during the
// commit when the store can (CommitClaimer). Without it committed messages
// wait in the outbox for a dispatcher's backlog scan. Call before Handle.
func (e *Engine) DeliverWith(d Delivery) { e.delivery = d }

// Load reports the turns in flight, the oldest one's age and the
// admission limit, for gauges.
func (e *Engine) Load() Load { return e.adm.load(time.Now()) }

// Store returns the engine's store (for read-only views such as history).
func (e *Engine) Store() Store { return e.store }

// Handle runs one turn for m: dedupe, lease, load, decide, commit. When it
// returns nil the reply effect is durably committed (delivery follows
// asynchronously); when it returns an error nothing was committed and the
// message may be handed in again. Errors: Invalid (bad message), Conflict
// (lease not obtained in time), Unavailable (store down; ErrOverloaded in
// a RetryAfterError when the engine is past its latency budget, see
// AdmissionConfig), or ctx's error.
func (e *Engine) Handle(ctx context.Context, m Message) (Result, error) {
	if err := m.Validate(); err != nil {
		return Result{}, err
	}
	done, err := e.adm.enter(time.Now())
	if err != nil {
		return Result{}, fmt.Errorf("turn on %s: %w", m.ConversationKey, err)
	}
	defer done()
	now := e.cfg.Now()
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = now
	}
	return e.run(ctx, m.ConversationKey, StoredDedupeKey(m), &m, now, func() *Conversation { return NewConversation(&m, now) }, (*turn).decide)
}

// run is one turn on conversation key: lock, dedupe and lease, load (or
// create with fresh, nil meaning "must exist"), decide, commit, hand the
// outbound messages to delivery.
func (e *Engine) run(ctx context.Context, key, dedupe string, m *Message, now time.Time, fresh func() *Conversation, decide func(*turn, context.Context) error) (Result, error) {
	unlock, err := e.local.lock(ctx, key)
	if err != nil {
		return Result{}, fmt.Errorf("wait for conversation %s: %w", key, err)
	}
	defer unlock()

	lease, conv, err := e.begin(ctx, key, dedupe)
	if errors.Is(err, ErrDuplicate) {
		return Result{Duplicate: true}, nil
	}
	if err != nil {
		return Result{}, err
	}
	committed := false
	defer func() {
		if !committed {
			// Best effort: an unreleased lease expires after LeaseTTL.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = e.store.Release(rctx, lease)
		}
	}()
	if conv == nil {
		if fresh == nil {
			return Result{}, fmt.Errorf("conversation %s: %w", key, ErrNotFound)
		}
		conv = fresh()
	}

	t := turn{e: e, conv: conv, msg: m, now: now}
	if err := decide(&t, ctx); err != nil {
		return Result{}, err
	}
	conv.UpdatedAt = now
	conv.Turns++

	// Never commit after our lease ran out: another replica may own it.
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	commit := Commit{Conversation: conv, DedupeKey: dedupe, Events: t.events, Outbound: t.out}
	var claim OutboxClaim
	claimed := false
	if cc, ok := e.store.(CommitClaimer); ok && e.delivery != nil && len(t.out) > 0 {
		claim, claimed, err = cc.CommitClaim(ctx, lease, commit, e.delivery.ClaimTTL())
	} else {
		err = e.store.Commit(ctx, lease, commit)
	}
	if errors.Is(err, ErrDuplicate) {
		return Result{Duplicate: true}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("commit conversation %s: %w", key, err)
	}
	committed = true
	if e.cfg.Events != nil {
		e.cfg.Events.Record(t.events)
	}
	switch {
	case claimed:
		e.delivery.DeliverClaimed(claim)
	case e.delivery != nil:
		e.delivery.Notify(key)
	}
	e.cfg.Logger.Debug("turn committed", "conversation", key, "phase", conv.Phase, "outbound", len(t.out))
	return Result{Phase: conv.Phase, Outbound: t.out}, nil
}

// begin checks dedupe, takes the conversation lease (waiting with backoff
// while another replica holds it) and loads the conversation (nil when
// new). It returns ErrDuplicate for a message committed before.
func (e *Engine) begin(ctx context.Context, key, dedupe string) (Lease, *Conversation, error) {
	deadline := time.Now().Add(e.cfg.LockWait)
	wait := 2 * time.Millisecond
	for {
		l, conv, err := e.tryBegin(ctx, key, dedupe)
		if !errors.Is(err, ErrLeaseHeld) {
			return l, conv, err
		}
		if time.Now().After(deadline) {
			return Lease{}, nil, fmt.Errorf("lease conversation %s: still held after %s: %w", key, e.cfg.LockWait, err)
		}
		select {
		case <-ctx.Done():
			return Lease{}, nil, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}

func (e *Engine) tryBegin(ctx context.Context, key, dedupe string) (Lease, *Conversation, error) {
	if ts, ok := e.store.(TurnStarter); ok {
		l, conv, err := ts.BeginTurn(ctx, key, dedupe, e.cfg.LeaseTTL)
		if err != nil && !errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrLeaseHeld) {
			err = fmt.Errorf("begin turn on %s: %w", key, err)
		}
		return l, conv, err
	}
	seen, err := e.store.Seen(ctx, key, dedupe)
	if err != nil {
		return Lease{}, nil, fmt.Errorf("dedupe check for %s: %w", key, err)
	}
	if seen {
		return Lease{}, nil, ErrDuplicate
	}
	l, err := e.store.Acquire(ctx, key, e.cfg.LeaseTTL)
	if err != nil {
		if !errors.Is(err, ErrLeaseHeld) {
			err = fmt.Errorf("lease conversation %s: %w", key, err)
		}
		return Lease{}, nil, err
	}
	conv, err := e.store.Load(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return l, nil, nil
	case err != nil:
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = e.store.Release(rctx, l)
		return Lease{}, nil, fmt.Errorf("load conversation %s: %w", key, err)
	}
	return l, conv, nil
}

// turn is the decision step of one Handle call: it mutates conv and
// collects events and outbound messages; it performs no writes.
type turn struct {
	e      *Engine
	conv   *Conversation
	msg    *Message
	now    time.Time
	events []Event
	out    []Outbound
}

func (t *turn) event(typ EventType, kv ...string) {
	ev := Event{Type: typ, ConversationKey: t.conv.Key, At: t.now}
	if len(kv) > 0 {
		ev.Data = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			ev.Data[kv[i]] = kv[i+1]
		}
	}
	t.events = append(t.events, ev)
}

// reply queues a bot message to the customer, in the thread the message
// came from.
func (t *turn) reply(kind OutboundKind, text string, cites []Citation, buttons []Button) {
	t.send(RoleBot, "", kind, text, cites, buttons)
}

// send queues a message to the customer and records it in the history
// as said by role (author: an agent's name).
func (t *turn) send(role Role, author string, kind OutboundKind, text string, cites []Citation, buttons []Button) {
	o := Outbound{
		ID:              outboundID(t.conv.Key, t.msg.DedupeKey, len(t.out)),
		ConversationKey: t.conv.Key,
		Channel:         t.msg.Channel,
		ThreadKey:       t.msg.ThreadKey,
		ReplyTo:         t.msg.PlatformMsgID,
		Recipient:       t.msg.User.ID,
		Kind:            kind,
		Text:            text,
		Citations:       cites,
		Buttons:         buttons,
		InReplyTo:       t.msg.DedupeKey,
		Language:        t.conv.Language,
		CreatedAt:       t.now,
	}
	t.out = append(t.out, o)
	t.conv.Append(Turn{Role: role, Text: text, At: t.now, MessageID: o.ID, Kind: kind, Citations: cites, AuthorName: author}, t.e.cfg.MaxHistory)
}

// staff queues messages produced by the Handoff port, giving them stable ids.
func (t *turn) staff(outs []Outbound) {
	for _, o := range outs {
		o.ID = outboundID(t.conv.Key, t.msg.DedupeKey, len(t.out))
		o.ConversationKey = t.conv.Key
		if o.Kind == "" {
			o.Kind = KindStaff
		}
		o.InReplyTo = t.msg.DedupeKey
		o.CreatedAt = t.now
		t.out = append(t.out, o)
	}
}

func outboundID(key, dedupe string, i int) string {
	h := sha256.Sum256([]byte(key + "\x00" + dedupe + "\x00" + strconv.Itoa(i)))
	return "o_" + hex.EncodeToString(h[:12])
}

func (t *turn) setPhase(p Phase) {
	if t.conv.Phase != p {
		t.event(EventPhaseChanged, "from", string(t.conv.Phase), "to", string(p))
		t.conv.Phase = p
	}
}

func (t *turn) decide(ctx context.Context) error {
	m, c := t.msg, t.conv
	if !c.Phase.HumanOwned() || c.Language == "" {
		// While a person owns the thread the agent sees the language the
		// handoff card showed; the customer's messages are relayed as they are.
		t.detectLanguage()
	}
	tx := t.texts()
	var mood Sentiment
	if t.e.cfg.Sentiment != nil && m.Text != "" {
		mood = t.e.cfg.Sentiment.Score(m.Text)
	}
	c.Append(Turn{Role: RoleCustomer, Text: m.Text, At: m.ReceivedAt, MessageID: m.DedupeKey, Action: m.Action, AuthorName: m.User.DisplayName, Sentiment: mood.Score}, t.e.cfg.MaxHistory)
	if m.User.DisplayName != "" || m.User.Email != "" {
		c.User = m.User
	}
	if c.Version == 0 {
		// The first turn of a conversation that was never stored.
		t.event(EventMessageReceived, "channel", string(m.Channel), "new", "1")
	} else {
		t.event(EventMessageReceived, "channel", string(m.Channel))
	}

	if c.Phase == PhaseResolved {
		t.setPhase(PhaseBot)
	}
	if c.Phase.HumanOwned() {
		return t.relay(ctx)
	}
	if handled, err := t.actionTurn(ctx); handled || err != nil {
		return err
	}

	if a := m.Action; a != nil {
		switch a.ID {
		case ActionHelpful:
			c.NotHelpful, c.Unanswered = 0, 0
			t.event(EventFeedback, "value", "helpful", "answer_open", answerOpen(c.History[:len(c.History)-1]))
			t.reply(KindNotice, tx.Helpful, nil, nil)
			return nil
		case ActionNotHelpful:
			c.NotHelpful++
			t.event(EventFeedback, "value", "not_helpful", "answer_open", answerOpen(c.History[:len(c.History)-1]))
			if c.NotHelpful >= t.e.cfg.HandoffAfterNotHelpful {
				return t.handOff(ctx, "not_helpful")
			}
			t.reply(KindNotice, tx.NotHelpful, nil, []Button{t.humanButton()})
			return nil
		case ActionHuman:
			return t.handOff(ctx, "customer_request")
		case ActionCSAT:
			if n, err := strconv.Atoi(a.Value); err == nil && n >= 1 && n <= 5 {
				t.event(EventCSAT, "score", a.Value, "ticket", c.Ticket, "repeat", csatRepeat(c.History[:len(c.History)-1]))
				t.reply(KindNotice, tx.CSATThanks, nil, nil)
				return nil
			}
		}
		// Unknown actions fall through and are treated as text (buttons
		// from older messages, free-form quick replies).
	}
	if t.e.texts.AsksForHuman(m.Text) {
		return t.handOff(ctx, "customer_request")
	}
	if mood.Frustrated {
		return t.handOff(ctx, "frustration")
	}
	if c.Phase == PhaseConsulting && c.Consulting != nil {
		return t.answerQuery(ctx, t.consultAnswer())
	}
	return t.answer(ctx)
}

func (t *turn) humanButton() Button {
	return Button{Action: Action{ID: ActionHuman}, Label: t.texts().ButtonHuman}
}

func (t *turn) answer(ctx context.Context) error {
	text := t.msg.Text
	if text == "" && t.msg.Action != nil {
		text = t.msg.Action.Value
	}
	return t.answerQuery(ctx, text)
}

// answerQuery answers query from knowledge. When knowledge is not sure,
// or its best answers disagree, it asks a consulting question if one is
// left; when consulting already ran out, it hands the thread to a person.
func (t *turn) answerQuery(ctx context.Context, query string) error {
	tx := t.texts()
	if t.e.knowledge == nil || strings.TrimSpace(query) == "" {
		t.conv.Unanswered++
		t.event(EventNotSure, "reason", "no_knowledge", "question", eventQuestion(query))
		t.reply(KindNotSure, tx.NotSure, nil, []Button{t.humanButton()})
		return nil
	}
	ans, err := t.e.knowledge.Answer(ctx, Query{Text: query, Channel: t.msg.Channel, Locale: t.msg.User.Locale, Language: t.language(), History: t.conv.History})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.e.cfg.Logger.Warn("knowledge unavailable", "conversation", t.conv.Key, "err", err)
		t.event(EventNotSure, "reason", "knowledge_error", "code", string(ErrorCode(err)))
		t.reply(KindNotSure, tx.Unavailable, nil, []Button{t.humanButton()})
		return nil
	}
	score := strconv.FormatFloat(ans.Score, 'f', 3, 64)
	confident := ans.Confident && ans.Text != ""
	// Disagreeing answers, or none: ask first, when a question is left.
	if (!confident || len(ans.Alternatives) >= 2) && t.consult(query, ans) {
		return nil
	}
	if !confident {
		t.conv.Unanswered++
		if cs := t.conv.Consulting; cs != nil && cs.Asked > 0 {
			t.conv.Consulting = nil
			t.event(EventNotSure, "reason", "consulting_cap", "score", score, "question", eventQuestion(query))
			return t.handOff(ctx, "consulting_cap")
		}
		t.event(EventNotSure, "reason", "low_score", "score", score, "question", eventQuestion(query))
		t.reply(KindNotSure, tx.NotSure, nil, []Button{t.humanButton()})
		return nil
	}
	t.conv.Unanswered = 0
	t.conv.Consulting = nil
	t.setPhase(PhaseBot)
	ev := []string{"score", score}
	if len(ans.Citations) > 0 {
		ev = append(ev, "source", ans.Citations[0].Source)
	}
	t.event(EventAnswered, ev...)
	t.reply(KindAnswer, ans.Text, ans.Citations, []Button{
		{Action: Action{ID: ActionHelpful}, Label: tx.ButtonHelpful},
		{Action: Action{ID: ActionNotHelpful}, Label: tx.ButtonNotHelp},
		t.humanButton(),
	})
	return nil
}

func (t *turn) handOff(ctx context.Context, reason string) error {
	if t.e.handoff == nil {
		t.event(EventNotSure, "reason", "no_handoff")
		t.reply(KindNotSure, t.texts().NotSure, nil, nil)
		return nil
	}
	// Whether this handoff settles an answer the customer had not judged
	// yet (a "not helpful" click that hands off settled it already), and
	// whether the conversation had a ticket before.
	open := "0"
	if a := t.msg.Action; a == nil || a.ID != ActionNotHelpful {
		open = answerOpen(t.conv.History[:max(len(t.conv.History)-1, 0)])
	}
	repeat := "0"
	if t.conv.Ticket != "" {
		repeat = "1"
	}
	tk, outs, err := t.e.handoff.Open(ctx, HandoffRequest{Conversation: t.conv, Reason: reason})
	if err != nil {
		return fmt.Errorf("open ticket for %s: %w", t.conv.Key, err)
	}
	t.conv.Ticket = tk.ID
	t.conv.TicketState = &TicketState{Ticket: tk, Reason: reason, OpenedAt: t.now}
	t.conv.Unanswered, t.conv.NotHelpful = 0, 0
	t.conv.Consulting, t.conv.PendingAction = nil, nil
	t.setPhase(PhaseAwaitingAgent)
	t.event(EventHandoff, "reason", reason, "ticket", tk.ID, "team", tk.Team, "priority", tk.Priority, "answer_open", open, "repeat", repeat)
	t.reply(KindHandoff, fillTicket(t.texts().HandoffOpened, tk, t.texts()), nil, nil)
	t.staff(outs)
	return nil
}

// relay forwards a customer message of a human-owned conversation to the
// staff channel; the bot itself stays silent.
func (t *turn) relay(ctx context.Context) error {
	if t.e.handoff == nil {
		return Errorf(Internal, "conversation %s is human-owned but no handoff is configured", t.conv.Key)
	}
	outs, err := t.e.handoff.Relay(ctx, t.conv, t.msg)
	if err != nil {
		return fmt.Errorf("relay %s to staff: %w", t.conv.Key, err)
	}
	t.event(EventRelayed, "ticket", t.conv.Ticket)
	t.staff(outs)
	return nil
}

// maxEventQuestion caps the question text carried by not_sure events
// (for analytics' knowledge gaps), in characters.
const maxEventQuestion = 200

// eventQuestion is the question of a not_sure event: trimmed, on one
// line, at most maxEventQuestion characters.
func eventQuestion(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if utf8.RuneCountInString(q) > maxEventQuestion {
		q = string([]rune(q)[:maxEventQuestion])
	}
	return q
}

// answerOpen reports, as "1" or "0", whether the latest bot answer in
// history (the turns before the current message) is still unsettled: no
// feedback click and no handoff came after it. Analytics counts an
// answer settled by a helpful click as confirmed, one settled by a "not
// helpful" click or a handoff as rejected, and every other answer as
// assumed to have resolved its question.
func answerOpen(history []Turn) string {
	for i := len(history) - 1; i >= 0; i-- {
		h := history[i]
		switch {
		case h.Role == RoleCustomer && h.Action != nil && (h.Action.ID == ActionHelpful || h.Action.ID == ActionNotHelpful):
			return "0"
		case h.Role == RoleBot && h.Kind == KindHandoff:
			return "0"
		case h.Role == RoleBot && h.Kind == KindAnswer:
			return "1"
		}
	}
	return "0"
}

// csatRepeat reports, as "1" or "0", whether the customer already rated
// the current ticket: a satisfaction click in history (the turns before
// the current message) since the last agent turn or handoff.
func csatRepeat(history []Turn) string {
	for i := len(history) - 1; i >= 0; i-- {
		h := history[i]
		switch {
		case h.Role == RoleCustomer && h.Action != nil && h.Action.ID == ActionCSAT:
			return "1"
		case h.Role == RoleAgent, h.Role == RoleBot && h.Kind == KindHandoff:
			return "0"
		}
	}
	return "0"
}
