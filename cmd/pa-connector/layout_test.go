package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/pa-connector/pa-connector/"

// The worker's packages and what each may not import (docs/architecture.md, "Who may know
// whom"). zeebeClient stands for the Zeebe Go client: only the adapter talks to Zeebe.
const zeebeClient = "github.com/camunda/zeebe/clients/go"

var forbidden = map[string][]string{
	"zeebe":      {module + "cmd/", module + "egress"},
	"connector":  {module + "cmd/", module + "zeebe", zeebeClient},
	"callback":   {module + "cmd/", module + "zeebe", module + "connector", module + "egress", zeebeClient},
	"egress":     {module + "cmd/", module + "zeebe", module + "connector", module + "callback", zeebeClient},
	"secrets":    {module + "cmd/", module + "zeebe", module + "connector", module + "callback", module + "egress", zeebeClient},
	"backoff":    {module},
	"operations": {module + "cmd/", module + "zeebe", module + "connector", module + "callback", module + "egress", zeebeClient},
	"auth":       {module + "cmd/", module + "zeebe", module + "connector", module + "callback", module + "egress", zeebeClient},
	"expr":       {module + "cmd/", module + "zeebe", module + "connector", module + "callback", module + "egress", zeebeClient},
}

// imports returns the packages the non-test Go files in dir import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out = append(out, p)
		}
	}
	return out
}

// violations lists the imports of pkg that the layout forbids.
func violations(pkg string, imported []string) []string {
	var out []string
	for _, p := range imported {
		for _, f := range forbidden[pkg] {
			if strings.HasPrefix(p, f) {
				out = append(out, pkg+" imports "+p)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The packages import each other only as the architecture says, so that no cycle of objects
// can come back (the callbacks published through the Worker, which held the handler, which held
// the callbacks) and only the adapter talks to Zeebe.
func TestLayoutFollowsTheArchitecture(t *testing.T) {
	root := filepath.Join("..", "..")
	for pkg := range forbidden {
		if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
			t.Errorf("package %s/ is missing: %v", pkg, err)
			continue
		}
		if v := violations(pkg, imports(t, filepath.Join(root, pkg))); len(v) > 0 {
			t.Errorf("%s", strings.Join(v, "\n"))
		}
	}
	// The oracle can fail: the import that made the cycle, and the Zeebe client in the handler.
	if v := violations("callback", []string{module + "zeebe", "context"}); len(v) != 1 {
		t.Errorf("a callback package importing the adapter passed: %v", v)
	}
	if v := violations("connector", []string{zeebeClient + "/v8/pkg/commands"}); len(v) != 1 {
		t.Errorf("a handler importing the Zeebe client passed: %v", v)
	}
}
