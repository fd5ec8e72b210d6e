// Command tier0 runs the tier0 helpdesk: the server with its channels
// (serve), a terminal chat (chat), knowledge ingestion (ingest) and the
// load benchmark (bench). This package is the only place that reads
// configuration files and the environment and wires concrete
// implementations together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/redis/go-redis/v9"
)

const usage = `tier0 — an AI level-0 helpdesk for chat platforms

Usage:
  tier0 serve  [-config FILE]          run the server (web chat on http://localhost:8080)
  tier0 chat   [-config FILE]          chat with the bot in the terminal (pipe questions in to script it)
  tier0 ingest [-config FILE] [DIR]    (re)index the knowledge folder incrementally
  tier0 bench  [flags]                 load benchmark against a real Redis; prints one RESULT line
  tier0 bench knowledge [flags]        ingestion, retrieval and memory on a 10,000-chunk index
  tier0 eval   -dataset D -path DIR    answer quality on clinc150|banking77|clariq (-split val|test); one RESULT line
  tier0 passwd < password              print the bcrypt hash of a password for console.accounts
  tier0 whatsapp pair [-phone NUMBER]  link this server to a WhatsApp account (QR code, or a pairing code)
  tier0 fake slack|teams|telegram|whatsapp   a local fake of that platform to try the channel offline
  tier0 fake shop-api|it-api                 the sample back ends of the shop's and the IT desk's actions
  tier0 help                           this text

Run "tier0 <command> -h" for the flags of a command. Settings come from the
YAML file (default ` + DefaultConfigPath + `) and TIER0_* environment variables.
`

// defaultGCPercent trades memory for CPU: a helpdesk server's heap is
// small next to the machine's memory, and collecting half as often leaves
// more CPU for turns. GOGC in the environment still wins.
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	// go-redis reports dial failures through a process-wide logger;
	// send them through slog like everything else (set once, here, so
	// in-process tests never race on it).
	redis.SetLogger(redisLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tier0:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		m := NewMain()
		m.Stdout, m.Stderr = stdout, stderr
		if err := m.ParseFlags(ctx, rest); err != nil {
			return err
		}
		// The server's logger is the process's default too, so what
		// libraries log (go-redis) has the configured level and format.
		m.Logger = newLogger(stderr, m.Config.LogLevel)
		slog.SetDefault(m.Logger)
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		fmt.Fprintln(stderr, "tier0: shutting down, finishing in-flight turns…")
		return m.Close()
	case "chat":
		return runChat(ctx, rest, stdin, stdout, stderr)
	case "ingest":
		return runIngest(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "eval":
		return runEval(ctx, rest, stdout, stderr)
	case "passwd":
		return runPasswd(stdin, stdout)
	case "whatsapp":
		return runWhatsApp(ctx, rest, stdout, stderr)
	case "fake":
		return runFake(ctx, rest, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// redisLogger hands go-redis's own messages to slog's default logger.
type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
