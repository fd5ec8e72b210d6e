package handoff_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/handoff"
)

// wantValidation fails tb unless err is nil when fragments is nil, or
// otherwise carries the Invalid code and mentions every fragment.
func wantValidation(tb testing.TB, err error, fragments []string) {
	tb.Helper()
	if fragments == nil {
		if err != nil {
			tb.Fatalf("Validate = %v, want nil", err)
		}
		return
	}
	if got := conversation.ErrorCode(err); got != conversation.Invalid {
		tb.Fatalf("error code = %q (err %v), want %q", got, err, conversation.Invalid)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			tb.Errorf("error %q does not mention %q", err, f)
		}
	}
}

// helpdeskPriorities is an IT helpdesk's priority rules in English and German.
func helpdeskPriorities() handoff.Priorities {
	return handoff.Priorities{Rules: []handoff.PriorityRule{
		{Keywords: []string{"outage", "Ausfall", "down for everyone"}, Priority: "P2"},
		{Keywords: []string{"outage", "ausfall"}, CustomerTiers: []string{"Gold"}, Priority: "P1"},
		{Keywords: []string{"urgent", "dringend", "geht nicht"}, Priority: "P2"},
		{MinNegativeSentiment: -0.6, Priority: "P2"},
		{CustomerTiers: []string{"gold", "platinum"}, Priority: "P3"},
		{Keywords: []string{"feature request", "Wunsch"}, Priority: "P4"},
	}}
}

func TestPrioritiesDecide(t *testing.T) {
	tests := []struct {
		name       string
		p          handoff.Priorities
		in         handoff.RoutingInput
		want       string
		wantReason string
	}{
		{"no rule matches: built-in default", helpdeskPriorities(), handoff.RoutingInput{Text: "How do I reset my password?"}, "P3", "default P3"},
		{"no rule matches: configured default", handoff.Priorities{Default: "P4"}, handoff.RoutingInput{Text: "hi"}, "P4", "default P4"},
		{"keyword at a word boundary", helpdeskPriorities(), handoff.RoutingInput{Text: "VPN outage!"}, "P2", `priority rule 1 (P2): keyword "outage"`},
		{"keyword upper case", helpdeskPriorities(), handoff.RoutingInput{Text: "OUTAGE in Hamburg"}, "P2", `keyword "outage"`},
		{"keyword before a hyphen", helpdeskPriorities(), handoff.RoutingInput{Text: "see the outage-report"}, "P2", `keyword "outage"`},
		{"inflected form matches", helpdeskPriorities(), handoff.RoutingInput{Text: "the outages-report is late"}, "P2", `keyword "outage"`},
		{"keyword at the end of a German compound", helpdeskPriorities(), handoff.RoutingInput{Text: "Stromausfall im Lager"}, "P2", `keyword "Ausfall"`},
		{"keyword at the start of a German compound", helpdeskPriorities(), handoff.RoutingInput{Text: "Die Ausfallsicherung meldet Fehler"}, "P2", `keyword "Ausfall"`},
		{"a short keyword does not match inside words", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"ion"}, Priority: "P1"}}}, handoff.RoutingInput{Text: "the version is old"}, "P3", "default"},
		{"German keyword, case-insensitive", helpdeskPriorities(), handoff.RoutingInput{Text: "Totaler AUSFALL seit 9 Uhr"}, "P2", `keyword "Ausfall"`},
		{"German keyword dringend", helpdeskPriorities(), handoff.RoutingInput{Text: "Bitte dringend melden."}, "P2", `keyword "dringend"`},
		{"phrase across punctuation", helpdeskPriorities(), handoff.RoutingInput{Text: "Drucker geht... nicht"}, "P2", `keyword "geht nicht"`},
		{"phrase words must be adjacent", helpdeskPriorities(), handoff.RoutingInput{Text: "geht jetzt nicht"}, "P3", "default"},
		{"umlaut keyword", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"Störung"}, Priority: "P1"}}}, handoff.RoutingInput{Text: "STÖRUNG: Mail"}, "P1", `keyword "Störung"`},
		{"text cut inside a multi-byte rune", helpdeskPriorities(), handoff.RoutingInput{Text: "outage " + strings.Repeat("ä", handoff.MaxScannedText)}, "P2", `keyword "outage"`},
		{"keyword past the scanned prefix is ignored", helpdeskPriorities(), handoff.RoutingInput{Text: strings.Repeat("a ", handoff.MaxScannedText) + "outage"}, "P3", "default"},
		{"sentiment at the threshold", helpdeskPriorities(), handoff.RoutingInput{Text: "meh", Sentiment: -0.6}, "P2", "sentiment -0.60 <= -0.60"},
		{"sentiment above the threshold", helpdeskPriorities(), handoff.RoutingInput{Text: "meh", Sentiment: -0.59}, "P3", "default"},
		{"NaN sentiment never matches", helpdeskPriorities(), handoff.RoutingInput{Text: "meh", Sentiment: math.NaN()}, "P3", "default"},
		{"tier rule, case-insensitive", helpdeskPriorities(), handoff.RoutingInput{Text: "hello", CustomerTier: " PLATINUM "}, "P3", `priority rule 5 (P3): tier "PLATINUM"`},
		{"tier rule beats a lower rule", helpdeskPriorities(), handoff.RoutingInput{Text: "Wunsch: dark mode", CustomerTier: "gold"}, "P3", "priority rule 5"},
		{"all conditions of a rule must hold", helpdeskPriorities(), handoff.RoutingInput{Text: "outage", CustomerTier: "silver"}, "P2", "priority rule 1"},
		{"highest priority wins over an earlier rule", helpdeskPriorities(), handoff.RoutingInput{Text: "outage", CustomerTier: "gold"}, "P1", `priority rule 2 (P1): keyword "outage", tier "gold"`},
		{"tie: the first listed rule gives the reason", helpdeskPriorities(), handoff.RoutingInput{Text: "dringend, Ausfall", Sentiment: -0.9}, "P2", "priority rule 1 (P2)"},
		{"lowest priority rule alone", helpdeskPriorities(), handoff.RoutingInput{Text: "a feature request"}, "P4", "priority rule 6 (P4)"},
		{"two rules, same keyword: the more urgent wins", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"outage"}, Priority: "P4"}, {Keywords: []string{"outage"}, Priority: "P1"}}}, handoff.RoutingInput{Text: "outage"}, "P1", "priority rule 2 (P1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got, reason := tt.p.Decide(tt.in)
			if got != tt.want {
				t.Errorf("priority = %q (reason %q), want %q", got, reason, tt.want)
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.wantReason)
			}
		})
	}
}

