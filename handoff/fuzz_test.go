package handoff_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/handoff"
)

// FuzzLoadProfiles loads arbitrary profile files (YAML, or JSON, which is
// YAML): an Invalid error, or profiles that survive a YAML round trip.
func FuzzLoadProfiles(f *testing.F) {
	f.Add(readSeed(f, "../configs/it-helpdesk/profiles.yaml"))
	for _, s := range []string{"", "webchat:u-7: {name: Ada Lovelace, company: Northwind, tier: vip}\nbob@example.com: {name: Bob, tier: standard}\n",
		`{"slack:U1":{"name":"Jörg","email":"j@example.de","notes":{"Rolle":"Einkauf"}}}`, "a: {nmae: x}\n", "- a\n- b\n",
		"a: &x {name: y}\nb: *x\n", "a: {notes: {k: [1]}}", "a: !!binary AAAA", "a:\n  name: |\n    multi\n    line\n"} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "profiles.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := handoff.LoadProfiles(path)
		if err != nil {
			if conversation.ErrorCode(err) != conversation.Invalid {
				t.Fatalf("got error %v, want nil or Invalid", err)
			}
			return
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("encode %+v: %v", p, err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := handoff.LoadProfiles(path)
		if err != nil || !reflect.DeepEqual(withoutEmptyNotes(back), withoutEmptyNotes(p)) {
			t.Fatalf("YAML round trip of %q: got %+v, %v; want %+v", data, back, err, p)
		}
	})
}

// FuzzHTTPProfiles answers profile look-ups with arbitrary statuses and
// bodies: 404 is an unknown customer (no error), a 200 with a JSON profile
// is that profile, and everything else is an Unavailable error, so the
// desk opens the ticket without a profile instead of failing.
func FuzzHTTPProfiles(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{{200, `{"name":"Ada Lovelace","email":"ada@northwind.example","company":"Northwind","tier":"vip","notes":{"role":"CFO"}}`},
		{200, `{"name":"Jörg","notes":{"Kostenstelle":"4711"}}`}, {200, `{}`}, {200, `null`}, {200, `[1]`}, {200, `{"tier":7}`},
		{404, ``}, {500, `oops`}, {302, ``}, {200, `{"name":"x"} trailing`}} {
		f.Add(s.status, []byte(s.body))
	}
	var answer struct {
		sync.Mutex
		status int
		body   []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer.Lock()
		status, body := answer.status, answer.body
		answer.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	f.Cleanup(srv.Close)
	hp := handoff.HTTPProfiles{URL: srv.URL + "/profiles", Client: srv.Client()}
	user := conversation.Identity{ID: "U1", Email: "ada@northwind.example"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 || status == http.StatusSwitchingProtocols || len(body) > 128<<10 {
			return
		}
		answer.Lock()
		answer.status, answer.body = status, body
		answer.Unlock()
		p, err := hp.Profile(context.Background(), conversation.ChannelSlack, user)
		var want handoff.Profile
		decodes := json.Unmarshal(body, &want) == nil
		switch {
		case status == http.StatusNotFound:
			if err != nil || !reflect.DeepEqual(p, handoff.Profile{}) {
				t.Fatalf("404: got %+v, %v; want no profile and no error", p, err)
			}
		case status == http.StatusOK && decodes && len(body) <= 64<<10:
			if err != nil || !reflect.DeepEqual(p, want) {
				t.Fatalf("200 %q: got %+v, %v; want %+v", body, p, err, want)
			}
		default:
			if conversation.ErrorCode(err) != conversation.Unavailable {
				t.Fatalf("status %d, body %q: got %+v, %v; want an Unavailable error", status, body, p, err)
			}
		}
	})
}

// withoutEmptyNotes returns p with empty notes and an empty map as nil:
// the YAML encoding does not tell them apart, nor does anything reading
// profiles.
func withoutEmptyNotes(p handoff.FileProfiles) handoff.FileProfiles {
	if len(p) == 0 {
		return nil
	}
	out := make(handoff.FileProfiles, len(p))
	for k, v := range p {
		if len(v.Notes) == 0 {
			v.Notes = nil
		}
		out[k] = v
	}
	return out
}

// readSeed reads a seed file.
func readSeed(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
