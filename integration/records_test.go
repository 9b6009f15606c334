//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
)

// record is the part of an exported Zeebe record the tests read.
type record struct {
	ValueType  string `json:"valueType"`
	Intent     string `json:"intent"`
	RecordType string `json:"recordType"`
	Value      struct {
		ProcessInstanceKey int64  `json:"processInstanceKey"`
		ErrorMessage       string `json:"errorMessage"`
		ErrorType          string `json:"errorType"`
		ElementID          string `json:"elementId"`
		Type               string `json:"type"`
		Retries            int    `json:"retries"`
		Name               string `json:"name"`
	} `json:"value"`
}

// records reads every JSON record the engine's exporter wrote (the shape of Zeebe's debug
// exporter: one JSON record per line).
func records(path string) []record {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []record
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		line := s.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 {
			continue
		}
		var r record
		if json.Unmarshal([]byte(line[i:]), &r) == nil && r.ValueType != "" {
			out = append(out, r)
		}
	}
	return out
}

func findIncident(path string, processInstanceKey int64) (string, bool) {
	for _, r := range records(path) {
		if r.ValueType == "INCIDENT" && r.Intent == "CREATED" && r.Value.ProcessInstanceKey == processInstanceKey {
			return r.Value.ErrorMessage, true
		}
	}
	return "", false
}
