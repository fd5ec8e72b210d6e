package handoff

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // business hours must resolve IANA zones on hosts without a zoneinfo database
	"unicode"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/textproc"
)

// Defaults and bounds of the routing configuration. The bounds keep a
// hostile or mistaken config (and a hostile message) from making a single
// decision expensive.
const (
	// DefaultPriority is used when no priority rule matches and
	// Priorities.Default is empty.
	DefaultPriority = "P3"
	// DefaultTeam receives tickets when no route matches and
	// Routes.DefaultTeam is empty; it equals the Desk's default team.
	DefaultTeam = "Support"

	// MaxRoutingRules bounds Priorities.Rules and Routes.Rules.
	MaxRoutingRules = 500
	// MaxRuleValues bounds every list inside one rule (keywords, tiers,
	// categories, languages, channels, days).
	MaxRuleValues = 200
	// MaxRuleValueLen bounds every name and keyword in bytes.
	MaxRuleValueLen = 100
	// MaxScannedText is how many leading bytes of RoutingInput.Text the
	// keyword rules read; the rest of a longer message is ignored.
	MaxScannedText = 16 << 10
)

// RoutingInput is what the priority and route rules look at. The lead
// fills it from the conversation, the classifier and the customer profile.
type RoutingInput struct {
	Category     string               // topic the bot classified, e.g. "network"
	Language     string               // BCP 47 tag of the customer, e.g. "de" or "de-AT"
	Channel      conversation.Channel // the customer's channel
	Text         string               // the customer's words, read by keyword rules
	Sentiment    float64              // -1 (very negative) .. +1 (very positive)
	CustomerTier string               // from the customer profile, e.g. "gold"
}

// PriorityRule assigns Priority to tickets whose input meets every
// condition the rule sets (at least one must be set):
//
//   - Keywords: any keyword occurs in Text as whole words, case-insensitive.
//     A keyword may be a phrase ("geht nicht"); punctuation, hyphens and
//     spaces all separate words, so "outage" matches "VPN outage!" and
//     "outage-report" but not "outages-report" — there is no stemming,
//     list inflections ("outage", "outages") explicitly.
//   - MinNegativeSentiment: the sentiment score is <= this value, which
//     lies in [-1, 0); 0 leaves the condition unused.
//   - CustomerTiers: the customer's tier is one of these (case-insensitive).
type PriorityRule struct {
	Keywords             []string
	MinNegativeSentiment float64
	CustomerTiers        []string
	Priority             string // P1 (most urgent) .. P4
}

// Priorities decides a ticket's priority from rules; see Decide.
type Priorities struct {
	Rules   []PriorityRule
	Default string // priority when no rule matches (default DefaultPriority)
}

// Validate reports the first invalid rule or field as an Invalid error.
func (p Priorities) Validate() error {
	if p.Default != "" && !priorityRE.MatchString(p.Default) {
		return conversation.Errorf(conversation.Invalid, "handoff: default priority %q must be one of P1, P2, P3, P4", p.Default)
	}
	if len(p.Rules) > MaxRoutingRules {
		return conversation.Errorf(conversation.Invalid, "handoff: %d priority rules, at most %d allowed", len(p.Rules), MaxRoutingRules)
	}
	for i, r := range p.Rules {
		if err := r.validate(); err != nil {
			return conversation.Errorf(conversation.Invalid, "handoff: priority rule %d: %w", i+1, err)
		}
	}
	return nil
}

func (r PriorityRule) validate() error {
	if !priorityRE.MatchString(r.Priority) {
		return fmt.Errorf("priority %q must be one of P1, P2, P3, P4", r.Priority)
	}
	if len(r.Keywords) == 0 && r.MinNegativeSentiment == 0 && len(r.CustomerTiers) == 0 {
		return fmt.Errorf("needs at least one condition (keywords, min negative sentiment or customer tiers)")
	}
	if err := checkRuleNames("keyword", r.Keywords); err != nil {
		return err
	}
	for _, k := range r.Keywords {
		if len(textproc.Words(k, false)) == 0 {
			return fmt.Errorf("keyword %q has no letters or digits", k)
		}
	}
	if s := r.MinNegativeSentiment; math.IsNaN(s) || s < -1 || s > 0 {
		return fmt.Errorf("min negative sentiment %v must lie in [-1, 0) (0 = unused)", s)
	}
	return checkRuleNames("customer tier", r.CustomerTiers)
}

