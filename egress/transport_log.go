package egress

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// logTransport writes one debug line per request: method, host, path, status, duration; never
// the query, headers or bodies, which may hold credentials.
type logTransport struct {
	base http.RoundTripper
	log  zerolog.Logger
}

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.base.RoundTrip(req)
	ev := t.log.Debug().Str("method", req.Method).Str("host", req.URL.Host).Str("path", req.URL.Path).
		Int64("duration_ms", time.Since(start).Milliseconds())
	if err != nil {
		ev.Str("error", "request failed").Msg("http request")
	} else {
		ev.Int("status", res.StatusCode).Msg("http request")
	}
	return res, err
}

// LogRequests puts the request log on base: one debug line per request.
func LogRequests(base http.RoundTripper, log zerolog.Logger) http.RoundTripper {
	return &logTransport{base: base, log: log}
}
