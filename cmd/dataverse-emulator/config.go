package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// Environment variables read when the matching flag is not given.
const (
	envListen     = "PA_EMULATOR_LISTEN"
	envConfig     = "PA_EMULATOR_CONFIG"
	envTokens     = "PA_EMULATOR_TOKENS"               // comma-separated
	envClients    = "PA_EMULATOR_CLIENTS"              // comma-separated id:secret
	envAllowHosts = "PA_EMULATOR_CALLBACK_ALLOW_HOSTS" // comma-separated
	envTenant     = "PA_EMULATOR_TENANT"
	envTokenLis   = "PA_EMULATOR_TOKEN_LISTEN"
	envTLSCert    = "PA_EMULATOR_TLS_CERT"
	envTLSKey     = "PA_EMULATOR_TLS_KEY"
	envTLSCAOut   = "PA_EMULATOR_TLS_CA_OUT"
	defaultListen = "127.0.0.1:8090"
)

// fileConfig is the JSON config file: the emulator's Options with durations
// written as Go duration strings ("2s", "1m30s").
type fileConfig struct {
	Tenant                string            `json:"tenant"`
	TokenTTL              duration          `json:"tokenTTL"`
	Tokens                []string          `json:"tokens"`
	Clients               map[string]string `json:"clients"`
	CallbackAllowHosts    []string          `json:"callbackAllowHosts"`
	CallbackRetryInterval duration          `json:"callbackRetryInterval"`
	// CancelDelay: how long a run keeps its status after an accepted cancel;
	// absent: the default (2s), "0s": at once.
	CancelDelay               *duration           `json:"cancelDelay"`
	RefuseCancelOfFinishedRun bool                `json:"refuseCancelOfFinishedRun"`
	Limits                    fileLimits          `json:"limits"`
	Flows                     map[string]fileFlow `json:"flows"`
	// Tables, actions and cloud flows use the emulator's own JSON form.
	Tables         []dataversetest.Table              `json:"tables"`
	Actions        []dataversetest.Action             `json:"actions"`
	CloudFlows     map[string]dataversetest.CloudFlow `json:"cloudFlows"`
	FlowSigningKey string                             `json:"flowSigningKey"`
	// Application users, their roles and the organizations tokens are issued for.
	AppUsers      map[string]dataversetest.AppUser      `json:"appUsers"`
	SecurityRoles map[string]dataversetest.SecurityRole `json:"securityRoles"`
	Organizations []string                              `json:"organizations"`
	// Desktop-flow connections by name and connectionreference rows (docs/emulator.md).
	Connections          map[string]dataversetest.Connection `json:"connections"`
	ConnectionReferences []dataversetest.ConnectionReference `json:"connectionReferences"`
}

type fileLimits struct {
	Requests          int      `json:"requests"`
	ExecutionTime     duration `json:"executionTime"`
	Concurrent        int      `json:"concurrent"`
	Window            duration `json:"window"`
	TriggersPerMinute int      `json:"triggersPerMinute"`
	TriggerThrottle   string   `json:"triggerThrottle"`
	Servers           int      `json:"servers"`
	MaxPenalty        duration `json:"maxPenalty"`
}

type fileFlow struct {
	Name         string         `json:"name"`
	QueueDelay   duration       `json:"queueDelay"`
	Duration     duration       `json:"duration"`
	FinalStatus  int            `json:"finalStatus"`
	ErrorCode    string         `json:"errorCode"`
	ErrorMessage string         `json:"errorMessage"`
	Outputs      map[string]any `json:"outputs"`
	EchoInputs   bool           `json:"echoInputs"`
	LicenseCheck string         `json:"licenseCheck"`
	Description  string         `json:"description"`
	Draft        bool           `json:"draft"`
	// The flow's input and output variables, in the emulator's own JSON form.
	InputSchema  []dataversetest.FlowVariable `json:"inputSchema"`
	OutputSchema []dataversetest.FlowVariable `json:"outputSchema"`
}

// duration reads a JSON string such as "2s".
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"2s\": %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = duration(v)
	return nil
}

// loadConfig reads a config file strictly: unknown fields are errors.
func loadConfig(path string) (fileConfig, error) {
	var c fileConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parsing config %s: %w", path, err)
	}
	return c, nil
}

