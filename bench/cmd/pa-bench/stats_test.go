package main

import (
	"strings"
	"testing"
	"time"
)

func TestMedianAndPercentile(t *testing.T) {
	t.Parallel()
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(ds, 99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	text := `# HELP x
pa_connector_jobs_handled_total{job_type="t",operation="GetFlowSession",outcome="completed"} 90
pa_connector_jobs_handled_total{job_type="t",operation="GetFlowSession",outcome="failed"} 10
d_bucket{op="a",le="0.001"} 0
d_bucket{op="a",le="0.01"} 50
d_bucket{op="a",le="0.1"} 100
d_bucket{op="a",le="+Inf"} 100
go_memstats_mallocs_total 1.5e+06
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("pa_connector_jobs_handled_total", `outcome="completed"`); got != 90 {
		t.Errorf("completed = %v", got)
	}
	if got := m.sum("go_memstats_mallocs_total"); got != 1.5e6 {
		t.Errorf("mallocs = %v", got)
	}
	if q, ok := m.quantile("d", 0.5); !ok || q != 10*time.Millisecond {
		t.Errorf("p50 = %v %v", q, ok)
	}
	if q, ok := m.quantile("d", 0.99); !ok || q < 98*time.Millisecond || q > 100*time.Millisecond {
		t.Errorf("p99 = %v %v", q, ok)
	}
}
