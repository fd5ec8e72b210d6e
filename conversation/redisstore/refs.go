package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
)

var (
	_ conversation.Refs         = (*Store)(nil)
	_ conversation.LeaseRenewer = (*Store)(nil)
)

// renewScript extends a lease only while it is still the caller's:
// KEYS lease; ARGV token, ttl ms. It returns 1 when extended.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// refKey names the Redis key of a ref. The namespace is the hash tag, so
// the refs of one namespace share a cluster slot.
func (s *Store) refKey(namespace, key string) string {
	return s.cfg.Prefix + ":ref:{" + tagEscaper.Replace(namespace) + "}:" + key
}

// PutRef stores value under (namespace, key) for ttl (0: the default).
// Errors: Invalid, Unavailable.
func (s *Store) PutRef(ctx context.Context, namespace, key, value string, ttl time.Duration) error {
	ttl, err := conversation.CheckRef(namespace, key, value, ttl)
	if err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.refKey(namespace, key), value, ttl).Err(); err != nil {
		return fail("put ref", namespace+"/"+key, err)
	}
	return nil
}

// GetRef returns the value under (namespace, key). Errors: ErrNotFound,
// Invalid, Unavailable.
func (s *Store) GetRef(ctx context.Context, namespace, key string) (string, error) {
	if _, err := conversation.CheckRef(namespace, key, "", 0); err != nil {
		return "", err
	}
	v, err := s.client.Get(ctx, s.refKey(namespace, key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("ref %s/%s: %w", namespace, key, conversation.ErrNotFound)
	}
	if err != nil {
		return "", fail("get ref", namespace+"/"+key, err)
	}
	return v, nil
}

// Renew extends l to ttl from now while it is still the current lease of
// its key. Errors: ErrLeaseLost, Invalid, Unavailable.
func (s *Store) Renew(ctx context.Context, l conversation.Lease, ttl time.Duration) (conversation.Lease, error) {
	if err := conversation.CheckKey("lease key", l.Key); err != nil {
		return conversation.Lease{}, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.Lease{}, err
	}
	expires := time.Now().Add(ttl)
	ok, err := renewScript.Run(ctx, s.client, []string{s.tag(l.Key) + ":lease"}, strconv.FormatUint(l.Token, 10), ttl.Milliseconds()).Int()
	if err != nil {
		return conversation.Lease{}, fail("renew lease", l.Key, err)
	}
	if ok != 1 {
		return conversation.Lease{}, fmt.Errorf("renew lease %q: %w", l.Key, conversation.ErrLeaseLost)
	}
	return conversation.Lease{Key: l.Key, Token: l.Token, Expires: expires}, nil
}

var _ conversation.OutboxClaimRenewer = (*Store)(nil)

// RenewOutboxClaim extends c's delivery lease to ttl from now while it is
// still c's. Errors: ErrLeaseLost, Invalid, Unavailable.
func (s *Store) RenewOutboxClaim(ctx context.Context, c conversation.OutboxClaim, ttl time.Duration) (conversation.OutboxClaim, error) {
	if err := conversation.CheckKey("conversation key", c.Key); err != nil {
		return c, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return c, err
	}
	expires := time.Now().Add(ttl)
	ok, err := renewScript.Run(ctx, s.client, []string{s.tag(c.Key) + ":dlease"}, strconv.FormatUint(c.Lease.Token, 10), ttl.Milliseconds()).Int()
	if err != nil {
		return c, fail("renew outbox claim", c.Key, err)
	}
	if ok != 1 {
		return c, fmt.Errorf("renew outbox claim of %q: %w", c.Key, conversation.ErrLeaseLost)
	}
	c.Lease.Expires = expires
	return c, nil
}
