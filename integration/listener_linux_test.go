//go:build integration

package integration

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Item 8 through the binary: 140 keep-alive connections left idle on the HTTP listener of a
// worker limited to 128 descriptors (RLIMIT_NOFILE) leave it the descriptors it needs: a
// trigger still reaches Dataverse and completes, and /healthz still answers.
func TestIdleListenerConnectionsLeaveDescriptorsForDataverse(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info")
	pid := w.cmd.Process.Pid
	if err := limitOpenFiles(pid, 128); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	before := openFiles(pid)
	addr := strings.TrimPrefix(w.HTTP, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 140; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		// One request, then idle: a keep-alive connection waiting for the next.
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: worker\r\n\r\n")
	}
	began := time.Now()
	vars := runProcess(t, "single-task", triggerVars(dv, flowOK), 30*time.Second)
	if id, _ := vars["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("flowSessionId = %v", vars["flowSessionId"])
	}
	held := openFiles(pid)
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get(w.HTTP + "/healthz")
	if err != nil {
		t.Fatalf("/healthz with 140 idle connections open: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", res.Status)
	}
	if strings.Contains(w.Log(), "too many open files") {
		t.Fatalf("the worker ran out of descriptors:\n%s", tail(w.Log(), 20))
	}
	t.Logf("worker descriptors: %d before the 140 connections, %d while they were open; the trigger completed in %s",
		before, held, time.Since(began).Round(time.Millisecond))
}