func TestPrioritiesDecideSkipsInvalidRules(t *testing.T) {
	p := handoff.Priorities{Rules: []handoff.PriorityRule{
		{Keywords: []string{"outage"}, Priority: "P0"},
		{Keywords: []string{"outage"}, Priority: "P4"},
	}}
	if got, reason := p.Decide(handoff.RoutingInput{Text: "outage"}); got != "P4" {
		t.Errorf("Decide = (%q, %q), want P4 from the only valid rule", got, reason)
	}
}

func TestPrioritiesValidate(t *testing.T) {
	long := strings.Repeat("x", handoff.MaxRuleValueLen+1)
	tests := []struct {
		name string
		p    handoff.Priorities
		want []string // fragments of the Invalid error; nil means valid
	}{
		{"empty config", handoff.Priorities{}, nil},
		{"example config", helpdeskPriorities(), nil},
		{"bad default", handoff.Priorities{Default: "P5"}, []string{`default priority "P5"`}},
		{"bad rule priority", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"x"}, Priority: "high"}}}, []string{"priority rule 1", `"high"`}},
		{"missing rule priority", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"x"}}}}, []string{"priority rule 1", "P1, P2, P3, P4"}},
		{"rule without conditions", handoff.Priorities{Rules: []handoff.PriorityRule{{Priority: "P1"}}}, []string{"at least one condition"}},
		{"empty keyword", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{" "}, Priority: "P1"}}}, []string{"keyword must not be empty"}},
		{"punctuation-only keyword", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"!!"}, Priority: "P1"}}}, []string{"no letters or digits"}},
		{"overlong keyword", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{long}, Priority: "P1"}}}, []string{"longer than"}},
		{"control character in tier", handoff.Priorities{Rules: []handoff.PriorityRule{{CustomerTiers: []string{"gold\n"}, Priority: "P1"}}}, []string{"invalid characters"}},
		{"invalid UTF-8 keyword", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: []string{"a\xff"}, Priority: "P1"}}}, []string{"invalid characters"}},
		{"too many keywords", handoff.Priorities{Rules: []handoff.PriorityRule{{Keywords: make([]string, handoff.MaxRuleValues+1), Priority: "P1"}}}, []string{"at most"}},
		{"too many rules", handoff.Priorities{Rules: make([]handoff.PriorityRule, handoff.MaxRoutingRules+1)}, []string{"priority rules, at most"}},
		{"positive sentiment threshold", handoff.Priorities{Rules: []handoff.PriorityRule{{MinNegativeSentiment: 0.5, Priority: "P1"}}}, []string{"[-1, 0)"}},
		{"sentiment threshold below -1", handoff.Priorities{Rules: []handoff.PriorityRule{{MinNegativeSentiment: -1.5, Priority: "P1"}}}, []string{"[-1, 0)"}},
		{"NaN sentiment threshold", handoff.Priorities{Rules: []handoff.PriorityRule{{MinNegativeSentiment: math.NaN(), Priority: "P1"}}}, []string{"[-1, 0)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, tt.p.Validate(), tt.want)
		})
	}
}

