package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/flowtemplates"
	"github.com/pa-connector/pa-connector/secrets"
)

// templatesConfig is `pa-connector templates generate`'s configuration. The secrets settings
// and the allowed hosts are the worker's (same flags, variables and defaults).
type templatesConfig struct {
	worker         Config
	orgURI, out    string
	token          string
	tokenEndpoint  string
	clientID       string
	clientSecret   string
	scopes         string
	clientAuth     string
	flows          flowNames
	secretFromFlag map[string]bool // --token or --client-secret given on the command line
}

// flowNames is the repeatable --flow.
type flowNames []string

func (f *flowNames) String() string     { return strings.Join(*f, ",") }
func (f *flowNames) Set(v string) error { *f = append(*f, v); return nil }

type templateSetting struct {
	name, env, def, help string
	dst                  func(c *templatesConfig) *string
	secret               bool
}

var templateSettings = []templateSetting{
	{"organization-uri", "PA_CONNECTOR_ORGANIZATION_URI", "", "the Dataverse organization whose desktop flows are read, e.g. https://org.crm.dynamics.com (required)", func(c *templatesConfig) *string { return &c.orgURI }, false},
	{"out", "PA_CONNECTOR_TEMPLATES_DIR", "element-templates", "directory the templates are written to (created when missing); one file desktop-flow-<workflow id>.json per flow", func(c *templatesConfig) *string { return &c.out }, false},
	{"token", "PA_CONNECTOR_TOKEN", "", "bearer authentication: a Dataverse access token. On the command line only as {{secrets.NAME}}", func(c *templatesConfig) *string { return &c.token }, true},
	{"oauth-token-endpoint", "PA_CONNECTOR_OAUTH_TOKEN_ENDPOINT", "", "OAuth 2.0 client credentials: the token endpoint, e.g. https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token", func(c *templatesConfig) *string { return &c.tokenEndpoint }, false},
	{"client-id", "PA_CONNECTOR_CLIENT_ID", "", "OAuth 2.0 client credentials: the application (client) id", func(c *templatesConfig) *string { return &c.clientID }, false},
	{"client-secret", "PA_CONNECTOR_CLIENT_SECRET", "", "OAuth 2.0 client credentials: the client secret. On the command line only as {{secrets.NAME}}", func(c *templatesConfig) *string { return &c.clientSecret }, true},
	{"scopes", "PA_CONNECTOR_SCOPES", "", "OAuth 2.0 client credentials: space-separated scopes (empty: the organization URI + /.default)", func(c *templatesConfig) *string { return &c.scopes }, false},
	{"client-authentication", "PA_CONNECTOR_CLIENT_AUTHENTICATION", "basicAuthHeader", "OAuth 2.0 client credentials: basicAuthHeader or credentialsBody", func(c *templatesConfig) *string { return &c.clientAuth }, false},
}

// workerSettingsForTemplates are the worker's settings the command takes as they are.
var workerSettingsForTemplates = []string{"secret-prefix", "secrets-dir", "allowed-hosts"}

const templatesUsage = `usage: pa-connector templates generate [flags]

Writes a Camunda element template per desktop flow of a Dataverse organization: the flow's
workflow id fixed, one typed field per input of the flow (text, number, checkbox, FEEL for
lists and objects) with its title, description and default, and the result expression mapping
each output of the flow to a process variable. The files depend on the flows only (sorted, no
timestamps): running it again writes the same bytes, and a file that would not change is not
rewritten. With no --flow: every published desktop flow that can run (state Activated); drafts
and suspended flows only when named.

Authentication: --token (bearer), or --oauth-token-endpoint, --client-id and --client-secret
(client credentials). Each value may be {{secrets.NAME}}, read as the worker reads secrets: the
environment variable PA_CONNECTOR_SECRET_PREFIX+NAME, else the file NAME in
PA_CONNECTOR_SECRETS_DIR; --token and --client-secret take nothing else on the command line
(a literal would show in the process list). No secret is ever written into a template.

Flags (flag, environment variable, default):
  --flow NAME|ID
      repeatable: the flows to write, by workflow id or exact name (any case); default: every
      published one
`

