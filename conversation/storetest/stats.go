package storetest

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
)

// RunStats is the conformance suite of analytics.Store implementations:
// each case gets a fresh, empty store from newStore (which must close it
// when the test ends) and runs in parallel with the others.
//
//	func TestStatsConformance(t *testing.T) {
//		storetest.RunStats(t, func(t *testing.T) analytics.Store { return open(t) })
//	}
func RunStats(t *testing.T, newStore func(t *testing.T) analytics.Store) {
	cases := []struct {
		name string
		test func(t *testing.T, s analytics.Store)
	}{
		{"Empty", testStatsEmpty},
		{"AddAndRead", testStatsAddAndRead},
		{"ZeroCountsSkipped", testStatsZeroCounts},
		{"InvalidInput", testStatsInvalid},
		{"ConcurrentAdds", testStatsConcurrent},
		{"TopQuestions", testStatsTopQuestions},
		{"FrequentQuestionsKept", testStatsQuestionCap},
		{"ExpiredDay", testStatsExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newStore(t))
		})
	}
}

// statsDay is a day k days before today (UTC), well inside retention.
func statsDay(k int) string { return analytics.DayOf(time.Now().AddDate(0, 0, -k)) }

func addStats(tb testing.TB, s analytics.Store, day string, counters, questions map[string]int64) {
	tb.Helper()
	if err := s.AddStats(context.Background(), day, counters, questions); err != nil {
		tb.Fatalf("AddStats(%s, %v, %v): %v", day, counters, questions, err)
	}
}

func readStats(tb testing.TB, s analytics.Store, from, to string) []analytics.DayStats {
	tb.Helper()
	got, err := s.Stats(context.Background(), from, to)
	if err != nil {
		tb.Fatalf("Stats(%s, %s): %v", from, to, err)
	}
	return got
}

func testStatsEmpty(t *testing.T, s analytics.Store) {
	if got := readStats(t, s, statsDay(30), statsDay(0)); len(got) != 0 {
		t.Errorf("Stats of an empty store = %+v, want no days", got)
	}
}

func testStatsAddAndRead(t *testing.T, s analytics.Store) {
	d1, d2, d3 := statsDay(3), statsDay(2), statsDay(1)
	addStats(t, s, d1, map[string]int64{"answered": 1, "handoff_reason:frustration": 2}, map[string]int64{"vpn broken": 1})
	addStats(t, s, d1, map[string]int64{"answered": 3}, map[string]int64{"vpn broken": 2, "wie ändere ich mein passwort": 1})
	addStats(t, s, d3, map[string]int64{"answered": 5}, nil)

	got := readStats(t, s, d1, d3)
	if len(got) != 2 || got[0].Day != d1 || got[1].Day != d3 {
		t.Fatalf("Stats(%s..%s) days = %+v, want %s and %s, oldest first", d1, d3, got, d1, d3)
	}
	wantC := map[string]int64{"answered": 4, "handoff_reason:frustration": 2}
	wantQ := map[string]int64{"vpn broken": 3, "wie ändere ich mein passwort": 1}
	if !maps.Equal(got[0].Counters, wantC) || !maps.Equal(got[0].Questions, wantQ) {
		t.Errorf("day %s = %v %v, want %v %v", d1, got[0].Counters, got[0].Questions, wantC, wantQ)
	}
	if got[1].Counters["answered"] != 5 || len(got[1].Questions) != 0 {
		t.Errorf("day %s = %v %v, want answered 5 and no questions", d3, got[1].Counters, got[1].Questions)
	}
	if mid := readStats(t, s, d2, d2); len(mid) != 0 {
		t.Errorf("Stats of a day without data = %+v, want none", mid)
	}
	if one := readStats(t, s, d3, d3); len(one) != 1 || one[0].Counters["answered"] != 5 {
		t.Errorf("Stats(%s, %s) = %+v, want that day alone", d3, d3, one)
	}
}

func testStatsZeroCounts(t *testing.T, s analytics.Store) {
	day := statsDay(1)
	addStats(t, s, day, map[string]int64{"answered": 0}, map[string]int64{"nothing": 0})
	if got := readStats(t, s, day, day); len(got) != 0 {
		t.Errorf("after adding only zero counts: %+v, want no day", got)
	}
}

