package zeebe

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/secrets"
	"github.com/pa-connector/pa-connector/secrets/secretstest"
)

var (
	secretCases = flag.Int("secrets.cases", 0, "cases of TestSecretsNeverLeakProperty (default 50, or PA_SECRETS_CASES)")
	secretSeed  = flag.Uint64("secrets.seed", 0, "seed of TestSecretsNeverLeakProperty (default 11, or PA_SECRETS_SEED)")
)

func envOr(flagValue uint64, env string, def uint64) uint64 {
	if flagValue != 0 {
		return flagValue
	}
	if n, err := strconv.ParseUint(os.Getenv(env), 10, 64); err == nil && n > 0 {
		return n
	}
	return def
}

// propServer stands for Dataverse, any REST endpoint and the token endpoint at once. Each
// answer quotes the request it answers (URL, query, headers, body, form), after padding that
// pushes the quote past the lengths messages are cut to; how it answers is the case's mode.
type propServer struct {
	*httptest.Server
	mu        sync.Mutex
	mode      string // ok, 4xx, 5xx, text, reset, hang
	tokenMode string // ok, error, 5xx
	pad       int
	issued    []string
	requests  int
	rng       *rand.Rand
}

func (p *propServer) echo(r *http.Request, body []byte) string {
	var b strings.Builder
	b.WriteString(strings.Repeat("x", p.pad))
	fmt.Fprintf(&b, " %s %s uri=%s path=%s query=%s", r.Method, r.URL.String(), r.RequestURI, r.URL.Path, r.URL.RawQuery)
	for _, vs := range r.URL.Query() {
		b.WriteString(" q=" + strings.Join(vs, ","))
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s: %s", k, strings.Join(r.Header[k], ","))
	}
	fmt.Fprintf(&b, " body=%s", body)
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return b.String()
	}
	if f, err := url.ParseQuery(string(body)); err == nil {
		for k, vs := range f {
			fmt.Fprintf(&b, " %s=%s", k, strings.Join(vs, ","))
		}
	}
	return b.String()
}

func (p *propServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.requests++
	mode, tokenMode := p.mode, p.tokenMode
	echo := p.echo(r, body)
	isToken := strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token")
	var issued string
	if isToken && tokenMode == "ok" {
		issued = secretstest.Token(p.rng, 20+p.rng.IntN(60))
		p.issued = append(p.issued, issued)
	}
	p.mu.Unlock()
	w.Header().Set("X-Echo", url.QueryEscape(echo))
	w.Header().Set("Content-Type", "application/json")
	if isToken {
		switch tokenMode {
		case "ok":
			json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": issued})
		case "error":
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: " + echo, "error_codes": []int{7000215}})
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"error": "temporarily_unavailable", "error_description": echo})
		}
		return
	}
	switch mode {
	case "ok":
		json.NewEncoder(w).Encode(map[string]any{"flowsessionId": "0d9e6c2a-1f2b-4c3d-8e4f-5a6b7c8d9e0f", "statuscode": 4, "statecode": 1,
			"errormessage": echo, "echo": echo})
	case "4xx", "5xx":
		status := http.StatusBadRequest
		if mode == "5xx" {
			status = http.StatusBadGateway
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": "0x80040203", "message": echo}})
	case "text":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, echo)
	case "reset":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case "hang":
		<-r.Context().Done()
	}
}

// placement puts a placeholder into a job's variables; kind is the job it fits.
type placement struct {
	name   string
	compat bool
	put    func(v map[string]any, ph string)
}

func authMap(v map[string]any) map[string]any {
	m, _ := v["authentication"].(map[string]any)
	return m
}

