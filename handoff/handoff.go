// Package handoff opens tickets when the bot hands a thread to a human and
// prepares what the staff channel is told.
//
// This is the first, minimal desk: human-friendly ticket ids from a store
// sequence, one team, a default priority, and an optional staff channel
// that receives a handoff card and the customer's later messages. Routing
// rules, SLA clocks and the agent console build on it.
package handoff

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Sequencer hands out increasing numbers; conversation.Store satisfies it.
type Sequencer interface {
	NextSequence(ctx context.Context, name string) (uint64, error)
}

// Config configures a Desk.
type Config struct {
	// TicketPrefix starts every ticket id, e.g. "IT" gives "IT-1001".
	TicketPrefix string
	// FirstNumber is added to the sequence so ids look settled (default 1000).
	FirstNumber uint64
	Team        string // team that receives tickets (default "Support")
	Priority    string // default priority, P1..P4 (default "P3")
	// StaffChannel, when set, receives a handoff card for every new ticket
	// and the customer's messages while the ticket is open; StaffThread is
	// where in that channel (a channel id, a group id).
	StaffChannel conversation.Channel
	StaffThread  string
	// TranscriptTurns is how many recent turns the handoff card quotes (default 10).
	TranscriptTurns int
	// Priorities and Routes decide a ticket's priority and team from the
	// conversation; without rules, Priority and Team apply.
	Priorities Priorities
	Routes     Routes
	// Now is the clock for business hours (default time.Now).
	Now func() time.Time
	// Profiles, when set, looks the customer up: the tier feeds the
	// priority rules and the profile goes on the handoff card.
	Profiles Profiles
	// SLA sets a ticket's clocks by priority ("P1".."P4"); a priority
	// without an entry has none.
	SLA map[string]SLA
}

// SLA is the service level of one priority.
type SLA struct {
	FirstResponse time.Duration // from handoff to the first agent reply
	Resolution    time.Duration // from handoff to resolved
}