// Decide returns the priority for in and a short reason for logs and the
// handoff card. Among all matching rules the most urgent priority wins
// (P1 before P4); between rules of equal priority the first listed one
// gives the reason. Without a match it returns Default (or
// DefaultPriority). Decide expects a validated config; rules that do not
// validate never match.
func (p Priorities) Decide(in RoutingInput) (priority string, reason string) {
	text := textproc.NewMatcher(cutUTF8(in.Text, MaxScannedText))
	best := -1
	for i, r := range p.Rules {
		if r.validate() != nil || best >= 0 && r.Priority >= p.Rules[best].Priority {
			continue // "P1" < "P2" < ... as strings, so a later equal rule never replaces an earlier one
		}
		if why, ok := r.match(in, text); ok {
			best, reason = i, fmt.Sprintf("priority rule %d (%s): %s", i+1, r.Priority, why)
		}
	}
	if best >= 0 {
		return p.Rules[best].Priority, reason
	}
	def := p.Default
	if def == "" {
		def = DefaultPriority
	}
	return def, "no priority rule matched: default " + def
}

// match reports whether every condition of r holds, and which ones.
func (r PriorityRule) match(in RoutingInput, text *textproc.Matcher) (string, bool) {
	var why []string
	if len(r.Keywords) > 0 {
		k, ok := findKeyword(text, r.Keywords)
		if !ok {
			return "", false
		}
		why = append(why, fmt.Sprintf("keyword %q", k))
	}
	if r.MinNegativeSentiment != 0 {
		if !(in.Sentiment <= r.MinNegativeSentiment) { // NaN never matches
			return "", false
		}
		why = append(why, fmt.Sprintf("sentiment %.2f <= %.2f", in.Sentiment, r.MinNegativeSentiment))
	}
	if len(r.CustomerTiers) > 0 {
		if !hasFold(r.CustomerTiers, in.CustomerTier) {
			return "", false
		}
		why = append(why, fmt.Sprintf("tier %q", strings.TrimSpace(in.CustomerTier)))
	}
	return strings.Join(why, ", "), true
}

// findKeyword returns the first keyword that occurs in text: its words
// consecutively, umlauts folded, German inflections and compounds
// included ("ausfall" matches "Stromausfall"; see textproc.Matcher).
func findKeyword(text *textproc.Matcher, keywords []string) (string, bool) {
	for _, k := range keywords {
		if text.Contains(k) {
			return k, true
		}
	}
	return "", false
}

// cutUTF8 cuts s to at most n bytes without splitting a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RouteRule sends tickets to Team when the input matches every list the
// rule sets; an empty list matches anything.
//
//   - Categories compare case-insensitively.
//   - Languages compare by BCP 47 prefix: "de" matches "de", "de-AT" and
//     "de-CH"; "de-AT" matches only "de-AT".
//   - Channels compare exactly.
type RouteRule struct {
	Categories []string
	Languages  []string
	Channels   []conversation.Channel
	Team       string // first-level team that receives the ticket
	// EscalateTo is the second-level team Escalate moves the ticket to.
	// Every rule naming the same Team must agree on it.
	EscalateTo string
	// BusinessHours, when set, are the Team's working hours; outside them
	// the ticket goes to BusinessHours.OutOfHoursTeam if that is set.
	BusinessHours *BusinessHours
}

// BusinessHours is a weekly working window in one time zone. The window
// is [Start, End) on each of Days in local time, so DST is handled by the
// zone. Windows across midnight are not supported.
type BusinessHours struct {
	TimeZone       string         // IANA zone, e.g. "Europe/Berlin" (default "UTC")
	Days           []time.Weekday // working days (default Monday to Friday)
	Start, End     string         // "HH:MM", 24-hour, Start < End; End may be "24:00"
	OutOfHoursTeam string         // team that takes tickets outside the window
}

