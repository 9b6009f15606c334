package egress

import (
	"net/http"
	"time"

	"github.com/pa-connector/pa-connector/operations"
)

// metricsTransport tells observe about each request on the wire: its operation, the answer's
// status (0: no answer) and the time to the answer's headers.
type metricsTransport struct {
	next    http.RoundTripper
	op      operations.Op
	observe func(op operations.Op, status int, d time.Duration)
	now     func() time.Time
}

func (t *metricsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.now()
	res, err := t.next.RoundTrip(req)
	status := 0
	if err == nil {
		status = res.StatusCode
	}
	t.observe(t.op, status, t.now().Sub(start))
	return res, err
}
