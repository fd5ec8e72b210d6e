// Package redistest starts private redis-server processes for tests and
// benchmarks: each one listens on a free loopback port, keeps no data on
// disk (--save "" --appendonly no; StartPersistentProcess keeps an
// append-only file) and works in its own directory.
//
// The redis-server binary is looked up in PATH, then at
// /usr/bin/redis-server. When it is missing, Start fails the test with a
// message that says how to install it; it never skips.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fallbackBinary is where Debian's redis-server package installs the server.
const fallbackBinary = "/usr/bin/redis-server"

// startTimeout bounds how long a fresh server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one private redis-server process. Its methods are safe for
// concurrent use.
type Server struct {
	bin     string
	dir     string
	port    int
	cluster bool
	// persistent servers write an append-only file (fsync every second)
	// into dir and read it back when they start again.
	persistent bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start launches a private standalone redis-server for tb and stops it when
// the test ends. It fails the test (never skips) when the server cannot run.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, false)
}

// StartCluster launches a private redis-server in cluster mode that owns
// all 16384 slots on its own, so scripts and transactions whose keys span
// slots fail with CROSSSLOT exactly as on a real cluster. Client returns a
// cluster client for it.
func StartCluster(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, true)
}

func start(tb testing.TB, cluster bool) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	s, err := startProcess(ctx, tb.TempDir(), cluster)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// StartProcess launches a private standalone redis-server working in dir
// (created if missing), for callers without a testing.TB such as the bench
// command. The caller must Close the server. Errors say why the server
// could not start and, when the binary is missing, how to install it.
func StartProcess(ctx context.Context, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("redis working directory: %w", err)
	}
	return startProcess(ctx, dir, false)
}

// StartPersistentProcess launches a standalone redis-server as production
// should run it: append-only file on (appendfsync everysec) in dir, so
// Terminate and Relaunch keep the data. The caller must Close it.
func StartPersistentProcess(ctx context.Context, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("redis working directory: %w", err)
	}
	return newProcess(ctx, dir, false, true)
}

func startProcess(ctx context.Context, dir string, cluster bool) (*Server, error) {
	return newProcess(ctx, dir, cluster, false)
}

func newProcess(ctx context.Context, dir string, cluster, persistent bool) (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, cluster: cluster, persistent: persistent}
	// A free port found by listening on :0 may be taken by someone else
	// before redis-server binds it; try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		err = s.launch(ctx)
		if err == nil || attempt == 4 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if cluster {
		if err := s.assignAllSlots(ctx); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

func findBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if st, err := os.Stat(fallbackBinary); err == nil && !st.IsDir() {
		return fallbackBinary, nil
	}
	return "", errors.New("redis-server not found in PATH nor at " + fallbackBinary +
		"; the Redis store tests need a real server: install it with `apt-get install redis-server`")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts redis-server on s.port and waits until it answers PING.
func (s *Server) launch(ctx context.Context) error {
	logPath := filepath.Join(s.dir, "redis-"+strconv.Itoa(s.port)+".log")
	aof := []string{"--appendonly", "no"}
	if s.persistent {
		aof = []string{"--appendonly", "yes", "--appendfsync", "everysec"}
	}
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", ""}, aof...)
	args = append(args,
		"--dir", s.dir,
		"--logfile", logPath,
		"--daemonize", "no",
	)
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-"+strconv.Itoa(s.port)+".conf")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w; install Redis with `apt-get install redis-server`", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr()) == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited during start-up (%s); log %s: %s",
				s.port, cmd.ProcessState, logPath, tail(logPath))
		case <-ctx.Done():
			s.Kill()
			return fmt.Errorf("redis-server on port %d: %w", s.port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server on port %d did not answer PING within %s; log %s: %s",
				s.port, startTimeout, logPath, tail(logPath))
		}
	}
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected PING reply %q", strings.TrimSpace(line))
	}
	return nil
}

// tail returns the end of a log file for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// assignAllSlots makes the single cluster node own every slot and waits
// until the cluster reports state ok.
func (s *Server) assignAllSlots(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		return fmt.Errorf("assign cluster slots on %s: %w", s.Addr(), err)
	}
	return waitClusterOK(ctx, c)
}

func waitClusterOK(ctx context.Context, c *redis.Client) error {
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis cluster node did not reach cluster_state:ok (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Kill stops the server with SIGKILL, as a crash would, and waits until the
// process has exited. Killing a stopped server does nothing.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig os.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-done
}

// Terminate stops the server with SIGTERM, as an orderly restart would (a
// persistent server flushes its append-only file), and waits until the
// process has exited.
func (s *Server) Terminate() { s.stop(syscall.SIGTERM) }

// Relaunch starts a stopped server again on the same port and directory
// and waits until it answers PING (a persistent one has loaded its data
// by then).
func (s *Server) Relaunch(ctx context.Context) error {
	s.Kill()
	return s.launch(ctx)
}

// Restart starts the server again on the same port after Kill (its data
// is gone: it keeps nothing on disk). It fails the test when the server
// does not come back.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	if err := s.launch(ctx); err != nil {
		tb.Fatalf("redistest: restart: %v", err)
	}
	if s.cluster {
		c := redis.NewClient(&redis.Options{Addr: s.Addr()})
		defer c.Close()
		if err := waitClusterOK(ctx, c); err != nil {
			tb.Fatalf("redistest: restart: %v", err)
		}
	}
}

// Client returns a new client for the server, closed when the test ends:
// a cluster client for StartCluster, a plain one otherwise.
func (s *Server) Client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c := s.NewClient()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// NewClient returns a new client for the server that the caller must close.
func (s *Server) NewClient() redis.UniversalClient {
	opts := &redis.UniversalOptions{
		Addrs:        []string{s.Addr()},
		DialTimeout:  time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
	}
	if s.cluster {
		return redis.NewClusterClient(opts.Cluster())
	}
	return redis.NewClient(opts.Simple())
}

// Close kills the server and waits for it to exit. It returns nil; the
// error result is there so Close fits io.Closer for StartProcess callers.
func (s *Server) Close() error {
	s.Kill()
	return nil
}
