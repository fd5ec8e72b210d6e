package teams_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

func TestConfigValidate(t *testing.T) {
	valid := func() teams.Config {
		return teams.Config{
			AppID:           "00000000-0000-4000-8000-0000000b0700",
			AppPassword:     "secret",
			StaffChannelID:  "19:abc@thread.tacv2",
			StaffServiceURL: "https://smba.trafficmanager.net/emea/",
			StaffTenantID:   "tenant-1",
		}
	}
	tests := []struct {
		name    string
		change  func(c *teams.Config)
		wantErr string // "" = valid
	}{
		{"valid", func(*teams.Config) {}, ""},
		{"minimal", func(c *teams.Config) { *c = teams.Config{AppID: "app", AppPassword: "pw"} }, ""},
		{"loopback http for the fake", func(c *teams.Config) {
			c.OpenIDMetadataURL, c.TokenURL = "http://127.0.0.1:8080/v1/.well-known/openidconfiguration", "http://localhost:8080/t/oauth2/v2.0/token"
		}, ""},
		{"no app id", func(c *teams.Config) { c.AppID = "" }, "AppID"},
		{"no password", func(c *teams.Config) { c.AppPassword = "" }, "AppPassword"},
		{"plain http metadata", func(c *teams.Config) { c.OpenIDMetadataURL = "http://login.example/meta" }, "OpenIDMetadataURL"},
		{"token URL not a URL", func(c *teams.Config) { c.TokenURL = "::nope" }, "TokenURL"},
		{"staff channel without service URL", func(c *teams.Config) { c.StaffServiceURL = "" }, "StaffServiceURL"},
		{"staff service URL without channel", func(c *teams.Config) { c.StaffChannelID = "" }, "StaffChannelID"},
		{"staff channel without tenant", func(c *teams.Config) { c.StaffTenantID = "" }, "StaffTenantID"},
		{"staff tenant from TenantID", func(c *teams.Config) { c.StaffTenantID, c.TenantID = "", "tenant-1" }, ""},
		{"staff channel with a message id", func(c *teams.Config) { c.StaffChannelID = "19:abc@thread.tacv2;messageid=1" }, "StaffChannelID"},
		{"tiny body limit", func(c *teams.Config) { c.MaxBodyBytes = 100 }, "MaxBodyBytes"},
		{"negative timeout", func(c *teams.Config) { c.HTTPTimeout = -time.Second }, "HTTPTimeout"},
		{"too many attempts", func(c *teams.Config) { c.MaxAttempts = 100 }, "MaxAttempts"},
		{"key refresh too often", func(c *teams.Config) { c.KeyRefreshInterval = time.Second }, "KeyRefreshInterval"},
		{"empty issuer", func(c *teams.Config) { c.Issuers = []string{""} }, "Issuers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want an error naming %s", err, tt.wantErr)
			case err != nil && conversation.ErrorCode(err) != conversation.Invalid:
				t.Fatalf("Validate: code %s, want invalid", conversation.ErrorCode(err))
			}
		})
	}
	if _, err := teams.New(valid(), nil, nil); conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("New without engine and refs: %v, want Invalid", err)
	}
}
