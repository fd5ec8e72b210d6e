package handoff_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/handoff"
)

func TestFileProfiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	data := "webchat:u-7: {name: Ada Lovelace, company: Northwind, tier: vip}\nbob@example.com: {name: Bob, tier: standard}\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := handoff.LoadProfiles(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ch       conversation.Channel
		user     conversation.Identity
		wantTier string
	}{
		{"by channel identity", conversation.ChannelWebChat, conversation.Identity{ID: "u-7"}, "vip"},
		{"same id on another channel", conversation.ChannelSlack, conversation.Identity{ID: "u-7"}, ""},
		{"by e-mail, any case", conversation.ChannelTeams, conversation.Identity{ID: "x", Email: "Bob@Example.com"}, "standard"},
		{"unknown", conversation.ChannelWebChat, conversation.Identity{ID: "nobody"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Profile(context.Background(), tt.ch, tt.user)
			if err != nil || got.Tier != tt.wantTier {
				t.Errorf("Profile = %+v, %v; want tier %q", got, err, tt.wantTier)
			}
		})
	}
	for name, bad := range map[string]string{"unknown field": "a: {nmae: x}\n", "not a map": "- a\n- b\n"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := handoff.LoadProfiles(path); conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("LoadProfiles: %v, want invalid", err)
			}
		})
	}
}

func TestHTTPProfiles(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer crm-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Query().Get("user") {
		case "u-7":
			if r.URL.Query().Get("channel") != "webchat" {
				t.Errorf("channel = %q", r.URL.Query().Get("channel"))
			}
			w.Write([]byte(`{"name":"Ada","tier":"vip"}`))
		case "slow":
			time.Sleep(300 * time.Millisecond)
		case "broken":
			w.Write([]byte(`{"name":`))
		case "huge":
			w.Write([]byte(`{"name":"` + strings.Repeat("a", 70<<10) + `"}`))
		case "down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	h := handoff.HTTPProfiles{URL: srv.URL + "/profiles", Header: http.Header{"Authorization": {"Bearer crm-token"}}, Timeout: 100 * time.Millisecond}
	tests := []struct {
		user     string
		wantTier string
		wantCode conversation.Code
	}{
		{"u-7", "vip", ""}, {"stranger", "", ""}, {"slow", "", conversation.Unavailable}, {"broken", "", conversation.Unavailable},
		{"huge", "", conversation.Unavailable}, {"down", "", conversation.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, err := h.Profile(context.Background(), conversation.ChannelWebChat, conversation.Identity{ID: tt.user})
			if conversation.ErrorCode(err) != tt.wantCode || got.Tier != tt.wantTier {
				t.Errorf("Profile = %+v, %v; want tier %q, code %q", got, err, tt.wantTier, tt.wantCode)
			}
		})
	}
}

func TestOpenUsesTheProfile(t *testing.T) {
	profiles := handoff.FileProfiles{"webchat:u-7": {Name: "Ada Lovelace", Company: "Northwind", Tier: "vip"}}
	desk, err := handoff.NewDesk(openStore(t), handoff.Config{
		TicketPrefix: "IT", StaffChannel: "staff", Profiles: profiles,
		Priorities: handoff.Priorities{Rules: []handoff.PriorityRule{{CustomerTiers: []string{"vip"}, Priority: "P2"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	conv := &conversation.Conversation{Key: "webchat:s1", Channel: conversation.ChannelWebChat, User: conversation.Identity{ID: "u-7"}}
	tk, outs, err := desk.Open(context.Background(), conversation.HandoffRequest{Conversation: conv, Reason: "customer_request"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Priority != "P2" {
		t.Errorf("priority %s, want P2 for a vip", tk.Priority)
	}
	if len(outs) != 1 || !strings.Contains(outs[0].Text, "Customer: name: Ada Lovelace · company: Northwind · tier: vip\n") {
		t.Errorf("handoff card %q, want the profile line", outs)
	}
}
