package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pa-connector/pa-connector/expr"
)

const exprUsage = `usage:
  pa-connector expr eval --expression EXPR [--context FILE.json|-]
      Evaluates EXPR ("=..." is FEEL, "expr:..." expr-lang) over the JSON context (a file, or
      "-" for standard input) and prints the result as JSON.
  pa-connector expr lint --template FILE.json
      Compiles every FEEL expression of an element template (property values starting with
      "=", and the resultExpression and errorExpression headers) and reports each failure,
      and each construct a cluster accepts but always evaluates to null (an unknown function,
      arguments no form of a function takes, an invalid temporal literal).
exit status: 0 ok, 1 an expression failed, 2 usage error
`

// runExpr is the modeler tool `pa-connector expr eval|lint`.
func runExpr(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, exprUsage)
		return 2
	}
	switch args[0] {
	case "eval":
		return exprEval(args[1:], stdin, stdout, stderr)
	case "lint":
		return exprLint(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, exprUsage)
		return 0
	}
	fmt.Fprintf(stderr, "pa-connector expr: unknown command %q\n%s", args[0], exprUsage)
	return 2
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pa-connector expr "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exprUsage) }
	return fs
}

func exprEval(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("eval", stderr)
	src := fs.String("expression", "", "the expression")
	ctxFile := fs.String("context", "", "JSON file with the context, - for standard input")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *src == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pa-connector expr eval: --expression is required and takes no other arguments\n%s", exprUsage)
		return 2
	}
	env := map[string]any{}
	if *ctxFile != "" {
		var data []byte
		var err error
		if *ctxFile == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(*ctxFile)
		}
		if err != nil {
			fmt.Fprintf(stderr, "pa-connector expr eval: reading context: %v\n", err)
			return 2
		}
		v, err := expr.DecodeJSON(data)
		if err != nil {
			fmt.Fprintf(stderr, "pa-connector expr eval: context %s: %v\n", *ctxFile, err)
			return 2
		}
		m, ok := v.(map[string]any)
		if !ok {
			fmt.Fprintf(stderr, "pa-connector expr eval: context %s must be a JSON object\n", *ctxFile)
			return 2
		}
		env = m
	}
	p, err := expr.Compile(*src)
	if err != nil {
		fmt.Fprintf(stderr, "pa-connector expr eval: %v\n", err)
		return 1
	}
	out, warnings, err := p.EvalWarnings(context.Background(), env)
	if err != nil {
		fmt.Fprintf(stderr, "pa-connector expr eval: %v\n", err)
		return 1
	}
	for _, w := range warnings { // the result stands, as on a cluster; the warnings say why it is null
		fmt.Fprintf(stderr, "pa-connector expr eval: warning: %s\n", w)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "pa-connector expr eval: the result is not JSON: %v\n", err)
		return 1
	}
	return 0
}

// templateProperty is the part of a Camunda element-template property the linter reads.
type templateProperty struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Value   any    `json:"value"`
	Binding struct {
		Type string `json:"type"`
		Key  string `json:"key"`
		Name string `json:"name"`
	} `json:"binding"`
}

type template struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Properties []templateProperty `json:"properties"`
}

func exprLint(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lint", stderr)
	file := fs.String("template", "", "element template JSON file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pa-connector expr lint: --template is required and takes no other arguments\n%s", exprUsage)
		return 2
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "pa-connector expr lint: %v\n", err)
		return 2
	}
	// a file holds one template or a list of them
	var templates []template
	if strings.HasPrefix(strings.TrimSpace(string(data)), "[") {
		err = json.Unmarshal(data, &templates)
	} else {
		var t template
		err = json.Unmarshal(data, &t)
		templates = []template{t}
	}
	if err != nil {
		fmt.Fprintf(stderr, "pa-connector expr lint: %s is not an element template: %v\n", *file, err)
		return 2
	}
	checked, failed := 0, 0
	for _, t := range templates {
		for _, p := range t.Properties {
			s, ok := p.Value.(string)
			if !ok {
				continue
			}
			header := p.Binding.Type == "zeebe:taskHeader" && (p.Binding.Key == "resultExpression" || p.Binding.Key == "errorExpression")
			if !header && !strings.HasPrefix(strings.TrimSpace(s), "=") {
				continue
			}
			if strings.TrimSpace(s) == "" {
				continue
			}
			checked++
			prog, err := expr.Compile(s)
			if err != nil {
				failed++
				fmt.Fprintf(stdout, "%s: %s: %v\n", templateName(t), propertyName(p), err)
				continue
			}
			if fs := prog.Findings(); len(fs) > 0 { // a cluster deploys it, and it gives null
				failed++
				for _, f := range fs {
					fmt.Fprintf(stdout, "%s: %s: %v (a cluster evaluates it to null)\n", templateName(t), propertyName(p), f)
				}
			}
		}
	}
	fmt.Fprintf(stdout, "%d expressions checked, %d failed\n", checked, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func templateName(t template) string {
	if t.ID != "" {
		return t.ID
	}
	return t.Name
}

func propertyName(p templateProperty) string {
	id := p.ID
	if id == "" {
		id = p.Binding.Key + p.Binding.Name
	}
	if p.Label != "" {
		return fmt.Sprintf("property %q (%s)", id, p.Label)
	}
	return fmt.Sprintf("property %q", id)
}
