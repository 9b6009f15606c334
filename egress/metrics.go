package egress

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of the worker's outbound calls. A nil *Metrics records
// nothing.
type Metrics struct {
	requestDur   *prometheus.HistogramVec
	throttledC   *prometheus.CounterVec
	throttleWait prometheus.Counter
	tokenFetches *prometheus.CounterVec
}

// NewMetrics registers the outbound-call metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pa_connector_dataverse_request_duration_seconds", Help: "Dataverse (or REST) request duration, by operation and HTTP status (0: no answer).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"operation", "status"}),
		throttledC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pa_connector_dataverse_throttled_total", Help: "429 answers, by whether the worker waited in-process (true) or handed the job back with a backoff (false).",
		}, []string{"waited"}),
		throttleWait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pa_connector_throttle_wait_seconds_total", Help: "Time spent waiting on Retry-After, in-process or as job backoff.",
		}),
		tokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pa_connector_token_requests_total", Help: "OAuth token requests, by result (ok, error).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.requestDur, m.throttledC, m.throttleWait, m.tokenFetches)
	return m
}

// Request records one Dataverse request.
func (m *Metrics) Request(op string, status int, d time.Duration) {
	if m != nil {
		m.requestDur.WithLabelValues(op, strconv.Itoa(status)).Observe(d.Seconds())
	}
}

// Throttled records a 429.
func (m *Metrics) Throttled(wait time.Duration, inProcess bool) {
	if m != nil {
		m.throttledC.WithLabelValues(strconv.FormatBool(inProcess)).Inc()
		m.throttleWait.Add(wait.Seconds())
	}
}

// TokenFetch records one token request.
func (m *Metrics) TokenFetch(err error) {
	if m != nil {
		r := "ok"
		if err != nil {
			r = "error"
		}
		m.tokenFetches.WithLabelValues(r).Inc()
	}
}
