package connector

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// headers are the task headers Camunda's templates set.
type headers struct {
	resultVariable   string
	resultExpression string
	errorExpression  string
	retryBackoff     time.Duration
	jobTimeout       time.Duration
}

func parseHeaders(h map[string]string) (headers, error) {
	out := headers{
		resultVariable:   h["resultVariable"],
		resultExpression: h["resultExpression"],
		errorExpression:  h["errorExpression"],
	}
	var err error
	if s := h["retryBackoff"]; s != "" {
		if out.retryBackoff, err = parseDuration(s); err != nil {
			return out, fmt.Errorf("task header retryBackoff: %w", err)
		}
	}
	if s := h["jobTimeout"]; s != "" {
		if out.jobTimeout, err = parseDuration(s); err != nil {
			return out, fmt.Errorf("task header jobTimeout: %w", err)
		}
	}
	return out, nil
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$`)

// parseDuration parses an ISO-8601 duration of days, hours, minutes and seconds (PT30S, P1DT2H).
// Years, months and weeks are refused: their length is not fixed.
func parseDuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" || s[len(s)-1] == 'T' {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as PT30S", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil || n > 100000 {
				return 0, fmt.Errorf("%q is out of range", s)
			}
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		f, err := strconv.ParseFloat(strings.Replace(m[4], ",", ".", 1), 64)
		if err != nil || f > 1e7 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}
