package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the PostgreSQL device store
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" (pure Go) for the default device store

	"github.com/tier0/tier0/conversation"
)

// DeviceStore is whatsmeow's SQL store of device keys, sessions and
// contacts: one linked device per store.
type DeviceStore struct {
	db        *sql.DB
	container *sqlstore.Container
	dialect   string
}

// OpenDeviceStore opens (creating or upgrading its schema) the device
// store that cfg names: PostgreSQL when cfg.PostgresDSN is set, otherwise
// the SQLite file cfg.SQLitePath (default <DataDir>/whatsapp.db) with
// foreign keys on, a busy timeout and WAL journaling. Errors: Invalid
// (no location configured), Unavailable (the database cannot be opened
// or upgraded).
func OpenDeviceStore(ctx context.Context, cfg Config, log *slog.Logger) (*DeviceStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	var driver, dialect, dsn string
	switch {
	case cfg.PostgresDSN != "":
		driver, dialect, dsn = "pgx", "postgres", cfg.PostgresDSN
	case cfg.SQLitePath != "":
		if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o700); err != nil {
			return nil, conversation.Errorf(conversation.Unavailable, "whatsapp: create the device store directory: %w", err)
		}
		driver, dialect = "sqlite", "sqlite3"
		dsn = "file:" + cfg.SQLitePath + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	default:
		return nil, conversation.Errorf(conversation.Invalid, "whatsapp: no device store configured: set data_dir, sqlite_path or postgres_dsn")
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, conversation.Errorf(conversation.Unavailable, "whatsapp: open the %s device store: %w", dialect, err)
	}
	c := sqlstore.NewWithDB(db, dialect, newSlogLogger(log, "Database"))
	if err := c.Upgrade(ctx); err != nil {
		db.Close()
		return nil, conversation.Errorf(conversation.Unavailable, "whatsapp: prepare the %s device store: %w", dialect, err)
	}
	if dialect == "sqlite3" {
		// The files hold the account's keys.
		for _, f := range []string{cfg.SQLitePath, cfg.SQLitePath + "-wal", cfg.SQLitePath + "-shm"} {
			if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.Warn("whatsapp: cannot restrict the device store's permissions", "err", err)
			}
		}
	}
	return &DeviceStore{db: db, container: c, dialect: dialect}, nil
}

// Dialect is "sqlite3" or "postgres".
func (s *DeviceStore) Dialect() string { return s.dialect }

// Device returns the store's linked device, or a new unlinked one (ID nil)
// when the store holds none. Errors: Unavailable.
func (s *DeviceStore) Device(ctx context.Context) (*store.Device, error) {
	d, err := s.container.GetFirstDevice(ctx)
	if err != nil {
		return nil, conversation.Errorf(conversation.Unavailable, "whatsapp: load the device: %w", err)
	}
	return d, nil
}

// Close closes the database.
func (s *DeviceStore) Close() error { return s.db.Close() }

var deviceNameOnce sync.Once

// client returns a whatsmeow client for the store's device.
func (s *DeviceStore) client(ctx context.Context, cfg Config, log *slog.Logger) (whatsmeowClient, error) {
	dev, err := s.Device(ctx)
	if err != nil {
		return whatsmeowClient{}, err
	}
	// whatsmeow keeps the name shown under "Linked devices" in a package
	// variable; set it once, before the first connection.
	deviceNameOnce.Do(func() { store.SetOSInfo(cfg.DeviceName, [3]uint32{1, 0, 0}) })
	return newWhatsmeowClient(whatsmeow.NewClient(dev, newSlogLogger(log, "Client"))), nil
}
