package egress

import (
	"io"
	"net/http"
	"sync"
)

// limitTransport keeps each request on the wire under the caller's service-protection limits
// (Limits.Acquire): it waits for room before sending, and frees the concurrency slot and counts
// the execution time when the answer's body is closed.
type limitTransport struct {
	next       http.RoundTripper
	limits     *Limits
	identity   string
	connection string // a trigger's connection: counted against the triggers-per-minute limit
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	release, err := t.limits.Acquire(req.Context(), t.identity, t.connection)
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	res, err := t.next.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	res.Body = &onClose{ReadCloser: res.Body, done: release}
	return res, nil
}

// onClose calls done once, when the body is closed.
type onClose struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *onClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
