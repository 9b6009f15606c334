// Command specgen rewrites the files generated from the operation declarations of
// connector/spec: the element templates in examples/element-templates/ and the operation
// reference in README.md. Run it from the repository root: go run ./tools/specgen
// (make generate). CI fails when a committed file differs (connector/spec's
// TestGeneratedFilesAreCommitted).
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/pa-connector/pa-connector/connector/spec"
)

func main() {
	files, err := spec.Generated(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[p]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "specgen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, files[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "specgen:", err)
			os.Exit(1)
		}
		fmt.Println("specgen: wrote", p)
	}
}