var placements = []placement{
	// The desktop-flow job type.
	{"bearer token", false, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "bearer", "token": ph}
	}},
	{"client secret", false, func(v map[string]any, ph string) { oauthWith(v, "clientSecret", ph) }},
	{"client id", false, func(v map[string]any, ph string) { oauthWith(v, "clientId", ph) }},
	{"scopes", false, func(v map[string]any, ph string) { oauthWith(v, "scopes", ph) }},
	{"client secret in a Basic header", false, func(v map[string]any, ph string) {
		oauthWith(v, "clientSecret", ph)
		authMap(v)["clientAuthentication"] = "basicAuthHeader"
	}},
	{"token endpoint path", false, func(v map[string]any, ph string) {
		oauthWith(v, "clientSecret", "{{secrets.FIXED}}")
		authMap(v)["oauthTokenEndpoint"] = v["organizationUri"].(string) + "/" + ph + "/oauth2/v2.0/token"
	}},
	{"connectionName", false, func(v map[string]any, ph string) { v["connectionName"] = ph }},
	{"runPriority", false, func(v map[string]any, ph string) { v["runPriority"] = ph }},
	{"runInputs value", false, func(v map[string]any, ph string) { v["runInputs"] = map[string]any{"In": ph, "n": 1} }},
	{"runInputs JSON text", false, func(v map[string]any, ph string) { v["runInputs"] = `{"In":"` + ph + `"}` }},
	{"callbackUrl", false, func(v map[string]any, ph string) { v["callbackUrl"] = ph }},
	{"runMode", false, func(v map[string]any, ph string) { v["runMode"] = ph }},
	{"waitMode", false, func(v map[string]any, ph string) { v["waitMode"] = ph }},
	{"workflowId", false, func(v map[string]any, ph string) { v["workflowId"] = ph }},
	{"flowSessionId", false, func(v map[string]any, ph string) {
		v["operationType"] = "getStatusOfFlowRun"
		v["flowSessionId"] = ph
	}},
	{"operationType", false, func(v map[string]any, ph string) { v["operationType"] = ph }},
	{"organizationUri", false, func(v map[string]any, ph string) { v["organizationUri"] = v["organizationUri"].(string) + "/" + ph }},
	{"pollInterval", false, func(v map[string]any, ph string) {
		v["operationType"] = "runFlowAndWait"
		v["pollInterval"] = ph
	}},
	{"connectionType", false, func(v map[string]any, ph string) { v["connectionType"] = ph }},
	{"runTimeout", false, func(v map[string]any, ph string) { v["runTimeout"] = ph }},
	// Camunda's REST connector contract (the http-json job type).
	{"url path", true, func(v map[string]any, ph string) { v["url"] = v["url"].(string) + "/items/" + ph }},
	{"query parameter value", true, func(v map[string]any, ph string) { v["queryParameters"] = map[string]any{"q": ph} }},
	{"query in the url", true, func(v map[string]any, ph string) { v["url"] = v["url"].(string) + "/q?k=" + ph + "&z=1" }},
	{"HTTP header", true, func(v map[string]any, ph string) { v["headers"] = map[string]any{"X-Api": ph} }},
	{"body text", true, func(v map[string]any, ph string) { v["body"] = "payload " + ph + " end" }},
	{"body value", true, func(v map[string]any, ph string) { v["body"] = map[string]any{"k": ph, "list": []any{ph}} }},
	{"basic password", true, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "basic", "username": "user", "password": ph}
	}},
	{"basic username", true, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "basic", "username": ph, "password": "pass-word-1"}
	}},
	{"API key in the query", true, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "apikey", "name": "key", "value": ph, "apiKeyLocation": "query"}
	}},
	{"API key in a header", true, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "apikey", "name": "X-Key", "value": ph, "apiKeyLocation": "headers"}
	}},
	{"REST bearer token", true, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "bearer", "token": ph}
	}},
	{"REST client secret", true, func(v map[string]any, ph string) {
		v["authentication"] = map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": v["url"].(string) + "/t/oauth2/v2.0/token",
			"clientId": clientID, "clientSecret": ph, "scopes": "api://x/.default"}
	}},
	{"method", true, func(v map[string]any, ph string) { v["method"] = ph }},
}

func oauthWith(v map[string]any, field, ph string) {
	a := authMap(v)
	if a == nil || a["type"] != "oauth-client-credentials-flow" {
		a = map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": v["organizationUri"].(string) + "/tenant/oauth2/v2.0/token",
			"clientId": clientID, "clientSecret": "{{secrets.FIXED}}"}
		v["authentication"] = a
	}
	a[field] = ph
}

