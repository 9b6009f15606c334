package connector

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// countingServer counts requests and keeps the Authorization headers it saw.
type countingServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newCountingServer(t *testing.T) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"flowsessionid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// Item 4: no call follows a redirect, even to another allowed host: the bearer token and a
// trigger's body stay with the host they were meant for, and the incident names where the
// redirect pointed.
func TestRedirectsAreNotFollowed(t *testing.T) {
	f := newFixture(t)
	other := newCountingServer(t) // allowed too: 127.0.0.1 is in the fixture's allow-list
	for _, status := range []int{301, 302, 303, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path+"?token=from-the-location", status)
		}))
		t.Cleanup(redirector.Close)
		read := f.base("getStatusOfFlowRun")
		read["organizationUri"] = redirector.URL
		read["flowSessionId"] = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
		trigger := f.trigger(map[string]any{"organizationUri": redirector.URL})
		rest, _ := json.Marshal(map[string]any{"method": "post", "url": redirector.URL + "/moved", "body": map[string]any{"a": 1},
			"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}})
		jobs := map[string]Job{
			"status":  f.job(read, nil),
			"trigger": f.job(trigger, nil),
			"compat":  {Type: CompatJobType, Retries: 3, Deadline: time.Now().Add(time.Minute), Variables: string(rest)},
		}
		for name, job := range jobs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := f.h.Handle(ctx, job)
			cancel()
			var perm *PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("%d, %s: err = %v (%T), want an incident", status, name, err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "redirect to host "+strings.TrimPrefix(other.URL, "http://")+" not followed") {
				t.Errorf("%d, %s: %q should name the Location's host", status, name, msg)
			}
			if strings.Contains(msg, "from-the-location") || strings.Contains(msg, "a run may have started") {
				t.Errorf("%d, %s: %q quotes the Location's query or calls a refused redirect unknown", status, name, msg)
			}
		}
	}
	if seen := other.seen(); len(seen) != 0 {
		t.Fatalf("the redirect target got %d requests (Authorization %q), want none", len(seen), seen)
	}
}

// resetServer accepts connections on loopback and resets each one (TCP RST): at once, during
// the TLS handshake, or after it read a whole HTTP request over TLS.
type resetServer struct {
	ln       net.Listener
	requests atomic.Int32 // whole requests read before the reset
}

func newResetServer(t *testing.T, afterRequest bool, cert tls.Certificate) *resetServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &resetServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				tcp := c.(*net.TCPConn)
				defer func() { tcp.SetLinger(0); tcp.Close() }()
				if !afterRequest {
					buf := make([]byte, 1) // the ClientHello has begun: reset mid-handshake
					c.Read(buf)
					return
				}
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if tc.Handshake() != nil {
					return
				}
				req, err := http.ReadRequest(bufio.NewReader(tc))
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, req.Body); err == nil {
					s.requests.Add(1)
				}
			}(c)
		}
	}()
	return s
}

func (s *resetServer) URL() string { return "https://" + s.ln.Addr().String() }

// trustTestTLS makes the fixture's handler trust httptest's TLS certificate, and returns it.
func trustTestTLS(t *testing.T, f *fixture) tls.Certificate {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	base := egress.NewBaseTransport(f.h.Hosts, nil)
	base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	f.h.Transport = base
	f.h.Tokens = auth.NewCache(&http.Client{Transport: base})
	return srv.TLS.Certificates[0]
}

// Item 2a: whether a trigger may have reached Dataverse is decided by whether its request was
// handed a connection, not by the error's shape. A token endpoint that resets (in the TLS
// handshake or after reading the token request) and a Dataverse host that resets in the
// handshake never received the trigger: retried with one retry fewer, as README promises. A
// Dataverse host that read the trigger and then reset may have started a run: an incident.
func TestTriggerFailureBeforeItWasSentIsRetried(t *testing.T) {
	f := newFixture(t)
	cert := trustTestTLS(t, f)
	handshakeReset := newResetServer(t, false, cert)
	requestReset := newResetServer(t, true, cert)
	oauthTo := func(endpoint string) map[string]any {
		v := f.oauth(f.trigger(nil), "{{secrets.CLIENT}}")
		v["authentication"].(map[string]any)["oauthTokenEndpoint"] = endpoint + "/tenant/oauth2/v2.0/token"
		return v
	}
	cases := []struct {
		name     string
		vars     map[string]any
		incident bool
	}{
		{"token endpoint resets in the TLS handshake", oauthTo(handshakeReset.URL()), false},
		{"token endpoint resets after reading the token request", oauthTo(requestReset.URL()), false},
		{"Dataverse resets in the TLS handshake", f.trigger(map[string]any{"organizationUri": handshakeReset.URL()}), false},
		{"Dataverse resets after reading the trigger", f.trigger(map[string]any{"organizationUri": requestReset.URL()}), true},
	}
	for _, c := range cases {
		c.vars["validateInputs"] = false // the trigger is the first request to Dataverse
		t.Run(c.name, func(t *testing.T) {
			_, err := f.run(c.vars, map[string]string{"retryBackoff": "PT7S"})
			var perm *PermanentError
			var retry *RetryError
			switch {
			case c.incident && (!errors.As(err, &perm) || !strings.Contains(err.Error(), "a run may have started")):
				t.Fatalf("err = %v (%T), want the incident 'a run may have started'", err, err)
			case !c.incident && (!errors.As(err, &retry) || retry.KeepRetries || retry.Backoff != 7*time.Second):
				t.Fatalf("err = %v (%T), want a retry with one retry fewer and the job's backoff", err, err)
			case !c.incident && strings.Contains(err.Error(), "may have started"):
				t.Fatalf("err = %v: nothing was sent", err)
			}
		})
	}
	if n := requestReset.requests.Load(); n < 2 {
		t.Fatalf("the resetting server read %d whole requests, want the token request and the trigger", n)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
		t.Fatalf("%d triggers reached the emulator, want 0", n)
	}
}

