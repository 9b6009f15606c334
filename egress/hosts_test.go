package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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
		// cloud flows' HTTP triggers (issue 12)
		{"https://prod-27.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x", true},
		{"https://default0a1b.2c.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke", true},
		{"http://prod-27.westeurope.logic.azure.com/workflows/abc", false}, // https only
		{"https://logic.azure.com/workflows/abc", false},
		{"https://prod-27.logic.azure.com.evil.io/workflows/abc", false},
		{"https://x.api.powerplatform.com/", false}, // only the environment API's hosts
		{"https://x.azurewebsites.net/", false},
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

// The default list is Dataverse's and Entra ID's hosts and the two hosts of cloud flow triggers,
// and nothing else.
func TestDefaultAllowedHostsAreExactlyThese(t *testing.T) {
	want := []string{"*.dynamics.com", "*.crm.dynamics.us", "*.crm.appsplatform.us", "*.crm.microsoftdynamics.us",
		"*.crm.dynamics.cn", "*.crm.microsoftdynamics.de", "*.logic.azure.com", "*.environment.api.powerplatform.com",
		"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
		"login.microsoftonline.de"}
	got := strings.Split(DefaultAllowedHosts, ",")
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("DefaultAllowedHosts = %v, want %v", got, want)
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

// Item 8: every block of IANA's special-purpose address registries is internal, its first and
// last address alike; the rows are the registries' as published at
// https://www.iana.org/assignments/iana-ipv4-special-registry/iana-ipv4-special-registry.xhtml
// https://www.iana.org/assignments/iana-ipv6-special-registry/iana-ipv6-special-registry.xhtml
func TestSpecialPurposeAddressesAreInternal(t *testing.T) {
	registry := []struct{ block, first, last, name string }{
		{"0.0.0.0/8", "0.0.0.0", "0.255.255.255", `"This network"`},
		{"10.0.0.0/8", "10.0.0.0", "10.255.255.255", "Private-Use"},
		{"100.64.0.0/10", "100.64.0.0", "100.127.255.255", "Shared Address Space"},
		{"127.0.0.0/8", "127.0.0.0", "127.255.255.255", "Loopback"},
		{"169.254.0.0/16", "169.254.0.0", "169.254.255.255", "Link Local"},
		{"172.16.0.0/12", "172.16.0.0", "172.31.255.255", "Private-Use"},
		{"192.0.0.0/24", "192.0.0.0", "192.0.0.255", "IETF Protocol Assignments"},
		{"192.0.0.0/29", "192.0.0.0", "192.0.0.7", "IPv4 Service Continuity Prefix"},
		{"192.0.0.8/32", "192.0.0.8", "192.0.0.8", "IPv4 dummy address"},
		{"192.0.0.9/32", "192.0.0.9", "192.0.0.9", "Port Control Protocol Anycast"},
		{"192.0.0.10/32", "192.0.0.10", "192.0.0.10", "Traversal Using Relays around NAT Anycast"},
		{"192.0.0.170/32", "192.0.0.170", "192.0.0.171", "NAT64/DNS64 Discovery"},
		{"192.0.2.0/24", "192.0.2.0", "192.0.2.255", "Documentation (TEST-NET-1)"},
		{"192.31.196.0/24", "192.31.196.0", "192.31.196.255", "AS112-v4"},
		{"192.52.193.0/24", "192.52.193.0", "192.52.193.255", "AMT"},
		{"192.88.99.0/24", "192.88.99.0", "192.88.99.255", "Deprecated (6to4 Relay Anycast)"},
		{"192.88.99.2/32", "192.88.99.2", "192.88.99.2", "6a44-relay anycast address"},
		{"192.168.0.0/16", "192.168.0.0", "192.168.255.255", "Private-Use"},
		{"192.175.48.0/24", "192.175.48.0", "192.175.48.255", "Direct Delegation AS112 Service"},
		{"198.18.0.0/15", "198.18.0.0", "198.19.255.255", "Benchmarking"},
		{"198.51.100.0/24", "198.51.100.0", "198.51.100.255", "Documentation (TEST-NET-2)"},
		{"203.0.113.0/24", "203.0.113.0", "203.0.113.255", "Documentation (TEST-NET-3)"},
		{"240.0.0.0/4", "240.0.0.0", "255.255.255.254", "Reserved"},
		{"255.255.255.255/32", "255.255.255.255", "255.255.255.255", "Limited Broadcast"},
		{"::1/128", "::1", "::1", "Loopback Address"},
		{"::/128", "::", "::", "Unspecified Address"},
		{"::ffff:0:0/96", "::ffff:127.0.0.1", "::ffff:10.255.255.255", "IPv4-mapped Address (judged by its IPv4 address)"},
		{"64:ff9b::/96", "64:ff9b::", "64:ff9b::ffff:ffff", "IPv4-IPv6 Translat."},
		{"64:ff9b:1::/48", "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "IPv4-IPv6 Translat."},
		{"100::/64", "100::", "100::ffff:ffff:ffff:ffff", "Discard-Only Address Block"},
		{"100:0:0:1::/64", "100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff", "Dummy IPv6 Prefix"},
		{"2001::/23", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF Protocol Assignments"},
		{"2001::/32", "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "TEREDO"},
		{"2001:1::1/128", "2001:1::1", "2001:1::1", "Port Control Protocol Anycast"},
		{"2001:1::2/128", "2001:1::2", "2001:1::2", "Traversal Using Relays around NAT Anycast"},
		{"2001:1::3/128", "2001:1::3", "2001:1::3", "DNS-SD Service Registration Protocol Anycast"},
		{"2001:2::/48", "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", "Benchmarking"},
		{"2001:3::/32", "2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", "AMT"},
		{"2001:4:112::/48", "2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff", "AS112-v6"},
		{"2001:10::/28", "2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "Deprecated (previously ORCHID)"},
		{"2001:20::/28", "2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "ORCHIDv2"},
		{"2001:30::/28", "2001:30::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", "Drone Remote ID Protocol Entity Tags (DETs) Prefix"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "Documentation"},
		{"2002::/16", "2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4"},
		{"2620:4f:8000::/48", "2620:4f:8000::", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff", "Direct Delegation AS112 Service"},
		{"3fff::/20", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "Documentation"},
		{"5f00::/16", "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "Segment Routing (SRv6) SIDs"},
		{"fc00::/7", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "Unique-Local"},
		{"fe80::/10", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "Link-Local Unicast"},
	}
	for _, r := range registry {
		t.Run(r.block+" "+r.name, func(t *testing.T) {
			for _, a := range []string{r.first, r.last} {
				if !internal(net.ParseIP(a)) {
					t.Errorf("%s is not refused", a)
				}
			}
		})
	}
	// Addresses outside every block stay reachable: Microsoft's, IPv4 and IPv6, mapped or not.
	for _, a := range []string{"20.42.65.92", "13.107.246.1", "100.63.255.255", "100.128.0.0", "192.0.1.0", "192.88.100.1",
		"::ffff:20.42.65.92", "2603:1030:20e:3::23c", "2001:200::1", "64:ff9b:2::1", "2003::1"} {
		if internal(net.ParseIP(a)) {
			t.Errorf("%s is refused, but no special-purpose block holds it", a)
		}
	}
}

// The flow hosts are told apart from Dataverse's, whatever the letter case, port or trailing dot.
func TestIsFlowHost(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://prod-00.westeurope.logic.azure.com/workflows/a": true,
		"https://X.LOGIC.AZURE.COM.:443/":                        true,
		"https://x.environment.api.powerplatform.com/":           true,
		"https://logic.azure.com/":                               false,
		"https://contoso.crm.dynamics.com":                       false,
		"https://x.logic.azure.com.evil.example/":                false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsFlowHost(u); got != want {
			t.Errorf("IsFlowHost(%s) = %v", raw, got)
		}
	}
}
