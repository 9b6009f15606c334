package egress

import (
	"context"
	"net/http"
	"time"
)

// timeoutTransport bounds each request on the wire, reading its answer's body included, by
// the call's connection timeout. Waits above it (limits, a token, Retry-After) are not counted.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	res, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	res.Body = &onClose{ReadCloser: res.Body, done: cancel}
	return res, nil
}
