package zeebe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of the jobs the worker handles. A nil *Metrics records
// nothing.
type Metrics struct {
	activatedC  *prometheus.CounterVec
	jobsC       *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	inflightG   prometheus.Gauge
}

// NewMetrics registers the job metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		activatedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pa_connector_jobs_activated_total", Help: "Jobs activated, by job type.",
		}, []string{"job_type"}),
		jobsC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pa_connector_jobs_handled_total",
			Help: "Jobs handled, by job type, operation and outcome (completed, failed, incident, bpmn-error, handed-back, handed-back-busy: pushed while every slot was taken, timed-out).",
		}, []string{"job_type", "operation", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pa_connector_job_duration_seconds", Help: "Time from activation to the answer sent to Zeebe.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"job_type", "operation"}),
		inflightG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pa_connector_jobs_in_flight", Help: "Jobs being handled now.",
		}),
	}
	reg.MustRegister(m.activatedC, m.jobsC, m.jobDuration, m.inflightG)
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
