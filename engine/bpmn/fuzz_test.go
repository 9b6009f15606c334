package bpmn

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, path := range repoBPMN(f) {
		data, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 8<<10 { // the large examples slow each execution down; their structure is in the small ones
			f.Add(data)
		}
	}
	for _, c := range ruleCases {
		f.Add([]byte(c.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := Parse("fuzz.bpmn", data)
		if err != nil {
			if defs != nil {
				t.Fatalf("definitions with an error")
			}
			if err.Error() == "" {
				t.Fatalf("empty error text")
			}
			return
		}
		if len(defs) == 0 {
			t.Fatalf("no definitions and no error")
		}
		checkInvariants(t, defs)
	})
}
