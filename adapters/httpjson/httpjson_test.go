package httpjson_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/httpjson"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		name      string
		e         httpjson.Error
		wantRetry string
		wantAllow string
		wantBody  string
	}{
		{"plain", httpjson.Error{Status: 400, Code: "invalid", Msg: "bad"}, "", "", `{"error":{"code":"invalid","message":"bad"}}` + "\n"},
		{"retry rounds up", httpjson.Error{Status: 503, Code: "busy", Msg: "later", RetryAfter: 1500 * time.Millisecond}, "2", "", `{"error":{"code":"busy","message":"later"}}` + "\n"},
		{"method not allowed", httpjson.Error{Status: 405, Code: "method_not_allowed", Msg: "no", Allow: "GET"}, "", "GET", `{"error":{"code":"method_not_allowed","message":"no"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpjson.WriteError(rec, &tt.e)
			if rec.Code != tt.e.Status || rec.Body.String() != tt.wantBody || rec.Header().Get("Retry-After") != tt.wantRetry ||
				rec.Header().Get("Allow") != tt.wantAllow || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("got %d %q headers %v; want %d %q Retry-After %q Allow %q", rec.Code, rec.Body.String(), rec.Header(), tt.e.Status, tt.wantBody, tt.wantRetry, tt.wantAllow)
			}
		})
	}
	cause := errors.New("disk full")
	e := &httpjson.Error{Code: "internal", Msg: "oops", Err: cause}
	if !errors.Is(e, cause) || e.Error() != "internal: oops: disk full" {
		t.Errorf("Error() = %q, unwraps to cause: %v", e.Error(), errors.Is(e, cause))
	}
	rec := httptest.NewRecorder()
	httpjson.Write(rec, http.StatusOK, func() {}) // cannot be encoded
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("unencodable value: status %d, want 500", rec.Code)
	}
}
