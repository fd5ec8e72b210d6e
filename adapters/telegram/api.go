package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/conversation"
)

// botAPI is the part of the Bot API the adapter uses. It hides the SDK:
// every method but GetUpdates and Download goes through go-telegram/bot
// (multipart/form-data requests); the SDK has no exported getUpdates
// call that leaves the offset to us, so that one is a direct JSON request
// whose errors are mapped to the SDK's error types.
type botAPI interface {
	GetMe(ctx context.Context) (*models.User, error)
	// GetUpdates long-polls; each update is returned undecoded, so one
	// update of an unexpected shape cannot block the others.
	GetUpdates(ctx context.Context, offset int64, timeout time.Duration, allowed []string) ([]json.RawMessage, error)
	SetWebhook(ctx context.Context, p *bot.SetWebhookParams) error
	DeleteWebhook(ctx context.Context) error
	SendMessage(ctx context.Context, p *bot.SendMessageParams) (*models.Message, error)
	SendChatAction(ctx context.Context, p *bot.SendChatActionParams) error
	AnswerCallbackQuery(ctx context.Context, p *bot.AnswerCallbackQueryParams) error
	CreateForumTopic(ctx context.Context, p *bot.CreateForumTopicParams) (*models.ForumTopic, error)
	GetFile(ctx context.Context, fileID string) (*models.File, error)
	// Download opens a file path from GetFile.
	Download(ctx context.Context, filePath string) (io.ReadCloser, error)
}

// allowedUpdates are the update types the adapter asks Telegram for.
var allowedUpdates = []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery}

// sdkAPI implements botAPI with go-telegram/bot.
type sdkAPI struct {
	b       *bot.Bot
	client  *http.Client
	base    string // APIURL without a trailing slash
	token   string
	timeout time.Duration // per call, except getUpdates
}

func newBotAPI(cfg Config, log *slog.Logger) (*sdkAPI, error) {
	base := strings.TrimRight(cfg.APIURL, "/")
	b, err := bot.New(cfg.Token,
		bot.WithSkipGetMe(),
		bot.WithServerURL(base),
		bot.WithHTTPClient(cfg.PollTimeout, cfg.HTTPClient),
		bot.WithErrorsHandler(func(err error) { log.Debug("telegram sdk", "err", redact(err, cfg.Token)) }),
		bot.WithDebugHandler(func(string, ...any) {}),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
	)
	if err != nil {
		return nil, conversation.Errorf(conversation.Invalid, "telegram: %v", err)
	}
	return &sdkAPI{b: b, client: cfg.HTTPClient, base: base, token: cfg.Token, timeout: cfg.RequestTimeout}, nil
}

func (s *sdkAPI) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

func (s *sdkAPI) GetMe(ctx context.Context) (*models.User, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	u, err := s.b.GetMe(ctx)
	return u, s.clean(err)
}

func (s *sdkAPI) SetWebhook(ctx context.Context, p *bot.SetWebhookParams) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.b.SetWebhook(ctx, p)
	return s.clean(err)
}

func (s *sdkAPI) DeleteWebhook(ctx context.Context) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{})
	return s.clean(err)
}

func (s *sdkAPI) SendMessage(ctx context.Context, p *bot.SendMessageParams) (*models.Message, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	m, err := s.b.SendMessage(ctx, p)
	return m, s.clean(err)
}

func (s *sdkAPI) SendChatAction(ctx context.Context, p *bot.SendChatActionParams) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.b.SendChatAction(ctx, p)
	return s.clean(err)
}

func (s *sdkAPI) AnswerCallbackQuery(ctx context.Context, p *bot.AnswerCallbackQueryParams) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.b.AnswerCallbackQuery(ctx, p)
	return s.clean(err)
}

func (s *sdkAPI) CreateForumTopic(ctx context.Context, p *bot.CreateForumTopicParams) (*models.ForumTopic, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	t, err := s.b.CreateForumTopic(ctx, p)
	return t, s.clean(err)
}

func (s *sdkAPI) GetFile(ctx context.Context, fileID string) (*models.File, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	f, err := s.b.GetFile(ctx, &bot.GetFileParams{FileID: fileID})
	return f, s.clean(err)
}

