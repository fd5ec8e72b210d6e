package telegram

import (
	"context"
	"encoding/json"
	"log/slog"
)

// UpdatesClient returns the getUpdates call of the polling loop against
// the Bot API at apiURL with token, for the fuzz test of its parsing.
func UpdatesClient(apiURL, token string) (func(ctx context.Context) ([]json.RawMessage, error), error) {
	api, err := newBotAPI(Config{APIURL: apiURL, Token: token}.withDefaults(), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) ([]json.RawMessage, error) { return api.GetUpdates(ctx, 1, 0, allowedUpdates) }, nil
}

// HandleBatch hands a polled batch of updates to a, as the polling loop
// does; it returns the offset after the batch and whether it stalled.
func HandleBatch(ctx context.Context, a *Adapter, raws []json.RawMessage) (int64, bool) {
	return a.handleBatch(ctx, 0, raws, map[int64]int{})
}
