package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
)

// Analytics keys (see conversation/analytics): per UTC day a hash of
// counters and a sorted set of unanswered questions, both hash-tagged by
// the day so one MULTI changes them together on Cluster too:
//
//	<prefix>:stats:{<day>}:counters    hash: counter name -> count (HINCRBY)
//	<prefix>:stats:{<day>}:questions   zset: normalised question -> count (ZINCRBY)
//
// Both expire analytics.Retention after the day ends. The question set
// keeps the analytics.StoredQuestionsPerDay most frequent questions.

var _ analytics.Store = (*Store)(nil)

// statsKeys returns the counter hash and the question set of day.
func (s *Store) statsKeys(day string) (counters, questions string) {
	t := s.cfg.Prefix + ":stats:{" + day + "}"
	return t + ":counters", t + ":questions"
}

// AddStats adds one day's counters and question counts in one MULTI
// (see analytics.Store). Errors: Invalid, Unavailable.
func (s *Store) AddStats(ctx context.Context, day string, counters, questions map[string]int64) error {
	if err := analytics.CheckStats(day, counters, questions); err != nil {
		return err
	}
	d, _ := analytics.ParseDay(day)
	if analytics.Expired(d, time.Now()) {
		return nil
	}
	expireAt := d.Add(24 * time.Hour).Add(analytics.Retention)
	ck, qk := s.statsKeys(day)
	writes := 0
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for name, n := range counters {
			if n > 0 {
				p.HIncrBy(ctx, ck, name, n)
				writes++
			}
		}
		added := false
		for q, n := range questions {
			if n > 0 {
				p.ZIncrBy(ctx, qk, float64(n), q)
				writes, added = writes+1, true
			}
		}
		if added {
			// Keep the most frequent questions: drop the lowest ranks.
			p.ZRemRangeByRank(ctx, qk, 0, -analytics.StoredQuestionsPerDay-1)
		}
		if writes > 0 {
			p.ExpireAt(ctx, ck, expireAt)
			p.ExpireAt(ctx, qk, expireAt)
		}
		return nil
	})
	if err != nil && writes > 0 {
		return fail("add analytics of", day, err)
	}
	return nil
}

// Stats returns the stored days of fromDay..toDay (see analytics.Store),
// reading every day in one pipeline. Errors: Invalid, Unavailable,
// Internal (a stored count that is not a number).
func (s *Store) Stats(ctx context.Context, fromDay, toDay string) ([]analytics.DayStats, error) {
	from, n, err := analytics.CheckRange(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	days := analytics.Days(from, n)
	pipe := s.client.Pipeline()
	hashes := make([]*redis.MapStringStringCmd, n)
	sets := make([]*redis.ZSliceCmd, n)
	for i, day := range days {
		ck, qk := s.statsKeys(day)
		hashes[i] = pipe.HGetAll(ctx, ck)
		sets[i] = pipe.ZRevRangeWithScores(ctx, qk, 0, analytics.QuestionsPerDay-1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fail("read analytics", "", err)
	}
	var out []analytics.DayStats
	for i, day := range days {
		h, z := hashes[i].Val(), sets[i].Val()
		if len(h) == 0 && len(z) == 0 {
			continue
		}
		st := analytics.DayStats{Day: day, Counters: make(map[string]int64, len(h)), Questions: make(map[string]int64, len(z))}
		for name, v := range h {
			c, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, conversation.Errorf(conversation.Internal, "redisstore: analytics counter %q of %s is not a number: %w", name, day, err)
			}
			st.Counters[name] = c
		}
		for _, m := range z {
			if q, ok := m.Member.(string); ok {
				st.Questions[q] = int64(m.Score)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
