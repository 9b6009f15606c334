package main

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// The HTTP listener's limits. A client that sends nothing, sends slowly or keeps an idle
// connection open gives it up after these times, and at most listenerMaxConns connections
// (fewer under a low RLIMIT_NOFILE: a quarter of it) are held at once, which keeps the
// worker's descriptors for Dataverse and the gateway. When all are taken, the connection idle
// the longest (a keep-alive between requests) is closed for the new one; when none is idle, new
// connections wait in the kernel's accept queue, holding no descriptor of the worker's.
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

// newListenerServer is the HTTP listener's server for h, and ln capped to the connections it
// may hold at once.
func newListenerServer(ln net.Listener, h http.Handler) (*http.Server, net.Listener) {
	n := listenerMaxConns
	if limit := openFileLimit(); limit > 0 {
		n = min(n, max(int(limit/4), 4))
	}
	capped := newConnCap(ln, n)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: listenerReadHeaderTimeout,
		ReadTimeout:       listenerReadTimeout,
		WriteTimeout:      listenerWriteTimeout,
		IdleTimeout:       listenerIdleTimeout,
		MaxHeaderBytes:    listenerMaxHeader,
		ConnState:         capped.track,
	}
	return srv, capped
}

// connCap is a listener that holds at most cap(slots) connections, closing the longest-idle
// one to make room. Its track method must be the server's ConnState.
type connCap struct {
	net.Listener
	slots  chan struct{}
	idleCh chan struct{} // a connection became idle

	mu   sync.Mutex
	idle map[net.Conn]time.Time
}

func newConnCap(ln net.Listener, n int) *connCap {
	return &connCap{Listener: ln, slots: make(chan struct{}, n), idleCh: make(chan struct{}, 1), idle: map[net.Conn]time.Time{}}
}

// Accept waits for a free slot, closing idle connections to free one, then accepts.
func (l *connCap) Accept() (net.Conn, error) {
	for acquired := false; !acquired; {
		select {
		case l.slots <- struct{}{}:
			acquired = true
		default:
			if !l.closeOldestIdle() {
				select {
				case l.slots <- struct{}{}:
					acquired = true
				case <-l.idleCh:
				}
			}
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &cappedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// track follows the server's connections: idle ones may be closed for new ones.
func (l *connCap) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == http.StateIdle {
		l.idle[c] = time.Now()
		select {
		case l.idleCh <- struct{}{}:
		default:
		}
		return
	}
	delete(l.idle, c)
}

// closeOldestIdle closes the connection idle the longest, if any.
func (l *connCap) closeOldestIdle() bool {
	l.mu.Lock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	oldest.Close()
	return true
}

// cappedConn frees its slot once, when closed.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
