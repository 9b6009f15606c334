package egress

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// sentTransport tells a failure that happened before the request could reach the server from
// one after: from the moment a connection is handed to the request (httptrace GotConn), its
// bytes may be on the wire, and a failure from then on, reading the answer's body included, is
// a *SentError. Failures before that (a refused token, a limit's wait, DNS, dial, a proxy's
// CONNECT, a TLS handshake, the allow-list) reach the caller as they are: nothing was sent.
//
// GotConn rather than WroteRequest alone: when the request's context ends while the request is
// being written, RoundTrip may return before WroteRequest reports, and part of the request may
// already be with the server.
type sentTransport struct{ next http.RoundTripper }

func (t *sentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var conn, wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { conn.Store(true) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	}
	res, err := t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		if conn.Load() || wrote.Load() {
			return nil, &SentError{Err: err, Written: wrote.Load()}
		}
		return nil, err
	}
	res.Body = &sentBody{ReadCloser: res.Body}
	return res, nil
}

// SentError is a request that failed after it may have reached the server: a connection was
// handed to it (Written: the whole request was written). Whatever it asked for may have been
// done; for a trigger, a run may have started. Its text is the underlying error's.
type SentError struct {
	Err     error
	Written bool
}

func (e *SentError) Error() string { return e.Err.Error() }
func (e *SentError) Unwrap() error { return e.Err }

// MayHaveBeenSent reports whether err is a failure after the request may have reached the
// server (a *SentError in its chain). Any other failure happened before anything was sent, so
// sending the request again cannot do anything twice.
func MayHaveBeenSent(err error) bool {
	var se *SentError
	return errors.As(err, &se)
}

// sentBody marks a failure while reading an answer: the request certainly reached the server.
type sentBody struct{ io.ReadCloser }

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &SentError{Err: err, Written: true}
	}
	return n, err
}
