package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// An action is something the desk does for the customer instead of
// quoting an article: look up an order, start a return, unlock an
// account, tell the status of a ticket. The engine recognises an action
// from its example phrasings, asks for each missing parameter as a
// consulting question in the conversation's language (buttons for
// enums), validates every value, asks for confirmation before a side
// effect, runs it through an [ActionRunner] with an idempotency key
// derived from the inbound message and commits the result together with
// the reply, so a retried or replayed turn never repeats the effect.

// ActionSpec declares one action. Per-language texts are maps keyed by
// lower-case ISO 639-1 codes ("de", "en"); a missing language falls back
// to "en" and then to any present value.
type ActionSpec struct {
	// Name identifies the action (events, analytics, tools): 1..64 of
	// a-z, 0-9 and _.
	Name string
	// Description says what the action does, per language (shown to an
	// LLM as the tool description, and as the confirmation's subject).
	Description map[string]string
	// Examples are phrasings that ask for the action, per language; the
	// engine routes a message to the action when it resembles one.
	Examples map[string][]string
	// Params are asked for in order when missing.
	Params []ActionParam
	// SideEffect marks an action that changes something: it is confirmed
	// first and runs with an idempotency key.
	SideEffect bool
	// Confirm is the confirmation question per language, e.g. "Soll ich
	// Ihr Konto entsperren?"; {param} placeholders are filled.
	Confirm map[string]string
	// Result is the sentence per language for a successful run; {field}
	// placeholders are filled from the result fields (back-end data,
	// shown as plain text) and {param} from the parameters.
	Result map[string]string
	// NotFound is the sentence per language when the back end finds
	// nothing (or the verification does not match: the customer cannot
	// tell the two apart), e.g. "I can't find order {order}.".
	NotFound map[string]string
	// Source names the back end in the answer's citation (default: the
	// action's name).
	Source string
	// Runner does the work. Required, except for the built-in actions.
	Runner ActionRunner

	builtin string
}

// describe returns the description for lang, or the name.
func (s *ActionSpec) describe(lang string) string {
	if d := pick(s.Description, lang); d != "" {
		return d
	}
	return s.Name
}

// ParamType is the kind of an action parameter, which decides how its
// value is validated and masked.
type ParamType string

// Parameter types.
const (
	ParamString ParamType = "string" // free text, at most MaxLen characters
	ParamEnum   ParamType = "enum"   // one of Choices, offered as buttons
	ParamNumber ParamType = "number" // a decimal number within Min..Max
	ParamDate   ParamType = "date"   // 2026-12-24, 24.12.2026; stored as 2006-01-02
	ParamOrder  ParamType = "order"  // an order number matching Pattern
	ParamEmail  ParamType = "email"  // an e-mail address the customer types (e.g. to prove an order is theirs)
	// ParamIdentity is the asking customer themself, from the verified
	// channel identity only (never from what they write). Identity says
	// which part: "email", "phone" or "id" ("" = e-mail, else phone,
	// else channel and user id).
	ParamIdentity ParamType = "identity"
)

// ActionParam is one parameter of an action.
type ActionParam struct {
	Name string // 1..64 of a-z, 0-9 and _; the {name} placeholder
	Type ParamType
	// Optional parameters are not asked for; they are used when the
	// first message carries them.
	Optional bool
	// Ask is the question per language ("Wie lautet Ihre Bestellnummer?").
	Ask map[string]string
	// Invalid is the re-ask per language after an invalid answer (default:
	// a sentence per type).
	Invalid map[string]string
	// Choices of an enum.
	Choices []ActionChoice
	// Pattern of an order number (a regular expression for the whole
	// value; default ^[0-9]{4,12}$).
	Pattern string
	// Min and Max bound a number (both 0: unbounded).
	Min, Max float64
	// MaxLen bounds a string in characters (default 200).
	MaxLen int
	// Identity selects the identity part of a ParamIdentity.
	Identity string
	// FromIdentity fills an e-mail parameter from the channel's verified
	// e-mail when it has one, instead of asking.
	FromIdentity bool

	re *regexp.Regexp
}

