package authtest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestJWTHasTheLengthAskedAndAJWTsShape(t *testing.T) {
	for _, n := range []int{1024, 1536, 2048, 2049, 2050, 2560} {
		j := JWT(n)
		parts := strings.Split(j, ".")
		if len(j) != n || len(parts) != 3 {
			t.Fatalf("JWT(%d): %d bytes, %d parts", n, len(j), len(parts))
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		if err != nil || json.Unmarshal(raw, &claims) != nil || claims["aud"] == nil {
			t.Fatalf("JWT(%d): claims do not decode: %v", n, err)
		}
	}
}