// limitUse is what the limits counted for the fixture's bearer or client-credentials caller.
func limitUse(t *testing.T, l *egress.Limits) (requests, execMs int64) {
	t.Helper()
	use := l.Usage()
	if len(use) != 1 {
		t.Fatalf("%d callers counted, want 1", len(use))
	}
	for _, u := range use {
		requests, execMs = u.Requests, u.ExecutionTime.Milliseconds()
	}
	return requests, execMs
}

// Item 9: the limits count every request Dataverse sees, the resend after a 401 included.
func TestLimitsCountTheResendAfter401(t *testing.T) {
	f := newFixture(t)
	f.h.Limits = &egress.Limits{}
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Status: 401})
	// validateInputs false: the trigger and its resend are the only requests to Dataverse.
	if _, err := f.run(f.oauth(f.trigger(map[string]any{"validateInputs": false}), "{{secrets.CLIENT}}"), nil); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 2 {
		t.Fatalf("%d RunDesktopFlow requests, want 2 (the 401 and the resend)", n)
	}
	if requests, _ := limitUse(t, f.h.Limits); requests != 2 {
		t.Fatalf("the limits counted %d requests, want 2: Dataverse counts the resend too", requests)
	}
}

// Item 9: time spent waiting for Entra ID is not Dataverse execution time.
func TestLimitsDoNotCountTheTokenWaitAsExecutionTime(t *testing.T) {
	f := newFixture(t)
	f.h.Limits = &egress.Limits{}
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpToken, Delay: 1500 * time.Millisecond})
	start := time.Now()
	if _, err := f.run(f.oauth(f.trigger(nil), "{{secrets.CLIENT}}"), nil); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 1500*time.Millisecond {
		t.Fatalf("the job took %s: the token request was not delayed (test cannot fail otherwise)", el)
	}
	if _, ms := limitUse(t, f.h.Limits); ms >= 1000 {
		t.Fatalf("the limits counted %d ms of execution time, want well under the 1500 ms spent waiting for the token", ms)
	}
}

// A 429 that Retry-After lets the job wait out is sent again through the whole stack (auth,
// limits); one that does not fit the deadline hands the job back keeping its retries, for the
// longer of Retry-After and the job's backoff.
func TestThrottleHandsBackWhenTheWaitDoesNotFit(t *testing.T) {
	f := newFixture(t)
	var waits []bool
	f.h.OnThrottle = func(_ time.Duration, inProcess bool) { waits = append(waits, inProcess) }
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Status: 429, RetryAfter: 90})
	_, err := f.run(f.trigger(nil), map[string]string{"retryBackoff": "PT5S"})
	var retry *RetryError
	if !errors.As(err, &retry) || !retry.KeepRetries || retry.Backoff != 90*time.Second || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err = %#v, want a hand-back keeping retries with a 90 s backoff", err)
	}
	if len(waits) != 1 || waits[0] {
		t.Fatalf("OnThrottle saw %v, want one hand-back", waits)
	}
}

// Item 8: a proxy from the configuration is used (the worker needs no DNS of its own for the
// target) and reached although its address is not in the allow-list; the allow-list keeps
// applying to the target, before the proxy is asked.
func TestProxyIsUsedAndTheAllowListAppliesToTheTarget(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host)
		mu.Unlock()
		if r.Method == http.MethodConnect {
			http.Error(w, "no tunnels here", http.StatusForbidden)
			return
		}
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	hosts, _ := egress.NewHostPolicy("dataverse.invalid,*.crm.dynamics.com")
	c := &http.Client{Transport: egress.NewBaseTransport(hosts, http.ProxyURL(proxyURL))}

	res, err := c.Get("http://dataverse.invalid/api/data/v9.2/")
	if err != nil {
		t.Fatalf("an allowed target through the proxy: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "via proxy" {
		t.Fatalf("body %q, want the proxy's answer", body)
	}
	// A wildcard name is not resolved by the worker when a proxy carries it: CONNECT asks the proxy.
	if _, err := c.Get("https://contoso.crm.dynamics.com/"); err == nil {
		t.Fatal("the proxy refused the tunnel; the request should fail")
	}
	for _, refused := range []string{"http://evil.invalid/", "http://" + proxyURL.Host + "/", "http://contoso.crm.dynamics.com/"} {
		_, err := c.Get(refused)
		var he *egress.HostError
		if !errors.As(err, &he) {
			t.Errorf("GET %s: err = %v, want the allow-list's refusal", refused, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET dataverse.invalid", "CONNECT contoso.crm.dynamics.com:443"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("the proxy saw %q, want %q", seen, want)
	}
}
