package openai

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/tier0/tier0/conversation"
)

// Message roles of a chat.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Limits of a ChatRequest and of a streamed event.
const (
	MaxMessages     = 100
	MaxRequestBytes = 1 << 20 // the sum of all message contents
	maxEventBytes   = 1 << 20
)

// Message is one message of a chat.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is one chat completion to ask for.
type ChatRequest struct {
	// Model overrides Config.Model when set.
	Model    string
	Messages []Message
	// Temperature is sent when set (some reasoning models accept only
	// their default).
	Temperature *float64
	// MaxTokens bounds the reply when positive.
	MaxTokens int
	// Tools are the functions the model may call (OpenAI "tools" of type
	// function); the calls come back in ChatResponse.ToolCalls.
	Tools []Tool
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters map[string]any
}

// ToolCall is a function call the model asked for. Arguments is the
// model's JSON text: untrusted, to be parsed and validated by the caller.
type ToolCall struct {
	ID, Name, Arguments string
}

// ChatResponse is the model's reply.
type ChatResponse struct {
	Content string
	// FinishReason is the provider's: "stop", "length", "content_filter"…
	FinishReason string
	Model        string
	// ToolCalls are the functions the model asked to call (at most
	// MaxToolCalls are kept).
	ToolCalls []ToolCall
}

// MaxToolCalls bounds the tool calls read from one reply.
const MaxToolCalls = 8

// ChatClient calls an OpenAI-compatible /chat/completions endpoint. It is
// safe for concurrent use.
type ChatClient struct {
	c *client
}

// NewChatClient returns a ChatClient for cfg (BatchSize and Dimensions are
// not used). Errors: Invalid (see Config.Validate).
func NewChatClient(cfg Config) (*ChatClient, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &ChatClient{c: c}, nil
}

// chatRequest is the body of POST /chat/completions.
type chatRequest struct {
	Model       string     `json:"model"`
	Messages    []Message  `json:"messages"`
	Temperature *float64   `json:"temperature,omitempty"`
	MaxTokens   int        `json:"max_tokens,omitempty"`
	Stream      bool       `json:"stream,omitempty"`
	Tools       []wireTool `json:"tools,omitempty"`
}

type wireTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string         `json:"name"`
		Description string         `json:"description,omitempty"`
		Parameters  map[string]any `json:"parameters,omitempty"`
	} `json:"function"`
}

// wireMessage is a reply message with the tool calls tier0 reads.
type wireMessage struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	ToolCalls []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// chatResponse is the part of a response (or, with Delta, of a streamed
// event) tier0 reads.
type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message      *wireMessage `json:"message"`
		Delta        *Message     `json:"delta"`
		FinishReason *string      `json:"finish_reason"`
	} `json:"choices"`
	Error json.RawMessage `json:"error"`
}

// wire checks r and returns its request body. Errors: Invalid.
func (c *ChatClient) wire(r ChatRequest, stream bool) (chatRequest, error) {
	invalid := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "chat: "+format, args...)
	}
	if len(r.Messages) == 0 || len(r.Messages) > MaxMessages {
		return chatRequest{}, invalid("%d messages, want 1 to %d", len(r.Messages), MaxMessages)
	}
	size := 0
	for i, m := range r.Messages {
		if m.Role != RoleSystem && m.Role != RoleUser && m.Role != RoleAssistant {
			return chatRequest{}, invalid("message %d has role %q", i, m.Role)
		}
		size += len(m.Content)
	}
	if size > MaxRequestBytes {
		return chatRequest{}, invalid("messages hold %d bytes, want at most %d", size, MaxRequestBytes)
	}
	if r.MaxTokens < 0 {
		return chatRequest{}, invalid("max tokens %d is negative", r.MaxTokens)
	}
	model := r.Model
	if model == "" {
		model = c.c.cfg.Model
	}
	body := chatRequest{Model: model, Messages: r.Messages, Temperature: r.Temperature, MaxTokens: r.MaxTokens, Stream: stream}
	for _, t := range r.Tools {
		if t.Name == "" {
			return chatRequest{}, invalid("a tool has no name")
		}
		var w wireTool
		w.Type = "function"
		w.Function.Name, w.Function.Description, w.Function.Parameters = t.Name, t.Description, t.Parameters
		body.Tools = append(body.Tools, w)
	}
	return body, nil
}

