package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tier0/tier0/conversation"
)

// Refs live in two buckets, created on first use:
//
//	refs/     len(namespace) + namespace + key -> expiry ms + value
//	refsexp/  expiry ms + the refs/ key: refs by expiry, for Sweep
var (
	bucketRefs    = []byte("refs")
	bucketRefsExp = []byte("refsexp")
)

var (
	_ conversation.Refs         = (*Store)(nil)
	_ conversation.LeaseRenewer = (*Store)(nil)
)

func refKey(namespace, key string) []byte {
	b := make([]byte, 0, 2+len(namespace)+len(key))
	b = append(b, byte(len(namespace)>>8), byte(len(namespace)))
	b = append(b, namespace...)
	return append(b, key...)
}

// PutRef stores value under (namespace, key) for ttl (0: the default).
// Errors: Invalid, Unavailable.
func (s *Store) PutRef(ctx context.Context, namespace, key, value string, ttl time.Duration) error {
	ttl, err := conversation.CheckRef(namespace, key, value, ttl)
	if err != nil {
		return err
	}
	k := refKey(namespace, key)
	exp := u64(uint64(time.Now().Add(ttl).UnixMilli()))
	return s.update("put ref", func(tx *bolt.Tx) error {
		refs, err := tx.CreateBucketIfNotExists(bucketRefs)
		if err != nil {
			return err
		}
		idx, err := tx.CreateBucketIfNotExists(bucketRefsExp)
		if err != nil {
			return err
		}
		if old := refs.Get(k); len(old) >= 8 {
			if err := idx.Delete(append(bytes.Clone(old[:8]), k...)); err != nil {
				return err
			}
		}
		if err := refs.Put(k, append(bytes.Clone(exp), value...)); err != nil {
			return err
		}
		return idx.Put(append(bytes.Clone(exp), k...), nil)
	})
}

// GetRef returns the value under (namespace, key). Errors: ErrNotFound,
// Invalid, Unavailable.
func (s *Store) GetRef(ctx context.Context, namespace, key string) (string, error) {
	if _, err := conversation.CheckRef(namespace, key, "", 0); err != nil {
		return "", err
	}
	var (
		value string
		found bool
	)
	now := time.Now().UnixMilli()
	err := s.view("get ref", func(tx *bolt.Tx) error {
		refs := tx.Bucket(bucketRefs)
		if refs == nil {
			return nil
		}
		if v := refs.Get(refKey(namespace, key)); len(v) >= 8 && int64(getU64(v[:8])) > now {
			value, found = string(v[8:]), true
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("ref %s/%s: %w", namespace, key, conversation.ErrNotFound)
	}
	return value, nil
}

// sweepRefs deletes up to sweepBatch expired refs and reports whether
// more may be left.
func (s *Store) sweepRefs(tx *bolt.Tx, now time.Time) (bool, error) {
	refs, idx := tx.Bucket(bucketRefs), tx.Bucket(bucketRefsExp)
	if refs == nil || idx == nil {
		return false, nil
	}
	var done [][]byte
	cur := idx.Cursor()
	for k, _ := cur.First(); k != nil && len(done) < sweepBatch && int64(getU64(k[:8])) <= now.UnixMilli(); k, _ = cur.Next() {
		done = append(done, bytes.Clone(k))
	}
	for _, k := range done {
		if v := refs.Get(k[8:]); len(v) >= 8 && bytes.Equal(v[:8], k[:8]) {
			if err := refs.Delete(k[8:]); err != nil {
				return false, err
			}
		}
		if err := idx.Delete(k); err != nil {
			return false, err
		}
	}
	return len(done) == sweepBatch, nil
}

// Renew extends l to ttl from now while it is still the current lease of
// its key. Errors: ErrLeaseLost, Invalid.
func (s *Store) Renew(ctx context.Context, l conversation.Lease, ttl time.Duration) (conversation.Lease, error) {
	if err := conversation.CheckKey("lease key", l.Key); err != nil {
		return conversation.Lease{}, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.Lease{}, err
	}
	if err := s.checkOpen(); err != nil {
		return conversation.Lease{}, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.leases[l.Key]
	if !ok || cur.token != l.Token || !now.Before(cur.expires) {
		return conversation.Lease{}, fmt.Errorf("renew lease %q: %w", l.Key, conversation.ErrLeaseLost)
	}
	cur.expires = now.Add(ttl)
	s.leases[l.Key] = cur
	return conversation.Lease{Key: l.Key, Token: l.Token, Expires: cur.expires}, nil
}
