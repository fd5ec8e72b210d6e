package llm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
	"github.com/tier0/tier0/knowledge/openai"
)

// Defaults and limits of Config.
const (
	DefaultTimeout         = 8 * time.Second
	DefaultMaxPassages     = 4
	DefaultMaxPassageChars = 1500
	DefaultMaxTokens       = 500
	// MinCanaryLen is the shortest canary Validate accepts: a short one
	// could turn up in an honest reply.
	MinCanaryLen = 16
	// maxAnswerChars bounds the answer text taken from a reply.
	maxAnswerChars = 4000
)

// Grounder finds the extractive answer to a question and the passages
// behind it; *knowledge.Answerer is one.
type Grounder interface {
	// Ground returns the grounded answer. Errors: those of
	// knowledge.Answerer.Ground (Invalid, Unavailable).
	Ground(ctx context.Context, q conversation.Query) (knowledge.Grounded, error)
}

// Chat is the chat model; *openai.ChatClient is one.
type Chat interface {
	// Complete returns the whole reply. Errors: any; they all mean "no reply".
	Complete(ctx context.Context, r openai.ChatRequest) (openai.ChatResponse, error)
	// Stream returns the reply and passes its pieces to onDelta on the way.
	Stream(ctx context.Context, r openai.ChatRequest, onDelta func(string)) (openai.ChatResponse, error)
}

var (
	_ Grounder               = (*knowledge.Answerer)(nil)
	_ Chat                   = (*openai.ChatClient)(nil)
	_ conversation.Knowledge = (*Composer)(nil)
)

// Config configures a Composer. Zero fields take the defaults.
type Config struct {
	// Model overrides the chat client's model when set.
	Model string
	// Temperature of the model (default 0: the most literal answer).
	Temperature float64
	// MaxTokens bounds the reply (default 500).
	MaxTokens int
	// Timeout is the latency budget of the model: when it runs out the
	// extractive answer is returned (default 8s).
	Timeout time.Duration
	// MaxPassages is how many of the best passages the model sees (default 4).
	MaxPassages int
	// MaxPassageChars bounds each passage (default 1500 characters).
	MaxPassageChars int
	// Canary is the string in the system prompt whose appearance in a reply
	// gives a leak away (default: random per Composer). Tests set it to get
	// stable requests.
	Canary string
	// Logger gets a warning whenever the extractive answer stands in for
	// the model's (default slog.Default()). No user or document text is
	// logged.
	Logger *slog.Logger
}

