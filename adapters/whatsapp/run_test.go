package whatsapp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
)

// tiny is a reconnect backoff that keeps tests fast.
var tiny = whatsapp.Config{ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond}

func TestRunStopsOnPermanentEvents(t *testing.T) {
	tests := []struct {
		name  string
		evt   any
		want  error
		check func(t *testing.T, err error, logs string)
	}{
		{name: "logged out", evt: &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureLoggedOut}, want: whatsapp.ErrLoggedOut,
			check: func(t *testing.T, err error, logs string) {
				if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "re-pair") {
					t.Errorf("logs do not tell the operator to re-pair at error level:\n%s", logs)
				}
			}},
		{name: "stream replaced", evt: &events.StreamReplaced{}, want: whatsapp.ErrStreamReplaced},
		{name: "temporary ban", evt: &events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: 90 * time.Minute}, want: whatsapp.ErrBanned,
			check: func(t *testing.T, err error, logs string) {
				var ban *whatsapp.BanError
				if !errors.As(err, &ban) || ban.Code != 102 || ban.Expire != 90*time.Minute || ban.Until.IsZero() ||
					!strings.Contains(ban.Reason, "blocked") {
					t.Errorf("ban error = %#v, want code 102, 90m, an end time and the reason", ban)
				}
				if !strings.Contains(logs, "temporarily banned") || !strings.Contains(logs, "expires_in=1h30m0s") {
					t.Errorf("logs lack the ban reason and expiry:\n%s", logs)
				}
			}},
		{name: "client outdated", evt: &events.ClientOutdated{}, want: whatsapp.ErrClientOutdated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := run(t, tiny, newRecordingHandler(), true)
			h.cli.emit(tt.evt)
			err := h.wait(t)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Run = %v, want %v", err, tt.want)
			}
			if tt.check != nil {
				tt.check(t, err, h.logs.String())
			}
			h.cli.mu.Lock()
			n, handlers := h.cli.connects, len(h.cli.handlers)
			h.cli.mu.Unlock()
			if n != 1 {
				t.Errorf("Connect called %d times, want 1 (no reconnect after a permanent stop)", n)
			}
			if handlers != 0 {
				t.Errorf("%d event handlers left registered", handlers)
			}
		})
	}
}

func TestRunReconnectsWithBackoff(t *testing.T) {
	h := run(t, tiny, newRecordingHandler(), true)
	// The server drops the connection.
	h.cli.setLoggedIn(false)
	h.cli.emit(&events.Disconnected{})
	h.cli.waitConnect(t, 2)
	// WhatsApp refuses the next login with a transient failure; the
	// attempt after that fails to dial.
	h.cli.mu.Lock()
	h.cli.connectFn = func(n int) error {
		if n == 3 {
			return errors.New("dial tcp: connection refused")
		}
		return nil
	}
	h.cli.mu.Unlock()
	h.cli.emit(&events.ConnectFailure{Reason: events.ConnectFailureServiceUnavailable})
	h.cli.waitConnect(t, 4)
	h.cli.setLoggedIn(true)
	h.cli.emit(&events.Connected{})
	// Connected again: messages flow.
	h.cli.emit(dm("RC1", "Still there?"))
	if m := recorded(t, h); m.PlatformMsgID != "RC1" {
		t.Errorf("after reconnecting got %s, want RC1", m.PlatformMsgID)
	}
	logs := h.logs.String()
	for _, want := range []string{"disconnected", "reconnecting", "connect failed; retrying", "connection refused by WhatsApp"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	h.stop()
	if err := h.wait(t); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n        int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{1, time.Second, 2 * time.Second},
		{3, 4 * time.Second, 8 * time.Second},
		{8, 128 * time.Second, 256 * time.Second},
		{9, 150 * time.Second, 300 * time.Second}, // capped at 5m
		{200, 150 * time.Second, 300 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if d := whatsapp.Backoff(time.Second, 5*time.Minute, tt.n); d < tt.min || d > tt.max {
				t.Errorf("Backoff(attempt %d) = %v, want within [%v, %v]", tt.n, d, tt.min, tt.max)
			}
		}
	}
}

