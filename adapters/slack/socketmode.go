package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/tier0/tier0/conversation"
)

// RunSocketMode receives events over Slack's Socket Mode (apps.connections.open
// with the app-level token, then a websocket) until ctx ends, reconnecting
// when Slack asks. Events are normalised exactly like HTTP ones. An
// events_api envelope with a customer message is acknowledged only once
// its turn is committed to the store, as the HTTP door answers 200 (see
// Config.CommitWait); one whose turn fails, or is not committed in
// time, stays unacknowledged and Slack delivers it again (a delivery of
// a committed one is recognised as a duplicate). Other envelopes are
// acknowledged once their work is queued (or found to need none). So
// several replicas may each run a connection: Slack hands each envelope
// to one of them, and the store's dedupe covers the rest. It
// returns nil when ctx ends. Errors: Invalid without an AppToken,
// Unavailable before Start, Unauthorized when Slack rejects the token,
// Unavailable when the connection cannot be kept.
func (a *Adapter) RunSocketMode(ctx context.Context) error {
	if a.cfg.AppToken == "" {
		return conversation.Errorf(conversation.Invalid, "slack socket mode needs an app-level token (AppToken)")
	}
	if a.identity() == nil {
		return conversation.Errorf(conversation.Unavailable, "slack socket mode: Start the adapter first")
	}
	client := socketmode.New(a.client, socketmode.OptionPingInterval(a.cfg.SocketPingTimeout), socketmode.OptionReadLimit(a.cfg.MaxBodyBytes))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	defer a.socketWG.Wait() // the acks in flight end with ctx
	for {
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			e := apiError("apps.connections.open", err)
			a.log.Error("slack socket mode stopped", "err", e)
			return fmt.Errorf("slack socket mode: %w", e)
		case ev := <-client.Events:
			a.socketEvent(ctx, client, ev)
		case <-ctx.Done():
			<-errc
			return nil
		}
	}
}

// socketEvent handles one event of the socket mode client.
func (a *Adapter) socketEvent(ctx context.Context, client *socketmode.Client, ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeEventsAPI:
		data, ok := ev.Data.(slackevents.EventsAPIEvent)
		if !ok {
			a.ackIf(ctx, client, ev.Request, ignored)
			return
		}
		// Waiting for the commit must not hold up the envelopes behind
		// this one: each waits in its own goroutine, as many at once as
		// the pool has workers and queue (beyond that the envelope stays
		// unacknowledged and Slack delivers it again).
		select {
		case a.socketWaits <- struct{}{}:
		default:
			a.log.Warn("slack socket mode envelope left unacknowledged: too many waiting for their commit")
			return
		}
		a.socketWG.Go(func() {
			defer func() { <-a.socketWaits }()
			a.ackIf(ctx, client, ev.Request, a.acceptEvent(ctx, data, a.cfg.CommitWait))
		})
	case socketmode.EventTypeInteractive:
		res := ignored
		if cb, ok := ev.Data.(slack.InteractionCallback); ok {
			res = a.acceptInteraction(ctx, cb)
		}
		a.ackIf(ctx, client, ev.Request, res)
	case socketmode.EventTypeSlashCommand:
		a.ackIf(ctx, client, ev.Request, ignored)
	case socketmode.EventTypeErrorBadMessage:
		// Unknown inner event types and malformed payloads end up here;
		// acknowledge them so Slack does not send them again.
		if bad, ok := ev.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(bad.Message, &env) == nil && env.EnvelopeID != "" {
				a.log.Debug("slack socket mode envelope ignored", "err", bad.Cause)
				a.ack(ctx, client, env.EnvelopeID)
			}
		}
	case socketmode.EventTypeConnected:
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		a.log.Warn("slack socket mode connection failed; retrying", "err", connErr(ev.Data))
	case socketmode.EventTypeInvalidAuth:
		a.log.Error("slack socket mode: the app-level token was rejected")
	default:
		a.log.Debug("slack socket mode", "event", string(ev.Type))
	}
}

func connErr(data any) error {
	if ce, ok := data.(*slack.ConnectionErrorEvent); ok && ce.ErrorObj != nil {
		return ce.ErrorObj
	}
	return errors.New("connection error")
}

// ackIf acknowledges req unless its work found no room or its turn is
// not committed: Slack then delivers the envelope again (here or on
// another replica).
func (a *Adapter) ackIf(ctx context.Context, client *socketmode.Client, req *socketmode.Request, res acceptResult) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	switch res {
	case busy, unready:
		a.log.Warn("slack socket mode envelope left unacknowledged: busy")
		return
	case uncommitted:
		a.log.Warn("slack socket mode envelope left unacknowledged: its turn is not committed")
		return
	}
	a.ack(ctx, client, req.EnvelopeID)
}

func (a *Adapter) ack(ctx context.Context, client *socketmode.Client, id string) {
	if err := client.AckCtx(ctx, id, nil); err != nil && ctx.Err() == nil {
		a.log.Warn("slack socket mode ack failed", "err", err)
	}
}