func testStatsInvalid(t *testing.T, s analytics.Store) {
	ctx := context.Background()
	day := statsDay(0)
	many := make(map[string]int64, analytics.MaxEntries+1)
	for i := range analytics.MaxEntries + 1 {
		many[fmt.Sprintf("c%d", i)] = 1
	}
	adds := []struct {
		name      string
		day       string
		counters  map[string]int64
		questions map[string]int64
	}{
		{"malformed day", "2024-13-01", map[string]int64{"a": 1}, nil},
		{"day with time", day + "T00:00", map[string]int64{"a": 1}, nil},
		{"empty day", "", map[string]int64{"a": 1}, nil},
		{"negative count", day, map[string]int64{"a": -1}, nil},
		{"empty name", day, map[string]int64{"": 1}, nil},
		{"long name", day, map[string]int64{strings.Repeat("n", analytics.MaxNameLen+1): 1}, nil},
		{"control character", day, map[string]int64{"a\nb": 1}, nil},
		{"invalid UTF-8", day, nil, map[string]int64{"\xff\xfe": 1}},
		{"long question", day, nil, map[string]int64{strings.Repeat("q", analytics.MaxQuestionLen+1): 1}},
		{"too many counters", day, many, nil},
	}
	for _, a := range adds {
		if err := s.AddStats(ctx, a.day, a.counters, a.questions); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("AddStats with %s: %v, want an Invalid error", a.name, err)
		}
	}
	reads := []struct{ name, from, to string }{
		{"from after to", statsDay(0), statsDay(1)},
		{"malformed from", "yesterday", day},
		{"malformed to", day, "2024-02-30"},
		{"range too long", statsDay(analytics.MaxRangeDays), day},
	}
	for _, r := range reads {
		if _, err := s.Stats(ctx, r.from, r.to); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("Stats with %s: %v, want an Invalid error", r.name, err)
		}
	}
	if got := readStats(t, s, statsDay(1), day); len(got) != 0 {
		t.Errorf("rejected adds wrote %+v", got)
	}
}

func testStatsConcurrent(t *testing.T, s analytics.Store) {
	const writers, adds = 8, 25
	day := statsDay(0)
	var wg sync.WaitGroup
	errs := make(chan error, writers*adds)
	for w := range writers {
		wg.Go(func() {
			for i := range adds {
				err := s.AddStats(context.Background(), day, map[string]int64{"messages": 1, fmt.Sprintf("w%d", w): 1},
					map[string]int64{"printer offline": 1})
				if err != nil {
					errs <- fmt.Errorf("writer %d add %d: %w", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := readStats(t, s, day, day)
	if len(got) != 1 || got[0].Counters["messages"] != writers*adds || got[0].Counters["w3"] != adds || got[0].Questions["printer offline"] != writers*adds {
		t.Errorf("after %d concurrent adds: %+v, want messages and the question at %d, w3 at %d", writers*adds, got, writers*adds, adds)
	}
}

func testStatsTopQuestions(t *testing.T, s analytics.Store) {
	day := statsDay(2)
	const n = analytics.QuestionsPerDay + 50
	qs := make(map[string]int64, n)
	for i := range n {
		qs[fmt.Sprintf("question %03d", i)] = int64(i + 1)
	}
	addStats(t, s, day, nil, qs)
	got := readStats(t, s, day, day)
	if len(got) != 1 || len(got[0].Questions) != analytics.QuestionsPerDay {
		t.Fatalf("Stats returned %d days, %d questions; want 1 day with %d questions", len(got), len(got[0].Questions), analytics.QuestionsPerDay)
	}
	for q, c := range got[0].Questions {
		if c != qs[q] || c <= n-analytics.QuestionsPerDay {
			t.Errorf("question %q with count %d: want only the %d most frequent, with their counts", q, c, analytics.QuestionsPerDay)
		}
	}
}

func testStatsQuestionCap(t *testing.T, s analytics.Store) {
	day := statsDay(1)
	frequent := make(map[string]int64)
	for i := range 10 {
		frequent[fmt.Sprintf("frequent %d", i)] = 1000
	}
	addStats(t, s, day, nil, frequent)
	rare := make(map[string]int64)
	for i := range analytics.StoredQuestionsPerDay + 10 {
		rare[fmt.Sprintf("rare %d", i)] = 1
	}
	addStats(t, s, day, nil, rare)
	addStats(t, s, day, nil, map[string]int64{"frequent 0": 1})
	got := readStats(t, s, day, day)
	if len(got) != 1 || len(got[0].Questions) > analytics.QuestionsPerDay {
		t.Fatalf("Stats = %d days, want 1 with at most %d questions", len(got), analytics.QuestionsPerDay)
	}
	for q := range frequent {
		want := int64(1000)
		if q == "frequent 0" {
			want = 1001
		}
		if got[0].Questions[q] != want {
			t.Errorf("question %q = %d after the day filled up, want %d", q, got[0].Questions[q], want)
		}
	}
}

func testStatsExpired(t *testing.T, s analytics.Store) {
	const old = "2000-01-01"
	if err := s.AddStats(context.Background(), old, map[string]int64{"answered": 1}, map[string]int64{"q": 1}); err != nil {
		t.Fatalf("AddStats on a day past retention: %v, want nil (nothing kept)", err)
	}
	if got := readStats(t, s, old, old); len(got) != 0 {
		t.Errorf("a day past retention reads %+v, want nothing", got)
	}
}
