package conversation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Button action ids of the action dialogue.
const (
	ActionChoose  = "act_choose"  // an enum button; the value is the choice
	ActionConfirm = "act_confirm" // the confirmation's yes
	ActionDecline = "act_decline" // the confirmation's no
	ActionCancel  = "act_cancel"  // stop the action being prepared
)

// EventAction is recorded for every action run, refusal and cancel:
// data "action", "outcome" (ok, not_found, unauthorized, unavailable,
// rate_limited, no_identity, refused, cancelled, declined, gave_up,
// interrupted), "user" (a
// fingerprint of the channel identity), "params" (masked).
const EventAction EventType = "action"

// ActionsConfig configures the engine's actions. Zero values take the
// defaults.
type ActionsConfig struct {
	// Actions are matched in order; their specs must pass Validate.
	Actions []ActionSpec
	// MinScore is how closely a message must resemble an example to start
	// an action (default 0.62).
	MinScore float64
	// PerUser and PerAction bound runs that reach a runner, per customer
	// identity and per action (defaults 10 and 600 per minute). Counts
	// are kept per replica.
	PerUser, PerAction RateLimit
	// MaxInvalid is how many invalid answers to one question end the
	// action (default 3).
	MaxInvalid int
	// Texts override the built-in texts per language.
	Texts map[string]ActionTexts
	// Planner, when set, may propose an action for a message the example
	// phrasings did not route (an LLM with tools).
	Planner ActionPlanner
}

// RateLimit is at most Runs per Per; Runs < 0 turns the limit off.
type RateLimit struct {
	Runs int
	Per  time.Duration
}

func (c ActionsConfig) withDefaults() ActionsConfig {
	if c.MinScore <= 0 {
		c.MinScore = 0.6
	}
	if c.PerUser.Runs == 0 {
		c.PerUser.Runs = 10
	}
	if c.PerUser.Per <= 0 {
		c.PerUser.Per = time.Minute
	}
	if c.PerAction.Runs == 0 {
		c.PerAction.Runs = 600
	}
	if c.PerAction.Per <= 0 {
		c.PerAction.Per = time.Minute
	}
	if c.MaxInvalid <= 0 {
		c.MaxInvalid = 3
	}
	return c
}

// Validate reports the first invalid action (Invalid) and compiles the
// actions' patterns.
func (c *ActionsConfig) Validate() error {
	names := map[string]bool{}
	for i := range c.Actions {
		if err := c.Actions[i].Validate(); err != nil {
			return err
		}
		if names[c.Actions[i].Name] {
			return Errorf(Invalid, "action %q is declared twice", c.Actions[i].Name)
		}
		names[c.Actions[i].Name] = true
	}
	if c.MinScore < 0 || c.MinScore > 1 {
		return Errorf(Invalid, "actions: min score %v must be within 0..1", c.MinScore)
	}
	return nil
}

// actionSet is the engine's compiled actions and rate-limit counters.
type actionSet struct {
	cfg     ActionsConfig
	match   actionMatcher
	mu      sync.Mutex
	windows map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	n     int
}

// newActionSet validates cfg and drops (and reports) invalid actions.
func newActionSet(cfg ActionsConfig) (*actionSet, error) {
	cfg = cfg.withDefaults()
	var errs []error
	valid := cfg.Actions[:0:0]
	for i := range cfg.Actions {
		spec := cfg.Actions[i]
		if err := spec.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		valid = append(valid, spec)
	}
	cfg.Actions = valid
	return &actionSet{cfg: cfg, match: newActionMatcher(valid), windows: map[string]*rateWindow{}}, errors.Join(errs...)
}

func (s *actionSet) spec(name string) *ActionSpec {
	for i := range s.cfg.Actions {
		if s.cfg.Actions[i].Name == name {
			return &s.cfg.Actions[i]
		}
	}
	return nil
}

// allow counts one run for key against l and reports whether it is
// within the limit.
func (s *actionSet) allow(key string, l RateLimit, now time.Time) bool {
	if l.Runs < 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[key]
	if w == nil || now.Sub(w.start) >= l.Per {
		if len(s.windows) > 100_000 {
			for k, old := range s.windows {
				if now.Sub(old.start) >= l.Per {
					delete(s.windows, k)
				}
			}
		}
		w = &rateWindow{start: now}
		s.windows[key] = w
	}
	if w.n >= l.Runs {
		return false
	}
	w.n++
	return true
}

// Actions returns the engine's valid actions (read-only), e.g. to offer
// them to an LLM as tools.
func (e *Engine) Actions() []ActionSpec { return e.actions.cfg.Actions }

