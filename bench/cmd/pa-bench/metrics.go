package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sample is one line of the Prometheus text format: name, labels as written, value.
type sample struct {
	name, labels string
	value        float64
}

// metrics is a scrape of the worker's /metrics.
type metrics []sample

func scrape(ctx context.Context, url string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", url, res.Status)
	}
	return parseMetrics(res.Body)
}

// parseMetrics reads the text exposition format: enough for counters, gauges and histograms.
func parseMetrics(r io.Reader) (metrics, error) {
	var m metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		key := line[:sp]
		name, labels := key, ""
		if i := strings.IndexByte(key, '{'); i >= 0 {
			name, labels = key[:i], key[i:]
		}
		m = append(m, sample{name, labels, v})
	}
	return m, sc.Err()
}

// sum adds the samples of name whose labels contain every one of match (e.g. `outcome="completed"`).
func (m metrics) sum(name string, match ...string) float64 {
	var t float64
	for _, s := range m {
		if s.name != name {
			continue
		}
		ok := true
		for _, x := range match {
			if !strings.Contains(s.labels, x) {
				ok = false
				break
			}
		}
		if ok {
			t += s.value
		}
	}
	return t
}

// quantile estimates quantile q (0..1) of histogram name from its buckets (summed over other
// labels), interpolating linearly inside a bucket as Prometheus' histogram_quantile does.
func (m metrics) quantile(name string, q float64) (time.Duration, bool) {
	buckets := map[float64]float64{}
	for _, s := range m {
		if s.name != name+"_bucket" {
			continue
		}
		i := strings.Index(s.labels, `le="`)
		if i < 0 {
			continue
		}
		rest := s.labels[i+4:]
		le, err := strconv.ParseFloat(rest[:strings.IndexByte(rest, '"')], 64)
		if err != nil {
			continue
		}
		buckets[le] += s.value
	}
	les := make([]float64, 0, len(buckets))
	for le := range buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 || buckets[les[len(les)-1]] == 0 {
		return 0, false
	}
	total := buckets[les[len(les)-1]]
	rank := q * total
	prevLe, prevCount := 0.0, 0.0
	for _, le := range les {
		c := buckets[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return time.Duration(prevLe * float64(time.Second)), true
			}
			frac := 0.0
			if c > prevCount {
				frac = (rank - prevCount) / (c - prevCount)
			}
			return time.Duration((prevLe + (le-prevLe)*frac) * float64(time.Second)), true
		}
		prevLe, prevCount = le, c
	}
	return 0, false
}
