package egress

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// NewBaseTransport is the process's one connection pool, at the bottom of every stack (the
// token requests' too). It honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY as
// http.ProxyFromEnvironment reads them (proxy nil), or proxy; the allow-list keeps applying
// to the target: a request is checked against hosts before any proxy is chosen or dialled. A
// proxy the configuration names is dialled as it is, even on a private address: it is the
// operator's choice, not a job's. Other dials go through hosts.DialContext.
func NewBaseTransport(hosts *HostPolicy, proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	var proxies sync.Map // host:port of the proxies proxy returned
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	checked := hosts.DialContext(dialer)
	return &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			if err := hosts.CheckURL(req.URL); err != nil {
				return nil, err
			}
			u, err := proxy(req)
			if u != nil {
				proxies.Store(proxyAddr(u), true)
			}
			return u, err
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if _, ok := proxies.Load(addr); ok {
				return dialer.DialContext(ctx, network, addr)
			}
			return checked(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// proxyAddr is the address http.Transport dials for the proxy u: its host and port, the
// scheme's default port when u names none.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}
