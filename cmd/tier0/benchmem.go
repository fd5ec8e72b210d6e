package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
)

// benchMemorySample is how many conversations the bench inspects key by
// key with MEMORY USAGE.
const benchMemorySample = 200

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// redisFootprint is what a sample of conversations holds in Redis.
type redisFootprint struct {
	conversations int              // sampled conversations with at least one key
	bytes         map[string]int64 // kind of key (state, events, seen, …) → bytes, summed over the sample
	keys          int              // keys sampled
	noTTL         int              // sampled keys that would never expire
}

// sampleRedisFootprint measures, with MEMORY USAGE, every key of up to
// benchMemorySample of the bench's conversations and checks that each has
// a TTL: an idle conversation must expire. turns[n] is how many messages
// conversation n sent (each left a dedupe mark).
func sampleRedisFootprint(ctx context.Context, client *redis.Client, prefix string, turns []int) (redisFootprint, error) {
	f := redisFootprint{bytes: map[string]int64{}}
	step := max(1, len(turns)/benchMemorySample)
	for conv := 0; conv < len(turns); conv += step {
		tag := fmt.Sprintf("%s:{bench:%d}", prefix, conv)
		keys := []string{tag + ":state", tag + ":eventlog", tag + ":fence", tag + ":lease", tag + ":outbox", tag + ":outmsg", tag + ":dlease", tag + ":dfence"}
		for t := 1; t <= turns[conv]; t++ {
			m := conversation.Message{DedupeKey: fmt.Sprintf("bench:%d:%d", conv, t)} // as bench sends it
			keys = append(keys, tag+":seen:"+conversation.StoredDedupeKey(m))
		}
		pipe := client.Pipeline()
		usage := make([]*redis.IntCmd, len(keys))
		ttl := make([]*redis.DurationCmd, len(keys))
		for i, k := range keys {
			usage[i] = pipe.MemoryUsage(ctx, k, 0)
			ttl[i] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return f, fmt.Errorf("memory usage of %s: %w", tag, err)
		}
		found := false
		for i, k := range keys {
			if usage[i].Err() != nil { // no such key (an empty outbox, a free lease)
				continue
			}
			found = true
			f.keys++
			f.bytes[keyKind(k)] += usage[i].Val()
			if ttl[i].Val() < 0 {
				f.noTTL++
			}
		}
		if found {
			f.conversations++
		}
	}
	return f, nil
}

// keyKind is the part of a conversation key after its hash tag, with the
// dedupe key of a seen mark left out: "state", "eventlog", "seen", ….
func keyKind(key string) string {
	_, kind, _ := strings.Cut(key, "}:")
	kind, _, _ = strings.Cut(kind, ":")
	return kind
}

// perConversation returns the sampled bytes per conversation, in total and
// per kind of key.
func (f redisFootprint) perConversation() (int64, map[string]int64) {
	per := map[string]int64{}
	var total int64
	if f.conversations == 0 {
		return 0, per
	}
	for k, b := range f.bytes {
		per[k] = b / int64(f.conversations)
		total += b
	}
	return total / int64(f.conversations), per
}

// printMemory writes the bench's MEMORY line: Redis bytes per conversation
// (used_memory growth, and the sampled keys by kind) and the Go heap per
// idle conversation (live heap after GC, before the load and after it,
// with the bench's own records dropped).
func printMemory(w io.Writer, convs int, usedPer int64, f redisFootprint, heapBefore, heapAfter uint64) {
	total, per := f.perConversation()
	kinds := make([]string, 0, len(per))
	for k := range per {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, " redis_%s=%d", k, per[k])
	}
	heapPer := int64(0)
	if convs > 0 {
		heapPer = (int64(heapAfter) - int64(heapBefore)) / int64(convs)
	}
	fmt.Fprintf(w, "MEMORY conversations=%d redis_used_memory_per_conversation=%d redis_sampled_per_conversation=%d%s sampled_conversations=%d sampled_keys=%d keys_without_ttl=%d go_heap_per_conversation=%d\n",
		convs, usedPer, total, b.String(), f.conversations, f.keys, f.noTTL, heapPer)
}