// Validate reports out-of-range settings. Errors: Invalid.
func (c Config) Validate() error {
	invalid := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "llm config: "+format, args...)
	}
	switch {
	case c.Temperature < 0 || c.Temperature > 2 || c.Temperature != c.Temperature:
		return invalid("temperature %v, want 0 to 2", c.Temperature)
	case c.MaxTokens < 0:
		return invalid("max tokens %d is negative", c.MaxTokens)
	case c.Timeout < 0:
		return invalid("timeout %s is negative", c.Timeout)
	case c.MaxPassages < 0 || c.MaxPassages > 20:
		return invalid("max passages %d, want 0 to 20", c.MaxPassages)
	case c.MaxPassageChars < 0 || (c.MaxPassageChars > 0 && c.MaxPassageChars < 100):
		return invalid("max passage chars %d, want 0 or at least 100", c.MaxPassageChars)
	case c.Canary != "" && (utf8.RuneCountInString(c.Canary) < MinCanaryLen || strings.ContainsAny(c.Canary, "\r\n")):
		return invalid("canary must be one line of at least %d characters", MinCanaryLen)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxPassages == 0 {
		c.MaxPassages = DefaultMaxPassages
	}
	if c.MaxPassageChars == 0 {
		c.MaxPassageChars = DefaultMaxPassageChars
	}
	if c.Canary == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		c.Canary = "tier0-canary-" + hex.EncodeToString(b)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Composer answers questions with a chat model grounded in retrieved
// passages; see the package documentation. It implements
// conversation.Knowledge and is safe for concurrent use.
type Composer struct {
	ground Grounder
	chat   Chat
	cfg    Config
}

// New returns a Composer that grounds with g and writes with chat.
// Errors: Invalid (a nil argument, see Config.Validate).
func New(g Grounder, chat Chat, cfg Config) (*Composer, error) {
	if g == nil || chat == nil {
		return nil, conversation.Errorf(conversation.Invalid, "llm composer: grounder and chat model are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Composer{ground: g, chat: chat, cfg: cfg.withDefaults()}, nil
}

// Answer answers q: the grounded answer as it is when it is not confident
// (the model is not asked), otherwise the model's cited answer, not
// confident when the model finds the answer missing from the sources, and
// the extractive answer when the model fails, runs out of time or replies
// without a valid citation. Errors: the Grounder's, and Unavailable when
// ctx ends while the model writes.
func (c *Composer) Answer(ctx context.Context, q conversation.Query) (conversation.Answer, error) {
	return c.compose(ctx, q, nil)
}

// ComposeStream is Answer with the model's reply streamed: onDelta gets
// pieces of the reply as they arrive, for channels that can update a
// message as it grows. Pieces that could still turn out to be the
// not-in-sources marker or a leak of the prompt are held back, and nothing
// more is passed on once the reply is one. The returned Answer is final:
// its Text (citations renumbered, or the extractive answer after a
// failure) replaces what was shown. Errors as Answer.
func (c *Composer) ComposeStream(ctx context.Context, q conversation.Query, onDelta func(string)) (conversation.Answer, error) {
	if onDelta == nil {
		onDelta = func(string) {}
	}
	return c.compose(ctx, q, onDelta)
}

// compose implements Answer (onDelta nil) and ComposeStream.
func (c *Composer) compose(ctx context.Context, q conversation.Query, onDelta func(string)) (conversation.Answer, error) {
	g, err := c.ground.Ground(ctx, q)
	if err != nil {
		return conversation.Answer{}, err
	}
	extractive := g.Answer
	if !extractive.Confident || len(g.Passages) == 0 {
		return extractive, nil
	}
	passages := g.Passages[:min(len(g.Passages), c.cfg.MaxPassages)]
	req := c.buildRequest(q.Text, q.Language, passages)

	bctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var resp openai.ChatResponse
	if onDelta == nil {
		resp, err = c.chat.Complete(bctx, req)
	} else {
		h := &holdback{canary: c.cfg.Canary, out: onDelta}
		resp, err = c.chat.Stream(bctx, req, h.add)
		if err == nil {
			h.flush()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return conversation.Answer{}, &conversation.Error{Code: conversation.Unavailable, Message: "compose answer", Err: ctx.Err()}
		}
		reason := "error"
		if errors.Is(bctx.Err(), context.DeadlineExceeded) {
			reason = "timeout"
		}
		c.cfg.Logger.Warn("llm: extractive answer instead", "reason", reason, "code", conversation.ErrorCode(err), "err", err)
		return extractive, nil
	}
	text, cites, out := parseReply(resp.Content, c.cfg.Canary, passages)
	switch out {
	case answered:
		return conversation.Answer{Text: text, Citations: cites, Score: extractive.Score, Confident: true}, nil
	case notInSources:
		extractive.Confident = false
		return extractive, nil
	default:
		c.cfg.Logger.Warn("llm: extractive answer instead", "reason", out.String(), "finish_reason", resp.FinishReason)
		return extractive, nil
	}
}

// holdback passes streamed text on, keeping back what may still turn out
// to be the not-in-sources marker or the canary.
type holdback struct {
	canary  string
	out     func(string)
	text    strings.Builder
	sent    int  // bytes of text passed on
	stopped bool // the reply is a leak or the marker: pass nothing more
}

// add takes the next piece of the reply.
func (h *holdback) add(piece string) {
	h.text.WriteString(piece)
	h.pass(len(h.canary))
}

// flush passes on what is held back, once the reply is complete.
func (h *holdback) flush() { h.pass(0) }

// pass sends all but the last keep bytes, unless the reply so far is (or
// may become) the marker or holds the canary.
func (h *holdback) pass(keep int) {
	if h.stopped {
		return
	}
	s := h.text.String()
	if hasCanary(s, h.canary) || strings.Contains(s, NotInSources) {
		h.stopped = true
		return
	}
	if lead := strings.TrimLeft(s, " \t\r\n\"'`*"); strings.HasPrefix(NotInSources, lead) && keep > 0 {
		return // may still become the marker
	}
	end := len(s) - keep
	for end > h.sent && end < len(s) && !utf8.RuneStart(s[end]) {
		end--
	}
	if end > h.sent {
		h.out(s[h.sent:end])
		h.sent = end
	}
}
