package connector

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/auth/authtest"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
	"github.com/pa-connector/pa-connector/secrets/secretstest"
)

// Callback URLs that fit Dataverse (docs/callbacks.md, "URLs that fit"): a task's credentials
// with real-length tokens (a 2 KB JWT) either complete through the callback or fall back as
// documented, and no callback URL over 2000 characters reaches the emulator, which refuses them.
func TestCallbackURLsFitDataverse(t *testing.T) {
	jwt := authtest.JWT(2048)
	bearer := func(tok string) func(*cbFixture) map[string]any {
		return func(*cbFixture) map[string]any { return map[string]any{"type": "bearer", "token": tok} }
	}
	clientCreds := func(secret string) func(*cbFixture) map[string]any {
		return func(f *cbFixture) map[string]any {
			return f.oauth(map[string]any{}, secret)["authentication"].(map[string]any)
		}
	}
	cases := []struct {
		name     string
		op       string // OpRunFlowAndWait or OpTrigger
		auth     func(*cbFixture) map[string]any
		waitMode string
		want     string // "callback", "poll" or "incident"
		warning  string // in the job's warning when it falls back
	}{
		{"2 KB bearer token, runFlowAndWait, worker default", string(OpRunFlowAndWait), bearer(jwt), "", "poll", "runFlowAndWait polls the status instead"},
		{"2 KB bearer token, trigger, worker default", string(operations.OpTrigger), bearer(jwt), "", "poll", "no completion message is published"},
		{"2 KB bearer token, runFlowAndWait, waitMode callback", string(OpRunFlowAndWait), bearer(jwt), "callback", "incident", ""},
		{"2 KB bearer token, trigger, waitMode callback", string(operations.OpTrigger), bearer(jwt), "callback", "incident", ""},
		{"2 KB bearer token as a secret placeholder", string(OpRunFlowAndWait), bearer("{{secrets.JWT}}"), "callback", "callback", ""},
		{"2 KB bearer token as a secret placeholder, trigger", string(operations.OpTrigger), bearer("{{secrets.JWT}}"), "", "callback", ""},
		{"client credentials, secret placeholder", string(OpRunFlowAndWait), clientCreds("{{secrets.CLIENT}}"), "callback", "callback", ""},
		{"client credentials, literal secret", string(OpRunFlowAndWait), clientCreds(clientSecret), "", "callback", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newCallbackFixture(t, func(o *dataversetest.Options) {
				o.Tokens = append(o.Tokens, jwt)
				o.Flows[workflowID] = dataversetest.Flow{Duration: 200 * time.Millisecond, Outputs: map[string]any{"Output1": "${inputs.Input1}"}}
			})
			f.env["SECRET_JWT"] = jwt
			vars := f.waitVars(workflowID)
			vars["operationType"] = c.op
			vars["authentication"] = c.auth(f)
			if c.waitMode != "" {
				vars["waitMode"] = c.waitMode
			}
			var headers map[string]string
			if c.op == string(operations.OpTrigger) {
				headers = triggerHeaders
			}
			res, err := f.run(vars, headers)
			sessions := f.srv.Sessions()
			for _, s := range sessions {
				if n := utf8.RuneCountInString(s.CallbackURL); n > operations.MaxCallbackURL {
					t.Fatalf("a callback URL of %d characters reached the emulator", n)
				}
			}
			switch c.want {
			case "incident":
				var p *PermanentError
				if !errors.As(err, &p) || !strings.Contains(err.Error(), "authentication:") || !strings.Contains(err.Error(), "2000") {
					t.Fatalf("err = %v, want an incident naming authentication and the 2000-character limit", err)
				}
				if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
					t.Fatalf("%d runs triggered for a task whose callback cannot fit", n)
				}
				if l := secretstest.Leaks(err.Error(), jwt); len(l) > 0 {
					t.Fatalf("the incident shows the token: %v", l)
				}
			case "poll":
				if err != nil {
					t.Fatal(err)
				}
				if len(sessions) != 1 || sessions[0].CallbackURL != "" {
					t.Fatalf("sessions = %d, want one triggered without a callbackUrl", len(sessions))
				}
				if !strings.Contains(res.Warning, "callback skipped") || !strings.Contains(res.Warning, c.warning) || !strings.Contains(res.Warning, "{{secrets.NAME}}") {
					t.Fatalf("warning = %q, want it to say the callback was skipped, what happens instead, and the remedy", res.Warning)
				}
				if l := secretstest.Leaks(res.Warning, jwt); len(l) > 0 {
					t.Fatalf("the warning shows the token: %v", l)
				}
				if c.op == string(OpRunFlowAndWait) && res.Variables["statusName"] != "Succeeded" {
					t.Fatalf("variables = %v, want the run polled to its end", res.Variables)
				}
			case "callback":
				if err != nil {
					t.Fatal(err)
				}
				if res.Warning != "" {
					t.Fatalf("warning = %q for a task whose callback fits", res.Warning)
				}
				if len(sessions) != 1 || !strings.HasPrefix(sessions[0].CallbackURL, f.recv.URL+"/callbacks/") {
					t.Fatalf("sessions = %d, want one with the worker's callback URL", len(sessions))
				}
				if tok, _ := c.auth(f)["token"].(string); tok == "{{secrets.JWT}}" && len(sessions[0].CallbackURL) > 600 {
					t.Fatalf("a callback URL of %d characters for a bearer token given by reference: the token sealed its value", len(sessions[0].CallbackURL))
				}
				if c.op == string(OpRunFlowAndWait) {
					if res.Variables["statusName"] != "Succeeded" {
						t.Fatalf("variables = %v", res.Variables)
					}
					if polls, sent := f.srv.Count(dataversetest.OpGetFlowSession), f.callbacksSent(1); polls != sent || sent != 1 {
						t.Fatalf("%d status reads for %d callbacks: want the run's end through its callback, without polls", polls, sent)
					}
				} else if m := f.waitMessages(1); m[0].Variables["statusName"] != "Succeeded" {
					t.Fatalf("message = %v", m[0].Variables)
				}
				// The receiver publishes before the emulator records its callback's answer: wait
				// for the record, not for the message.
				f.callbacksSent(1)
				if a := f.srv.Callbacks(); len(a) == 0 || a[len(a)-1].Status != http.StatusOK {
					t.Fatalf("callback attempts = %+v, want the last answered 200", a)
				}
			}
			f.noLeak(jwt)
		})
	}
}

