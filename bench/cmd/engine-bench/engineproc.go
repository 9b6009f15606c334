package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pa-connector/pa-connector/bench/procstat"
)

// engineProc is one pa-engine process started by the benchmark.
type engineProc struct {
	bin     string
	dataDir string
	records string // "off" or the records file
	addr    string // 127.0.0.1:port, chosen before the start so readiness can be timed from exec
	logPath string

	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	exitErr error

	// ReadyAfter is exec → first successful Topology, measured by the benchmark.
	ReadyAfter time.Duration

	log *engineLog
}

// engineLog receives pa-engine's stderr (JSON lines), keeps it in a file and picks out the
// "state recovered" and "ready" lines.
type engineLog struct {
	mu       sync.Mutex
	f        *os.File
	partial  []byte
	tail     []string // last lines, for error messages
	ready    map[string]any
	recovery map[string]any
	fatal    string
}

func (l *engineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_, _ = l.f.Write(p)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.line(line)
	}
	return len(p), nil
}

func (l *engineLog) line(s string) {
	l.tail = append(l.tail, s)
	if len(l.tail) > 20 {
		l.tail = l.tail[1:]
	}
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil {
		return
	}
	switch m["message"] {
	case "ready":
		l.ready = m
	case "state recovered":
		l.recovery = m
	}
	if lv, _ := m["level"].(string); lv == "fatal" || lv == "panic" {
		l.fatal = s
	}
}

func (l *engineLog) field(which, name string) (float64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.ready
	if which == "recovery" {
		m = l.recovery
	}
	v, ok := m[name].(float64)
	return v, ok
}

func (l *engineLog) lastLines() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.tail, "\n")
}

// freeAddr picks a free loopback port (the engine is then started on it).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startEngine starts pa-engine on dataDir and waits until Topology answers. addr "" picks a
// free port; a restart passes the previous address.
func startEngine(ctx context.Context, bin, dataDir, records, addr, logPath string, extra, env []string) (*engineProc, error) {
	if addr == "" {
		var err error
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &engineProc{bin: bin, dataDir: dataDir, records: records, addr: addr, logPath: logPath,
		exited: make(chan struct{}), log: &engineLog{f: f}}
	args := []string{"--address", addr, "--data-dir", dataDir, "--records", records,
		"--monitoring-address", "127.0.0.1:0", "--log-level", "info"}
	args = append(args, extra...)
	p.cmd = exec.Command(bin, args...)
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	killWithParent(p.cmd)
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// waitReady polls every 2 ms: first a TCP connect (cheap, and gRPC's reconnect backoff would
// distort the figure), then Topology on a fresh connection.
func (p *engineProc) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("pa-engine exited before it was ready (%v); its last lines:\n%s", p.exitErr, p.log.lastLines())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pa-engine not ready after %v; its last lines:\n%s", limit, p.log.lastLines())
		}
		c, err := net.DialTimeout("tcp", p.addr, 100*time.Millisecond)
		if err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		c.Close()
		if err := topology(ctx, p.addr); err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		p.ReadyAfter = time.Since(p.started)
		return nil
	}
}

func topology(ctx context.Context, addr string) error {
	conn, err := dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = pb.NewGatewayClient(conn).Topology(tctx, &pb.TopologyRequest{}, grpc.WaitForReady(true))
	return err
}

func dial(addr string) (*grpc.ClientConn, error) {
	return grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
}

// Pid is the engine's process id.
func (p *engineProc) Pid() int { return p.cmd.Process.Pid }

// CPU is the engine's user+system CPU so far.
func (p *engineProc) CPU() (time.Duration, error) { return procstat.CPU(p.Pid()) }

// Mem is the engine's VmRSS and VmHWM.
func (p *engineProc) Mem() (procstat.Memory, error) { return procstat.Mem(p.Pid()) }

// EngineReadyMS is the "ready_ms" of the engine's ready line.
func (p *engineProc) EngineReadyMS() float64 { v, _ := p.log.field("ready", "ready_ms"); return v }

// RecoveryMS is the "recovery" of the engine's "state recovered" line (milliseconds).
func (p *engineProc) RecoveryMS() float64 { v, _ := p.log.field("recovery", "recovery"); return v }

// Recovered is the instances and jobs the engine reported after recovery.
func (p *engineProc) Recovered() (instances, jobs int) {
	i, _ := p.log.field("recovery", "instances")
	j, _ := p.log.field("recovery", "jobs")
	return int(i), int(j)
}

// MonitoringAddr is the monitoring address of the ready line.
func (p *engineProc) MonitoringAddr() string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	s, _ := p.log.ready["monitoring"].(string)
	return s
}

// Alive reports an error when the engine has exited (or logged a fatal line).
func (p *engineProc) Alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("pa-engine exited (%v); its last lines:\n%s", p.exitErr, p.log.lastLines())
	default:
	}
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	if p.log.fatal != "" {
		return fmt.Errorf("pa-engine logged a fatal error: %s", p.log.fatal)
	}
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *engineProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits (SIGKILL after 10 s).
func (p *engineProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
		return errors.New("pa-engine did not stop within 10 s of SIGTERM")
	}
	var ee *exec.ExitError
	if p.exitErr != nil && !errors.As(p.exitErr, &ee) {
		return p.exitErr
	}
	if ee != nil && ee.ExitCode() != 0 {
		return fmt.Errorf("pa-engine exited with %d after SIGTERM; its last lines:\n%s", ee.ExitCode(), p.log.lastLines())
	}
	return nil
}

// counters reads pa_engine_* counters from /metrics.
func (p *engineProc) counters() map[string]float64 {
	addr := p.MonitoringAddr()
	if addr == "" {
		return nil
	}
	out := map[string]float64{}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "pa_engine_") {
			continue
		}
		var name string
		var v float64
		if _, err := fmt.Sscanf(line, "%s %g", &name, &v); err == nil {
			out[name] = v
		}
	}
	return out
}