// ActionChoice is one value of an enum parameter.
type ActionChoice struct {
	Value string            // what the runner gets
	Label map[string]string // the button per language
}

// ActionRunner runs an action against the business's systems.
// Implementations: conversation/actions (HTTP back ends), or your own.
type ActionRunner interface {
	// Run performs call. Errors decide what the customer hears: NotFound
	// (nothing found, or the verification did not match), Unauthorized
	// (the back end refused: "I can't check that for you" and a person is
	// offered), Unavailable or anything else (an apology and a person).
	// A side-effecting runner must make a repeated call with the same
	// IdempotencyKey a no-op that returns the first result.
	Run(ctx context.Context, call ActionCall) (ActionResult, error)
}

// ActionRunnerFunc adapts a function to ActionRunner.
type ActionRunnerFunc func(ctx context.Context, call ActionCall) (ActionResult, error)

// Run calls f.
func (f ActionRunnerFunc) Run(ctx context.Context, call ActionCall) (ActionResult, error) {
	return f(ctx, call)
}

// ActionCall is one validated run of an action.
type ActionCall struct {
	Action string
	// Params are the validated values by parameter name (identity
	// parameters from the channel identity).
	Params map[string]string
	// IdempotencyKey is derived from the conversation and the inbound
	// message that triggered the run: a retry of the same message gets the
	// same key. Send it as the Idempotency-Key header.
	IdempotencyKey string
	// User is the verified channel identity of the customer.
	User     Identity
	Channel  Channel
	Language string
}

// ActionResult is what a run returned.
type ActionResult struct {
	// Fields are the values for the result sentence. They are data: the
	// engine inserts them as plain text, bounded, without control
	// characters.
	Fields map[string]string
	// URL, when set, links the result (e.g. the order page) in the citation.
	URL string
}

// Limits on actions.
const (
	maxActionName      = 64
	maxFieldRunes      = 300
	maxActionLog       = 20
	defaultParamMaxLen = 200
	defaultOrderRegexp = `^[0-9]{4,12}$`
)

var actionNameRe = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// Validate reports the first problem of s as an Invalid error and
// compiles its patterns.
func (s *ActionSpec) Validate() error {
	inv := func(format string, args ...any) error {
		return Errorf(Invalid, "action %q: "+format, append([]any{s.Name}, args...)...)
	}
	if !actionNameRe.MatchString(s.Name) {
		return inv("name must be 1..%d of a-z, 0-9 and _", maxActionName)
	}
	if s.Runner == nil && s.builtin == "" {
		return inv("has no runner")
	}
	if len(s.Examples) == 0 {
		return inv("needs example phrasings")
	}
	seen := map[string]bool{}
	for i := range s.Params {
		p := &s.Params[i]
		if !actionNameRe.MatchString(p.Name) || seen[p.Name] {
			return inv("parameter %d: name %q must be unique, 1..%d of a-z, 0-9 and _", i, p.Name, maxActionName)
		}
		seen[p.Name] = true
		switch p.Type {
		case ParamString, ParamNumber, ParamDate, ParamEmail:
		case ParamIdentity:
			switch p.Identity {
			case "", "email", "phone", "id":
			default:
				return inv("parameter %s: identity %q: want email, phone or id", p.Name, p.Identity)
			}
		case ParamEnum:
			if len(p.Choices) == 0 {
				return inv("parameter %s: an enum needs choices", p.Name)
			}
		case ParamOrder:
			pat := p.Pattern
			if pat == "" {
				pat = defaultOrderRegexp
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return inv("parameter %s: pattern: %v", p.Name, err)
			}
			p.re = re
		default:
			return inv("parameter %s: unknown type %q", p.Name, p.Type)
		}
		if p.Type != ParamIdentity && !p.Optional && len(p.Ask) == 0 && !(p.Type == ParamEmail && p.FromIdentity) {
			return inv("parameter %s: needs a question (ask)", p.Name)
		}
		if p.Min > p.Max {
			return inv("parameter %s: min %v above max %v", p.Name, p.Min, p.Max)
		}
	}
	if s.SideEffect && len(s.Confirm) == 0 {
		return inv("a side-effecting action needs a confirmation question")
	}
	if len(s.Result) == 0 && s.builtin == "" {
		return inv("needs a result sentence")
	}
	return nil
}

