package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

const (
	tmplToken    = "templates-test-token-0123456789"
	tmplTyped    = "d0c5f10e-0000-4000-8000-0000000000d1"
	tmplDraft    = "d0c5f10e-0000-4000-8000-0000000000d2"
	tmplNoSchema = "d0c5f10e-0000-4000-8000-0000000000d3"
)

func templatesEmulator(t *testing.T) *dataversetest.Server {
	t.Helper()
	srv := dataversetest.NewServer(dataversetest.Options{Tokens: []string{tmplToken}, Flows: map[string]dataversetest.Flow{
		tmplTyped: {Name: "Typed invoice", Description: "Enters an invoice",
			InputSchema: []dataversetest.FlowVariable{{Name: "Customer", Type: "string", Required: true},
				{Name: "Amount", Type: "number", Default: 12.5}, {Name: "Urgent", Type: "boolean"}, {Name: "Lines", Type: "array"}},
			OutputSchema: []dataversetest.FlowVariable{{Name: "Total", Type: "number"}}},
		tmplDraft:    {Name: "Draft flow", Draft: true, InputSchema: []dataversetest.FlowVariable{{Name: "X", Type: "string"}}},
		tmplNoSchema: {Name: "No schema"},
	}})
	t.Cleanup(srv.Close)
	return srv
}

func runTemplatesT(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := runTemplates(args, getenv, &out, &errs)
	return code, out.String(), errs.String()
}

// Against the emulator: the published flows' templates are written, with the flow's id and
// typed inputs, never the token; a second run finds them unchanged, byte for byte; every
// template lints clean; a draft is written when named.
func TestTemplatesGenerateAgainstTheEmulator(t *testing.T) {
	t.Parallel()
	srv := templatesEmulator(t)
	dir := filepath.Join(t.TempDir(), "templates")
	getenv := env(map[string]string{"SECRET_DV_TOKEN": tmplToken, "PA_CONNECTOR_ALLOWED_HOSTS": "127.0.0.1"})
	args := []string{"generate", "--organization-uri", srv.URL(), "--token", "{{secrets.DV_TOKEN}}", "--out", dir}
	code, out, errs := runTemplatesT(t, getenv, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	want := []string{filepath.Join(dir, "desktop-flow-"+tmplTyped+".json"), filepath.Join(dir, "desktop-flow-"+tmplNoSchema+".json")}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v (the published flows)", files, want)
	}
	first := map[string][]byte{}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		first[f] = raw
		if bytes.Contains(raw, []byte(tmplToken)) {
			t.Errorf("%s holds the credentials", f)
		}
		if c, lout, lerr := runExprT(t, "", "lint", "--template", f); c != 0 {
			t.Errorf("expr lint %s: exit %d: %s%s", f, c, lout, lerr)
		}
	}
	var tmpl struct {
		Properties []struct {
			Type    string `json:"type"`
			Value   any    `json:"value"`
			Binding struct{ Name string }
		} `json:"properties"`
	}
	if err := json.Unmarshal(first[want[0]], &tmpl); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, p := range tmpl.Properties {
		types[p.Binding.Name] = p.Type
		if p.Binding.Name == "workflowId" && (p.Type != "Hidden" || p.Value != tmplTyped) {
			t.Errorf("workflowId property %+v, want Hidden %s", p, tmplTyped)
		}
	}
	for name, typ := range map[string]string{"runInputs.Customer": "String", "runInputs.Amount": "Number", "runInputs.Urgent": "Boolean", "runInputs.Lines": "String", "workflowId": "Hidden"} {
		if types[name] != typ {
			t.Errorf("%s is a %q field, want %s", name, types[name], typ)
		}
	}

	code, out, errs = runTemplatesT(t, getenv, args...)
	if code != 0 || strings.Contains(out, "wrote") || strings.Count(out, "unchanged") != 2 {
		t.Fatalf("second run: exit %d: %s%s", code, out, errs)
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if !bytes.Equal(raw, first[f]) {
			t.Errorf("%s changed on the second run", f)
		}
	}

	code, out, errs = runTemplatesT(t, getenv, append(args, "--flow", "draft flow")...)
	if _, err := os.Stat(filepath.Join(dir, "desktop-flow-"+tmplDraft+".json")); code != 0 || err != nil {
		t.Fatalf("a named draft: exit %d, %v: %s%s", code, err, out, errs)
	}
}

