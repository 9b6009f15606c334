package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pa-connector/pa-connector/bench/procstat"
)

// workerConfig is how one pa-connector process is started.
type workerConfig struct {
	Bin           string
	Gateway       string // ZEEBE_ADDRESS
	JobType       string
	MaxJobsActive int
	Streaming     string // auto, true, false
	Pprof         bool
	LogPath       string
	Env           []string // extra NAME=value (experiments such as GOGC=200)
	// SecretsDir, when set, holds the secrets as files (PA_CONNECTOR_SECRETS_DIR, as a mounted
	// Kubernetes Secret); otherwise they are SECRET_* environment variables.
	SecretsDir string
}

// worker is a running pa-connector binary.
type worker struct {
	cmd     *exec.Cmd
	http    string // base URL of /healthz, /readyz, /metrics
	started time.Time
	exited  chan struct{}
	err     error // Wait's result, after exited closes
	logf    *os.File
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startWorker starts the binary with a clean environment: only what the benchmark sets, so no
// ZEEBE_CLIENT_ID or similar from the caller's shell changes what is measured.
func startWorker(c workerConfig) (*worker, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(c.LogPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"ZEEBE_ADDRESS=" + c.Gateway,
		"ZEEBE_INSECURE_CONNECTION=true",
		"PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1",
		"PA_CONNECTOR_HTTP_ADDR=" + addr,
		"PA_CONNECTOR_JOB_TYPE=" + c.JobType,
		"PA_CONNECTOR_MAX_JOBS_ACTIVE=" + strconv.Itoa(c.MaxJobsActive),
		"PA_CONNECTOR_STREAMING=" + c.Streaming,
		"PA_CONNECTOR_PPROF=" + strconv.FormatBool(c.Pprof),
		"PA_CONNECTOR_SHUTDOWN_GRACE=10s",
	}
	if c.SecretsDir != "" {
		cmd.Env = append(cmd.Env, "PA_CONNECTOR_SECRETS_DIR="+c.SecretsDir)
	} else {
		for name, value := range secretValues() {
			cmd.Env = append(cmd.Env, "SECRET_"+name+"="+value)
		}
	}
	cmd.Env = append(cmd.Env, c.Env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	w := &worker{cmd: cmd, http: "http://" + addr, exited: make(chan struct{}), logf: logf}
	w.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", c.Bin, err)
	}
	go func() { w.err = cmd.Wait(); close(w.exited) }()
	return w, nil
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

// waitReady polls /readyz every 2 ms and returns the time from start to the first 200.
func (w *worker) waitReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.http+"/readyz", nil)
		res, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(w.started), nil
			}
		}
		select {
		case <-w.exited:
			return 0, fmt.Errorf("the worker exited before it was ready: %v (log %s)", w.err, w.logf.Name())
		case <-ctx.Done():
			return 0, fmt.Errorf("the worker was not ready within %s (log %s)", timeout, w.logf.Name())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (w *worker) metrics(ctx context.Context) (metrics, error) { return scrape(ctx, w.http+"/metrics") }

func (w *worker) cpu() time.Duration {
	d, _ := procstat.CPU(w.pid())
	return d
}

func (w *worker) mem() procstat.Memory {
	m, _ := procstat.Mem(w.pid())
	return m
}

// stop sends SIGTERM and waits; a clean drain exits 0.
func (w *worker) stop() error {
	defer w.logf.Close()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
		return fmt.Errorf("the worker did not stop within 30 s of SIGTERM")
	}
	if w.err != nil {
		return fmt.Errorf("the worker exited with %v (log %s)", w.err, w.logf.Name())
	}
	return nil
}

// secretValues are the secrets the jobs' {{secrets.NAME}} placeholders name.
func secretValues() map[string]string {
	m := map[string]string{"DV_CLIENT_SECRET": clientSecret}
	for k := 0; k < identities; k++ {
		m[fmt.Sprintf("DV_TOKEN_%d", k)] = fmt.Sprintf("%s-%d", benchToken, k)
	}
	return m
}

// writeSecretsDir writes secretValues as files, one per name, as Kubernetes mounts a Secret.
func writeSecretsDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, value := range secretValues() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			return err
		}
	}
	return nil
}