// runTemplates is `pa-connector templates generate`.
func runTemplates(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "generate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			printTemplatesHelp(stdout)
			return 0
		}
		printTemplatesHelp(stderr)
		return 2
	}
	c, err := parseTemplatesConfig(args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		printTemplatesHelp(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pa-connector templates generate: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	live := secrets.NewRegistry()
	live.Pin(c.token, c.clientSecret)                       // a literal from the environment is as secret as a resolved one
	hosts, _ := egress.NewHostPolicy(c.worker.AllowedHosts) // validated
	log := zerolog.New(live.Writer(stderr)).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	h := connector.NewHandler(connector.Options{Hosts: hosts, SecretPrefix: c.worker.SecretPrefix, SecretsDir: c.worker.SecretsDir,
		MaxOutputBytes: 32 << 20, Live: live, Log: log})
	h.Secrets.Lookup = func(name string) (string, bool) { v := getenv(name); return v, v != "" }
	src := flowtemplates.Dataverse{Handler: h, Vars: c.jobVariables(), Live: live}
	files, err := flowtemplates.Generate(ctx, src, c.flows, c.out)
	if err != nil {
		fmt.Fprintf(stderr, "pa-connector templates generate: %s\n", live.Message(err.Error()))
		return 1
	}
	for _, f := range files {
		for _, in := range f.SecretDefaults {
			fmt.Fprintf(stderr, "pa-connector templates generate: warning: desktop flow %q (%s): the default of input %s holds a {{secrets.…}} placeholder; the template leaves the field empty, as the worker would send the secret to the flow\n",
				f.Flow.Name, f.Flow.WorkflowID, in)
		}
		what := "wrote"
		if !f.Changed {
			what = "unchanged"
		}
		fmt.Fprintf(stdout, "%s %s (%s, %s)\n", what, f.Path, f.Flow.Name, f.Flow.State)
	}
	fmt.Fprintf(stdout, "%d desktop flow templates in %s\n", len(files), c.out)
	return 0
}

func parseTemplatesConfig(args []string, getenv func(string) string) (templatesConfig, error) {
	c := templatesConfig{secretFromFlag: map[string]bool{}}
	fs := flag.NewFlagSet("pa-connector templates generate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	given := map[string]*string{}
	for _, s := range templateSettings {
		given[s.name] = fs.String(s.name, "", s.help)
	}
	for _, name := range workerSettingsForTemplates {
		given[name] = fs.String(name, "", "")
	}
	fs.Var(&c.flows, "flow", "")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, s := range templateSettings {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		if explicit[s.name] {
			v = *given[s.name]
			c.secretFromFlag[s.name] = s.secret
		}
		*s.dst(&c) = strings.TrimSpace(v)
	}
	for _, st := range settings {
		for _, name := range workerSettingsForTemplates {
			if st.name != name {
				continue
			}
			v, from := st.def, "default"
			if e := getenv(st.env); e != "" {
				v, from = e, st.env
			}
			if explicit[st.name] {
				v, from = *given[st.name], "--"+st.name
			}
			if err := st.set(&c.worker, v); err != nil {
				return c, fmt.Errorf("%s: %w", from, err)
			}
		}
	}
	return c, c.validate()
}

func (c *templatesConfig) validate() error {
	var errs []error
	if c.orgURI == "" {
		errs = append(errs, errors.New("--organization-uri (PA_CONNECTOR_ORGANIZATION_URI) is required"))
	}
	if _, err := egress.NewHostPolicy(c.worker.AllowedHosts); err != nil {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_ALLOWED_HOSTS: %w", err))
	}
	if c.out == "" {
		errs = append(errs, errors.New("--out (PA_CONNECTOR_TEMPLATES_DIR) must not be empty"))
	}
	for _, s := range templateSettings {
		if v := *s.dst(c); s.secret && c.secretFromFlag[s.name] && v != "" && !isPlaceholder(v) {
			errs = append(errs, fmt.Errorf("--%s takes a {{secrets.NAME}} placeholder, not the secret itself, which would show in the process list and the shell's history: put it in %sNAME or the file NAME in the secrets directory, or in %s", s.name, c.worker.SecretPrefix, s.env))
		}
	}
	oauth := c.tokenEndpoint != "" || c.clientID != "" || c.clientSecret != ""
	switch {
	case c.token != "" && oauth:
		errs = append(errs, errors.New("--token and the client credentials (--oauth-token-endpoint, --client-id, --client-secret) exclude each other: give one authentication"))
	case c.token == "" && !oauth:
		errs = append(errs, errors.New("authentication is required: --token, or --oauth-token-endpoint, --client-id and --client-secret"))
	case oauth && (c.tokenEndpoint == "" || c.clientID == "" || c.clientSecret == ""):
		var missing []string
		for _, f := range []struct{ name, v string }{{"--oauth-token-endpoint", c.tokenEndpoint}, {"--client-id", c.clientID}, {"--client-secret", c.clientSecret}} {
			if f.v == "" {
				missing = append(missing, f.name)
			}
		}
		errs = append(errs, fmt.Errorf("client credentials need %s too", strings.Join(missing, " and ")))
	}
	if c.clientAuth != "basicAuthHeader" && c.clientAuth != "credentialsBody" {
		errs = append(errs, fmt.Errorf("--client-authentication must be basicAuthHeader or credentialsBody, got %q", c.clientAuth))
	}
	return errors.Join(errs...)
}

func isPlaceholder(v string) bool {
	return strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}") && len(secrets.Placeholders(v)) == 1
}

// jobVariables are the variables each read's job takes, as a task using the generic template
// with the same settings would give them.
func (c *templatesConfig) jobVariables() map[string]any {
	auth := map[string]any{"type": "bearer", "token": c.token}
	if c.token == "" {
		auth = map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": c.tokenEndpoint,
			"clientId": c.clientID, "clientSecret": c.clientSecret, "clientAuthentication": c.clientAuth}
		if c.scopes != "" {
			auth["scopes"] = c.scopes
		}
	}
	return map[string]any{spec.OrganizationURI.Name: c.orgURI, spec.Authentication.Name: auth}
}

func printTemplatesHelp(w io.Writer) {
	fmt.Fprint(w, templatesUsage)
	for _, s := range templateSettings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n      %s (default %s)\n      %s\n", s.name, s.env, def, s.help)
	}
	for _, st := range settings {
		for _, name := range workerSettingsForTemplates {
			if st.name == name {
				def := st.def
				if def == "" {
					def = `""`
				}
				fmt.Fprintf(w, "  --%s\n      %s (default %s)\n      %s (as for the worker)\n", st.name, st.env, def, st.help)
			}
		}
	}
	fmt.Fprint(w, `
Exit status: 0 written, 1 Dataverse refused or a flow's template could not be made (nothing is
written then), 2 usage error.
`)
}
