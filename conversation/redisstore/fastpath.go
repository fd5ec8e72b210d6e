package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
)

// This file holds the store's optional capabilities: a turn's start and
// an outbox delivery each in one or two round trips.

// isNoScript reports whether Redis does not know a script's SHA (after a
// restart or SCRIPT FLUSH); the caller then sends the script's source.
func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// BeginTurn checks the dedupe mark, takes the lease and loads the state in
// one round trip; see conversation.TurnStarter. Errors: ErrDuplicate,
// ErrLeaseHeld (Conflict), Invalid, Unavailable, Internal (undecodable
// state; the lease is released).
func (s *Store) BeginTurn(ctx context.Context, key, dedupeKey string, ttl time.Duration) (conversation.Lease, *conversation.Conversation, error) {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return conversation.Lease{}, nil, err
	}
	if err := conversation.CheckKey("dedupe key", dedupeKey); err != nil {
		return conversation.Lease{}, nil, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.Lease{}, nil, err
	}
	expires := time.Now().Add(ttl)
	t := s.tag(key)
	res, err := s.batch.run(ctx, beginScript, []string{t + ":seen:" + dedupeKey, t + ":lease", t + ":fence", t + ":state"},
		ttl.Milliseconds(), s.cfg.IdleTTL.Milliseconds()).Slice()
	if err != nil {
		return conversation.Lease{}, nil, fail("begin turn", key, err)
	}
	token, _ := res[0].(int64)
	switch {
	case token < 0:
		return conversation.Lease{}, nil, fmt.Errorf("begin turn on %q: dedupe key %q: %w", key, dedupeKey, conversation.ErrDuplicate)
	case token == 0:
		return conversation.Lease{}, nil, fmt.Errorf("begin turn on %q: %w", key, conversation.ErrLeaseHeld)
	}
	l := conversation.Lease{Key: key, Token: uint64(token), Expires: expires}
	if len(res) < 2 {
		return l, nil, nil
	}
	raw, _ := res[1].(string)
	var c conversation.Conversation
	if err := conversation.UnmarshalRecord([]byte(raw), &c); err != nil {
		_ = s.Release(context.WithoutCancel(ctx), l)
		return conversation.Lease{}, nil, conversation.Errorf(conversation.Internal, "load conversation %q: decode stored state: %w", key, err)
	}
	return l, &c, nil
}

// ClaimOutbox takes key's delivery lease and up to limit pending messages
// in one round trip (with the backlog mark read in the same pipeline); see
// conversation.OutboxClaimer. Errors: ErrLeaseHeld (Conflict), Invalid,
// Unavailable, Internal (undecodable message).
func (s *Store) ClaimOutbox(ctx context.Context, key string, ttl time.Duration, limit int) (conversation.OutboxClaim, error) {
	if err := conversation.CheckRead(key, limit); err != nil {
		return conversation.OutboxClaim{}, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.OutboxClaim{}, err
	}
	expires := time.Now().Add(ttl)
	t := s.tag(key)
	keys := []string{t + ":dlease", t + ":dfence", t + ":outbox", t + ":outmsg", t + ":lease"}
	args := []any{ttl.Milliseconds(), s.cfg.IdleTTL.Milliseconds(), limit}
	var mark *redis.FloatCmd
	var cmd *redis.Cmd
	if err := s.batch.do(ctx, func(pipe redis.Pipeliner) {
		mark = pipe.ZScore(ctx, s.backlog, key)
		cmd = claimScript.EvalSha(ctx, pipe, keys, args...)
	}); err != nil {
		return conversation.OutboxClaim{}, fail("claim outbox", key, err)
	}
	if isNoScript(cmd.Err()) {
		cmd = claimScript.Run(ctx, s.client, keys, args...)
	}
	res, err := cmd.Slice()
	if err != nil {
		return conversation.OutboxClaim{}, fail("claim outbox", key, err)
	}
	if err := mark.Err(); err != nil && !errors.Is(err, redis.Nil) {
		// The claim holds; without a mark the backlog entry just stays.
		mark = nil
	}
	token, _ := res[0].(int64)
	if token <= 0 {
		return conversation.OutboxClaim{}, fmt.Errorf("claim outbox of %q: %w", key, conversation.ErrLeaseHeld)
	}
	c := conversation.OutboxClaim{
		Key:   key,
		Lease: conversation.Lease{Key: key, Token: uint64(token), Expires: expires},
		More:  len(res) > 1 && res[1] == int64(1),
		Busy:  len(res) > 2 && res[2] == int64(1),
	}
	if mark != nil && mark.Err() == nil {
		c.Mark = strconv.FormatFloat(mark.Val(), 'f', -1, 64)
	}
	for _, v := range res[min(3, len(res)):] {
		raw, _ := v.(string)
		var o conversation.Outbound
		if err := conversation.UnmarshalRecord([]byte(raw), &o); err != nil {
			_ = s.FinishOutbox(context.WithoutCancel(ctx), c, nil)
			return conversation.OutboxClaim{}, conversation.Errorf(conversation.Internal, "claim outbox of %q: decode message: %w", key, err)
		}
		c.Messages = append(c.Messages, o)
	}
	return c, nil
}

// FinishOutbox acks the delivered messages, releases the delivery lease
// and, when the claim emptied the outbox, settles the backlog entry, in
// one round trip; see conversation.OutboxClaimer. Errors: Invalid,
// Unavailable.
func (s *Store) FinishOutbox(ctx context.Context, c conversation.OutboxClaim, delivered []string) error {
	if err := conversation.CheckKey("conversation key", c.Key); err != nil {
		return err
	}
	t := s.tag(c.Key)
	keys := []string{t + ":outbox", t + ":outmsg", t + ":dlease"}
	args := make([]any, 0, 1+len(delivered))
	args = append(args, strconv.FormatUint(c.Lease.Token, 10))
	for _, id := range delivered {
		args = append(args, id)
	}
	// Settle only when this claim emptied the outbox and no turn was in
	// flight: a commit since the claim wrote a newer hint, so the
	// compare-and-remove on the mark leaves its entry alone.
	settle := c.Mark != "" && !c.More && !c.Busy && len(delivered) == len(c.Messages)
	if settle && !s.cluster {
		// One script for both on a standalone Redis.
		keys = append(keys, s.backlog)
		args = append(args[:1:1], append([]any{c.Key, c.Mark}, args[1:]...)...)
		if err := s.batch.run(ctx, finishSettleScript, keys, args...).Err(); err != nil {
			return fail("finish outbox", c.Key, err)
		}
		return nil
	}
	var cmd, st *redis.Cmd
	if err := s.batch.do(ctx, func(pipe redis.Pipeliner) {
		cmd = finishScript.EvalSha(ctx, pipe, keys, args...)
		if settle {
			st = settleScript.EvalSha(ctx, pipe, []string{s.backlog}, c.Key, c.Mark)
		}
	}); err != nil {
		return fail("finish outbox", c.Key, err)
	}
	if isNoScript(cmd.Err()) {
		cmd = finishScript.Run(ctx, s.client, keys, args...)
	}
	if err := cmd.Err(); err != nil {
		return fail("finish outbox", c.Key, err)
	}
	if settle && isNoScript(st.Err()) {
		st = settleScript.Run(ctx, s.client, []string{s.backlog}, c.Key, c.Mark)
	}
	if settle && st.Err() != nil {
		return fail("settle outbox", c.Key, st.Err())
	}
	return nil
}
