package openai

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Defaults and limits of Config.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRetries       = 3
	DefaultBatchSize        = 64
	DefaultMaxResponseBytes = 64 << 20
	DefaultMaxRetryWait     = 30 * time.Second
	// MaxBatchSize is the most inputs one /embeddings request may carry
	// (OpenAI's limit).
	MaxBatchSize = 2048
	// MaxRetries is the highest MaxRetries setting Validate accepts.
	MaxRetries = 10
	// MaxDimensions is the longest vector Validate accepts and Embedder
	// takes from a provider.
	MaxDimensions = 65536
	// MaxInputBytes bounds one text sent for embedding; the rest is cut
	// off (at a character boundary). It stays below the 8k-token limit of
	// the common embedding models for ordinary prose.
	MaxInputBytes = 24 << 10
)

// Backoff between retries when the provider does not say how long to wait:
// baseBackoff doubled per retry, at most maxBackoff, of which a random half
// is dropped (jitter) so clients that failed together do not retry together.
const (
	baseBackoff = 500 * time.Millisecond
	maxBackoff  = 8 * time.Second
)

// Config configures an Embedder or a ChatClient. Zero fields take the
// defaults. Secrets (APIKey, auth Headers) come from the environment in
// cmd and are never logged or quoted in errors.
type Config struct {
	// BaseURL is the API root the paths /embeddings and /chat/completions
	// are appended to, e.g. https://api.openai.com/v1,
	// http://localhost:11434/v1 (Ollama), http://localhost:8000/v1 (vLLM),
	// or for Azure OpenAI
	// https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY", or as the "api-key"
	// header when AzureAPIVersion is set. Empty sends no credential
	// (Ollama, a local vLLM).
	APIKey string
	// Model is the model name sent with every request (for Azure, the
	// deployment in BaseURL decides; Model still names the index).
	Model string
	// Timeout bounds one attempt: until the whole response is read, or for
	// a stream, until the headers and then between two events (default 30s).
	Timeout time.Duration
	// MaxRetries is how often a failed request is retried (default 3;
	// negative: never).
	MaxRetries int
	// MaxRetryWait is the longest wait before a retry; a provider asking
	// for more (Retry-After) gets an error instead (default 30s).
	MaxRetryWait time.Duration
	// BatchSize is how many texts one /embeddings request carries
	// (default 64, at most MaxBatchSize).
	BatchSize int
	// Dimensions, when set, asks the model for vectors of this length
	// (text-embedding-3 models) and is checked on every response.
	Dimensions int
	// Headers are sent with every request, e.g. an organisation or project
	// id, or a gateway's key.
	Headers map[string]string
	// AzureAPIVersion, when set, selects Azure OpenAI: the version is sent
	// as the api-version query parameter and APIKey as the api-key header.
	AzureAPIVersion string
	// MaxResponseBytes bounds a response body (default 64 MiB).
	MaxResponseBytes int64
	// HTTPClient sends the requests (default: a client of its own without
	// a global timeout; Timeout applies per attempt).
	HTTPClient *http.Client
	// Logger gets a warning for every retry (default slog.Default()).
	Logger *slog.Logger
	// OnRetry, if set, is called before each wait for a retry with the
	// number of the retry (1, 2, …), the wait and the error that caused it.
	OnRetry func(retry int, wait time.Duration, err error)
}

// Validate reports a missing or out-of-range setting. Errors: Invalid.
func (c Config) Validate() error {
	invalid := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "openai config: "+format, args...)
	}
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		return invalid("base url is empty")
	case err != nil:
		return invalid("base url %q does not parse", c.BaseURL)
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("base url %q: want an http or https url", c.BaseURL)
	case u.Host == "":
		return invalid("base url %q has no host", c.BaseURL)
	case u.User != nil:
		return invalid("base url must not hold credentials; use APIKey")
	case u.RawQuery != "" || u.Fragment != "":
		return invalid("base url %q must not have a query or fragment; use AzureAPIVersion for api-version", c.BaseURL)
	case strings.TrimSpace(c.Model) == "":
		return invalid("model is empty")
	case !printable(c.Model) || len(c.Model) > 256:
		return invalid("model must be at most 256 printable characters")
	case !printable(c.APIKey):
		return invalid("api key holds control characters")
	case !printable(c.AzureAPIVersion):
		return invalid("azure api version holds control characters")
	case c.Timeout < 0:
		return invalid("timeout %s is negative", c.Timeout)
	case c.MaxRetries > MaxRetries:
		return invalid("max retries %d, want at most %d", c.MaxRetries, MaxRetries)
	case c.MaxRetryWait < 0:
		return invalid("max retry wait %s is negative", c.MaxRetryWait)
	case c.BatchSize < 0 || c.BatchSize > MaxBatchSize:
		return invalid("batch size %d, want 0 to %d", c.BatchSize, MaxBatchSize)
	case c.Dimensions < 0 || c.Dimensions > MaxDimensions:
		return invalid("dimensions %d, want 0 to %d", c.Dimensions, MaxDimensions)
	case c.MaxResponseBytes < 0:
		return invalid("max response bytes %d is negative", c.MaxResponseBytes)
	}
	for name, value := range c.Headers {
		if !validHeaderName(name) || !printable(value) {
			// Do not quote the value: it may be a secret.
			return invalid("header %q: invalid name or value", name)
		}
	}
	return nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// printable reports whether s has no control characters (header values
// and URLs must not carry line breaks).
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName reports whether name is an HTTP header token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
