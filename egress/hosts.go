package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultAllowedHosts are Microsoft's Dataverse and Entra ID hosts, sovereign clouds included,
// and the hosts of cloud flows' HTTP triggers (Logic Apps' and the Power Platform API's).
const DefaultAllowedHosts = "*.dynamics.com,*.crm.dynamics.us,*.crm.appsplatform.us,*.crm.microsoftdynamics.us," +
	"*.crm.dynamics.cn,*.crm.microsoftdynamics.de," +
	FlowHosts + "," +
	"login.microsoftonline.com,login.microsoftonline.us,login.chinacloudapi.cn,login.partner.microsoftonline.cn,login.microsoftonline.de"

// FlowHosts are the hosts of cloud flows' HTTP triggers. Anyone can host a trigger there, so
// they are allowed for runCloudFlow only: never as a Dataverse organization, which would be
// sent the job's Dataverse token (IsFlowHost).
const FlowHosts = "*.logic.azure.com,*.environment.api.powerplatform.com"

var flowHosts, _ = NewHostPolicy(FlowHosts)

// IsFlowHost reports whether u's host is one of FlowHosts (any port, any letter case, a
// trailing dot or not).
func IsFlowHost(u *url.URL) bool {
	ok, _ := flowHosts.match(u.Hostname(), u.Port())
	return ok
}

// HostPolicy decides which URLs the worker may call. A pattern is a host name, an IP address,
// or "*.domain" (any name below domain). Wildcard matches need https and must not resolve to a
// loopback, private or link-local address; hosts listed explicitly (e.g. a local emulator on
// 127.0.0.1) may use plain http. A pattern may carry a port ("127.0.0.1:8090"); without one it
// matches any port.
type HostPolicy struct {
	patterns []hostPattern
}

type hostPattern struct {
	wildcard bool
	host     string // lower case; for wildcards the suffix with its leading dot
	port     string // "" = any
}

// HostError is a URL the policy refuses; it is always permanent.
type HostError struct {
	URL    string
	Reason string
}

func (e *HostError) Error() string { return fmt.Sprintf("URL %s is not allowed: %s", e.URL, e.Reason) }

// Permanent marks the error as one no retry can fix.
func (e *HostError) Permanent() bool { return true }

// NewHostPolicy parses a comma-separated list of patterns.
func NewHostPolicy(list string) (*HostPolicy, error) {
	p := &HostPolicy{}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.ToLower(strings.TrimSpace(raw))
		if raw == "" {
			continue
		}
		hp := hostPattern{}
		host := raw
		if h, port, err := net.SplitHostPort(raw); err == nil {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return nil, fmt.Errorf("allowed hosts: bad port in %q", raw)
			}
			host, hp.port = h, port
		}
		if strings.HasPrefix(host, "*.") {
			hp.wildcard = true
			host = host[1:]
		}
		if host == "" || strings.ContainsAny(host, "/*@ ") {
			return nil, fmt.Errorf("allowed hosts: bad pattern %q", raw)
		}
		hp.host = strings.Trim(host, "[]")
		p.patterns = append(p.patterns, hp)
	}
	if len(p.patterns) == 0 {
		return nil, errors.New("allowed hosts: no pattern given")
	}
	return p, nil
}

// match reports whether host:port is allowed and whether it was listed explicitly.
func (p *HostPolicy) match(host, port string) (ok, explicit bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, hp := range p.patterns {
		if hp.port != "" && hp.port != port {
			continue
		}
		if hp.wildcard {
			if strings.HasSuffix(host, hp.host) && len(host) > len(hp.host) {
				ok = true
			}
			continue
		}
		if host == hp.host {
			return true, true
		}
	}
	return ok, false
}

// Check validates a URL before any request is made.
func (p *HostPolicy) Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &HostError{URL: redactURL(raw), Reason: "not a valid URL"}
	}
	return p.CheckURL(u)
}

// CheckURL validates a parsed URL: the base transport checks each request's target with it
// before a proxy is chosen or a connection dialled.
func (p *HostPolicy) CheckURL(u *url.URL) error {
	refuse := func(reason string) error { return &HostError{URL: redactURL(u.String()), Reason: reason} }
	if u.Scheme != "https" && u.Scheme != "http" {
		return refuse("scheme must be https")
	}
	if u.Host == "" {
		return refuse("no host")
	}
	if u.User != nil {
		return refuse("credentials in the URL are not allowed")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	ok, explicit := p.match(u.Hostname(), port)
	switch {
	case !ok:
		return refuse("host " + u.Hostname() + " is not in PA_CONNECTOR_ALLOWED_HOSTS")
	case u.Scheme == "http" && !explicit:
		return refuse("plain http is only allowed for hosts listed explicitly")
	}
	return nil
}

// DialContext dials addr; for names matched only by a wildcard, it resolves the name itself and
// refuses every address in IANA's special-purpose registries (loopback, private, shared, link-
// local, NAT64, 6to4, ...; see specialPurpose): DNS rebinding to an internal host. Explicitly
// listed hosts are dialled as they are.
func (p *HostPolicy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ok, explicit := p.match(host, port)
		if !ok {
			return nil, &HostError{URL: addr, Reason: "host " + host + " is not in PA_CONNECTOR_ALLOWED_HOSTS"}
		}
		if explicit {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		var lastErr error = fmt.Errorf("no address for %s", host)
		for _, ip := range ips {
			if internal(ip.IP) {
				lastErr = &HostError{URL: addr, Reason: "host " + host + " resolves to the internal address " + ip.IP.String()}
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
			if err == nil {
				return c, nil
			}
			lastErr = err
		}
		return nil, lastErr
	}
}

// redactURL drops the query and any user info, which may hold secrets.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}
