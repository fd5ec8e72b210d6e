package slack

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// skipEcho wraps the Web API client's transport. Slack answers
// chat.postMessage and chat.update with the whole message it stored,
// blocks included, under "message"; slack-go decodes that object in full
// (its blocks cost more CPU than the rest of a send) and the adapter reads
// only the channel and ts beside it. skipEcho drops the "message" field of
// those two answers before slack-go reads them; every other answer, and an
// answer it cannot read as a JSON object, passes unchanged.
type skipEcho struct{ next http.RoundTripper }

// maxEchoAnswer bounds the answers skipEcho rewrites; a larger one passes
// unchanged (Slack's answers to a post are a few KB).
const maxEchoAnswer = 1 << 20

func (t skipEcho) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !echoingMethod(req.URL.Path) {
		return resp, err
	}
	orig := resp.Body
	body, err := io.ReadAll(io.LimitReader(orig, maxEchoAnswer+1))
	if err != nil {
		_ = orig.Close()
		return nil, err
	}
	if len(body) > maxEchoAnswer {
		// Too large to rewrite: hand it on whole, what was read first.
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
		return resp, nil
	}
	_ = orig.Close()
	body = withoutEcho(body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}

// echoingMethod reports whether path is a Web API method whose answer
// carries the posted message.
func echoingMethod(path string) bool {
	return strings.HasSuffix(path, "/chat.postMessage") || strings.HasSuffix(path, "/chat.update")
}

// withoutEcho returns body without its top-level "message" field, or body
// itself when it has none or is not a JSON object.
func withoutEcho(body []byte) []byte {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return body
	}
	if _, ok := fields["message"]; !ok {
		return body
	}
	delete(fields, "message")
	out, err := json.Marshal(fields)
	if err != nil {
		return body
	}
	return out
}

type readCloser struct {
	io.Reader
	io.Closer
}