// actionLanguage is the conversation's language for the action dialogue:
// Conversation.Language when a detector set it, else the stand-in below.
func (t *turn) actionLanguage() string {
	if t.conv.Language != "" {
		return t.conv.Language
	}
	return detectLanguage(t.conv, t.msg)
}

// detectLanguage is a stand-in until the conversation carries its
// language: the platform locale, else German when the message reads
// German, else English.
func detectLanguage(c *Conversation, m *Message) string {
	if loc := strings.ToLower(c.User.Locale); len(loc) >= 2 {
		return loc[:2]
	}
	de := 0
	for _, w := range strings.Fields(normalizeWords(m.Text)) {
		switch w {
		case "ich", "ist", "mein", "meine", "meinen", "wo", "bitte", "nicht", "und", "der", "die", "das", "bestellung",
			"konto", "entsperren", "zurückschicken", "ja", "nein", "abbrechen", "wie", "mit", "sie", "mir", "status", "rücksendung":
			if w != "status" {
				de++
			}
		}
		if strings.ContainsAny(w, "äöüß") {
			de++
		}
	}
	if de > 0 {
		return "de"
	}
	if p := c.PendingAction; p != nil && p.Lang != "" {
		return p.Lang
	}
	return "en"
}

// actionTurn handles the message when it belongs to an action: it
// continues the action being prepared, or starts one the message asks
// for. It reports whether it handled the turn; false leaves the turn to
// the rest of decide (a person asked for, feedback, knowledge).
func (t *turn) actionTurn(ctx context.Context) (bool, error) {
	as, m, c := t.e.actions, t.msg, t.conv
	p := c.PendingAction
	if a := m.Action; a != nil {
		switch a.ID {
		case ActionChoose, ActionConfirm, ActionDecline, ActionCancel:
			if p == nil {
				// A button of an action that already finished.
				return true, t.stale()
			}
		default:
			if p != nil {
				t.endAction(p, "interrupted", nil)
			}
			return false, nil
		}
	}
	if p != nil {
		spec := as.spec(p.Name)
		if spec == nil {
			c.PendingAction = nil
			return false, nil
		}
		if p.Params == nil { // stored without any value yet
			p.Params = map[string]string{}
		}
		return true, t.continueAction(ctx, spec, p)
	}
	if len(as.cfg.Actions) == 0 || strings.TrimSpace(m.Text) == "" {
		return false, nil
	}
	i, score := as.match.best(m.Text)
	if i < 0 || score < as.cfg.MinScore {
		return t.plan(ctx)
	}
	spec := &as.cfg.Actions[i]
	c.Consulting = nil
	t.setPhase(PhaseBot)
	p = &PendingAction{Name: spec.Name, Params: map[string]string{}, Lang: t.actionLanguage()}
	for i := range spec.Params {
		pp := &spec.Params[i]
		if v, ok := pp.findValue(m.Text); ok {
			p.Params[pp.Name] = v
		}
	}
	c.PendingAction = p
	return true, t.advance(ctx, spec, p)
}

// stale answers a button of an action that is over.
func (t *turn) stale() error {
	t.reply(KindNotice, actionTexts(t.e.actions.cfg.Texts, t.actionLanguage()).Cancelled, nil, nil)
	return nil
}

// continueAction takes the customer's answer to the pending question.
func (t *turn) continueAction(ctx context.Context, spec *ActionSpec, p *PendingAction) error {
	m := t.msg
	lang := t.actionLanguage()
	p.Lang = lang
	tx := actionTexts(t.e.actions.cfg.Texts, lang)
	text := m.Text
	if a := m.Action; a != nil {
		switch a.ID {
		case ActionCancel:
			return t.cancelAction(p, tx)
		case ActionConfirm:
			text = tx.Yes
		case ActionDecline:
			text = tx.No
		case ActionChoose:
			text = a.Value
		}
	}
	if m.Action == nil && says(text, tx.CancelWords) {
		return t.cancelAction(p, tx)
	}
	if m.Action == nil && t.e.texts.AsksForHuman(text) {
		t.endAction(p, "cancelled", nil)
		return t.handOff(ctx, "customer_request")
	}
	if p.Confirming {
		yes := (m.Action != nil && m.Action.ID == ActionConfirm) || (m.Action == nil && says(text, tx.YesWords))
		no := (m.Action != nil && m.Action.ID == ActionDecline) || (m.Action == nil && says(text, tx.NoWords))
		switch {
		case yes && !no:
			p.Confirming = false
			return t.runAction(ctx, spec, p, tx)
		case no:
			t.endAction(p, "declined", nil)
			t.reply(KindNotice, tx.NotDone, nil, nil)
			return nil
		}
		return t.confirm(spec, p, tx, tx.ConfirmAgain)
	}
	pp := spec.param(p.Asking)
	if pp == nil {
		return t.advance(ctx, spec, p)
	}
	v, ok := pp.findValue(text)
	if !ok && pp.Type == ParamString {
		v, ok = pp.ParseValue(text)
	}
	if !ok {
		p.Invalid++
		if p.Invalid >= t.e.actions.cfg.MaxInvalid {
			t.endAction(p, "gave_up", nil)
			t.reply(KindNotSure, tx.GiveUp, nil, []Button{t.humanButton()})
			return nil
		}
		t.askParam(spec, p, pp, tx, tx.invalid(pp, lang)+" "+pick(pp.Ask, lang))
		return nil
	}
	p.Params[pp.Name] = v
	p.Asking, p.Invalid = "", 0
	return t.advance(ctx, spec, p)
}

