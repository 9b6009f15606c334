package connector

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHostPolicyCheck(t *testing.T) {
	p, err := NewHostPolicy(DefaultAllowedHosts + ",127.0.0.1:8090,emulator.local")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://contoso.crm.dynamics.com", true},
		{"https://contoso.crm4.dynamics.com/api/data/v9.2/x", true},
		{"https://org.crm.appsplatform.us", true},
		{"https://org.crm.dynamics.cn", true},
		{"https://login.microsoftonline.com/tenant/oauth2/v2.0/token", true},
		{"https://login.microsoftonline.us/t/oauth2/v2.0/token", true},
		{"http://contoso.crm.dynamics.com", false}, // wildcard hosts need https
		{"https://dynamics.com", false},            // the wildcard needs a label below
		{"https://evil-dynamics.com", false},       // suffix without the dot
		{"https://contoso.crm.dynamics.com.evil.io", false},
		{"https://user:pw@contoso.crm.dynamics.com", false},
		{"ftp://contoso.crm.dynamics.com", false},
		{"http://127.0.0.1:8090", true}, // listed explicitly with its port: http allowed
		{"http://127.0.0.1:8091", false},
		{"http://emulator.local:1234", true},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://localhost", false},
		{"not a url", false},
	}
	for _, c := range cases {
		err := p.Check(c.url)
		if (err == nil) != c.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
		var he *HostError
		if err != nil && !errors.As(err, &he) {
			t.Errorf("Check(%q) error is %T, want *HostError", c.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("error leaks URL credentials: %v", err)
		}
	}
}

func TestHostPolicyBadPatterns(t *testing.T) {
	for _, s := range []string{"", " , ", "https://x.com", "a/b"} {
		if _, err := NewHostPolicy(s); err == nil {
			t.Errorf("NewHostPolicy(%q) accepted a bad list", s)
		}
	}
}

// A name allowed only by a wildcard must not reach an internal address, whatever it resolves to.
func TestDialRefusesInternalAddressesForWildcardHosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	// "*.0.0.1" lets 127.0.0.1 match by wildcard only, as a rebinding name would.
	p, _ := NewHostPolicy("*.0.0.1")
	dial := p.DialContext(&net.Dialer{Timeout: time.Second})
	_, err := dial(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", port))
	var he *HostError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "internal address") {
		t.Fatalf("dial = %v, want refusal of the internal address", err)
	}
	// Listed explicitly, the same address is dialled.
	p, _ = NewHostPolicy("127.0.0.1")
	c, err := p.DialContext(&net.Dialer{Timeout: time.Second})(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatalf("explicit host: %v", err)
	}
	c.Close()
}

func TestRedirectToDisallowedHostNotFollowed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the redirect target was called")
	}))
	defer target.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(target.URL, "127.0.0.1", "localhost", 1), http.StatusFound)
	}))
	defer origin.Close()
	p, _ := NewHostPolicy("127.0.0.1")
	c := &http.Client{CheckRedirect: p.CheckRedirect}
	_, err := c.Get(origin.URL)
	var he *HostError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want the redirect refused", err)
	}
}

func FuzzHostPolicyCheck(f *testing.F) {
	for _, s := range []string{"https://a.crm.dynamics.com", "http://127.0.0.1:1/x?y", "https://[::1]/", "%zz", "https://a@b.dynamics.com"} {
		f.Add(s)
	}
	p, _ := NewHostPolicy(DefaultAllowedHosts + ",127.0.0.1")
	f.Fuzz(func(t *testing.T, s string) {
		if err := p.Check(s); err == nil {
			if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://127.0.0.1") && !strings.HasPrefix(strings.ToLower(s), "http") {
				t.Fatalf("Check accepted %q", s)
			}
		}
	})
}