var (
	prefixRE   = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,9}$`)
	priorityRE = regexp.MustCompile(`^P[1-4]$`)
)

// Validate reports the first invalid field as an Invalid error.
func (c Config) Validate() error {
	if !prefixRE.MatchString(c.TicketPrefix) {
		return conversation.Errorf(conversation.Invalid, "handoff: ticket prefix %q must be 1-10 upper-case letters or digits, starting with a letter", c.TicketPrefix)
	}
	if c.Priority != "" && !priorityRE.MatchString(c.Priority) {
		return conversation.Errorf(conversation.Invalid, "handoff: priority %q must be one of P1, P2, P3, P4", c.Priority)
	}
	for p, sla := range c.SLA {
		if !priorityRE.MatchString(p) || sla.FirstResponse < 0 || sla.Resolution < 0 {
			return conversation.Errorf(conversation.Invalid, "handoff: SLA %q: want a priority P1..P4 with durations of zero or more", p)
		}
	}
	if len(c.Priorities.Rules) > 0 {
		if err := c.Priorities.Validate(); err != nil {
			return err
		}
	}
	if len(c.Routes.Rules) > 0 {
		return c.Routes.Validate()
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.TicketPrefix == "" {
		c.TicketPrefix = "T"
	}
	if c.FirstNumber == 0 {
		c.FirstNumber = 1000
	}
	if c.Team == "" {
		c.Team = "Support"
	}
	if c.Priority == "" {
		c.Priority = "P3"
	}
	if c.TranscriptTurns <= 0 {
		c.TranscriptTurns = 10
	}
	if c.Priorities.Default == "" {
		c.Priorities.Default = c.Priority
	}
	if c.Routes.DefaultTeam == "" {
		c.Routes.DefaultTeam = c.Team
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Desk implements conversation.Handoff.
type Desk struct {
	seq Sequencer
	cfg Config
}

var _ conversation.Handoff = (*Desk)(nil)

// NewDesk returns a desk that numbers tickets with seq. Errors: Invalid
// when cfg does not validate.
func NewDesk(seq Sequencer, cfg Config) (*Desk, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Desk{seq: seq, cfg: cfg}, nil
}

// Open numbers a new ticket and returns the handoff card for the staff
// channel (none when no staff channel is configured). Errors: those of the
// Sequencer (Unavailable).
func (d *Desk) Open(ctx context.Context, r conversation.HandoffRequest) (conversation.Ticket, []conversation.Outbound, error) {
	n, err := d.seq.NextSequence(ctx, "ticket:"+d.cfg.TicketPrefix)
	if err != nil {
		return conversation.Ticket{}, nil, fmt.Errorf("number ticket: %w", err)
	}
	in := routingInput(r.Conversation)
	var profile string
	if d.cfg.Profiles != nil {
		p, err := d.cfg.Profiles.Profile(ctx, r.Conversation.Channel, r.Conversation.User)
		if err != nil {
			profile = "Customer: profile unavailable (" + conversation.ErrorMessage(err) + ")\n"
		} else {
			in.CustomerTier, profile = p.Tier, profileLines(p)
		}
	}
	priority, _ := d.cfg.Priorities.Decide(in)
	team, _, _ := d.cfg.Routes.Decide(in, d.cfg.Now())
	t := conversation.Ticket{
		ID:       fmt.Sprintf("%s-%d", d.cfg.TicketPrefix, d.cfg.FirstNumber+n),
		Status:   conversation.TicketOpen,
		Priority: priority,
		Team:     team,
	}
	if sla, ok := d.cfg.SLA[priority]; ok {
		now := d.cfg.Now()
		if sla.FirstResponse > 0 {
			t.FirstResponseDue = now.Add(sla.FirstResponse)
		}
		if sla.Resolution > 0 {
			t.ResolveDue = now.Add(sla.Resolution)
		}
	}
	if d.cfg.StaffChannel == "" {
		return t, nil, nil
	}
	card := Card(t, r, d.cfg.TranscriptTurns)
	if profile != "" { // after the two header lines
		head, rest, _ := strings.Cut(card, "\n")
		reason, rest, _ := strings.Cut(rest, "\n")
		card = head + "\n" + reason + "\n" + profile + rest
	}
	return t, []conversation.Outbound{d.toStaff(conversation.KindHandoff, card)}, nil
}

// Escalate passes the ticket to the next level of its team's chain
// (routes' escalate_to); unchanged when the chain ends there.
func (d *Desk) Escalate(_ context.Context, t conversation.Ticket) (conversation.Ticket, error) {
	if next, ok := Escalate(t.Team, d.cfg.Routes); ok {
		t.Team = next
	}
	return t, nil
}

// routingInput is what the rules see of a conversation: its channel, the
// customer's language, their recent words and the latest sentiment.
func routingInput(c *conversation.Conversation) RoutingInput {
	// The conversation's language; the platform locale when it says the
	// same language more precisely ("de-AT"), for regional rules.
	lang := c.Language
	if lang == "" || conversation.BaseLanguage(c.User.Locale) == lang {
		lang = c.User.Locale
	}
	in := RoutingInput{Channel: c.Channel, Language: lang}
	var words []string
	for i := len(c.History) - 1; i >= 0 && len(words) < 5; i-- {
		tn := c.History[i]
		if tn.Role != conversation.RoleCustomer {
			continue
		}
		if tn.Text != "" {
			words = append(words, tn.Text)
		}
		if in.Sentiment == 0 {
			in.Sentiment = tn.Sentiment
		}
	}
	for _, sl := range c.Slots {
		words = append(words, sl.Answer)
	}
	in.Text = strings.Join(words, "\n")
	return in
}

// Relay returns the customer's message for the staff channel, or nothing
// when no staff channel is configured.
func (d *Desk) Relay(_ context.Context, c *conversation.Conversation, m *conversation.Message) ([]conversation.Outbound, error) {
	if d.cfg.StaffChannel == "" {
		return nil, nil
	}
	text := m.Text
	if text == "" && m.Action != nil {
		text = "[clicked " + m.Action.ID + "]"
	}
	return []conversation.Outbound{d.toStaff(conversation.KindStaff, fmt.Sprintf("%s (%s): %s", c.Ticket, name(c.User), text))}, nil
}

func (d *Desk) toStaff(kind conversation.OutboundKind, text string) conversation.Outbound {
	return conversation.Outbound{Channel: d.cfg.StaffChannel, ThreadKey: d.cfg.StaffThread, Kind: kind, Text: text}
}

func name(u conversation.Identity) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.ID
}

// Card renders the plain-text handoff card: ticket, reason, customer and
// the last turns of the transcript with the sources the bot cited.
func Card(t conversation.Ticket, r conversation.HandoffRequest, turns int) string {
	c := r.Conversation
	var b strings.Builder
	fmt.Fprintf(&b, "New ticket %s (%s, %s) for %s\n", t.ID, t.Priority, t.Team, name(c.User))
	fmt.Fprintf(&b, "Reason: %s · Channel: %s · Conversation: %s\n", r.Reason, c.Channel, c.Key)
	if c.Language != "" {
		fmt.Fprintf(&b, "Language: %s (write to the customer in it; replies are not translated)\n", conversation.LanguageName(c.Language))
	}
	if c.User.Phone != "" {
		fmt.Fprintf(&b, "Phone: %s\n", c.User.Phone)
	}
	var moods []float64
	for _, tn := range c.History {
		if tn.Role == conversation.RoleCustomer && tn.Sentiment != 0 {
			moods = append(moods, tn.Sentiment)
		}
	}
	if len(moods) > 0 {
		fmt.Fprintf(&b, "Sentiment: trend %+.2f, last %+.2f\n", Trend(moods), moods[len(moods)-1])
	}
	if len(c.Slots) > 0 {
		b.WriteString("Consulting:\n")
		for _, sl := range c.Slots {
			fmt.Fprintf(&b, "  Q: %s\n  A: %s\n", sl.Question, sl.Answer)
		}
	}
	if len(c.ActionLog) > 0 {
		b.WriteString("Actions:\n")
		for _, run := range c.ActionLog {
			fmt.Fprintf(&b, "  %s %s\n", run.At.UTC().Format("15:04"), run)
		}
	}
	h := c.History
	if len(h) > turns {
		h = h[len(h)-turns:]
	}
	b.WriteString("Transcript:\n")
	for _, tn := range h {
		text := tn.Text
		if text == "" && tn.Action != nil {
			text = "[clicked " + tn.Action.ID + "]"
		}
		fmt.Fprintf(&b, "  %s: %s\n", tn.Role, text)
		for _, ci := range tn.Citations {
			fmt.Fprintf(&b, "    cited: %s (%s)\n", ci.Title, ci.Source)
		}
	}
	return b.String()
}