// advance asks for the next missing parameter, or for confirmation, or
// runs the action.
func (t *turn) advance(ctx context.Context, spec *ActionSpec, p *PendingAction) error {
	tx := actionTexts(t.e.actions.cfg.Texts, p.Lang)
	for i := range spec.Params {
		pp := &spec.Params[i]
		if pp.Type == ParamIdentity {
			// Always the verified channel identity, whatever was typed.
			v := pp.identityValue(t.msg.Channel, t.msg.User)
			if v == "" {
				t.endAction(p, "no_identity", spec)
				t.reply(KindNotSure, tx.NoIdentity, nil, []Button{t.humanButton()})
				return nil
			}
			p.Params[pp.Name] = v
			continue
		}
		if _, ok := p.Params[pp.Name]; ok || pp.Optional {
			continue
		}
		if pp.Type == ParamEmail && pp.FromIdentity && t.msg.User.Email != "" {
			if v, ok := pp.ParseValue(t.msg.User.Email); ok {
				p.Params[pp.Name] = v
				continue
			}
		}
		t.askParam(spec, p, pp, tx, pick(pp.Ask, p.Lang))
		return nil
	}
	if spec.SideEffect {
		return t.confirm(spec, p, tx, "")
	}
	return t.runAction(ctx, spec, p, tx)
}

// askParam asks for pp as a consulting question, with buttons for an
// enum's choices, cancel and a person.
func (t *turn) askParam(spec *ActionSpec, p *PendingAction, pp *ActionParam, tx ActionTexts, question string) {
	p.Asking = pp.Name
	var buttons []Button
	for _, ch := range pp.Choices {
		label := pick(ch.Label, p.Lang)
		if label == "" {
			label = ch.Value
		}
		buttons = append(buttons, Button{Action: Action{ID: ActionChoose, Value: ch.Value}, Label: label})
	}
	buttons = append(buttons, Button{Action: Action{ID: ActionCancel}, Label: tx.Cancel}, t.humanButton())
	t.event(EventConsulting, "kind", "action", "flow", spec.Name, "param", pp.Name)
	t.reply(KindConsulting, strings.TrimSpace(question), nil, buttons)
}

// confirm asks whether to run a side-effecting action.
func (t *turn) confirm(spec *ActionSpec, p *PendingAction, tx ActionTexts, prefix string) error {
	p.Confirming = true
	q := fillTemplate(pick(spec.Confirm, p.Lang), p.Params)
	if prefix != "" {
		q = prefix + " " + q
	}
	t.event(EventConsulting, "kind", "action_confirm", "flow", spec.Name)
	t.reply(KindConsulting, q, nil, []Button{
		{Action: Action{ID: ActionConfirm}, Label: tx.Yes},
		{Action: Action{ID: ActionDecline}, Label: tx.No},
		t.humanButton(),
	})
	return nil
}

func (t *turn) cancelAction(p *PendingAction, tx ActionTexts) error {
	t.endAction(p, "cancelled", nil)
	t.reply(KindNotice, tx.Cancelled, nil, nil)
	return nil
}

// endAction closes the pending action with outcome: an event and an
// entry in the conversation's action log. key is the idempotency key of
// a run that reached the runner.
func (t *turn) endAction(p *PendingAction, outcome string, spec *ActionSpec, key ...string) {
	if spec == nil {
		spec = t.e.actions.spec(p.Name)
	}
	masked := maskParams(spec, p.Params)
	run := ActionRun{Action: p.Name, Params: masked, Outcome: outcome, At: t.now}
	if len(key) > 0 {
		run.Key = key[0]
	}
	c := t.conv
	c.ActionLog = append(c.ActionLog, run)
	if len(c.ActionLog) > maxActionLog {
		c.ActionLog = slices.Clone(c.ActionLog[len(c.ActionLog)-maxActionLog:])
	}
	c.PendingAction = nil
	t.event(EventAction, "action", p.Name, "outcome", outcome, "user", fingerprint(string(t.msg.Channel)+":"+t.msg.User.ID), "params", masked)
}