// The expressions a case may use: none, results that pass the whole answer on, and error
// expressions that hand it to bpmnError, jobError and ignoreError, or make a code of it.
var (
	resultExprs = []string{"", "={all: response}", "={body: response.body, h: response.headers, s: response.status}"}
	errorExprs  = []string{"",
		`=bpmnError("E", "failed: " + error.message, {answer: error.variables.response, m: error.message})`,
		`=jobError("failed: " + error.message, {answer: error.variables.response}, 1, "PT1S")`,
		`=ignoreError({answer: error.variables.response, m: error.message})`,
		`=if error.code != null then bpmnError(error.message, error.message) else null`,
		`=bpmnError("E", "status " + string(response.status), {r: response})`,
	}
	serverModes = []string{"ok", "ok", "4xx", "5xx", "text", "reset", "hang-shutdown", "hang-lease"}
	tokenModes  = []string{"ok", "ok", "ok", "error", "5xx"}
)

// A property: secrets of random content and length (1 to 200 characters, any that may stand
// in a JSON string), planted as {{secrets.…}} placeholders in random fields of either job type
// (authentication, URLs, query, headers, body, flow inputs, validated fields), on every path a
// job can take — success; Dataverse or any REST endpoint answering 4xx, 5xx or text that quotes
// the request (URL, headers, body) after padding past every cut; a reset connection; a token
// endpoint refusing and quoting the form; a call given up at shutdown or when the lease ends;
// result and error expressions passing the answer on to the completion, bpmnError, jobError
// and ignoreError variables, or making an error code of it — never show, in any spelling, in
// the log (debug level), a command sent to the gateway, or the metrics. The access tokens the
// token endpoint issued are looked for too. A placeholder shorter than 8 characters must be
// refused before any request. Seeded; -secrets.cases / PA_SECRETS_CASES run more.
func TestSecretsNeverLeakProperty(t *testing.T) {
	cases := int(envOr(uint64(max(*secretCases, 0)), "PA_SECRETS_CASES", 50))
	seed := envOr(*secretSeed, "PA_SECRETS_SEED", 11)
	t.Logf("%d cases, seed %d (rerun one with -secrets.seed=%d -secrets.cases=N)", cases, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5ec2e75))
	srv := &propServer{rng: rand.New(rand.NewPCG(seed, 1))}
	srv.Server = httptest.NewServer(http.HandlerFunc(srv.serve))
	t.Cleanup(srv.Close)
	paths := map[string]int{}
	for i := range cases {
		c := newPropCase(rng, srv)
		ok := t.Run(fmt.Sprintf("%d %s", i, c.name), func(t *testing.T) { c.run(t, srv) })
		paths[c.outcome]++
		if !ok {
			t.Logf("case %d: seed %d; secrets %q", i, seed, c.secrets)
		}
	}
	t.Logf("outcomes: %v", paths)
}

type propCase struct {
	name       string
	compat     bool
	secrets    map[string]string // name → value
	vars       map[string]any
	headers    map[string]string
	mode       string
	tokenMode  string
	pad        int
	short      bool // a placeholder resolves to fewer than 8 characters
	outcome    string
	placements []string
}

