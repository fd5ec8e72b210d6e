package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
)

// LocalHub is the in-process fan-out a LiveHub delivers into: it holds
// the live streams connected to this replica. webchat.MemoryHub
// satisfies it.
type LocalHub interface {
	Publish(ctx context.Context, key string, o conversation.Outbound) error
	Subscribe(key string) (<-chan conversation.Outbound, func())
}

// LiveHub carries live outbound messages between replicas over Redis
// pub/sub, so a reply sent by any replica reaches a visitor whose event
// stream is held by another one. Every replica publishes to one channel
// and hands what it receives to its LocalHub, which knows the local
// streams and drops repeated ids.
//
// Pub/sub is fire-and-forget: a message published while a replica's
// subscription is reconnecting does not reach that replica's streams. The
// message is still in the conversation history, which clients reload when
// their stream reconnects. LiveHub satisfies webchat.Hub.
type LiveHub struct {
	client  redis.UniversalClient
	channel string
	local   LocalHub
	log     *slog.Logger
	ps      *redis.PubSub
	wg      sync.WaitGroup
	once    sync.Once
}

// liveMessage is what travels on the channel.
type liveMessage struct {
	Key      string                `json:"k"`
	Outbound conversation.Outbound `json:"o"`
}

// maxLivePayload bounds a received message; anything larger is dropped.
const maxLivePayload = 1 << 20

// NewLiveHub subscribes to channel and returns once the subscription is
// confirmed, so nothing published afterwards is missed. Close ends it.
// Errors: Unavailable when Redis does not confirm the subscription.
func NewLiveHub(ctx context.Context, client redis.UniversalClient, channel string, local LocalHub, log *slog.Logger) (*LiveHub, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &LiveHub{client: client, channel: channel, local: local, log: log}
	h.ps = client.Subscribe(ctx, channel)
	if _, err := h.ps.Receive(ctx); err != nil {
		_ = h.ps.Close()
		return nil, fail("subscribe to live channel", channel, err)
	}
	h.wg.Go(h.receive)
	return h, nil
}

func (h *LiveHub) receive() {
	for m := range h.ps.Channel() {
		if len(m.Payload) > maxLivePayload {
			h.log.Warn("live hub: dropped oversized message", "bytes", len(m.Payload))
			continue
		}
		var lm liveMessage
		if err := json.Unmarshal([]byte(m.Payload), &lm); err != nil || lm.Key == "" {
			h.log.Warn("live hub: dropped malformed message", "err", err)
			continue
		}
		if err := h.local.Publish(context.Background(), lm.Key, lm.Outbound); err != nil {
			h.log.Warn("live hub: local delivery failed", "err", err)
		}
	}
}

// Publish sends o to every replica's local streams of key. Errors:
// Unavailable when Redis is down, Invalid when o cannot be encoded.
func (h *LiveHub) Publish(ctx context.Context, key string, o conversation.Outbound) error {
	b, err := json.Marshal(liveMessage{Key: key, Outbound: o})
	if err != nil {
		return conversation.Errorf(conversation.Invalid, "live hub: encode message: %w", err)
	}
	if len(b) > maxLivePayload {
		return conversation.Errorf(conversation.Invalid, "live hub: message of %d bytes is over the %d byte limit", len(b), maxLivePayload)
	}
	if err := h.client.Publish(ctx, h.channel, b).Err(); err != nil {
		return fail("publish live message", key, err)
	}
	return nil
}

// Subscribe returns this replica's live stream of key (see LocalHub).
func (h *LiveHub) Subscribe(key string) (<-chan conversation.Outbound, func()) {
	return h.local.Subscribe(key)
}

// Close ends the subscription and waits for the receiver to stop.
func (h *LiveHub) Close() error {
	var err error
	h.once.Do(func() {
		err = h.ps.Close()
		h.wg.Wait()
		if errors.Is(err, redis.ErrClosed) {
			err = nil
		}
	})
	if err != nil {
		return fmt.Errorf("close live hub: %w", err)
	}
	return nil
}
