package whatsapp_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
)

// postgresBase is the PostgreSQL the store test uses: the machine's local
// server (trust auth, database test), or TIER0_TEST_POSTGRES_DSN.
var postgresBase = cmp.Or(os.Getenv("TIER0_TEST_POSTGRES_DSN"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")

// storeConfigs returns a device store configuration per backend: SQLite
// in a temporary directory and PostgreSQL in a schema of its own that is
// dropped afterwards.
func storeConfigs(t *testing.T) map[string]func(t *testing.T) whatsapp.Config {
	return map[string]func(t *testing.T) whatsapp.Config{
		"sqlite": func(t *testing.T) whatsapp.Config {
			return whatsapp.Config{DataDir: filepath.Join(t.TempDir(), "data")}
		},
		"postgres": func(t *testing.T) whatsapp.Config {
			db, err := sql.Open("pgx", postgresBase)
			if err != nil {
				t.Fatalf("open postgres: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("the PostgreSQL device store cannot be tested: %s is not reachable (%v); start PostgreSQL there (trust auth, database test) or point TIER0_TEST_POSTGRES_DSN at one", postgresBase, err)
			}
			schema := "wa_test_" + strings.ToLower(rand.Text()[:12])
			if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
				t.Fatalf("create schema: %v", err)
			}
			t.Cleanup(func() {
				if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
					t.Errorf("drop schema %s: %v", schema, err)
				}
			})
			return whatsapp.Config{PostgresDSN: postgresBase + "&search_path=" + schema}
		},
	}
}

func TestDeviceStore(t *testing.T) {
	for name, config := range storeConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := config(t)
			ctx := context.Background()
			ds, err := whatsapp.OpenDeviceStore(ctx, cfg, nil)
			if err != nil {
				t.Fatalf("OpenDeviceStore: %v", err)
			}
			dev, err := ds.Device(ctx)
			if err != nil {
				t.Fatalf("Device: %v", err)
			}
			if dev.ID != nil || dev.NoiseKey == nil || dev.IdentityKey == nil {
				t.Fatalf("first device of a new store: ID %v, keys %v/%v; want an unlinked device with fresh keys", dev.ID, dev.NoiseKey, dev.IdentityKey)
			}
			var tables int
			q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'whatsmeow_%'"
			if ds.Dialect() == "postgres" {
				q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'whatsmeow_%'"
			}
			if err := whatsapp.DB(ds).QueryRow(q).Scan(&tables); err != nil || tables < 5 {
				t.Errorf("whatsmeow tables after upgrade = %d (%v), want the schema", tables, err)
			}
			if ds.Dialect() == "sqlite3" {
				var fk int
				if err := whatsapp.DB(ds).QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
					t.Errorf("PRAGMA foreign_keys = %d (%v), want 1", fk, err)
				}
				path := filepath.Join(cfg.DataDir, "whatsapp.db")
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("store file %s: %v, mode %v; want 0600", path, err, fi.Mode().Perm())
				}
			}

			// A linked device persists; a second open (upgrade again) finds it.
			jid := types.NewJID(shopPN.User, types.DefaultUserServer)
			jid.Device = 7
			dev.ID = &jid
			dev.Account = linkedAccount()
			if err := dev.Save(ctx); err != nil {
				t.Fatalf("save device: %v", err)
			}
			if err := ds.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			ds, err = whatsapp.OpenDeviceStore(ctx, cfg, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer ds.Close()
			again, err := ds.Device(ctx)
			if err != nil || again.ID == nil || *again.ID != jid {
				t.Fatalf("device after reopen = %v (%v), want %s", again.ID, err, jid)
			}
			if !bytes.Equal(again.IdentityKey.Priv[:], dev.IdentityKey.Priv[:]) {
				t.Error("the identity key changed across reopen")
			}
		})
	}
}

func TestOpenAndPairAgainstStore(t *testing.T) {
	ctx := context.Background()
	cfg := whatsapp.Config{DataDir: t.TempDir()}
	a, err := whatsapp.Open(ctx, cfg, newRecordingHandler(), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := a.Run(ctx); !errors.Is(err, whatsapp.ErrNotPaired) {
		t.Errorf("Run on an empty store = %v, want ErrNotPaired", err)
	}
	if a.Connected() {
		t.Error("Connected() is true for an unpaired adapter")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	ds, err := whatsapp.OpenDeviceStore(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ds.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jid := types.NewJID(shopPN.User, types.DefaultUserServer)
	dev.ID, dev.Account = &jid, linkedAccount()
	if err := dev.Save(ctx); err != nil {
		t.Fatal(err)
	}
	ds.Close()
	err = whatsapp.Pair(ctx, cfg, &bytes.Buffer{}, "")
	if !errors.Is(err, whatsapp.ErrAlreadyPaired) || !strings.Contains(err.Error(), shopPN.User) {
		t.Errorf("Pair on a linked store = %v, want ErrAlreadyPaired naming the number", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  whatsapp.Config
		ok   bool
	}{
		{"defaults", whatsapp.Config{DataDir: "data"}, true},
		{"both stores", whatsapp.Config{SQLitePath: "a.db", PostgresDSN: "postgres://x"}, false},
		{"sqlite path with query", whatsapp.Config{SQLitePath: "a.db?mode=memory"}, false},
		{"negative backlog age", whatsapp.Config{MaxBacklogAge: -time.Hour}, false},
		{"typing disabled", whatsapp.Config{TypingDelay: -1}, true},
		{"bad quote mode", whatsapp.Config{Quote: "sometimes"}, false},
		{"backoff min above max", whatsapp.Config{ReconnectMin: time.Minute, ReconnectMax: time.Second}, false},
		{"negative rate", whatsapp.Config{RatePerMinute: -1}, false},
		{"multi-line device name", whatsapp.Config{DeviceName: "shop\nbot"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
			if err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("Validate error code = %s, want invalid", conversation.ErrorCode(err))
			}
		})
	}
	if _, err := whatsapp.OpenDeviceStore(context.Background(), whatsapp.Config{}, nil); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("OpenDeviceStore without a location = %v, want Invalid", err)
	}
}

// linkedAccount is the account record a linked device carries (fixture
// bytes; nothing verifies them offline).
func linkedAccount() *waAdv.ADVSignedDeviceIdentity {
	return &waAdv.ADVSignedDeviceIdentity{
		Details: []byte("details"), AccountSignature: make([]byte, 64),
		AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
}
