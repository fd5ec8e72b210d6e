// Package console is the terminal channel: `tier0 chat` talks to the engine
// from a shell. Interactively it shows a prompt and prints replies as they
// arrive (agent replies too); with a pipe on stdin it reads one question per
// line and prints each reply before reading the next, so it can be scripted:
//
//	printf 'How do I reset my password?\n' | tier0 chat
//
// Buttons are shown as numbered choices; typing the number clicks them.
package console

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Handler handles one inbound message; *conversation.Engine satisfies it.
type Handler interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
}

// Config configures a Console.
type Config struct {
	// User is the identity the terminal user speaks as (default: ID "local").
	User conversation.Identity
	// Session distinguishes conversations of the same user (default: random).
	Session string
	// ReplyTimeout bounds the wait for a reply in scripted mode (default 30s).
	ReplyTimeout time.Duration
	// Interactive shows a prompt and prints replies as they come.
	Interactive bool
	Prompt      string // default "you> "
}

// Console reads questions, hands them to the engine and prints replies. It
// is also the conversation.Sender of the console channel.
type Console struct {
	cfg     Config
	out     io.Writer
	outMu   sync.Mutex
	mu      sync.Mutex
	choices []conversation.Button
	waiters map[string]chan struct{} // outbound id → closed when printed
	printed map[string]bool          // outbound ids already printed (idempotent Send)
}

var _ conversation.Sender = (*Console)(nil)

// New returns a console that prints to out.
func New(cfg Config, out io.Writer) *Console {
	if cfg.User.ID == "" {
		cfg.User.ID = "local"
	}
	if cfg.Session == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.Session = hex.EncodeToString(b[:])
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = 30 * time.Second
	}
	if cfg.Prompt == "" {
		cfg.Prompt = "you> "
	}
	return &Console{cfg: cfg, out: out, waiters: make(map[string]chan struct{}), printed: make(map[string]bool)}
}

// ConversationKey is the key of this console's conversation.
func (c *Console) ConversationKey() string {
	return "console:" + c.cfg.User.ID + ":" + c.cfg.Session
}

// Send prints an outbound message (conversation.Sender). Printing the same
// id twice is suppressed.
func (c *Console) Send(_ context.Context, o conversation.Outbound) error {
	c.mu.Lock()
	if c.printed[o.ID] {
		c.mu.Unlock()
		return nil
	}
	c.printed[o.ID] = true
	if len(o.Buttons) > 0 {
		c.choices = o.Buttons
	}
	w := c.waiters[o.ID]
	delete(c.waiters, o.ID)
	c.mu.Unlock()

	c.outMu.Lock()
	if c.cfg.Interactive {
		fmt.Fprint(c.out, "\r")
	}
	fmt.Fprint(c.out, Format(o))
	if c.cfg.Interactive {
		fmt.Fprint(c.out, c.cfg.Prompt)
	}
	c.outMu.Unlock()
	if w != nil {
		close(w)
	}
	return nil
}

// Format renders an outbound message for a terminal: the text, its
// sources, and numbered choices.
func Format(o conversation.Outbound) string {
	var b strings.Builder
	prefix := "bot> "
	if o.Kind == conversation.KindAgent {
		prefix = "agent> "
	}
	b.WriteString(prefix + strings.ReplaceAll(strings.TrimSpace(o.Text), "\n", "\n     ") + "\n")
	for _, ci := range o.Citations {
		src := ci.Title
		if ci.Section != "" {
			src += " › " + ci.Section
		}
		if ci.URL != "" {
			src += " <" + ci.URL + ">"
		}
		b.WriteString("     Source: " + src + "\n")
	}
	if len(o.Buttons) > 0 {
		parts := make([]string, len(o.Buttons))
		for i, btn := range o.Buttons {
			parts[i] = fmt.Sprintf("[%d] %s", i+1, btn.Label)
		}
		b.WriteString("     " + strings.Join(parts, "  ") + "\n")
	}
	return b.String()
}

// Run reads lines from in until EOF or ctx is done. Each non-empty line is
// one message; a number that matches a choice offered by the last reply
// clicks that button. In scripted (non-interactive) mode Run waits for the
// replies to each line before reading the next. It returns the first error
// that stops it (the engine's, or a reply timeout), nil at EOF.
func (c *Console) Run(ctx context.Context, h Handler, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	if c.cfg.Interactive {
		c.printPrompt()
	}
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			if c.cfg.Interactive {
				c.printPrompt()
			}
			continue
		}
		if c.cfg.Interactive && (line == "/quit" || line == "/exit") {
			return nil
		}
		n++
		msg := conversation.Message{
			Channel:         conversation.ChannelConsole,
			ConversationKey: c.ConversationKey(),
			DedupeKey:       c.cfg.Session + "-" + strconv.Itoa(n),
			PlatformMsgID:   strconv.Itoa(n),
			User:            c.cfg.User,
			Text:            line,
			SentAt:          time.Now(),
		}
		if a := c.choice(line); a != nil {
			msg.Text, msg.Action = "", a
		}
		if err := c.turn(ctx, h, msg); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return conversation.Errorf(conversation.Invalid, "read input: a line is longer than 64 KiB")
		}
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

func (c *Console) printPrompt() {
	c.outMu.Lock()
	fmt.Fprint(c.out, c.cfg.Prompt)
	c.outMu.Unlock()
}

// choice maps "1", "2", … to the buttons of the last reply.
func (c *Console) choice(line string) *conversation.Action {
	i, err := strconv.Atoi(line)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || i < 1 || i > len(c.choices) {
		return nil
	}
	a := c.choices[i-1].Action
	return &a
}

// turn hands one message to the engine and, in scripted mode, waits until
// every console reply the turn committed has been printed.
func (c *Console) turn(ctx context.Context, h Handler, msg conversation.Message) error {
	res, err := h.Handle(ctx, msg)
	if err != nil {
		return fmt.Errorf("handle message: %s (%w)", conversation.ErrorMessage(err), err)
	}
	if c.cfg.Interactive {
		return nil
	}
	var waits []chan struct{}
	c.mu.Lock()
	for _, o := range res.Outbound {
		if o.Channel != conversation.ChannelConsole || c.printed[o.ID] {
			continue
		}
		w := c.waiters[o.ID]
		if w == nil {
			w = make(chan struct{})
			c.waiters[o.ID] = w
		}
		waits = append(waits, w)
	}
	c.mu.Unlock()
	timer := time.NewTimer(c.cfg.ReplyTimeout)
	defer timer.Stop()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return conversation.Errorf(conversation.Unavailable, "no reply within %s", c.cfg.ReplyTimeout)
		}
	}
	return nil
}