// A refusal from Dataverse is exit 1 with its reason and no secret; a host the worker may not
// call is refused before any request.
func TestTemplatesGenerateFailures(t *testing.T) {
	t.Parallel()
	srv := templatesEmulator(t)
	dir := filepath.Join(t.TempDir(), "templates")
	const wrong = "wrong-token-abcdefghijklmnop"
	code, out, errs := runTemplatesT(t, env(map[string]string{"SECRET_DV_TOKEN": wrong, "PA_CONNECTOR_ALLOWED_HOSTS": "127.0.0.1"}),
		"generate", "--organization-uri", srv.URL(), "--token", "{{secrets.DV_TOKEN}}", "--out", dir)
	if code != 1 || !strings.Contains(errs, "401") || strings.Contains(out+errs, wrong) {
		t.Errorf("wrong token: exit %d: %s%s", code, out, errs)
	}
	calls := srv.Count("")
	code, _, errs = runTemplatesT(t, env(map[string]string{"SECRET_DV_TOKEN": tmplToken}),
		"generate", "--organization-uri", srv.URL(), "--token", "{{secrets.DV_TOKEN}}", "--out", dir)
	if code != 1 || !strings.Contains(errs, "127.0.0.1") || srv.Count("") != calls {
		t.Errorf("host not allowed: exit %d, %d requests: %s", code, srv.Count("")-calls, errs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("files written after a failure: %v", err)
	}
}

func TestTemplatesConfig(t *testing.T) {
	t.Parallel()
	org := []string{"generate", "--organization-uri", "https://org.crm.dynamics.com"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // "" : valid
	}{
		{"bearer placeholder", append(org, "--token", "{{secrets.DV_TOKEN}}"), nil, ""},
		{"bearer from the environment", org, map[string]string{"PA_CONNECTOR_TOKEN": "literal-token-value"}, ""},
		{"client credentials", append(org, "--oauth-token-endpoint", "https://login.microsoftonline.com/t/oauth2/v2.0/token", "--client-id", "app", "--client-secret", "{{secrets.DV_CLIENT_SECRET}}"), nil, ""},
		{"a literal token on the command line", append(org, "--token", "eyJhbGciOi.literal"), nil, "--token takes a {{secrets.NAME}} placeholder"},
		{"a literal client secret on the command line", append(org, "--oauth-token-endpoint", "https://x/token", "--client-id", "app", "--client-secret", "s3cr3t-value"), nil, "--client-secret takes a {{secrets.NAME}} placeholder"},
		{"no authentication", org, nil, "authentication is required"},
		{"both authentications", append(org, "--token", "{{secrets.T}}", "--client-id", "app"), nil, "exclude each other"},
		{"client credentials half given", append(org, "--client-id", "app"), nil, "need --oauth-token-endpoint and --client-secret too"},
		{"no organization", []string{"generate", "--token", "{{secrets.T}}"}, nil, "--organization-uri (PA_CONNECTOR_ORGANIZATION_URI) is required"},
		{"organization from the environment", []string{"generate", "--token", "{{secrets.T}}"}, map[string]string{"PA_CONNECTOR_ORGANIZATION_URI": "https://org.crm.dynamics.com"}, ""},
		{"bad client authentication", append(org, "--token", "{{secrets.T}}", "--client-authentication", "header"), nil, "--client-authentication must be"},
		{"a worker setting checked as the worker checks it", append(org, "--token", "{{secrets.T}}", "--allowed-hosts", "http://"), nil, "PA_CONNECTOR_ALLOWED_HOSTS"},
		{"an argument", append(org, "--token", "{{secrets.T}}", "extra"), nil, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTemplatesConfig(c.args[1:], env(c.env))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "literal") || err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the message quotes the secret: %v", err)
			}
		})
	}
}

// --help documents every flag, the command's own and the worker's it takes.
func TestTemplatesHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runTemplatesT(t, env(nil), "generate", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	names := append([]string{"flow"}, workerSettingsForTemplates...)
	for _, s := range templateSettings {
		names = append(names, s.name)
		if !strings.Contains(out, s.env) {
			t.Errorf("help lacks %s", s.env)
		}
	}
	for _, n := range names {
		if !strings.Contains(out, "--"+n+"\n") && !strings.Contains(out, "--"+n+" ") {
			t.Errorf("help lacks --%s", n)
		}
	}
	if code, _, _ := runTemplatesT(t, env(nil), "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
}
