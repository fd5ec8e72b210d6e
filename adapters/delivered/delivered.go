// Package delivered records which outbound messages, or parts of them, a
// platform accepted: in memory for this process and, with the store's
// refs, for every replica. A delivery the dispatcher retries — on another
// replica, or after a restart — then skips what was posted already.
//
// One window stays open on every platform without an idempotency key of
// its own: the platform accepted a message but the process died, or the
// store failed, before the mark was written. A retry then posts it again.
package delivered

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"time"

	"github.com/tier0/tier0/adapters/recent"
	"github.com/tier0/tier0/conversation"
)

const (
	// TTL is how long a mark lives in the store: far longer than the
	// dispatcher keeps retrying one outbound.
	TTL = 24 * time.Hour
	// markTimeout bounds writing one mark; the write runs even when the
	// send's context ended right after the platform accepted the message.
	markTimeout = 5 * time.Second
	// maxLen bounds keys (longer ones are hashed) and values (a longer
	// platform id is stored as "sent").
	maxLen = 512
)

// Log is the record of one adapter's deliveries. It is safe for
// concurrent use.
type Log struct {
	platform  string
	namespace string
	refs      conversation.Refs
	mem       *recent.Set
	log       *slog.Logger
}

// New returns a Log whose marks go to refs under namespace; with refs
// nil they stay in this process. remember bounds the marks kept in
// memory. platform names the adapter in errors and log lines.
func New(platform, namespace string, refs conversation.Refs, remember int, log *slog.Logger) *Log {
	return &Log{platform: platform, namespace: namespace, refs: refs, mem: recent.New(remember), log: log}
}

// PartKey is the key of part i of outbound id.
func PartKey(id string, i int) string { return id + "#" + strconv.Itoa(i) }

// Sent reports whether key was marked, by this process or by any
// replica. Errors: Unavailable when the store cannot tell; the
// dispatcher retries.
func (l *Log) Sent(ctx context.Context, key string) (bool, error) {
	if l.mem.Has(key) {
		return true, nil
	}
	if l.refs == nil {
		return false, nil
	}
	_, err := l.refs.GetRef(ctx, l.namespace, storeKey(key))
	switch {
	case err == nil:
		l.mem.Add(key)
		return true, nil
	case conversation.ErrorCode(err) == conversation.NotFound:
		return false, nil
	}
	return false, conversation.Errorf(conversation.Unavailable, "%s: check whether %s was sent: %w", l.platform, key, err)
}

// Unsent returns the indexes, in order, of the parts of outbound id (n
// parts) not marked yet. Errors: as Sent.
func (l *Log) Unsent(ctx context.Context, id string, n int) ([]int, error) {
	todo := make([]int, 0, n)
	for i := range n {
		sent, err := l.Sent(ctx, PartKey(id, i))
		if err != nil {
			return nil, err
		}
		if !sent {
			todo = append(todo, i)
		}
	}
	return todo, nil
}

// Remembered reports whether key was marked or remembered in this
// process, without asking the store: the fast path before Sent.
func (l *Log) Remembered(key string) bool { return l.mem.Has(key) }

// Remember notes key in this process only, e.g. a whole outbound once
// all its parts were marked.
func (l *Log) Remember(key string) { l.mem.Add(key) }

// Mark records that the platform accepted key as its message value (""
// when it gives none). A failure to write the mark is logged, not
// returned: the message was delivered, and only a retry on another
// replica (or after a restart) could post it again.
func (l *Log) Mark(ctx context.Context, key, value string) {
	l.mem.Add(key)
	if l.refs == nil {
		return
	}
	if value == "" || len(value) > maxLen {
		value = "sent"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := l.refs.PutRef(ctx, l.namespace, storeKey(key), value, TTL); err != nil {
		l.log.Warn(l.platform+": could not record a sent message; a retry on another replica could post it again", "outbound", key, "err", err)
	}
}

// storeKey is key as stored: as it is when short and printable, else
// hashed.
func storeKey(key string) string {
	if conversation.Printable(key, maxLen) {
		return key
	}
	h := sha256.Sum256([]byte(key))
	return "h:" + hex.EncodeToString(h[:])
}
