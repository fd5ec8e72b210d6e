package telegram_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
)

// updateSeeds are updates as Telegram sends them, and odd shapes.
var updateSeeds = []string{
	`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":7001,"type":"private"},"from":{"id":7001,"is_bot":false,"first_name":"S"},"text":"hi"}}`,
	`{"update_id":2,"message":{"message_id":2,"date":1,"chat":{"id":-1,"type":"supergroup","is_forum":true},"from":{"id":5,"first_name":"S"},"message_thread_id":3,"is_topic_message":true,"text":"/ask@tier0_test_bot x","entities":[{"type":"bot_command","offset":0,"length":20}]}}`,
	`{"update_id":3,"callback_query":{"id":"q","from":{"id":5,"first_name":"S"},"message":{"message_id":4,"date":0,"chat":{"id":5,"type":"private"}},"data":"rZZZ"}}`,
	`{"update_id":4,"message":{"message_id":5,"date":1,"chat":{"id":5,"type":"private"},"from":{"id":5,"first_name":"S"},"photo":[{"file_id":"a","width":-1,"height":-1}],"caption":"😀","caption_entities":[{"type":"mention","offset":-5,"length":99}]}}`,
	`{"update_id":5,"edited_message":{}}`,
	`{"update_id":6,"message":null}`,
	`{"update_id":7,"message":{"message_id":7,"date":1,"chat":{"id":7001,"type":"private"},"from":{"id":7001,"first_name":"Jörg","language_code":"de"},"text":"Wo ist meine Bestellung?"}}`,
}

// panicWatch is a slog handler that keeps only the attributes of
// recovered panics, so it stays small however long the fuzzer runs.
type panicWatch struct {
	mu  sync.Mutex
	msg string
}

func (p *panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicWatch) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *panicWatch) WithGroup(string) slog.Handler            { return p }
func (p *panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		p.mu.Lock()
		r.Attrs(func(a slog.Attr) bool { p.msg += " " + a.String(); return true })
		p.mu.Unlock()
	}
	return nil
}

// take returns and forgets what was logged about panics.
func (p *panicWatch) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msg
	p.msg = ""
	return m
}

// fuzzAdapter is an adapter on the fake with a recording engine and a
// panic watch on its log.
func fuzzAdapter(f *testing.F) (*tgfake.Server, *telegram.Adapter, *recorder, *panicWatch) {
	f.Helper()
	fake := startFake(f)
	watch := &panicWatch{}
	cfg := baseConfig(fake)
	cfg.Logger = slog.New(watch)
	eng := newRecorder()
	return fake, newAdapter(f, cfg, eng, openStore(f, f.TempDir())), eng, watch
}

// forget empties the recorder, so memory stays flat however long the
// fuzzer runs (it already refuses messages that do not validate).
func (r *recorder) forget() {
	r.mu.Lock()
	r.msgs, r.acts = nil, nil
	r.mu.Unlock()
}

// FuzzWebhookUpdate feeds arbitrary bodies through the webhook: every one
// must get 200 or 400 and none may reach the panic guard. The engine
// refuses messages that do not validate, which would surface as a 503.
func FuzzWebhookUpdate(f *testing.F) {
	for _, seed := range updateSeeds {
		f.Add([]byte(seed))
	}
	_, a, eng, watch := fuzzAdapter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 64<<10 {
			return
		}
		w := post(t, a, secret, body)
		eng.forget()
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if p := watch.take(); p != "" {
			t.Fatalf("the update handler panicked on %q:%s", body, p)
		}
	})
}

// FuzzGetUpdates serves arbitrary getUpdates answers (body and status) to
// the polling client, then hands whatever it returned to the adapter as a
// polled batch: no panic, no update reaching the panic guard, an error
// for anything that is not the Bot API's answer, and a batch that never
// stalls on a malformed update (only the store or engine may stall it).
func FuzzGetUpdates(f *testing.F) {
	for _, seed := range updateSeeds {
		f.Add(200, []byte(`{"ok":true,"result":[`+seed+`]}`))
	}
	f.Add(200, []byte(`{"ok":true,"result":[`+strings.Join(updateSeeds, ",")+`]}`))
	f.Add(200, []byte(`{"ok":true,"result":[{"update_id":0},{"update_id":-3},17,"x",null,[]]}`))
	f.Add(200, []byte(`{"ok":true,"result":{}}`))
	f.Add(429, []byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`))
	f.Add(409, []byte(`{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`))
	f.Add(401, []byte(`{"ok":false,"error_code":401,"description":"Unauthorized"}`))
	f.Add(502, []byte(`<html>Bad Gateway</html>`))
	var answer struct {
		sync.Mutex
		status int
		body   []byte
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/getUpdates") {
			http.NotFound(w, r)
			return
		}
		answer.Lock()
		status, body := answer.status, answer.body
		answer.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	f.Cleanup(api.Close)
	fake, a, eng, watch := fuzzAdapter(f)
	getUpdates, err := telegram.UpdatesClient(api.URL, fake.Token())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if len(body) > 256<<10 || status < 200 || status > 599 {
			return
		}
		answer.Lock()
		answer.status, answer.body = status, body
		answer.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		raws, err := getUpdates(ctx)
		if err != nil {
			return
		}
		var r struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(body, &r) != nil || !r.OK {
			t.Fatalf("status %d, body %q: got %d updates and no error, want an error", status, body, len(raws))
		}
		if _, stalled := telegram.HandleBatch(ctx, a, raws); stalled {
			t.Fatalf("the batch of %q stalled", body)
		}
		eng.forget()
		if p := watch.take(); p != "" {
			t.Fatalf("the update handler panicked on %q:%s", body, p)
		}
	})
}
