package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

// tier0Env lists the variables LoadConfig reads.
var tier0Env = []string{
	"TIER0_LISTEN", "TIER0_DATA_DIR", "TIER0_LOG_LEVEL", "TIER0_STORE", "TIER0_REDIS_ADDR", "TIER0_REDIS_DB",
	"TIER0_REDIS_MASTER_NAME", "TIER0_REDIS_USERNAME", "TIER0_REDIS_PASSWORD", "TIER0_WEBCHAT_SECRET", "TIER0_KNOWLEDGE_PATH",
}

// useDataDir points the commands that read the process environment at a
// fresh data directory and clears every other TIER0_* variable for the
// test. It returns the directory.
func useDataDir(tb testing.TB) string {
	tb.Helper()
	t, ok := tb.(*testing.T)
	if !ok {
		tb.Fatalf("useDataDir needs a *testing.T to set the environment, got %T", tb)
	}
	for _, k := range tier0Env {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("TIER0_DATA_DIR", dir)
	return dir
}

// runCommand runs the tier0 command line with args and stdin and returns
// what it printed.
func runCommand(tb testing.TB, stdin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestChatScripted(t *testing.T) {
	useDataDir(t)
	out, errOut, err := runCommand(t, passwordQ+"\nwhen is the summer party\n", "chat", "-config", sampleConfig)
	if err != nil {
		t.Fatalf("chat: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	answer := strings.Index(out, passwordPhrase)
	source := strings.Index(out, "Source: ")
	notSure := strings.Index(out, conversation.DefaultTexts().NotSure)
	switch {
	case answer < 0:
		t.Errorf("no password answer (mentioning %q) in output:\n%s", passwordPhrase, out)
	case source < answer || !strings.Contains(out[source:], "<"+passwordURL+">"):
		t.Errorf("no Source line with <%s> after the answer in output:\n%s", passwordURL, out)
	case notSure < source:
		t.Errorf("no not-sure reply after the answer's source in output:\n%s", out)
	}
	if n := strings.Count(out, "bot> "); n != 2 {
		t.Errorf("output has %d bot replies, want 2 (one per question):\n%s", n, out)
	}
}

func TestChatStoreInUse(t *testing.T) {
	dir := useDataDir(t)
	held, err := boltstore.Open(filepath.Join(dir, "tier0.db"), boltstore.Config{})
	if err != nil {
		t.Fatalf("open the store first: %v", err)
	}
	defer held.Close()
	out, _, err := runCommand(t, passwordQ+"\n", "chat", "-config", sampleConfig)
	if err == nil || !strings.Contains(err.Error(), "another tier0 process") {
		t.Errorf("chat while the store is held = %v, want an error about another tier0 process", err)
	}
	if out != "" {
		t.Errorf("chat printed %q, want nothing", out)
	}
}

func TestIngestCommand(t *testing.T) {
	useDataDir(t)
	out, errOut, err := runCommand(t, "", "ingest", "-config", sampleConfig)
	if err != nil {
		t.Fatalf("first ingest: %v\n%s", err, errOut)
	}
	first := lastIngest(t, out)
	if first[0] != sampleFiles || first[1] == 0 || first[2] != first[1] || first[5] != 0 {
		t.Errorf("first ingest: files, chunks, added, updated, removed, unchanged = %v; want %d files, every chunk added", first, sampleFiles)
	}
	out, errOut, err = runCommand(t, "", "ingest", "-config", sampleConfig)
	if err != nil {
		t.Fatalf("second ingest: %v\n%s", err, errOut)
	}
	second := lastIngest(t, out)
	checkUnchanged(t, second)
	if second[1] != first[1] {
		t.Errorf("second ingest has %d chunks, the first %d", second[1], first[1])
	}
}
