package telegram_test

import (
	"net/http"
	"testing"
)

// FuzzWebhookUpdate feeds arbitrary bodies through the webhook: every one
// must get 200 or 400 and none may reach the panic guard.
func FuzzWebhookUpdate(f *testing.F) {
	for _, seed := range []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":7001,"type":"private"},"from":{"id":7001,"is_bot":false,"first_name":"S"},"text":"hi"}}`,
		`{"update_id":2,"message":{"message_id":2,"date":1,"chat":{"id":-1,"type":"supergroup","is_forum":true},"from":{"id":5,"first_name":"S"},"message_thread_id":3,"is_topic_message":true,"text":"/ask@tier0_test_bot x","entities":[{"type":"bot_command","offset":0,"length":20}]}}`,
		`{"update_id":3,"callback_query":{"id":"q","from":{"id":5,"first_name":"S"},"message":{"message_id":4,"date":0,"chat":{"id":5,"type":"private"}},"data":"rZZZ"}}`,
		`{"update_id":4,"message":{"message_id":5,"date":1,"chat":{"id":5,"type":"private"},"from":{"id":5,"first_name":"S"},"photo":[{"file_id":"a","width":-1,"height":-1}],"caption":"😀","caption_entities":[{"type":"mention","offset":-5,"length":99}]}}`,
		`{"update_id":5,"edited_message":{}}`,
		`{"update_id":6,"message":null}`,
	} {
		f.Add([]byte(seed))
	}
	fake := startFake(f)
	log, logs := newLogRecorder()
	cfg := baseConfig(fake)
	cfg.Logger = log
	a := newAdapter(f, cfg, newRecorder(), openStore(f, f.TempDir()))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := post(t, a, secret, body)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if contains(logs(), "panicked") {
			t.Fatalf("the update handler panicked on %q", body)
		}
	})
}
