package authtest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// JWT returns a bearer token shaped like an Entra ID access token (base64url header, claims and
// RS256 signature, joined by dots) of exactly n bytes, for tests that need real-length tokens:
// Entra ID access tokens are typically 1.5–2.5 KB. n must be at least 1024.
func JWT(n int) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","x5t":"kWbkaa6qs8wsTnBwiiNYOhHbnAw","kid":"kWbkaa6qs8wsTnBwiiNYOhHbnAw"}`))
	sig := enc.EncodeToString([]byte(strings.Repeat("\x9c\x1f\x7e\x42", 64))) // 256 bytes
	claims := func(pad int) string {
		c, _ := json.Marshal(map[string]any{"aud": "https://contoso.crm4.dynamics.com",
			"iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/", "iat": 1764300000, "exp": 1764303600,
			"appid": "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "oid": "0b5a1c9e-8f64-4a8e-b0a7-1d2f3e4a5b6c",
			"roles": []string{"user_impersonation"}, "xms_tcdt": strings.Repeat("x", max(pad, 0))})
		return enc.EncodeToString(c)
	}
	fixed := len(head) + len(claims(0)) + len(sig) + 2
	t := head + "." + claims((n-fixed)*3/4) + "." + sig
	for len(t) < n { // base64 grows by 4 characters per 3 bytes: pad the signature
		t += "A"
	}
	return t[:n]
}
