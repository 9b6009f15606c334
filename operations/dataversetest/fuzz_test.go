package dataversetest

import (
	"encoding/json"
	"testing"
)

// FuzzRunDesktopFlowBody checks that the body parser never panics, answers
// only 400 payload errors, and that every accepted body round-trips.
func FuzzRunDesktopFlowBody(f *testing.F) {
	for _, seed := range []string{
		`{"runMode":"attended","connectionName":"c"}`,
		`{"runMode":"unattended","runPriority":"high","connectionName":"c","connectionType":2,"timeout":600,"inputs":"{\"a\":1}","callbackUrl":"https://x.example.com/cb"}`,
		`{"runMode":"attended","connectionName":"c","connectionType":"1"}`,
		`{"runMode":"attended","connectionName":"c","inputs":{"a":1}}`,
		`{"runMode":null}`,
		`[`,
		``,
		`{"a":1,"a":2}`,
		`{"timeout":-2147483648,"runMode":"x","connectionName":""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseRunBody(body)
		if err != nil {
			if err.status != 400 || err.code != CodePayloadError {
				t.Fatalf("parse error %d %s", err.status, err.code)
			}
			return
		}
		again := map[string]any{"runMode": req.RunMode, "connectionName": req.ConnectionName}
		for name, p := range map[string]any{"runPriority": req.RunPriority, "connectionType": req.ConnectionType, "timeout": req.Timeout, "inputs": req.Inputs, "callbackUrl": req.CallbackURL} {
			switch v := p.(type) {
			case *string:
				if v != nil {
					again[name] = *v
				}
			case *int32:
				if v != nil {
					again[name] = *v
				}
			}
		}
		b, jerr := json.Marshal(again)
		if jerr != nil {
			t.Fatal(jerr)
		}
		req2, err := parseRunBody(b)
		if err != nil {
			t.Fatalf("re-encoded body %s refused: %v", b, err)
		}
		if req2.RunMode != req.RunMode || req2.ConnectionName != req.ConnectionName {
			t.Fatalf("round trip changed %+v into %+v", req, req2)
		}
		_, _ = req.validate(nil) // must not panic either
	})
}