// A modeler's own callbackUrl is sent as it is, up to the 2000 characters Dataverse stores;
// a longer one is an input error naming it, and nothing is triggered.
func TestOwnCallbackURLOverTheLimitIsAnInputError(t *testing.T) {
	f := newFixture(t)
	base := "https://hooks.example.com/"
	fits := base + strings.Repeat("a", operations.MaxCallbackURL-len(base))
	id := f.startRun(map[string]any{"callbackUrl": fits})
	if s, _ := f.srv.Session(id); s.CallbackURL != fits {
		t.Fatalf("a %d-character callbackUrl was not sent as it is", len(fits))
	}
	_, err := f.run(f.trigger(map[string]any{"callbackUrl": fits + "a"}), nil)
	var p *PermanentError
	if !errors.As(err, &p) || !strings.Contains(err.Error(), "callbackUrl: is 2001 characters; Dataverse stores at most 2000") {
		t.Fatalf("err = %v, want an input error naming callbackUrl", err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Fatalf("%d triggers, want only the one that fits", n)
	}
}

// The token seals only what the receiver reads: the credential fields as the job gave them
// (placeholders kept), plus the placeholders of the job's other variables, once each.
func TestSealedAuthHoldsOnlyWhatTheReceiverNeeds(t *testing.T) {
	vars := map[string]any{
		"authentication": map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": "https://login.example.com/t/token",
			"clientId": "{{secrets.ID}}", "clientSecret": "{{secrets.CLIENT}}", "scopes": []any{"https://org.example.com/.default"},
			"note": strings.Repeat("n", 3000), "token": "left over from a bearer setup"},
		"runInputs": map[string]any{"a": "{{secrets.CLIENT}}", "b": "{{secrets.IN}}"},
	}
	got := sealedAuth(vars).(map[string]any)
	want := map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": "https://login.example.com/t/token",
		"clientId": "{{secrets.ID}}", "clientSecret": "{{secrets.CLIENT}}", "scopes": []any{"https://org.example.com/.default"},
		SecretRefsKey: []any{"{{secrets.IN}}"}}
	if mustJSONString(got) != mustJSONString(want) {
		t.Fatalf("sealed %s\nwant   %s", mustJSONString(got), mustJSONString(want))
	}
	vars["authentication"].(map[string]any)["scopes"].([]any)[0] = "changed"
	if got["scopes"].([]any)[0] == "changed" {
		t.Fatal("the sealed scopes share the job's list: resolving secrets in place would change them")
	}
	bearer := sealedAuth(map[string]any{"authentication": map[string]any{"type": " Bearer ", "token": "{{secrets.T}}", "clientSecret": "x"}})
	if mustJSONString(bearer) != `{"token":"{{secrets.T}}","type":" Bearer "}` {
		t.Fatalf("sealed bearer = %s", mustJSONString(bearer))
	}
}

func mustJSONString(v any) string { return string(mustJSON(v)) }