// param returns the parameter called name, or nil.
func (s *ActionSpec) param(name string) *ActionParam {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// ParseValue validates a customer's answer for p and returns the value
// the runner gets (normalised: trimmed, e-mail lower case, dates as
// 2006-01-02, enum choices as their Value). ok is false for an invalid
// answer. Identity parameters never parse from text.
func (p *ActionParam) ParseValue(text string) (string, bool) {
	v := strings.TrimSpace(text)
	if v == "" || !utf8.ValidString(v) {
		return "", false
	}
	switch p.Type {
	case ParamString:
		max := p.MaxLen
		if max <= 0 {
			max = defaultParamMaxLen
		}
		v = strings.Join(strings.Fields(v), " ")
		return v, Printable(v, 4*max) && utf8.RuneCountInString(v) <= max
	case ParamEnum:
		for _, c := range p.Choices {
			if strings.EqualFold(v, c.Value) {
				return c.Value, true
			}
			for _, l := range c.Label {
				if strings.EqualFold(v, l) {
					return c.Value, true
				}
			}
		}
		return "", false
	case ParamNumber:
		f, err := strconv.ParseFloat(strings.Replace(v, ",", ".", 1), 64)
		if err != nil || f != f || (p.Min != 0 || p.Max != 0) && (f < p.Min || f > p.Max) {
			return "", false
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	case ParamDate:
		for _, layout := range []string{"2006-01-02", "02.01.2006", "2.1.2006", "02.01.06"} {
			if d, err := time.Parse(layout, v); err == nil {
				return d.Format("2006-01-02"), true
			}
		}
		return "", false
	case ParamOrder:
		re := p.re
		if re == nil {
			re = regexp.MustCompile(defaultOrderRegexp)
		}
		v = strings.TrimPrefix(strings.TrimPrefix(v, "#"), "Nr. ")
		return v, len(v) <= 64 && re.MatchString(v)
	case ParamEmail:
		v = strings.ToLower(v)
		return v, len(v) <= 254 && emailRe.MatchString(v)
	}
	return "", false
}

var emailRe = regexp.MustCompile(`^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$`)

// findValue looks for a value of p inside a longer message ("meine
// Bestellung 10042", "it's max@example.com"): the whole text first, then
// each word. Only order numbers, e-mail addresses and enum choices are
// picked out of running text.
func (p *ActionParam) findValue(text string) (string, bool) {
	if v, ok := p.ParseValue(text); ok && p.Type != ParamString {
		return v, true
	}
	switch p.Type {
	case ParamOrder, ParamEmail, ParamEnum:
	default:
		return "", false
	}
	for _, w := range strings.Fields(text) {
		w = strings.Trim(w, ".,;:!?()\"'<>")
		if v, ok := p.ParseValue(w); ok {
			return v, true
		}
	}
	return "", false
}

// identityValue returns the part of u a ParamIdentity names, "" when the
// channel does not tell it.
func (p *ActionParam) identityValue(ch Channel, u Identity) string {
	switch p.Identity {
	case "email":
		return u.Email
	case "phone":
		return u.Phone
	case "id":
		if u.ID == "" {
			return ""
		}
		return string(ch) + ":" + u.ID
	}
	switch {
	case u.Email != "":
		return u.Email
	case u.Phone != "":
		return u.Phone
	case u.ID != "":
		return string(ch) + ":" + u.ID
	}
	return ""
}

// MaskValue returns v as events and logs may show it: e-mail "m***@e***.com",
// order numbers and phone numbers with only the last two characters, free
// text and identities as "***" with a short fingerprint, enums as they are.
func MaskValue(t ParamType, v string) string {
	if v == "" {
		return ""
	}
	switch t {
	case ParamEnum:
		return v
	case ParamEmail:
		local, domain, ok := strings.Cut(v, "@")
		if !ok {
			return "***"
		}
		dot := strings.LastIndex(domain, ".")
		if dot <= 0 {
			return firstRune(local) + "***@***"
		}
		return firstRune(local) + "***@" + firstRune(domain) + "***" + domain[dot:]
	case ParamOrder:
		r := []rune(v)
		if len(r) <= 2 {
			return "***"
		}
		return "***" + string(r[len(r)-2:])
	}
	return "***" + fingerprint(v)
}

func firstRune(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return ""
	}
	return string(r)
}

// fingerprint is a short hash of s: equal values compare equal in
// events without showing them.
func fingerprint(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// IdempotencyKey is the key of running action for the inbound message
// dedupe of conversation key: the same for every retry of that message,
// different for every other message or action.
func IdempotencyKey(key, dedupe, action string) string {
	h := sha256.Sum256([]byte("tier0-action\x00" + key + "\x00" + dedupe + "\x00" + action))
	return "t0-" + hex.EncodeToString(h[:16])
}

// cleanField makes back-end text safe to show as data: no control
// characters or markup-breaking newlines, at most maxFieldRunes.
func cleanField(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxFieldRunes {
		s = string(r[:maxFieldRunes]) + "…"
	}
	return s
}

// fillTemplate replaces {name} in tmpl with values, cleaned as data.
func fillTemplate(tmpl string, values ...map[string]string) string {
	return FillPlaceholders(tmpl, cleanField, values...)
}

// FillPlaceholders replaces each {name} in tmpl (name: a-z, 0-9, _) by
// the first of values that has it, passed through escape (nil: as it
// is); a name none has becomes "". Other text in braces is kept.
func FillPlaceholders(tmpl string, escape func(string) string, values ...map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+1 : i+j]
		if actionNameRe.MatchString(name) {
			v := ""
			for _, m := range values {
				if x, ok := m[name]; ok {
					v = x
					break
				}
			}
			if escape != nil {
				v = escape(v)
			}
			b.WriteString(v)
		} else {
			b.WriteString(tmpl[i : i+j+1])
		}
		tmpl = tmpl[i+j+1:]
	}
}

