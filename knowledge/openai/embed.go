package openai

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// Embedder embeds texts with an OpenAI-compatible /embeddings endpoint. It
// implements knowledge.Embedder and is safe for concurrent use.
type Embedder struct {
	c *client
}

var _ knowledge.Embedder = (*Embedder)(nil)

// NewEmbedder returns an Embedder for cfg. Errors: Invalid (see
// Config.Validate).
func NewEmbedder(cfg Config) (*Embedder, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Embedder{c: c}, nil
}

// Name identifies the model and vector length: "openai:MODEL", or
// "openai:MODEL@DIMENSIONS" when Dimensions is set. The endpoint is not part
// of it: the same model served elsewhere gives the same vectors. A change of
// name makes knowledge.Index re-embed everything.
func (e *Embedder) Name() string {
	name := "openai:" + e.c.cfg.Model
	if e.c.cfg.Dimensions > 0 {
		name += "@" + strconv.Itoa(e.c.cfg.Dimensions)
	}
	return name
}

// Embed returns the L2-normalised vector of text. Errors as EmbedBatch.
func (e *Embedder) Embed(ctx context.Context, text string) ([]float32, error) {
	vs, err := e.EmbedBatch(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// EmbedBatch returns the L2-normalised vectors of texts, in the order of
// texts, sending BatchSize texts per request. A text longer than
// MaxInputBytes is cut. Errors: Invalid for a blank text or a request the
// provider rejects, Unauthorized, Unavailable (provider down or timing
// out, a malformed, oversized or inconsistent response, ctx done).
func (e *Embedder) EmbedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return nil, conversation.Errorf(conversation.Invalid, "embeddings: text %d is blank", i)
		}
	}
	for start := 0; start < len(texts); start += e.c.cfg.BatchSize {
		batch := texts[start:min(len(texts), start+e.c.cfg.BatchSize)]
		vs, err := e.embed(ctx, batch)
		if err != nil {
			if len(texts) > len(batch) {
				return nil, fmt.Errorf("embeddings %d to %d of %d: %w", start+1, start+len(batch), len(texts), err)
			}
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// embeddingsRequest is the body of POST /embeddings.
type embeddingsRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions,omitempty"`
}

// embeddingsResponse is the part of the response tier0 reads.
type embeddingsResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float64 `json:"embedding"`
	} `json:"data"`
}

// embed makes one request for one batch.
func (e *Embedder) embed(ctx context.Context, batch []string) ([][]float32, error) {
	req := embeddingsRequest{Model: e.c.cfg.Model, Input: make([]string, len(batch)), Dimensions: e.c.cfg.Dimensions}
	for i, t := range batch {
		req.Input[i] = strings.ToValidUTF8(truncateUTF8(t, MaxInputBytes), "\uFFFD")
	}
	var out [][]float32
	err := e.c.post(ctx, "embeddings", "/embeddings", req, func(_ context.Context, resp *http.Response, _ func()) (bool, error) {
		var body embeddingsResponse
		if err := e.c.readJSON("embeddings", resp, &body); err != nil {
			return false, err
		}
		vs, err := e.vectors(body, len(batch))
		out = vs
		return false, err
	})
	return out, err
}

// vectors checks a response for n inputs and returns its normalised
// vectors in input order. Errors: Unavailable.
func (e *Embedder) vectors(body embeddingsResponse, n int) ([][]float32, error) {
	bad := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Unavailable, "embeddings: malformed response: "+format, args...)
	}
	if len(body.Data) != n {
		return nil, bad("%d embeddings for %d inputs", len(body.Data), n)
	}
	out := make([][]float32, n)
	dims := e.c.cfg.Dimensions
	for _, d := range body.Data {
		switch {
		case d.Index == nil || *d.Index < 0 || *d.Index >= n:
			return nil, bad("embedding without a valid index")
		case out[*d.Index] != nil:
			return nil, bad("index %d appears twice", *d.Index)
		case len(d.Embedding) == 0 || len(d.Embedding) > MaxDimensions:
			return nil, bad("embedding %d has %d dimensions", *d.Index, len(d.Embedding))
		case dims != 0 && len(d.Embedding) != dims:
			return nil, bad("embedding %d has %d dimensions, want %d", *d.Index, len(d.Embedding), dims)
		}
		dims = len(d.Embedding)
		v, ok := normalize(d.Embedding)
		if !ok {
			return nil, bad("embedding %d is zero or not finite", *d.Index)
		}
		out[*d.Index] = v
	}
	return out, nil
}

// normalize returns v scaled to unit length; false for a zero vector or one
// holding values out of float32 range.
func normalize(v []float64) ([]float32, bool) {
	var sum float64
	for _, x := range v {
		if math.IsNaN(x) || math.Abs(x) > math.MaxFloat32 {
			return nil, false
		}
		sum += x * x
	}
	if sum == 0 || math.IsInf(sum, 0) {
		return nil, false
	}
	inv := 1 / math.Sqrt(sum)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out, true
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