// berlinHours are office hours in Germany, Monday to Friday.
func berlinHours(outOfHours string) *handoff.BusinessHours {
	return &handoff.BusinessHours{TimeZone: "Europe/Berlin", Start: "08:00", End: "18:00", OutOfHoursTeam: outOfHours}
}

// helpdeskRoutes is an IT helpdesk's routing: German network tickets to a
// Berlin team with a night shift, Slack to the Slack desk, shop tickets on
// weekends, and a three-level escalation chain.
func helpdeskRoutes() handoff.Routes {
	return handoff.Routes{
		DefaultTeam: "Service Desk",
		Rules: []handoff.RouteRule{
			{Categories: []string{"network", "vpn"}, Languages: []string{"de"}, Team: "Netz L1", EscalateTo: "Netz L2", BusinessHours: berlinHours("Bereitschaft")},
			{Categories: []string{"network"}, Team: "Network L1", EscalateTo: "Network L2", BusinessHours: berlinHours("")},
			{Channels: []conversation.Channel{conversation.ChannelSlack}, Team: "Slack Desk"},
			{Categories: []string{"shop"}, Languages: []string{"en-GB"}, Team: "Shop UK", BusinessHours: &handoff.BusinessHours{
				TimeZone: "Europe/London", Days: []time.Weekday{time.Saturday, time.Sunday}, Start: "10:00", End: "24:00", OutOfHoursTeam: "Shop Weekdays",
			}},
			{Categories: []string{"escalations"}, Team: "Netz L2", EscalateTo: "Netz L3"},
		},
	}
}