// Validate reports an invalid zone, day or window as an Invalid error.
func (b BusinessHours) Validate() error {
	if _, err := b.location(); err != nil {
		return conversation.Errorf(conversation.Invalid, "handoff: business hours: time zone %q: %w", b.TimeZone, err)
	}
	if len(b.Days) > MaxRuleValues {
		return conversation.Errorf(conversation.Invalid, "handoff: business hours: %d days listed, at most %d allowed", len(b.Days), MaxRuleValues)
	}
	for _, d := range b.Days {
		if d < time.Sunday || d > time.Saturday {
			return conversation.Errorf(conversation.Invalid, "handoff: business hours: unknown weekday %d (0 = Sunday .. 6 = Saturday)", int(d))
		}
	}
	start, err := clockMinutes(b.Start)
	if err != nil {
		return conversation.Errorf(conversation.Invalid, "handoff: business hours: start: %w", err)
	}
	end, err := clockMinutes(b.End)
	if err != nil {
		return conversation.Errorf(conversation.Invalid, "handoff: business hours: end: %w", err)
	}
	if start >= end {
		return conversation.Errorf(conversation.Invalid, "handoff: business hours: start %s must be before end %s", b.Start, b.End)
	}
	return checkRuleName("out-of-hours team", b.OutOfHoursTeam, true)
}

func (b BusinessHours) location() (*time.Location, error) {
	if b.TimeZone == "" {
		return time.UTC, nil
	}
	if len(b.TimeZone) > MaxRuleValueLen {
		return nil, fmt.Errorf("longer than %d bytes", MaxRuleValueLen)
	}
	return time.LoadLocation(b.TimeZone)
}

