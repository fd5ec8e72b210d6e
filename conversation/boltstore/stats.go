package boltstore

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tier0/tier0/conversation/analytics"
)

// Analytics buckets (see conversation/analytics):
//
//	analytics/<day>/        one bucket per UTC day ("2006-01-02"):
//	    c/                  counter name -> count (8 bytes)
//	    q/                  normalised question -> count (8 bytes)
//	    nq                  distinct questions in q/ (8 bytes)
//
// A day's bucket is deleted by the first AddStats after it is
// analytics.Retention old. Once a day holds
// analytics.StoredQuestionsPerDay questions, further new questions are
// counted in the analytics.QuestionsDropped counter instead.
var (
	bucketAnalytics = []byte("analytics")
	subCounters     = []byte("c")
	subQuestions    = []byte("q")
	keyQuestionN    = []byte("nq")
)

var _ analytics.Store = (*Store)(nil)

// AddStats adds one day's counters and question counts in one write
// transaction (see analytics.Store). Errors: Invalid, Unavailable.
func (s *Store) AddStats(ctx context.Context, day string, counters, questions map[string]int64) error {
	if err := analytics.CheckStats(day, counters, questions); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("add analytics", err)
	}
	d, _ := analytics.ParseDay(day)
	now := time.Now()
	if analytics.Expired(d, now) {
		return nil
	}
	// The most frequent questions first, so they are the ones kept when
	// the day is full.
	qs := slices.SortedFunc(maps.Keys(questions), func(a, b string) int {
		return cmp.Or(cmp.Compare(questions[b], questions[a]), strings.Compare(a, b))
	})
	return s.update("add analytics", func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketAnalytics)
		if err != nil {
			return err
		}
		if err := purgeDays(root, now); err != nil {
			return err
		}
		db, err := root.CreateBucketIfNotExists([]byte(day))
		if err != nil {
			return err
		}
		cb, err := db.CreateBucketIfNotExists(subCounters)
		if err != nil {
			return err
		}
		qb, err := db.CreateBucketIfNotExists(subQuestions)
		if err != nil {
			return err
		}
		add := func(b *bolt.Bucket, k string, n int64) error {
			return b.Put([]byte(k), u64(getU64(b.Get([]byte(k)))+uint64(n)))
		}
		for name, n := range counters {
			if n > 0 {
				if err := add(cb, name, n); err != nil {
					return err
				}
			}
		}
		nq, dropped := getU64(db.Get(keyQuestionN)), int64(0)
		for _, q := range qs {
			n := questions[q]
			switch {
			case n <= 0:
			case qb.Get([]byte(q)) != nil:
				if err := add(qb, q, n); err != nil {
					return err
				}
			case nq < analytics.StoredQuestionsPerDay:
				if err := qb.Put([]byte(q), u64(uint64(n))); err != nil {
					return err
				}
				nq++
			default:
				dropped += n
			}
		}
		if dropped > 0 {
			if err := add(cb, analytics.QuestionsDropped, dropped); err != nil {
				return err
			}
		}
		return db.Put(keyQuestionN, u64(nq))
	})
}

// purgeDays deletes the day buckets past analytics.Retention (they sort
// oldest first).
func purgeDays(root *bolt.Bucket, now time.Time) error {
	var old [][]byte
	c := root.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		d, err := analytics.ParseDay(string(k))
		if err == nil && !analytics.Expired(d, now) {
			break
		}
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := root.DeleteBucket(k); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the stored days of fromDay..toDay (see analytics.Store).
// Errors: Invalid, Unavailable.
func (s *Store) Stats(ctx context.Context, fromDay, toDay string) ([]analytics.DayStats, error) {
	from, n, err := analytics.CheckRange(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("read analytics", err)
	}
	now := time.Now()
	var out []analytics.DayStats
	err = s.view("read analytics", func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketAnalytics)
		if root == nil {
			return nil
		}
		for i, day := range analytics.Days(from, n) {
			db := root.Bucket([]byte(day))
			if db == nil || analytics.Expired(from.AddDate(0, 0, i), now) {
				continue
			}
			st := analytics.DayStats{Day: day, Counters: make(map[string]int64), Questions: make(map[string]int64)}
			if cb := db.Bucket(subCounters); cb != nil {
				if err := cb.ForEach(func(k, v []byte) error {
					st.Counters[string(k)] = int64(getU64(v))
					return nil
				}); err != nil {
					return err
				}
			}
			if qb := db.Bucket(subQuestions); qb != nil {
				all := make(map[string]int64)
				if err := qb.ForEach(func(k, v []byte) error {
					all[string(k)] = int64(getU64(v))
					return nil
				}); err != nil {
					return err
				}
				top := slices.SortedFunc(maps.Keys(all), func(a, b string) int {
					return cmp.Or(cmp.Compare(all[b], all[a]), strings.Compare(a, b))
				})
				for _, q := range top[:min(len(top), analytics.QuestionsPerDay)] {
					st.Questions[q] = all[q]
				}
			}
			if len(st.Counters) > 0 || len(st.Questions) > 0 {
				out = append(out, st)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
