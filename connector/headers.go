package connector

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/connector/spec"
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
		if out.retryBackoff, err = boundedDuration(s, spec.RetryBackoff.Shortest, spec.RetryBackoff.Longest); err != nil {
			return out, fmt.Errorf("task header retryBackoff: %w", err)
		}
	}
	if s := h["jobTimeout"]; s != "" {
		if out.jobTimeout, err = boundedDuration(s, spec.JobTimeout.Shortest, spec.JobTimeout.Longest); err != nil {
			return out, fmt.Errorf("task header jobTimeout: %w", err)
		}
	}
	return out, nil
}

// Bounds of the durations a job can carry. Zeebe takes any timeout and backoff; values beyond
// these are mistakes (P100000D), and a job held or parked that long looks lost. The header
// bounds are declared with the headers (spec.JobTimeout, spec.RetryBackoff).
var (
	// MaxJobTimeoutHeader bounds the jobTimeout header.
	MaxJobTimeoutHeader = spec.JobTimeout.Longest
	// MaxRetryBackoff bounds the retryBackoff header and jobError's retryBackoff.
	MaxRetryBackoff = spec.RetryBackoff.Longest
)

// MaxJobErrorRetries bounds jobError's retries (Zeebe's default is 3).
const MaxJobErrorRetries = 100

// boundedDuration parses an ISO-8601 duration and checks it lies in [lo, hi].
func boundedDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("must be between %s and %s, got %s", spec.ISODuration(lo), spec.ISODuration(hi), excerpt(s, 40))
	}
	return d, nil
}

var isoDurationRE = regexp.MustCompile("^" + spec.DurationPattern + "$") // the templates check the same shape

// ParseDuration parses an ISO-8601 duration as the jobTimeout and retryBackoff headers take
// it (parseDuration); the worker's settings take it too.
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s) }

// parseDuration parses an ISO-8601 duration of days, hours, minutes and seconds (PT30S, P1DT2H).
// Years, months and weeks are refused: their length is not fixed.
func parseDuration(s string) (time.Duration, error) {
	if !isoDurationRE.MatchString(s) {
		return 0, fmt.Errorf("%s is not an ISO-8601 duration such as PT30S", excerpt(s, 40))
	}
	// The shape is checked: each number is followed by its unit, M after T is minutes.
	var d time.Duration
	num := 1
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 'T':
			num = i + 1
		case c >= '0' && c <= '9' || c == '.' || c == ',':
		case c == 'S':
			f, err := strconv.ParseFloat(strings.Replace(s[num:i], ",", ".", 1), 64)
			if err != nil || f > 1e7 {
				return 0, fmt.Errorf("%q is out of range", s)
			}
			d += time.Duration(f * float64(time.Second))
			num = i + 1
		default:
			n, err := strconv.ParseInt(s[num:i], 10, 64)
			if err != nil || n > 100000 {
				return 0, fmt.Errorf("%q is out of range", s)
			}
			d += time.Duration(n) * map[byte]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute}[c]
			num = i + 1
		}
	}
	return d, nil
}

// jobErrorRetries checks jobError's retries: a whole number from 0 to MaxJobErrorRetries
// (absent: 0). Out of range is an error, never clamped: 1e9 retries or -1 are mistakes.
func jobErrorRetries(v any) (int, error) {
	var n float64
	switch t := v.(type) {
	case nil:
		return 0, nil
	case int:
		n = float64(t)
	case int64:
		n = float64(t)
	case float64:
		n = t
	default:
		return 0, fmt.Errorf("must be a whole number, got %s", typeName(v))
	}
	if n != math.Trunc(n) {
		return 0, fmt.Errorf("must be a whole number, got %v", n)
	}
	if n < 0 || n > MaxJobErrorRetries {
		return 0, fmt.Errorf("must be between 0 and %d, got %s", MaxJobErrorRetries, strconv.FormatFloat(n, 'f', -1, 64))
	}
	return int(n), nil
}