func (c fileConfig) options() (dataversetest.Options, error) {
	o := dataversetest.Options{
		Tenant:                c.Tenant,
		TokenTTL:              time.Duration(c.TokenTTL),
		Tokens:                c.Tokens,
		Clients:               map[string]string{},
		CallbackAllowedHosts:  c.CallbackAllowHosts,
		CallbackRetryInterval: time.Duration(c.CallbackRetryInterval),
		Limits: dataversetest.Limits{
			Requests: c.Limits.Requests, ExecutionTime: time.Duration(c.Limits.ExecutionTime),
			Concurrent: c.Limits.Concurrent, Window: time.Duration(c.Limits.Window),
			TriggersPerMinute: c.Limits.TriggersPerMinute, TriggerThrottle: c.Limits.TriggerThrottle,
			Servers: c.Limits.Servers, MaxPenalty: time.Duration(c.Limits.MaxPenalty),
		},
		RefuseCancelOfFinishedRun: c.RefuseCancelOfFinishedRun,
		Flows:                     map[string]dataversetest.Flow{},
		Tables:                    c.Tables,
		Actions:                   c.Actions,
		CloudFlows:                c.CloudFlows,
		FlowSigningKey:            c.FlowSigningKey,
		AppUsers:                  c.AppUsers,
		SecurityRoles:             c.SecurityRoles,
		Organizations:             c.Organizations,
		Connections:               c.Connections,
		ConnectionReferences:      c.ConnectionReferences,
	}
	if c.CancelDelay != nil {
		o.CancelDelay = time.Duration(*c.CancelDelay)
		if o.CancelDelay == 0 {
			o.CancelDelay = -1 // at once
		}
	}
	for id, secret := range c.Clients {
		o.Clients[id] = secret
	}
	for id, f := range c.Flows {
		if f.FinalStatus != 0 && !dataversetest.Terminal(f.FinalStatus) {
			return o, fmt.Errorf("flow %s: finalStatus %d is not a final statuscode", id, f.FinalStatus)
		}
		o.Flows[id] = dataversetest.Flow{
			Name: f.Name, QueueDelay: time.Duration(f.QueueDelay), Duration: time.Duration(f.Duration),
			FinalStatus: f.FinalStatus, ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage,
			Outputs: f.Outputs, EchoInputs: f.EchoInputs, LicenseCheck: f.LicenseCheck,
			Description: f.Description, Draft: f.Draft, InputSchema: f.InputSchema, OutputSchema: f.OutputSchema,
		}
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// settings are the command line after flags and environment.
type settings struct {
	listen, config, tenant string
	tokens, clients, hosts list
	// tokenListen serves the token endpoint on its own address (two hosts).
	tokenListen string
	// TLS: a certificate and key, or a self-signed CA written to tlsCAOut.
	tlsCert, tlsKey, tlsCAOut string
}

// tls reports whether the emulator serves HTTPS.
func (s settings) tls() bool { return s.tlsCert != "" || s.tlsCAOut != "" }

const usage = `dataverse-emulator serves an emulated Dataverse Web API and Entra ID token
endpoint for desktop flows (see docs/emulator.md).

Usage: dataverse-emulator [flags]

It prints the organization URL it listens on as the first line of standard
output (with -token-listen, the token endpoint's URL as the second), then
logs one JSON line per request on standard error (no secrets, no bodies).
SIGINT or SIGTERM stop it gracefully.

Flags (each falls back to the environment variable named in brackets):
`

const usageFooter = `
Config file (JSON; durations are strings such as "500ms", "2s", "1h"):
  {
    "tenant": "<tenant id>",              "tokenTTL": "3599s",
    "tokens": ["<static bearer token>"],  "clients": {"<client id>": "<secret>"},
    "callbackAllowHosts": ["127.0.0.1"],  "callbackRetryInterval": "1s",
    "cancelDelay": "2s",                  "refuseCancelOfFinishedRun": false,
    "limits": {"requests": 6000, "executionTime": "20m", "concurrent": 52,
               "window": "5m", "triggersPerMinute": 70,
               "triggerThrottle": "failedRun|429", "servers": 1, "maxPenalty": "5m"},
    "flows": {"<workflow id>": {"name": "...", "queueDelay": "1s", "duration": "3s",
               "finalStatus": 4, "errorCode": "", "errorMessage": "",
               "outputs": {"Out": "${inputs.In}"}, "echoInputs": false,
               "licenseCheck": "ValidLicenseCoverage", "description": "...", "draft": false,
               "inputSchema": [{"name": "In", "type": "string|number|integer|boolean|object|array",
                                "title": "", "description": "", "default": "", "format": "", "required": true}],
               "outputSchema": [{"name": "Out", "type": "string"}]}},
    "tables": [{"logicalName": "account", "rows": [{"name": "Contoso", "accountnumber": "C-1"}]},
               {"logicalName": "new_invoice", "entitySetName": "new_invoices", "primaryNameAttribute": "new_name",
                "columns": [{"logicalName": "new_name", "type": "String"},
                            {"logicalName": "new_accountid", "type": "Lookup", "targets": ["account"]}],
                "alternateKeys": [["new_name"]], "deny": ["Delete"], "rows": []}],
    "actions": [{"name": "new_Notify", "boundTable": "lead", "inputs": [{"name": "Text", "type": "Edm.String"}],
                 "outputs": {"Echo": "${inputs.Text}"}, "fail": ""}],
    "cloudFlows": {"<flow id>": {"name": "...", "auth": "sas|entra", "status": 200, "body": {"id": "${inputs.recordId}"},
                   "polls": 0, "retryAfter": 1}},
    "flowSigningKey": "<key that signs flow URLs' sig; default random per start>",
    "securityRoles": {"Desktop flow runner": {"prvReadworkflow": "Basic", "prvReadflowsession": "Basic",
                      "prvWriteflowsession": "Basic", "prvReadaccount": "Global"}},
    "appUsers": {"<client id>": {"roles": ["Desktop flow runner"], "businessUnit": "sales"},
                 "<admin client id>": {"roles": ["System Administrator"]}},
    "organizations": ["https://contoso.crm.dynamics.com"]
  }
  With no appUsers every caller is an administrator; with some, another client gets 403
  0x80072560 and operations check privileges (depths Basic, Local, Deep, Global). Tokens are
  issued for the organization their scope names (the listener's URL, or one of organizations)
  and work only there.
  Built-in tables: account, contact, lead, incident, task, new_project, systemuser, team.
    "connections": {"<connection name>": {"sharedWith": ["<client id>", "*"], "machineGroup": false, "offline": false}},
    "connectionReferences": [{"logicalName": "new_desktopflows", "displayName": "...", "connectionId": "<connection name>",
                              "connectorId": "/providers/Microsoft.PowerApps/apis/shared_uiflow", "inactive": false}]
  }
  Without "connections" any connectionName is accepted; with them RunDesktopFlow checks the
  connection (or reference), its sharing with the caller ("*": every caller) and its machine.
  Built-in tables: account, contact, lead, incident, task, new_project, systemuser, team, connectionreference.
  -token, -client and -callback-allow-host add to the file's lists; -tenant overrides it.

Endpoints:
  POST /{tenant}/oauth2/v2.0/token                       client credentials (scope {url}/.default); on -token-listen's host if given
  POST /api/data/v9.2/workflows({id})/Microsoft.Dynamics.CRM.RunDesktopFlow
  GET  /api/data/v9.2/flowsessions({id})[?$select=...]
  GET  /api/data/v9.2/flowsessions({id})/outputs/$value
  GET  /api/data/v9.2/workflows?$filter=category eq 6&$select=name,workflowid&$orderby=name  (MSCRM.IncludeUnpublished: true adds drafts)
  GET  /api/data/v9.2/workflows({id})/inputs/$value     GET /api/data/v9.2/workflows({id})/outputs/$value
  POST /api/data/v9.2/flowsessions({id})/Microsoft.Dynamics.CRM.CancelDesktopFlowRun
  GET|POST /api/data/v9.2/{entity set}   GET|PATCH|DELETE /api/data/v9.2/{entity set}({id or key=value})
  GET  /api/data/v9.2/EntityDefinitions[(LogicalName='x')[/Attributes|/ManyToOneRelationships]]
  POST /api/data/v9.2/{action}           POST /api/data/v9.2/{entity set}({id})/Microsoft.Dynamics.CRM.{action}
  POST /workflows/{flow id}/triggers/manual/paths/invoke?api-version=...&sp=...&sv=1.0&sig=...
  GET  /workflows/{flow id}/runs/{run}/operations/{op}?...   (the Location of a 202)
  GET  /_emulator/calls            POST /_emulator/faults        POST /_emulator/revoke-tokens
  POST /_emulator/reset            POST /_emulator/tick          GET  /_emulator/sessions
  GET  /_emulator/sessions/{id}    POST /_emulator/sessions/{id}/status
  GET  /_emulator/tables/{name}/rows   GET /_emulator/actions   GET /_emulator/cloudflows   GET /_emulator/flowruns
`

// parseArgs reads flags with environment fallbacks; lookup is os.LookupEnv in main.
func parseArgs(args []string, lookup func(string) (string, bool), errOut io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("dataverse-emulator", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&s.listen, "listen", "", "address to listen on, host:port; port 0 picks a free port ["+envListen+"] (default "+defaultListen+")")
	fs.StringVar(&s.config, "config", "", "JSON config file: flows per workflow id, tokens, clients, limits ["+envConfig+"]")
	fs.StringVar(&s.tenant, "tenant", "", "tenant id of the token endpoint ["+envTenant+"] (default "+dataversetest.DefaultTenant+")")
	fs.Var(&s.tokens, "token", "static bearer token to accept; repeatable ["+envTokens+", comma-separated]")
	fs.Var(&s.clients, "client", "client credentials as id:secret; repeatable ["+envClients+", comma-separated]")
	fs.StringVar(&s.tokenListen, "token-listen", "", "serve the token endpoint on this host:port instead of the organization's (two hosts, as login.microsoftonline.com and *.dynamics.com) ["+envTokenLis+"]")
	fs.StringVar(&s.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs -tls-key ["+envTLSCert+"]")
	fs.StringVar(&s.tlsKey, "tls-key", "", "PEM private key of -tls-cert ["+envTLSKey+"]")
	fs.StringVar(&s.tlsCAOut, "tls-ca-out", "", "serve HTTPS with a certificate of a self-signed CA made at start for the listen hosts, localhost and 127.0.0.1, and write the CA's PEM to this file (trust it: SSL_CERT_FILE for pa-connector) ["+envTLSCAOut+"]")
	fs.Var(&s.hosts, "callback-allow-host", "host name callbackUrl may use although it is localhost or an IP, over http too; repeatable ["+envAllowHosts+", comma-separated]")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageFooter)
	}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fallback := func(v *string, env, def string) {
		if *v == "" {
			if e, ok := lookup(env); ok {
				*v = e
			}
		}
		if *v == "" {
			*v = def
		}
	}
	fallback(&s.listen, envListen, defaultListen)
	fallback(&s.config, envConfig, "")
	fallback(&s.tenant, envTenant, "")
	fallback(&s.tokenListen, envTokenLis, "")
	fallback(&s.tlsCert, envTLSCert, "")
	fallback(&s.tlsKey, envTLSKey, "")
	fallback(&s.tlsCAOut, envTLSCAOut, "")
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return s, errors.New("-tls-cert and -tls-key go together")
	}
	if s.tlsCert != "" && s.tlsCAOut != "" {
		return s, errors.New("-tls-ca-out makes its own certificate: give it or -tls-cert/-tls-key, not both")
	}
	fallbackList := func(l *list, env string) {
		if len(*l) == 0 {
			if e, ok := lookup(env); ok && e != "" {
				*l = strings.Split(e, ",")
			}
		}
	}
	fallbackList(&s.tokens, envTokens)
	fallbackList(&s.clients, envClients)
	fallbackList(&s.hosts, envAllowHosts)
	return s, nil
}

// options merges the config file and the command line.
func (s settings) options() (dataversetest.Options, error) {
	var c fileConfig
	if s.config != "" {
		var err error
		if c, err = loadConfig(s.config); err != nil {
			return dataversetest.Options{}, err
		}
	}
	o, err := c.options()
	if err != nil {
		return o, err
	}
	if s.tenant != "" {
		o.Tenant = s.tenant
	}
	o.Tokens = append(o.Tokens, s.tokens...)
	o.CallbackAllowedHosts = append(o.CallbackAllowedHosts, s.hosts...)
	for _, pair := range s.clients {
		id, secret, ok := strings.Cut(pair, ":")
		if !ok || id == "" || secret == "" {
			// Never print the value: it holds a secret.
			return o, errors.New("-client wants id:secret")
		}
		o.Clients[id] = secret
	}
	return o, nil
}
