//go:build integration

package integration

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func readyz(w *worker) int {
	res, err := http.Get(w.HTTP + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func startWorkerNoGateway(t *testing.T, env ...string) *worker {
	t.Helper()
	base := []string{"PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1", "PA_CONNECTOR_HTTP_ADDR=127.0.0.1:0"}
	p := start(t, workerBin, append(base, env...))
	line := p.waitLine(t, "serving /healthz", 20*time.Second)
	i := strings.Index(line, `"addr":"`)
	addr := line[i+8:]
	addr = addr[:strings.IndexByte(addr, '"')]
	return &worker{proc: p, HTTP: "http://" + addr}
}

// An unreachable gateway: one clear log line, retries with backoff, not ready, still alive.
func TestUnreachableGatewayLogsOnceAndRetries(t *testing.T) {
	w := startWorkerNoGateway(t, "ZEEBE_ADDRESS="+freeAddr(t), "ZEEBE_INSECURE_CONNECTION=true")
	w.waitLine(t, "Zeebe gateway not reachable", 20*time.Second)
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if code := readyz(w); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d while the gateway is unreachable, want 503", code)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := strings.Count(w.Log(), "Zeebe gateway not reachable"); n != 1 {
		t.Fatalf("%d 'not reachable' lines in 4 s, want 1 (one per failure streak, backing off)", n)
	}
	if res, err := http.Get(w.HTTP + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz should answer 200 while the gateway is down: %v", err)
	}
}

// Wrong gateway credentials: the OAuth server refuses; one log line, no secret in it.
func TestWrongGatewayCredentials(t *testing.T) {
	const secret = "zeebe-client-secret-Hh4!"
	var refused atomic.Int32
	oauth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"unauthorized_client","error_description":"bad credentials"}`))
	}))
	defer oauth.Close()
	w := startWorkerNoGateway(t, "ZEEBE_ADDRESS="+gateway, "ZEEBE_INSECURE_CONNECTION=true",
		"ZEEBE_CLIENT_ID=pa-connector", "ZEEBE_CLIENT_SECRET="+secret,
		"ZEEBE_AUTHORIZATION_SERVER_URL="+oauth.URL, "ZEEBE_TOKEN_AUDIENCE=zeebe-api")
	line := w.waitLine(t, "Zeebe gateway not reachable", 20*time.Second)
	t.Log(line)
	if refused.Load() == 0 {
		t.Fatal("the worker never asked the authorization server for a token")
	}
	if strings.Contains(w.Log(), secret) {
		t.Fatal("the worker's log contains the gateway client secret")
	}
	if n := strings.Count(w.Log(), "Zeebe gateway not reachable"); n != 1 {
		t.Fatalf("%d 'not reachable' lines, want 1", n)
	}
	if code := readyz(w); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d, want 503", code)
	}
}