// Open reports whether now falls inside the window. It expects validated
// hours; hours that do not validate count as open, so a broken config
// never diverts tickets.
func (b BusinessHours) Open(now time.Time) bool {
	if b.Validate() != nil {
		return true
	}
	loc, _ := b.location()
	local := now.In(loc)
	days := b.Days
	if len(days) == 0 {
		days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	if !slices.Contains(days, local.Weekday()) {
		return false
	}
	start, _ := clockMinutes(b.Start)
	end, _ := clockMinutes(b.End)
	m := local.Hour()*60 + local.Minute()
	return start <= m && m < end
}

// clockMinutes parses "HH:MM" (00:00 .. 24:00) into minutes after midnight.
func clockMinutes(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	digits := func(p string) bool { return len(p) == 2 && '0' <= p[0] && p[0] <= '9' && '0' <= p[1] && p[1] <= '9' }
	if !ok || !digits(h) || !digits(m) {
		return 0, fmt.Errorf("%q must look like 08:30", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q is not a time between 00:00 and 24:00", s)
	}
	return hh*60 + mm, nil
}

// Routes decides which team receives a ticket; see Decide.
type Routes struct {
	Rules       []RouteRule
	DefaultTeam string // team when no rule matches (default DefaultTeam)
}

// Validate reports the first invalid rule or field as an Invalid error,
// including teams whose rules disagree on EscalateTo and escalation
// chains that loop.
func (r Routes) Validate() error {
	if err := checkRuleName("default team", r.DefaultTeam, true); err != nil {
		return conversation.Errorf(conversation.Invalid, "handoff: routes: %w", err)
	}
	if len(r.Rules) > MaxRoutingRules {
		return conversation.Errorf(conversation.Invalid, "handoff: %d route rules, at most %d allowed", len(r.Rules), MaxRoutingRules)
	}
	next := map[string]string{}
	for i, rule := range r.Rules {
		if err := rule.validate(); err != nil {
			return conversation.Errorf(conversation.Invalid, "handoff: route rule %d: %w", i+1, err)
		}
		if rule.EscalateTo == "" {
			continue
		}
		if prev, ok := next[rule.Team]; ok && prev != rule.EscalateTo {
			return conversation.Errorf(conversation.Invalid, "handoff: route rule %d: team %q escalates to %q here but to %q in an earlier rule", i+1, rule.Team, rule.EscalateTo, prev)
		}
		next[rule.Team] = rule.EscalateTo
	}
	for team := range next {
		seen := map[string]bool{team: true}
		for t, ok := next[team]; ok; t, ok = next[t] {
			if seen[t] {
				return conversation.Errorf(conversation.Invalid, "handoff: routes: escalation from team %q loops back to %q", team, t)
			}
			seen[t] = true
		}
	}
	return nil
}

func (r RouteRule) validate() error {
	if err := checkRuleName("team", r.Team, false); err != nil {
		return err
	}
	if err := checkRuleName("escalate-to team", r.EscalateTo, true); err != nil {
		return err
	}
	if r.EscalateTo == r.Team {
		return fmt.Errorf("team %q cannot escalate to itself", r.Team)
	}
	if err := checkRuleNames("category", r.Categories); err != nil {
		return err
	}
	if err := checkRuleNames("language", r.Languages); err != nil {
		return err
	}
	channels := make([]string, len(r.Channels))
	for i, c := range r.Channels {
		channels[i] = string(c)
	}
	if err := checkRuleNames("channel", channels); err != nil {
		return err
	}
	if r.BusinessHours != nil {
		return r.BusinessHours.Validate()
	}
	return nil
}

// Decide returns the team for in at time now, the team it escalates to
// ("" if none) and a short reason. The first rule that matches wins;
// outside that rule's business hours its OutOfHoursTeam takes the ticket
// if set. Without a match it returns DefaultTeam (or the package
// DefaultTeam). Decide expects a validated config; rules that do not
// validate never match.
func (r Routes) Decide(in RoutingInput, now time.Time) (team string, escalateTo string, reason string) {
	for i, rule := range r.Rules {
		if rule.validate() != nil || !rule.matches(in) {
			continue
		}
		team, reason = rule.Team, fmt.Sprintf("route rule %d: %s", i+1, rule.Team)
		if bh := rule.BusinessHours; bh != nil && bh.OutOfHoursTeam != "" && !bh.Open(now) {
			team = bh.OutOfHoursTeam
			reason = fmt.Sprintf("route rule %d: outside %s business hours: %s", i+1, rule.Team, team)
		}
		escalateTo, _ = Escalate(team, r)
		return team, escalateTo, reason
	}
	team = r.DefaultTeam
	if team == "" {
		team = DefaultTeam
	}
	escalateTo, _ = Escalate(team, r)
	return team, escalateTo, "no route rule matched: default team " + team
}

func (r RouteRule) matches(in RoutingInput) bool {
	if len(r.Categories) > 0 && !hasFold(r.Categories, in.Category) {
		return false
	}
	if len(r.Languages) > 0 && !slices.ContainsFunc(r.Languages, func(l string) bool { return languageMatches(l, in.Language) }) {
		return false
	}
	return len(r.Channels) == 0 || slices.Contains(r.Channels, in.Channel)
}

// languageMatches reports whether tag equals rule or extends it by
// further subtags ("de" covers "de-AT"; "_" counts as "-").
func languageMatches(rule, tag string) bool {
	rule = strings.ReplaceAll(strings.TrimSpace(rule), "_", "-")
	tag = strings.ReplaceAll(strings.TrimSpace(tag), "_", "-")
	if len(tag) > len(rule) && tag[len(rule)] == '-' {
		tag = tag[:len(rule)]
	}
	return rule != "" && strings.EqualFold(rule, tag)
}

// Escalate returns the team a ticket owned by current moves to: the
// EscalateTo of the rules whose Team is current. ok is false when current
// is unknown or has nowhere to escalate. Team names compare exactly.
func Escalate(current string, routes Routes) (next string, ok bool) {
	for _, rule := range routes.Rules {
		if rule.Team == current && rule.EscalateTo != "" {
			return rule.EscalateTo, true
		}
	}
	return "", false
}

// hasFold reports whether list holds v, ignoring case and
// surrounding space.
func hasFold(list []string, v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), v) })
}

// checkRuleNames checks a bounded list of names; see checkRuleName.
func checkRuleNames(what string, list []string) error {
	if len(list) > MaxRuleValues {
		return fmt.Errorf("%d %s values, at most %d allowed", len(list), what, MaxRuleValues)
	}
	for _, s := range list {
		if err := checkRuleName(what, s, false); err != nil {
			return err
		}
	}
	return nil
}

// checkRuleName rejects empty (unless optional), overlong, non-UTF-8 and
// control-character names.
func checkRuleName(what, s string, optional bool) error {
	switch {
	case s == "" && optional:
		return nil
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s must not be empty", what)
	case len(s) > MaxRuleValueLen:
		return fmt.Errorf("%s %.20q… is longer than %d bytes", what, s, MaxRuleValueLen)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%s %q has invalid characters", what, s)
	}
	return nil
}