// pick returns m's text for lang, else "en", else the first present
// value by key order.
func pick(m map[string]string, lang string) string {
	if v := m[lang]; v != "" {
		return v
	}
	if v := m["en"]; v != "" {
		return v
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if m[k] != "" {
			return m[k]
		}
	}
	return ""
}

// PendingAction is an action being prepared in a conversation: the
// values collected so far and what the bot is waiting for.
type PendingAction struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params,omitempty"`
	// Asking is the parameter whose answer the bot waits for; Confirming
	// is set while the bot waits for yes or no.
	Asking     string `json:"asking,omitempty"`
	Confirming bool   `json:"confirming,omitempty"`
	// Invalid counts invalid answers to the current question.
	Invalid int `json:"invalid,omitempty"`
	// Lang is the language the action dialogue runs in.
	Lang string `json:"lang,omitempty"`
}

// ActionRun is one finished (or refused) run, kept on the conversation
// for the handoff card: which action, masked parameters, outcome.
type ActionRun struct {
	Action  string    `json:"action"`
	Params  string    `json:"params,omitempty"` // masked, "order=***42 email=m***@e***.com"
	Outcome string    `json:"outcome"`
	Key     string    `json:"key,omitempty"` // idempotency key of a run that reached the runner
	At      time.Time `json:"at"`
}

// String renders r for a handoff card.
func (r ActionRun) String() string {
	s := fmt.Sprintf("%s: %s", r.Action, r.Outcome)
	if r.Params != "" {
		s += " (" + r.Params + ")"
	}
	return s
}