// maskParams renders params as "name=masked …" in the spec's order.
func maskParams(spec *ActionSpec, params map[string]string) string {
	if spec == nil {
		return ""
	}
	var parts []string
	for _, pp := range spec.Params {
		if v, ok := params[pp.Name]; ok {
			parts = append(parts, pp.Name+"="+MaskValue(pp.Type, v))
		}
	}
	return strings.Join(parts, " ")
}

// runAction runs the action with every parameter validated, under the
// rate limits, and answers with the result or the mapped error.
func (t *turn) runAction(ctx context.Context, spec *ActionSpec, p *PendingAction, tx ActionTexts) error {
	as := t.e.actions
	who := string(t.msg.Channel) + ":" + t.msg.User.ID
	if !as.allow("u\x00"+who, as.cfg.PerUser, t.now) || !as.allow("a\x00"+spec.Name, as.cfg.PerAction, t.now) {
		t.endAction(p, "rate_limited", spec)
		t.reply(KindNotSure, tx.RateLimited, nil, []Button{t.humanButton()})
		return nil
	}
	if spec.builtin != "" {
		return t.runBuiltin(ctx, spec, p, tx)
	}
	call := ActionCall{
		Action:         spec.Name,
		Params:         p.Params,
		IdempotencyKey: IdempotencyKey(t.conv.Key, t.msg.DedupeKey, spec.Name),
		User:           t.msg.User,
		Channel:        t.msg.Channel,
		Language:       p.Lang,
	}
	res, err := spec.Runner.Run(ctx, call)
	if ctx.Err() != nil {
		// The turn is over (lease lost, shutdown): nothing is committed and
		// the retried message runs again with the same idempotency key.
		return ctx.Err()
	}
	if err != nil {
		return t.actionFailed(spec, p, tx, call.IdempotencyKey, err)
	}
	source := spec.Source
	if source == "" {
		source = spec.Name
	}
	text := fillTemplate(pick(spec.Result, p.Lang), res.Fields, p.Params)
	t.endAction(p, "ok", spec, call.IdempotencyKey)
	t.event(EventAnswered, "source", "action:"+spec.Name)
	t.reply(KindAnswer, text, []Citation{{Title: source, Source: "action:" + spec.Name, URL: safeURL(res.URL)}}, []Button{t.humanButton()})
	return nil
}

// actionFailed maps a runner's error to what the customer hears.
func (t *turn) actionFailed(spec *ActionSpec, p *PendingAction, tx ActionTexts, key string, err error) error {
	code := ErrorCode(err)
	t.e.cfg.Logger.Warn("action failed", "conversation", t.conv.Key, "action", spec.Name, "code", code, "err", err)
	switch code {
	case NotFound:
		msg := fillTemplate(pick(spec.NotFound, p.Lang), p.Params)
		if msg == "" {
			msg = tx.NotFound
		}
		t.endAction(p, "not_found", spec, key)
		t.reply(KindNotSure, msg, nil, []Button{t.humanButton()})
	case Unauthorized:
		t.endAction(p, "unauthorized", spec, key)
		t.reply(KindNotSure, tx.CantCheck, nil, []Button{t.humanButton()})
	default:
		t.endAction(p, "unavailable", spec, key)
		t.reply(KindNotSure, tx.Unavailable, nil, []Button{t.humanButton()})
	}
	return nil
}

// safeURL keeps only http(s) links without spaces or control characters.
func safeURL(u string) string {
	if (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) && len(u) <= 2048 && !strings.ContainsAny(u, " \t\r\n<>\"") {
		return u
	}
	return ""
}

// Built-in actions.
const (
	builtinTicketStatus = "ticket_status"
	builtinHuman        = "human"
)

// TicketStatusAction is the built-in "status of my ticket" action: it
// reads the ticket of the asking customer's own conversation from the
// store; a ticket number that is not theirs gets the same answer as no
// ticket.
func TicketStatusAction() ActionSpec {
	return ActionSpec{
		Name:    "ticket_status",
		builtin: builtinTicketStatus,
		Description: map[string]string{
			"en": "Tell the status of the customer's own support ticket.",
			"de": "Den Stand des eigenen Support-Tickets nennen.",
		},
		Examples: map[string][]string{
			"en": {"what is the status of my ticket", "ticket status", "any news on my ticket", "has my ticket been answered"},
			"de": {"wie ist der Stand meines Tickets", "Ticketstatus", "Status meines Tickets", "gibt es Neuigkeiten zu meinem Ticket"},
		},
		Source: "tier0 tickets",
	}
}

