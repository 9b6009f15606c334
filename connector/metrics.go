package connector

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the worker's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	Registry     *prometheus.Registry
	activatedC   *prometheus.CounterVec
	jobsC        *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	requestDur   *prometheus.HistogramVec
	throttledC   *prometheus.CounterVec
	throttleWait prometheus.Counter
	tokenFetches *prometheus.CounterVec
	inflightG    prometheus.Gauge
}

// NewMetrics registers the worker's metrics and Go runtime and process metrics.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		activatedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pa_connector_jobs_activated_total", Help: "Jobs activated, by job type.",
		}, []string{"job_type"}),
		jobsC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pa_connector_jobs_handled_total",
			Help: "Jobs handled, by job type, operation and outcome (completed, failed, incident, bpmn-error, handed-back, timed-out).",
		}, []string{"job_type", "operation", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pa_connector_job_duration_seconds", Help: "Time from activation to the answer sent to Zeebe.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"job_type", "operation"}),
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
		inflightG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pa_connector_jobs_in_flight", Help: "Jobs being handled now.",
		}),
	}
	r.MustRegister(m.activatedC, m.jobsC, m.jobDuration, m.requestDur, m.throttledC, m.throttleWait, m.tokenFetches, m.inflightG,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) activated(jobType string) {
	if m != nil {
		m.activatedC.WithLabelValues(jobType).Inc()
	}
}

func (m *Metrics) handled(jobType, op, outcome string, d time.Duration) {
	if m != nil {
		m.jobsC.WithLabelValues(jobType, op, outcome).Inc()
		m.jobDuration.WithLabelValues(jobType, op).Observe(d.Seconds())
	}
}

func (m *Metrics) inFlight(delta float64) {
	if m != nil {
		m.inflightG.Add(delta)
	}
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