func TestRoutesDecide(t *testing.T) {
	utc := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
	}
	// 2026: Berlin switches to CEST (UTC+2) on Sunday 29 March and back to
	// CET (UTC+1) on Sunday 25 October.
	tests := []struct {
		name                   string
		in                     handoff.RoutingInput
		now                    time.Time
		wantTeam, wantEscalate string
		wantReason             string
	}{
		{"no rule matches: default team", handoff.RoutingInput{Category: "printer", Channel: conversation.ChannelWebChat}, utc(5, 6, 10, 0), "Service Desk", "", "default team Service Desk"},
		{"first matching rule wins", handoff.RoutingInput{Category: "Network", Language: "de", Channel: conversation.ChannelSlack}, utc(5, 6, 10, 0), "Netz L1", "Netz L2", "route rule 1: Netz L1"},
		{"language prefix matches a regional tag", handoff.RoutingInput{Category: "vpn", Language: "de-AT"}, utc(5, 6, 10, 0), "Netz L1", "Netz L2", "route rule 1"},
		{"language must match when listed", handoff.RoutingInput{Category: "network", Language: "en"}, utc(5, 6, 10, 0), "Network L1", "Network L2", "route rule 2"},
		{"language that only shares letters does not match", handoff.RoutingInput{Category: "vpn", Language: "dev"}, utc(5, 6, 10, 0), "Service Desk", "", "default"},
		{"category must match when listed", handoff.RoutingInput{Category: "vpn", Language: "en"}, utc(5, 6, 10, 0), "Service Desk", "", "default"},
		{"channel rule with any category", handoff.RoutingInput{Category: "printer", Channel: conversation.ChannelSlack}, utc(5, 6, 10, 0), "Slack Desk", "", "route rule 3: Slack Desk"},
		{"regional rule does not match the bare language", handoff.RoutingInput{Category: "shop", Language: "en"}, utc(5, 9, 12, 0), "Service Desk", "", "default"},
		{"March, CET: 08:30 local is open", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(3, 27, 7, 30), "Netz L1", "Netz L2", "route rule 1: Netz L1"},
		{"March, CET: 07:30 local is closed", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(3, 27, 6, 30), "Bereitschaft", "", "outside Netz L1 business hours: Bereitschaft"},
		{"March, CEST: the same 06:30 UTC is 08:30 local, open", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(3, 30, 6, 30), "Netz L1", "Netz L2", "route rule 1: Netz L1"},
		{"March, CEST: 16:30 UTC is 18:30 local, closed", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(3, 30, 16, 30), "Bereitschaft", "", "outside"},
		{"October, CEST: 15:59 UTC is 17:59 local, open", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(10, 23, 15, 59), "Netz L1", "Netz L2", "route rule 1"},
		{"October, CEST: 16:00 UTC is 18:00 local, closed (end is exclusive)", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(10, 23, 16, 0), "Bereitschaft", "", "outside"},
		{"October, CET: 16:30 UTC is 17:30 local, open", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(10, 26, 16, 30), "Netz L1", "Netz L2", "route rule 1"},
		{"October, CET: 06:30 UTC is 07:30 local, closed", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(10, 26, 6, 30), "Bereitschaft", "", "outside"},
		{"Saturday is outside the default Monday to Friday", handoff.RoutingInput{Category: "vpn", Language: "de"}, utc(10, 24, 10, 0), "Bereitschaft", "", "outside"},
		{"local weekday counts, not UTC: Friday 23:30 UTC is Saturday in Berlin", handoff.RoutingInput{Category: "vpn", Language: "de"}, time.Date(2026, 5, 8, 23, 30, 0, 0, time.UTC), "Bereitschaft", "", "outside"},
		{"closed without out-of-hours team keeps the team", handoff.RoutingInput{Category: "network", Language: "en"}, utc(10, 24, 10, 0), "Network L1", "Network L2", "route rule 2: Network L1"},
		{"weekend-only hours: Saturday is open", handoff.RoutingInput{Category: "shop", Language: "en-GB"}, utc(5, 9, 12, 0), "Shop UK", "", "route rule 4: Shop UK"},
		{"weekend-only hours: end 24:00 covers 23:59 local", handoff.RoutingInput{Category: "shop", Language: "en-gb"}, utc(5, 9, 22, 59), "Shop UK", "", "route rule 4"},
		{"weekend-only hours: Monday goes to the weekday team", handoff.RoutingInput{Category: "shop", Language: "en_GB"}, utc(5, 11, 12, 0), "Shop Weekdays", "", "outside Shop UK business hours"},
		{"L2 team as a rule's team escalates further", handoff.RoutingInput{Category: "escalations"}, utc(5, 6, 10, 0), "Netz L2", "Netz L3", "route rule 5"},
	}
	routes := helpdeskRoutes()
	if err := routes.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			team, esc, reason := routes.Decide(tt.in, tt.now)
			if team != tt.wantTeam || esc != tt.wantEscalate {
				t.Errorf("Decide = (%q, %q, %q), want (%q, %q)", team, esc, reason, tt.wantTeam, tt.wantEscalate)
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.wantReason)
			}
		})
	}
}

