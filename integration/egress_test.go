//go:build integration

package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Item 8 through the binary: HTTP_PROXY and NO_PROXY are honoured as Go's
// http.ProxyFromEnvironment reads them. The organization's name exists only for the proxy (the
// worker could not resolve it), the proxy itself is on loopback, outside the allow-list, and
// still reached; a target outside the allow-list is refused before the proxy is asked.
func TestWorkerUsesTheProxyFromTheEnvironment(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	upstream, _ := url.Parse(dv.URL)
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host)
		mu.Unlock()
		if !r.URL.IsAbs() || r.URL.Hostname() != "dataverse.invalid" {
			http.Error(w, "this proxy only knows dataverse.invalid", http.StatusBadGateway)
			return
		}
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, upstream.Scheme+"://"+upstream.Host+r.URL.RequestURI(), r.Body)
		out.Header = r.Header.Clone()
		res, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	t.Cleanup(proxy.Close)
	deploy(t, "integration/testdata/single-task.bpmn")
	org := "http://dataverse.invalid:" + upstream.Port()
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info",
		"PA_CONNECTOR_ALLOWED_HOSTS=dataverse.invalid:"+upstream.Port()+",other.invalid",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=other.invalid", "no_proxy=other.invalid",
		"HTTPS_PROXY=", "https_proxy=")

	vars := triggerVars(dv, flowOK)
	vars["organizationUri"] = org
	out := runProcess(t, "single-task", vars, 30*time.Second)
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("flowSessionId = %v", out["flowSessionId"])
	}
	// Refused by the allow-list: never asked of the proxy. In NO_PROXY: dialled directly, so
	// the name does not resolve and the proxy is not asked either.
	for _, target := range []string{"http://evil.invalid:" + upstream.Port(), "http://other.invalid"} {
		v := triggerVars(dv, flowOK)
		v["organizationUri"] = target
		k := createInstance(t, "single-task", v)
		msg := waitIncident(t, k, 60*time.Second)
		if target == "http://evil.invalid:"+upstream.Port() && !strings.Contains(msg, "is not in PA_CONNECTOR_ALLOWED_HOSTS") {
			t.Errorf("%s: incident %q, want the allow-list's refusal", target, msg)
		}
		t.Logf("%s: %s", target, msg)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if !strings.HasSuffix(s, "dataverse.invalid:"+upstream.Port()) {
			t.Errorf("the proxy was asked for %q", s)
		}
	}
	if len(seen) == 0 {
		t.Fatal("the proxy was never used")
	}
	t.Logf("the proxy carried %d requests; worker log has %d lines", len(seen), strings.Count(w.Log(), "\n"))
}