func TestRunRefusesUnpairedDevice(t *testing.T) {
	a, cli, _ := newAdapter(t, whatsapp.Config{}, newRecordingHandler())
	cli.paired = false
	if err := a.Run(context.Background()); !errors.Is(err, whatsapp.ErrNotPaired) {
		t.Errorf("Run = %v, want ErrNotPaired", err)
	}
}

func TestRunOnlyOnce(t *testing.T) {
	h := run(t, tiny, newRecordingHandler(), true)
	if err := h.a.Run(context.Background()); !errors.Is(err, whatsapp.ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

func TestRunIgnoresHistoryAndOldBacklog(t *testing.T) {
	h := run(t, whatsapp.Config{}, newRecordingHandler(), true)
	chat := shopperPN.String()
	h.cli.emit(&events.HistorySync{Data: &waHistorySync.HistorySync{
		SyncType:      waHistorySync.HistorySync_RECENT.Enum(),
		Conversations: []*waHistorySync.Conversation{{ID: proto.String(chat), Messages: []*waHistorySync.HistorySyncMsg{{}}}},
	}})
	old := dm("H1", "asked yesterday morning")
	old.Info.Timestamp = time.Now().Add(-30 * time.Hour)
	h.cli.emit(old)
	h.cli.emit(dm("H2", "asked just now"))
	if m := recorded(t, h); m.PlatformMsgID != "H2" {
		t.Errorf("first message handed to the engine = %s, want H2 (history and old backlog skipped)", m.PlatformMsgID)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "skipping an old message from the offline backlog") || strings.Contains(logs, "asked yesterday") {
		t.Errorf("want a log line for the skipped message, without its text:\n%s", logs)
	}
}

func TestTypingAndReadReceipts(t *testing.T) {
	rec := newRecordingHandler()
	h := run(t, whatsapp.Config{TypingDelay: time.Millisecond}, rec, true)
	// The turn is slow: it only finishes once the shopper sees "typing…".
	rec.setHold(func(conversation.Message) {
		select {
		case chat := <-h.cli.composing:
			if chat != shopperPN {
				t.Errorf("typing shown in %s, want %s", chat, shopperPN)
			}
		case <-time.After(waitLimit):
			t.Error("no typing presence during a slow turn")
		}
	})
	h.cli.emit(dm("T1", "Do you have this in blue?"))
	select {
	case r := <-h.cli.readCh:
		if len(r.ids) != 1 || r.ids[0] != "T1" || r.chat != shopperPN || r.sender != shopperPN {
			t.Errorf("read receipt = %+v, want T1 in the shopper's chat", r)
		}
	case <-time.After(waitLimit):
		t.Fatal("no read receipt")
	}
	ps := h.cli.chatPresences()
	if len(ps) < 2 || ps[0].state != types.ChatPresenceComposing || ps[len(ps)-1].state != types.ChatPresencePaused {
		t.Errorf("chat presences = %+v, want composing … paused", ps)
	}
	h.cli.mu.Lock()
	pres := append([]types.Presence(nil), h.cli.presence...)
	h.cli.mu.Unlock()
	if len(pres) == 0 || pres[0] != types.PresenceAvailable {
		t.Errorf("presence after connecting = %v, want available", pres)
	}
}

func TestInOrderPerConversation(t *testing.T) {
	rec := newRecordingHandler()
	h := run(t, whatsapp.Config{}, rec, true)
	for _, id := range []string{"O1", "O2", "O3", "O4"} {
		h.cli.emit(dm(id, "message "+id))
	}
	var got []string
	for range 4 {
		got = append(got, recorded(t, h).PlatformMsgID)
	}
	if strings.Join(got, ",") != "O1,O2,O3,O4" {
		t.Errorf("handled in order %v, want O1..O4", got)
	}
}
