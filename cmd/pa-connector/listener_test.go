package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// Item 8: keep-alive connections left idle cannot take the listener's descriptors: with all
// slots taken, the longest-idle connection is closed for a new one, and no more than the cap
// are ever held open.
func TestListenerCapClosesIdleConnectionsForNewOnes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 4
	capped := newConnCap(ln, limit)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ConnState: capped.track, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(capped)
	defer srv.Close()

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 5*limit; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: worker\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d (the others idle): %v", i, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			open++ // still held by the server
		}
	}
	if open > limit {
		t.Fatalf("%d connections held open, want at most %d", open, limit)
	}
}