// Complete returns the model's whole reply to r. Errors: Invalid (a bad
// request, or one the provider rejects), Unauthorized, Unavailable
// (provider down or timing out, a malformed or oversized reply, ctx done).
func (c *ChatClient) Complete(ctx context.Context, r ChatRequest) (ChatResponse, error) {
	body, err := c.wire(r, false)
	if err != nil {
		return ChatResponse{}, err
	}
	var out ChatResponse
	err = c.c.post(ctx, "chat", "/chat/completions", body, func(_ context.Context, resp *http.Response, _ func()) (bool, error) {
		var err error
		out, err = c.readWhole(resp)
		return false, err
	})
	return out, err
}

// readWhole reads a non-streamed reply.
func (c *ChatClient) readWhole(resp *http.Response) (ChatResponse, error) {
	var body chatResponse
	if err := c.c.readJSON("chat", resp, &body); err != nil {
		return ChatResponse{}, err
	}
	if len(body.Choices) == 0 || body.Choices[0].Message == nil {
		return ChatResponse{}, conversation.Errorf(conversation.Unavailable, "chat: malformed response: no message")
	}
	msg := body.Choices[0].Message
	out := ChatResponse{Content: msg.Content, Model: body.Model}
	for _, tc := range msg.ToolCalls {
		if len(out.ToolCalls) == MaxToolCalls {
			break
		}
		out.ToolCalls = append(out.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	if f := body.Choices[0].FinishReason; f != nil {
		out.FinishReason = *f
	}
	return out, nil
}

// Stream asks for the reply to r as server-sent events and calls onDelta
// with each piece of text as it arrives; the returned response holds the
// whole text. A failed request is retried only while nothing was passed
// to onDelta. Config.Timeout bounds the wait for the response and then
// for each event. A server that answers with a whole JSON reply instead
// of a stream is accepted (one delta). Errors as Complete; a stream that
// breaks off or reports an error is Unavailable.
func (c *ChatClient) Stream(ctx context.Context, r ChatRequest, onDelta func(string)) (ChatResponse, error) {
	body, err := c.wire(r, true)
	if err != nil {
		return ChatResponse{}, err
	}
	var out ChatResponse
	err = c.c.post(ctx, "chat", "/chat/completions", body, func(_ context.Context, resp *http.Response, touch func()) (bool, error) {
		out = ChatResponse{}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
			whole, err := c.readWhole(resp)
			if err != nil {
				return false, err
			}
			out = whole
			if out.Content != "" {
				onDelta(out.Content)
			}
			return out.Content != "", nil
		}
		return c.readEvents(resp, touch, onDelta, &out)
	})
	return out, err
}

// readEvents reads a server-sent event stream into out, passing text on to
// onDelta. It reports whether onDelta was called.
func (c *ChatClient) readEvents(resp *http.Response, touch func(), onDelta func(string), out *ChatResponse) (bool, error) {
	body := &boundedReader{r: resp.Body, limit: c.c.cfg.MaxResponseBytes, op: "chat"}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4096), maxEventBytes)
	var text strings.Builder
	delivered, finished := false, false
	for sc.Scan() {
		if body.n > body.limit {
			break // the last line is cut; sc.Err says why
		}
		touch()
		line := strings.TrimRight(sc.Text(), "\r")
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue // blank separators, comments, event:, id:, retry:
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			out.Content = text.String()
			return delivered, nil
		}
		var ev chatResponse
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return delivered, coded(conversation.Unavailable, "chat: malformed stream event", err)
		}
		if len(ev.Error) > 0 && string(ev.Error) != "null" {
			return delivered, conversation.Errorf(conversation.Unavailable, "chat: provider reported an error in the stream: %s", c.c.providerMessage([]byte(data)))
		}
		if ev.Model != "" {
			out.Model = ev.Model
		}
		if len(ev.Choices) == 0 {
			continue // e.g. a final usage event
		}
		ch := ev.Choices[0] // only one choice is asked for
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			out.FinishReason, finished = *ch.FinishReason, true
		}
		if ch.Delta != nil && ch.Delta.Content != "" {
			text.WriteString(ch.Delta.Content)
			onDelta(ch.Delta.Content)
			delivered = true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return delivered, conversation.Errorf(conversation.Unavailable, "chat: stream event larger than %d bytes", maxEventBytes)
		}
		return delivered, err
	}
	out.Content = text.String()
	if !finished {
		return delivered, retryable{conversation.Errorf(conversation.Unavailable, "chat: stream ended before [DONE]")}
	}
	return delivered, nil
}