func newPropCase(rng *rand.Rand, srv *propServer) *propCase {
	c := &propCase{secrets: map[string]string{}, headers: map[string]string{}}
	c.compat = rng.IntN(3) == 0
	n := 1 + rng.IntN(3)
	for i := 1; i <= n; i++ {
		length := 8 + rng.IntN(193)
		if rng.IntN(10) == 0 {
			length = 1 + rng.IntN(7)
		}
		c.secrets[fmt.Sprintf("S%d", i)] = secretstest.Secret(rng, length)
	}
	c.secrets["FIXED"] = "fixed-client-secret-value"
	if c.compat {
		c.vars = map[string]any{"method": []string{"GET", "POST"}[rng.IntN(2)], "url": srv.URL}
	} else {
		c.vars = map[string]any{"operationType": []string{"triggerFlowRun", "triggerFlowRun", "getStatusOfFlowRun", "runFlowAndWait"}[rng.IntN(4)],
			"organizationUri": srv.URL, "workflowId": workflowID, "flowSessionId": "0d9e6c2a-1f2b-4c3d-8e4f-5a6b7c8d9e0f",
			"connectionName": "conn", "runMode": "unattended", "pollInterval": "PT1S",
			"authentication": map[string]any{"type": "bearer", "token": "literal-bearer-token-1"}}
	}
	var fit []placement
	for _, p := range placements {
		if p.compat == c.compat {
			fit = append(fit, p)
		}
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("S%d", i)
		for range 1 + rng.IntN(2) {
			p := fit[rng.IntN(len(fit))]
			ph := "{{secrets." + name + "}}"
			switch rng.IntN(3) {
			case 0:
				ph = "a " + ph + " z"
			case 1:
				ph = "{{secrets." + name + "}}{{secrets." + fmt.Sprintf("S%d", 1+rng.IntN(n)) + "}}" // overlapping neighbours
			}
			p.put(c.vars, ph)
			c.placements = append(c.placements, p.name)
		}
	}
	for _, name := range placeholdersIn(c.vars) {
		if utf8.RuneCountInString(c.secrets[name]) < secrets.MinLength {
			c.short = true
		}
	}
	c.mode = serverModes[rng.IntN(len(serverModes))]
	c.tokenMode = tokenModes[rng.IntN(len(tokenModes))]
	c.pad = []int{0, 0, 300, 480, 980, 3990, 5990}[rng.IntN(7)]
	if e := resultExprs[rng.IntN(len(resultExprs))]; e != "" {
		c.headers["resultExpression"] = e
	}
	if e := errorExprs[rng.IntN(len(errorExprs))]; e != "" {
		c.headers["errorExpression"] = e
	}
	c.name = fmt.Sprintf("%s %s token-%s pad %d: %s", map[bool]string{true: "rest", false: "native"}[c.compat], c.mode, c.tokenMode, c.pad, strings.Join(c.placements, ", "))
	return c
}

var placeholderPattern = regexp.MustCompile(`\{\{\s*secrets\.([^}\s]*)\s*\}\}`)

// placeholdersIn returns the secret names the variables refer to.
func placeholdersIn(v any) []string {
	raw, _ := json.Marshal(v)
	var out []string
	for _, m := range placeholderPattern.FindAllStringSubmatch(string(raw), -1) {
		out = append(out, m[1])
	}
	return out
}

func (c *propCase) run(t *testing.T, srv *propServer) {
	b := newBoundary(t, "127.0.0.1")
	for k, v := range c.secrets {
		b.env["SECRET_"+k] = v
	}
	srv.mu.Lock()
	srv.mode, srv.tokenMode, srv.pad, srv.issued, srv.requests = c.mode, c.tokenMode, c.pad, nil, 0
	if strings.HasPrefix(c.mode, "hang") {
		srv.mode = "hang"
	}
	srv.mu.Unlock()
	jobType := "power-automate:1"
	if c.compat {
		jobType = connector.CompatJobType
	}
	deadline := time.Now().Add(time.Minute)
	var stop func(func())
	switch c.mode {
	case "hang-lease":
		deadline = time.Now().Add(700 * time.Millisecond)
	case "hang-shutdown":
		stop = func(shutdown func()) {
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				srv.mu.Lock()
				n := srv.requests
				srv.mu.Unlock()
				if n > 0 || b.g.answered() {
					break
				}
			}
			shutdown()
		}
	}
	b.run(b.job(jobType, c.vars, c.headers, deadline), stop)
	sent := b.g.sent()
	c.outcome = strings.SplitN(sent, " ", 2)[0]
	if c.outcome == "" {
		c.outcome = "no command"
	}
	srv.mu.Lock()
	issued, requests := append([]string(nil), srv.issued...), srv.requests
	srv.mu.Unlock()
	if c.short {
		if requests != 0 || !strings.Contains(sent, "is shorter than 8 characters") {
			t.Errorf("a placeholder resolves to fewer than 8 characters: want an incident before any request, got %d requests and %s", requests, sent)
		}
		return
	}
	var values []string
	for _, name := range placeholdersIn(c.vars) {
		values = append(values, c.secrets[name])
	}
	b.noLeak(c.name, append(values, issued...)...)
}

// answered reports whether the gateway got an answer for a job.
func (f *fakeGateway) answered() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.completed)+len(f.failed)+len(f.thrown) > 0
}