// HumanAction is the built-in "talk to a person" action: examples of
// asking for a person beyond the keywords in Texts.HumanKeywords.
func HumanAction() ActionSpec {
	return ActionSpec{
		Name:    "talk_to_person",
		builtin: builtinHuman,
		Description: map[string]string{
			"en": "Pass the conversation to a person from the support team.",
			"de": "Das Gespräch an eine Person aus dem Support-Team übergeben.",
		},
		Examples: map[string][]string{
			"en": {"I want to talk to a person", "connect me with support staff", "can a human help me", "let me speak with someone from the team"},
			"de": {"ich möchte mit einem Menschen sprechen", "verbinden Sie mich mit dem Support", "kann mir ein Mitarbeiter helfen", "ich will mit jemandem vom Team reden"},
		},
	}
}

func (t *turn) runBuiltin(ctx context.Context, spec *ActionSpec, p *PendingAction, tx ActionTexts) error {
	switch spec.builtin {
	case builtinHuman:
		t.endAction(p, "ok", spec)
		return t.handOff(ctx, "customer_request")
	case builtinTicketStatus:
		ts := t.conv.TicketState
		id := t.conv.Ticket
		if id == "" || ts == nil {
			// A ticket the same customer opened in another conversation of
			// this channel (a new Slack thread, a new web chat tab).
			if own, err := t.ownOpenTicket(ctx); err == nil && own != nil {
				id, ts = own.Ticket.ID, &own.Ticket
			} else if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if id == "" || ts == nil {
			t.endAction(p, "not_found", spec)
			t.reply(KindNotice, tx.NoTicket, nil, []Button{t.humanButton()})
			return nil
		}
		t.endAction(p, "ok", spec)
		t.event(EventAnswered, "source", "action:"+spec.Name)
		text := fillTemplate(tx.TicketStatus, map[string]string{"ticket": id, "status": ticketStatusWord(ts.Status, p.Lang), "team": ts.Team})
		t.reply(KindAnswer, text, []Citation{{Title: spec.Source, Source: "action:" + spec.Name}}, []Button{t.humanButton()})
		return nil
	}
	return Errorf(Internal, "unknown built-in action %q", spec.builtin)
}

// ticketStatusWord is a ticket status as the customer reads it.
func ticketStatusWord(status, lang string) string {
	words := map[string]map[string]string{
		TicketOpen:       {"en": "open", "de": "offen"},
		TicketInProgress: {"en": "being worked on", "de": "in Bearbeitung"},
		TicketResolved:   {"en": "resolved", "de": "gelöst"},
	}
	if w := pick(words[status], lang); w != "" {
		return w
	}
	return status
}

// MatchAction returns the action text would start and its score, or ""
// when none reaches the configured MinScore (for evaluation and tools).
func (e *Engine) MatchAction(text string) (string, float64) {
	i, score := e.actions.match.best(text)
	if i < 0 || score < e.actions.cfg.MinScore {
		return "", score
	}
	return e.actions.cfg.Actions[i].Name, score
}

// plan asks the planner, if any, for an action for the message.
func (t *turn) plan(ctx context.Context) (bool, error) {
	as := t.e.actions
	if as.cfg.Planner == nil {
		return false, nil
	}
	prop, err := as.cfg.Planner.Plan(ctx, PlanRequest{Text: t.msg.Text, Language: t.actionLanguage(), History: t.conv.History, Actions: as.cfg.Actions})
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	if err != nil {
		t.e.cfg.Logger.Warn("action planner failed", "conversation", t.conv.Key, "err", err)
		return false, nil
	}
	spec := as.spec(prop.Action)
	if spec == nil {
		return false, nil
	}
	return true, t.proposed(ctx, spec, prop)
}

// ownOpenTicket returns the newest open ticket in the queue whose
// customer is the asker (same channel and platform user id), or nil.
func (t *turn) ownOpenTicket(ctx context.Context) (*TicketSummary, error) {
	if t.msg.User.ID == "" {
		return nil, nil
	}
	list, err := t.e.store.Tickets(ctx, TicketQuery{Limit: MaxReadLimit})
	if err != nil {
		return nil, err
	}
	var best *TicketSummary
	for i := range list {
		s := &list[i]
		if s.Channel == t.msg.Channel && s.User.ID == t.msg.User.ID && (best == nil || s.UpdatedAt.After(best.UpdatedAt)) {
			best = s
		}
	}
	return best, nil
}
