package egress

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The request log names method, host and path, never the query: a flow trigger's URL carries
// its signature there. A failed request's line says so without the error's text, which quotes
// the URL.
func TestRequestLogLeavesTheQueryOut(t *testing.T) {
	const sig = "gi0tDp9ToR3ujWViT3D7a_aMiIRiblvpw0IqQ57rvfE"
	target := "https://prod-1.westeurope.logic.azure.com/workflows/w/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=" + sig
	for name, base := range map[string]roundTripFunc{
		"answered": func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 202, Body: http.NoBody}, nil
		},
		"failed": func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("Post " + r.URL.String() + ": refused")
		},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			rt := LogRequests(base, zerolog.New(&out).Level(zerolog.DebugLevel))
			req, _ := http.NewRequest(http.MethodPost, target, nil)
			if res, err := rt.RoundTrip(req); err == nil {
				res.Body.Close()
			}
			line := out.String()
			if !strings.Contains(line, "/workflows/w/triggers/manual/paths/invoke") || !strings.Contains(line, "logic.azure.com") {
				t.Errorf("the line lacks the host or path: %s", line)
			}
			for i := 0; i+8 <= len(sig); i++ {
				if strings.Contains(line, sig[i:i+8]) {
					t.Fatalf("the line holds %q of the signature: %s", sig[i:i+8], line)
				}
			}
			if strings.Contains(line, "api-version") {
				t.Errorf("the line holds the query: %s", line)
			}
		})
	}
}
