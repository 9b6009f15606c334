package connector

import (
	"bytes"
	"encoding/json"
	"os"

	"github.com/pa-connector/pa-connector/operations"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func unmarshal(b []byte, v any) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.Decode(v)
	normalize(v)
}

func normalize(v any) {
	if p, ok := v.(*map[string]any); ok {
		for k, x := range *p {
			(*p)[k] = operations.ParseBody("application/json", mustJSON(x))
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