func TestRoutesDecideDefaults(t *testing.T) {
	tests := []struct {
		name     string
		routes   handoff.Routes
		wantTeam string
	}{
		{"empty config routes to the package default", handoff.Routes{}, handoff.DefaultTeam},
		{"rule that does not validate never matches", handoff.Routes{Rules: []handoff.RouteRule{{Team: ""}}}, handoff.DefaultTeam},
		{"broken business hours count as open", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", BusinessHours: &handoff.BusinessHours{TimeZone: "Mars/Olympus", Start: "08:00", End: "09:00", OutOfHoursTeam: "B"}}}}, handoff.DefaultTeam},
		{"empty time zone means UTC", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", BusinessHours: &handoff.BusinessHours{Days: []time.Weekday{time.Wednesday}, Start: "09:00", End: "10:00", OutOfHoursTeam: "B"}}}}, "A"},
	}
	now := time.Date(2026, 5, 6, 9, 30, 0, 0, time.UTC) // a Wednesday
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			team, esc, reason := tt.routes.Decide(handoff.RoutingInput{}, now)
			if team != tt.wantTeam || esc != "" {
				t.Errorf("Decide = (%q, %q, %q), want (%q, \"\")", team, esc, reason, tt.wantTeam)
			}
		})
	}
}

func TestBusinessHoursOpen(t *testing.T) {
	b := handoff.BusinessHours{TimeZone: "Europe/Berlin", Days: []time.Weekday{time.Sunday}, Start: "00:00", End: "00:30"}
	if err := b.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"start is inclusive", time.Date(2026, 5, 9, 22, 0, 0, 0, time.UTC), true}, // Sunday 00:00 CEST
		{"inside", time.Date(2026, 5, 9, 22, 29, 0, 0, time.UTC), true},
		{"end is exclusive", time.Date(2026, 5, 9, 22, 30, 0, 0, time.UTC), false},
		{"same wall clock on Saturday", time.Date(2026, 5, 8, 22, 10, 0, 0, time.UTC), false},
		{"a time in another zone is converted", time.Date(2026, 5, 10, 1, 15, 0, 0, time.FixedZone("UTC+3", 3*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Open(tt.now); got != tt.want {
				t.Errorf("Open(%v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
	t.Run("hours that do not validate count as open", func(t *testing.T) {
		broken := handoff.BusinessHours{TimeZone: "Europe/Berlin", Start: "18:00", End: "08:00"}
		if !broken.Open(time.Date(2026, 5, 9, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("Open = false, want true so a broken config never diverts tickets")
		}
	})
}

func TestRoutesValidate(t *testing.T) {
	withHours := func(b handoff.BusinessHours) handoff.Routes {
		return handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", BusinessHours: &b}}}
	}
	tests := []struct {
		name   string
		routes handoff.Routes
		want   []string // fragments of the Invalid error; nil means valid
	}{
		{"empty config", handoff.Routes{}, nil},
		{"example config", helpdeskRoutes(), nil},
		{"hours ending at midnight", withHours(handoff.BusinessHours{Start: "00:00", End: "24:00"}), nil},
		{"rule without team", handoff.Routes{Rules: []handoff.RouteRule{{Categories: []string{"x"}}}}, []string{"route rule 1", "team must not be empty"}},
		{"team escalates to itself", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", EscalateTo: "A"}}}, []string{"cannot escalate to itself"}},
		{"rules disagree on escalation", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", EscalateTo: "B"}, {Team: "A", EscalateTo: "C"}}}, []string{"route rule 2", `escalates to "C"`, `to "B"`}},
		{"escalation loop", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", EscalateTo: "B"}, {Team: "B", EscalateTo: "C"}, {Team: "C", EscalateTo: "A"}}}, []string{"loops back"}},
		{"empty category", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", Categories: []string{""}}}}, []string{"category must not be empty"}},
		{"empty channel", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", Channels: []conversation.Channel{""}}}}, []string{"channel must not be empty"}},
		{"overlong language", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", Languages: []string{strings.Repeat("d", handoff.MaxRuleValueLen+1)}}}}, []string{"language", "longer than"}},
		{"control character in default team", handoff.Routes{DefaultTeam: "A\x00"}, []string{"default team", "invalid characters"}},
		{"too many rules", handoff.Routes{Rules: make([]handoff.RouteRule, handoff.MaxRoutingRules+1)}, []string{"route rules, at most"}},
		{"overlong time zone", withHours(handoff.BusinessHours{TimeZone: strings.Repeat("Z", handoff.MaxRuleValueLen+1), Start: "08:00", End: "18:00"}), []string{"time zone", "longer than"}},
		{"too many days", withHours(handoff.BusinessHours{Days: make([]time.Weekday, handoff.MaxRuleValues+1), Start: "08:00", End: "18:00"}), []string{"days listed"}},
		{"overlong escalation team", handoff.Routes{Rules: []handoff.RouteRule{{Team: "A", EscalateTo: strings.Repeat("B", handoff.MaxRuleValueLen+1)}}}, []string{"escalate-to team", "longer than"}},
		{"bad time zone", withHours(handoff.BusinessHours{TimeZone: "Europe/Atlantis", Start: "08:00", End: "18:00"}), []string{`time zone "Europe/Atlantis"`}},
		{"start equals end", withHours(handoff.BusinessHours{Start: "08:00", End: "08:00"}), []string{"start 08:00 must be before end 08:00"}},
		{"start after end (overnight)", withHours(handoff.BusinessHours{Start: "22:00", End: "06:00"}), []string{"must be before end"}},
		{"unknown weekday", withHours(handoff.BusinessHours{Days: []time.Weekday{time.Monday, 7}, Start: "08:00", End: "18:00"}), []string{"unknown weekday 7"}},
		{"negative weekday", withHours(handoff.BusinessHours{Days: []time.Weekday{-1}, Start: "08:00", End: "18:00"}), []string{"unknown weekday -1"}},
		{"malformed start", withHours(handoff.BusinessHours{Start: "8:00", End: "18:00"}), []string{"start", `"8:00" must look like 08:30`}},
		{"missing end", withHours(handoff.BusinessHours{Start: "08:00"}), []string{"end", "must look like"}},
		{"minutes out of range", withHours(handoff.BusinessHours{Start: "08:60", End: "18:00"}), []string{"not a time"}},
		{"past midnight", withHours(handoff.BusinessHours{Start: "08:00", End: "24:01"}), []string{"not a time"}},
		{"signed hour", withHours(handoff.BusinessHours{Start: "+8:00", End: "18:00"}), []string{"must look like"}},
		{"empty out-of-hours team is fine, blank is not", withHours(handoff.BusinessHours{Start: "08:00", End: "18:00", OutOfHoursTeam: " "}), []string{"out-of-hours team must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, tt.routes.Validate(), tt.want)
		})
	}
}

func TestEscalate(t *testing.T) {
	routes := helpdeskRoutes()
	tests := []struct {
		current  string
		wantNext string
		wantOK   bool
	}{
		{"Netz L1", "Netz L2", true},
		{"Netz L2", "Netz L3", true},
		{"Netz L3", "", false}, // end of the chain
		{"Network L1", "Network L2", true},
		{"Slack Desk", "", false},   // known team without a second level
		{"Bereitschaft", "", false}, // out-of-hours team is not a rule's team
		{"netz l1", "", false},      // team names compare exactly
		{"Unknown", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.current, func(t *testing.T) {
			next, ok := handoff.Escalate(tt.current, routes)
			if next != tt.wantNext || ok != tt.wantOK {
				t.Errorf("Escalate(%q) = (%q, %v), want (%q, %v)", tt.current, next, ok, tt.wantNext, tt.wantOK)
			}
		})
	}
	t.Run("the chain ends", func(t *testing.T) {
		var chain []string
		for team, ok := "Netz L1", true; ok; team, ok = handoff.Escalate(team, routes) {
			chain = append(chain, team)
		}
		if got, want := strings.Join(chain, " > "), "Netz L1 > Netz L2 > Netz L3"; got != want {
			t.Errorf("chain = %q, want %q", got, want)
		}
	})
}
