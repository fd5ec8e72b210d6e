package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a YAML configuration into a fresh directory and
// returns its path.
func writeConfig(tb testing.TB, yaml string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tier0.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatalf("write config: %v", err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	secret32 := strings.Repeat("s", 32)
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string               // part of the error; "" for success
		check   func(*Config) string // what is wrong with the result; "" if nothing
	}{
		{
			name: "defaults",
			yaml: "{}",
			check: func(c *Config) string {
				switch {
				case c.Name != "tier0" || c.Listen != ":8080" || c.DataDir != "data" || c.LogLevel != "info":
					return "name, listen, data_dir, log_level = " + strings.Join([]string{c.Name, c.Listen, c.DataDir, c.LogLevel}, ", ")
				case c.Store.Driver != "bolt" || c.Store.Path != filepath.Join("data", "tier0.db"):
					return "store = " + c.Store.Driver + " " + c.Store.Path + ", want bolt data/tier0.db"
				case !slices.Equal(c.Store.Redis.Addrs, []string{"127.0.0.1:6379"}):
					return "redis addrs = " + strings.Join(c.Store.Redis.Addrs, ",")
				case c.Knowledge.IngestOnStart == nil || !*c.Knowledge.IngestOnStart || c.Knowledge.Path != "":
					return "knowledge: want ingest on start and no folder"
				case c.WebChat.Title != "tier0" || c.WebChat.Secret != "":
					return "webchat title " + c.WebChat.Title + ", want the name and no secret"
				}
				return ""
			},
		},
		{
			name: "file values",
			yaml: "name: Shop help\nlisten: 127.0.0.1:9000\nlog_level: debug\nstore: {driver: redis, idle_ttl: 1h, redis: {addrs: [r1:6379, r2:6379], db: 2}}\n" +
				"knowledge: {threshold: 0.4, ingest_on_start: false}\nwebchat: {rate_per_minute: 5}\n",
			check: func(c *Config) string {
				switch {
				case c.Name != "Shop help" || c.WebChat.Title != "Shop help" || c.Listen != "127.0.0.1:9000" || c.LogLevel != "debug":
					return "name, title, listen or log level not taken from the file"
				case c.Store.Driver != "redis" || c.Store.IdleTTL != time.Hour || c.Store.Redis.DB != 2 ||
					!slices.Equal(c.Store.Redis.Addrs, []string{"r1:6379", "r2:6379"}):
					return "store settings not taken from the file"
				case c.Knowledge.Threshold != 0.4 || *c.Knowledge.IngestOnStart || c.WebChat.RatePerMinute != 5:
					return "knowledge or webchat settings not taken from the file"
				}
				return ""
			},
		},
		{
			name: "env overrides",
			yaml: "listen: :8080\ndata_dir: data\nstore: {driver: bolt}\n",
			env: map[string]string{"TIER0_LISTEN": "127.0.0.1:7000", "TIER0_DATA_DIR": "/srv/tier0", "TIER0_LOG_LEVEL": "warn",
				"TIER0_STORE": "redis", "TIER0_REDIS_DB": "3", "TIER0_REDIS_PASSWORD": "pw", "TIER0_WEBCHAT_SECRET": secret32},
			check: func(c *Config) string {
				switch {
				case c.Listen != "127.0.0.1:7000" || c.DataDir != "/srv/tier0" || c.LogLevel != "warn":
					return "listen, data dir or log level not overridden: " + c.Listen + " " + c.DataDir + " " + c.LogLevel
				case c.Store.Driver != "redis" || c.Store.Redis.DB != 3 || c.Store.Redis.Password != "pw":
					return "store driver, redis db or password not overridden"
				case c.Store.Path != filepath.Join("/srv/tier0", "tier0.db"):
					return "store path " + c.Store.Path + " does not follow the data dir"
				case c.WebChat.Secret != secret32:
					return "webchat secret not taken from the environment"
				}
				return ""
			},
		},
		{
			name: "TIER0_REDIS_ADDR switches to redis",
			yaml: "store: {driver: bolt}\n",
			env:  map[string]string{"TIER0_REDIS_ADDR": "10.0.0.1:6379,10.0.0.2:6379"},
			check: func(c *Config) string {
				if c.Store.Driver != "redis" || !slices.Equal(c.Store.Redis.Addrs, []string{"10.0.0.1:6379", "10.0.0.2:6379"}) {
					return "driver " + c.Store.Driver + ", addrs " + strings.Join(c.Store.Redis.Addrs, ",")
				}
				return ""
			},
		},
		{
			name: "TIER0_STORE wins over TIER0_REDIS_ADDR",
			yaml: "{}",
			env:  map[string]string{"TIER0_REDIS_ADDR": "10.0.0.1:6379", "TIER0_STORE": "bolt"},
			check: func(c *Config) string {
				if c.Store.Driver != "bolt" {
					return "driver " + c.Store.Driver + ", want bolt"
				}
				return ""
			},
		},
		{
			name: "relative knowledge path",
			yaml: "knowledge: {path: kb/articles}\n",
			check: func(c *Config) string {
				if want := filepath.Join(c.dir, "kb", "articles"); c.Knowledge.Path != want || !filepath.IsAbs(want) {
					return "knowledge path " + c.Knowledge.Path + ", want " + want
				}
				return ""
			},
		},
		{
			name: "absolute knowledge path",
			yaml: "knowledge: {path: /srv/kb}\n",
			check: func(c *Config) string {
				if c.Knowledge.Path != "/srv/kb" {
					return "knowledge path " + c.Knowledge.Path + ", want /srv/kb"
				}
				return ""
			},
		},
		{name: "TIER0_REDIS_DB not a number", yaml: "{}", env: map[string]string{"TIER0_REDIS_DB": "two"}, wantErr: `TIER0_REDIS_DB="two": not a number`},
		{name: "short webchat secret", yaml: "{}", env: map[string]string{"TIER0_WEBCHAT_SECRET": secret32[:31]}, wantErr: "TIER0_WEBCHAT_SECRET must be at least 32"},
		{name: "unknown field", yaml: "name: x\nlisten_addr: :80\n", wantErr: "listen_addr"},
		{name: "unknown nested field", yaml: "store: {drvier: redis}\n", wantErr: "drvier"},
		{name: "bad driver", yaml: "store: {driver: mysql}\n", wantErr: `store.driver "mysql"`},
		{name: "bad driver from env", yaml: "{}", env: map[string]string{"TIER0_STORE": "etcd"}, wantErr: `store.driver "etcd"`},
		{name: "bad log level", yaml: "log_level: loud\n", wantErr: `log_level "loud"`},
		{name: "threshold above 1", yaml: "knowledge: {threshold: 1.5}\n", wantErr: "knowledge.threshold 1.5"},
		{name: "negative threshold", yaml: "knowledge: {threshold: -0.1}\n", wantErr: "knowledge.threshold -0.1"},
		{name: "wrong type", yaml: "listen: [a, b]\n", wantErr: "parse config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(writeConfig(t, tt.yaml), func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if msg := tt.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	if _, err := LoadConfig(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("LoadConfig of a missing file = %v, want an error naming it", err)
	}
}

func TestLoadSampleConfig(t *testing.T) {
	c, err := LoadConfig(sampleConfig, func(string) string { return "" })
	if err != nil {
		t.Fatalf("LoadConfig(%s): %v", sampleConfig, err)
	}
	entries, err := os.ReadDir(c.Knowledge.Path)
	if err != nil {
		t.Fatalf("knowledge folder of the sample: %v", err)
	}
	if len(entries) != sampleFiles || c.Store.Driver != "bolt" || c.Handoff.TicketPrefix != "IT" {
		t.Errorf("sample: %d knowledge files, driver %s, ticket prefix %s; want %d, bolt, IT",
			len(entries), c.Store.Driver, c.Handoff.TicketPrefix, sampleFiles)
	}
}

func TestWeekdays(t *testing.T) {
	got, err := weekdays([]string{"mon", "Tuesday", "sa", "SU"})
	if err != nil || fmt.Sprint(got) != "[Monday Tuesday Saturday Sunday]" {
		t.Errorf("weekdays = %v, %v; want Monday Tuesday Saturday Sunday", got, err)
	}
	for _, bad := range []string{"m", "funday", ""} {
		if _, err := weekdays([]string{bad}); err == nil {
			t.Errorf("weekdays(%q): no error, want one", bad)
		}
	}
}