// Download opens <APIURL>/file/bot<token>/<path>. The URL holds the
// token: it is built here, used once and never returned or logged.
func (s *sdkAPI) Download(ctx context.Context, filePath string) (io.ReadCloser, error) {
	if filePath == "" || strings.Contains(filePath, "..") || strings.HasPrefix(filePath, "/") {
		return nil, conversation.Errorf(conversation.Invalid, "telegram: unexpected file path")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/file/bot"+s.token+"/"+filePath, nil)
	if err != nil {
		return nil, conversation.Errorf(conversation.Invalid, "telegram: file request: %v", redact(err, s.token))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, conversation.Errorf(conversation.Unavailable, "telegram: download file: %v", redact(err, s.token))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		code := conversation.Unavailable
		if resp.StatusCode < 500 {
			code = conversation.NotFound
		}
		return nil, conversation.Errorf(code, "telegram: download file: HTTP %d", resp.StatusCode)
	}
	return resp.Body, nil
}

// apiResponse is the Bot API's answer envelope.
type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// maxUpdatesBody bounds a getUpdates answer (100 updates).
const maxUpdatesBody = 32 << 20

func (s *sdkAPI) GetUpdates(ctx context.Context, offset int64, timeout time.Duration, allowed []string) ([]json.RawMessage, error) {
	body, err := json.Marshal(struct {
		Offset         int64    `json:"offset,omitempty"`
		Limit          int      `json:"limit"`
		Timeout        int      `json:"timeout"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, 100, int(timeout / time.Second), allowed})
	if err != nil {
		return nil, err
	}
	// The server holds the request for up to timeout; allow for the trip.
	ctx, cancel := context.WithTimeout(ctx, timeout+s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/bot"+s.token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, redact(err, s.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("getUpdates: %w", redact(err, s.token))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxUpdatesBody))
	if err != nil {
		return nil, fmt.Errorf("getUpdates: read answer: %w", redact(err, s.token))
	}
	var r apiResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("getUpdates: HTTP %d with an answer that is not the Bot API's JSON", resp.StatusCode)
	}
	if !r.OK {
		return nil, sdkError(r)
	}
	var ups []json.RawMessage
	if err := json.Unmarshal(r.Result, &ups); err != nil {
		return nil, fmt.Errorf("getUpdates: result is not a list of updates: %w", err)
	}
	return ups, nil
}

// sdkError maps an error answer to the error go-telegram/bot returns for
// it, so getUpdates and the SDK's calls are classified alike.
func sdkError(r apiResponse) error {
	switch r.ErrorCode {
	case http.StatusTooManyRequests:
		return &bot.TooManyRequestsError{Message: "too many requests, " + r.Description, RetryAfter: r.Parameters.RetryAfter}
	case http.StatusConflict:
		return fmt.Errorf("%w, %s", bot.ErrorConflict, r.Description)
	case http.StatusUnauthorized:
		return fmt.Errorf("%w, %s", bot.ErrorUnauthorized, r.Description)
	case http.StatusForbidden:
		return fmt.Errorf("%w, %s", bot.ErrorForbidden, r.Description)
	case http.StatusBadRequest:
		return fmt.Errorf("%w, %s", bot.ErrorBadRequest, r.Description)
	case http.StatusNotFound:
		return fmt.Errorf("%w, %s", bot.ErrorNotFound, r.Description)
	}
	return fmt.Errorf("error response from telegram, %d %s", r.ErrorCode, r.Description)
}

// clean strips the token from an SDK error (the SDK already redacts the
// URLs of network errors; this covers anything else).
func (s *sdkAPI) clean(err error) error {
	if err == nil {
		return nil
	}
	return redact(err, s.token)
}

// redactedError is an error whose text had the bot token removed; it
// keeps the original for errors.Is/As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every occurrence of token in its text replaced.
func redact(err error, token string) error {
	if err == nil || token == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, token, "<token>")
	}
	msg := err.Error()
	if !strings.Contains(msg, token) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(msg, token, "<token>"), err: err}
}

// classify maps a Bot API error to the conversation error codes: 429 →
// *conversation.RetryAfterError (Unavailable) with Telegram's retry_after;
// 401 → Unauthorized; 400, 403, 404 → Invalid (permanent: the chat is
// gone, the bot was blocked, the request is wrong); 409 → Conflict;
// everything else (5xx, network, timeouts) → Unavailable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var tmr *bot.TooManyRequestsError
	if errors.As(err, &tmr) {
		after := time.Duration(max(tmr.RetryAfter, 1)) * time.Second
		return &conversation.RetryAfterError{After: after, Err: conversation.Errorf(conversation.Unavailable, "telegram flood control: %w", err)}
	}
	var mig *bot.MigrateError
	switch {
	case errors.As(err, &mig):
		return conversation.Errorf(conversation.Invalid, "telegram: the group became a supergroup (new chat id %d): %w", mig.MigrateToChatID, err)
	case errors.Is(err, bot.ErrorUnauthorized):
		return conversation.Errorf(conversation.Unauthorized, "telegram rejected the bot token: %w", err)
	case errors.Is(err, bot.ErrorBadRequest), errors.Is(err, bot.ErrorForbidden), errors.Is(err, bot.ErrorNotFound):
		return conversation.Errorf(conversation.Invalid, "telegram: %w", err)
	case errors.Is(err, bot.ErrorConflict):
		return conversation.Errorf(conversation.Conflict, "telegram: %w", err)
	}
	return conversation.Errorf(conversation.Unavailable, "telegram: %w", err)
}
