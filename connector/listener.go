package connector

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// The HTTP listener's limits. A client that sends nothing, sends slowly or keeps an idle
// connection open gives it up after these times, and at most listenerMaxConns connections
// (fewer under a low RLIMIT_NOFILE: a quarter of it) are served at once; more wait in the
// kernel's accept queue, holding no descriptor of the worker's, which keeps its descriptors
// for Dataverse and the gateway.
const (
	listenerReadHeaderTimeout = 5 * time.Second
	listenerReadTimeout       = 15 * time.Second // a callback's body is small
	// listenerWriteTimeout covers the longest handler: a callback (a Dataverse read of up to
	// 25 s and a publish of up to 10 s) and /debug/pprof/profile's default 30 s.
	listenerWriteTimeout = 60 * time.Second
	listenerIdleTimeout  = 30 * time.Second
	listenerMaxConns     = 64
	listenerMaxHeader    = 64 << 10
)

// newListenerServer is the HTTP listener's server for h, and ln limited to the connections it
// may hold at once.
func newListenerServer(ln net.Listener, h http.Handler) (*http.Server, net.Listener) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: listenerReadHeaderTimeout,
		ReadTimeout:       listenerReadTimeout,
		WriteTimeout:      listenerWriteTimeout,
		IdleTimeout:       listenerIdleTimeout,
		MaxHeaderBytes:    listenerMaxHeader,
	}
	n := listenerMaxConns
	if limit := openFileLimit(); limit > 0 {
		n = min(n, max(int(limit/4), 4))
	}
	return srv, netutil.LimitListener(ln, n)
}
