package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// TestSkipEcho: the answers to chat.postMessage and chat.update reach
// slack-go without the echoed message and with everything else; other
// answers, errors and unreadable bodies pass unchanged.
func TestSkipEcho(t *testing.T) {
	const echo = `{"ok":true,"channel":"D01","ts":"1700000000.000100","message":{"type":"message","text":"hi","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]},"warning":"superfluous_charset","response_metadata":{"warnings":["superfluous_charset"]}}`
	answers := map[string]string{
		"/api/chat.postMessage": echo,
		"/api/chat.update":      `{"ok":true,"channel":"D01","ts":"1700000000.000100","text":"new","message":{"text":"new"}}`,
		"/api/users.info":       `{"ok":true,"user":{"id":"U1","name":"ann"},"message":{"kept":true}}`,
	}
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path)
		body, ok := answers[r.URL.Path]
		if r.FormValue("channel") == "Dbad" {
			body, ok = `{"ok":false,"error":"channel_not_found"}`, true
		}
		if r.FormValue("channel") == "Dtext" {
			body, ok = `not json at all`, true
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	rt := skipEcho{next: http.DefaultTransport}

	get := func(path, form string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.ContentLength != int64(len(b)) {
			t.Fatalf("%s: Content-Length %d for a body of %d bytes", path, resp.ContentLength, len(b))
		}
		return string(b)
	}
	if got, want := get("/api/chat.postMessage", "channel=D01"), `{"channel":"D01","ok":true,"response_metadata":{"warnings":["superfluous_charset"]},"ts":"1700000000.000100","warning":"superfluous_charset"}`; got != want {
		t.Fatalf("chat.postMessage answer:\n got %s\nwant %s", got, want)
	}
	if got := get("/api/chat.update", "channel=D01"); strings.Contains(got, "message") || !strings.Contains(got, `"text":"new"`) {
		t.Fatalf("chat.update answer %s: want the text kept and the message dropped", got)
	}
	if got := get("/api/users.info", "user=U1"); got != answers["/api/users.info"] {
		t.Fatalf("users.info answer changed: %s", got)
	}
	for _, ch := range []string{"Dbad", "Dtext"} {
		if got := get("/api/chat.postMessage", "channel="+ch); strings.Contains(got, "channel\":\"D01") {
			t.Fatalf("%s: %s", ch, got)
		}
	}

	// Through slack-go: the ts comes back, and an API error is still a
	// SlackErrorResponse.
	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/"), slack.OptionHTTPClient(&http.Client{Transport: rt}))
	ch, ts, err := api.PostMessageContext(context.Background(), "D01", slack.MsgOptionText("hi", false))
	if err != nil || ch != "D01" || ts != "1700000000.000100" {
		t.Fatalf("PostMessage = %q, %q, %v; want D01, 1700000000.000100", ch, ts, err)
	}
	_, _, text, err := api.UpdateMessageContext(context.Background(), "D01", ts, slack.MsgOptionText("new", false))
	if err != nil || text != "new" {
		t.Fatalf("UpdateMessage = %q, %v; want new", text, err)
	}
	var se slack.SlackErrorResponse
	if _, _, err := api.PostMessageContext(context.Background(), "Dbad", slack.MsgOptionText("hi", false)); !errors.As(err, &se) || se.Err != "channel_not_found" {
		t.Fatalf("PostMessage to a missing channel: %v, want a SlackErrorResponse channel_not_found", err)
	}
	if _, _, err := api.PostMessageContext(context.Background(), "Dtext", slack.MsgOptionText("hi", false)); err == nil {
		t.Fatal("PostMessage with an unreadable answer: want an error")
	}
	if len(seen) != 9 {
		t.Fatalf("%d requests reached the server, want 9: %q", len(seen), seen)
	}
}

// TestSkipEchoLargeAnswer: an answer above maxEchoAnswer passes unchanged.
func TestSkipEchoLargeAnswer(t *testing.T) {
	big := `{"ok":true,"ts":"1","message":{"text":"` + strings.Repeat("x", maxEchoAnswer) + `"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) }))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/chat.postMessage", nil)
	resp, err := skipEcho{next: http.DefaultTransport}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != big {
		t.Fatalf("a %d-byte answer was changed to %d bytes", len(big), len(b))
	}
}

// FuzzSkipEcho: whatever Slack answers to a post, withoutEcho never
// panics, hands an answer without a top-level "message" on unchanged, and
// otherwise returns a JSON object with the same fields but "message".
func FuzzSkipEcho(f *testing.F) {
	for _, seed := range []string{
		`{"ok":true,"channel":"D01","ts":"1700000000.000100","message":{"type":"message","text":"hi","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]}}`,
		`{"ok":true,"channel":"D01","ts":"1.2","text":"new","message":{"text":"new"}}`,
		`{"ok":false,"error":"channel_not_found"}`,
		`{"ok":true,"message":null}`,
		`{"message":1,"message":2}`,
		`not json`, `[]`, `{}`, ``, `{"ok":true,"message":{"text":"\ud800"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := withoutEcho(body)
		var in map[string]json.RawMessage
		echo := false
		if err := json.Unmarshal(body, &in); err == nil {
			_, echo = in["message"]
		}
		if !echo {
			if string(out) != string(body) {
				t.Fatalf("answer %q without a message field changed to %q", body, out)
			}
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("rewritten answer %q is not a JSON object: %v", out, err)
		}
		if _, ok := got["message"]; ok {
			t.Fatalf("rewritten answer %q still has a message", out)
		}
		if len(got) != len(in)-1 {
			t.Fatalf("answer %q has %d fields besides the message, the rewrite %q has %d", body, len(in)-1, out, len(got))
		}
		for k, v := range got {
			var want, have any
			if json.Unmarshal(in[k], &want) != nil || json.Unmarshal(v, &have) != nil || !reflect.DeepEqual(want, have) {
				t.Fatalf("field %q: %s in the answer, %s in the rewrite", k, in[k], v)
			}
		}
	})
}
