//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/auth/authtest"
)

// The callback tests run the worker with PA_CONNECTOR_PUBLIC_URL set to its own loopback
// listener: the emulator (started with -callback-allow-host 127.0.0.1) calls back there, as
// Power Automate calls the public HTTPS name that an ingress routes to the worker.

const callbackKey = "it-callback-key-3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e"

func callbackEnv(addr string, extra ...string) []string {
	return append([]string{
		"SECRET_DV_TOKEN=" + dvToken,
		"PA_CONNECTOR_HTTP_ADDR=" + addr,
		"PA_CONNECTOR_PUBLIC_URL=http://" + addr,
		"PA_CONNECTOR_CALLBACK_KEY=" + callbackKey,
	}, extra...)
}

// callbackAttempt is one callback the emulator sent, from /_emulator/calls.
type callbackAttempt struct {
	SessionID string `json:"flowsessionid"`
	URL       string `json:"url"`
	Attempt   int    `json:"attempt"`
	Status    int    `json:"status"`
}

func (e *emulator) callbackAttempts(t *testing.T) []callbackAttempt {
	t.Helper()
	res, err := http.Get(e.URL + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Callbacks []callbackAttempt `json:"callbacks"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/_emulator/calls: %v", err)
	}
	return body.Callbacks
}

// callbackTokens returns the callback tokens the emulator was given (the last path segment of each
// callbackUrl), to check that none reaches the worker's log.
func callbackTokens(attempts []callbackAttempt) []string {
	var out []string
	for _, a := range attempts {
		if i := strings.LastIndex(a.URL, "/callbacks/"); i >= 0 {
			out = append(out, a.URL[i+len("/callbacks/"):])
		}
	}
	return out
}

// messagesPublished returns the messages the engine took (MESSAGE PUBLISHED records) with this
// correlation key, by name.
func messagesPublished(t *testing.T, correlationKey string) []string {
	t.Helper()
	f, err := os.Open(recordsLog)
	if err != nil {
		t.Fatalf("exporter records: %v", err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		line := s.Bytes()
		if !bytes.Contains(line, []byte(`"valueType":"MESSAGE"`)) || !bytes.Contains(line, []byte(correlationKey)) {
			continue
		}
		var r struct {
			Intent     string `json:"intent"`
			RecordType string `json:"recordType"`
			Value      struct {
				Name           string `json:"name"`
				CorrelationKey string `json:"correlationKey"`
			} `json:"value"`
		}
		if json.Unmarshal(line[bytes.IndexByte(line, '{'):], &r) == nil && r.Intent == "PUBLISHED" &&
			r.RecordType == "EVENT" && r.Value.CorrelationKey == correlationKey {
			names = append(names, r.Value.Name)
		}
	}
	return names
}

// createdVariable waits for the engine's record of a variable created in an instance and returns its
// JSON value.
func createdVariable(t *testing.T, processInstanceKey int64, name string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		f, err := os.Open(recordsLog)
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 1<<20), 16<<20)
		key := []byte(fmt.Sprintf(`"processInstanceKey":%d,`, processInstanceKey))
		for s.Scan() {
			line := s.Bytes()
			if !bytes.Contains(line, []byte(`"valueType":"VARIABLE"`)) || !bytes.Contains(line, key) {
				continue
			}
			var r struct {
				Value struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"value"`
			}
			if json.Unmarshal(line[bytes.IndexByte(line, '{'):], &r) == nil && r.Value.Name == name {
				f.Close()
				return r.Value.Value
			}
		}
		f.Close()
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no variable %s in instance %d within %s", name, processInstanceKey, timeout)
	return ""
}

// reached waits for the engine's record of an element completing in an instance, like
// elementCompleted, but parses only the lines that can match (the records file of an engine
// shared with load tests grows to gigabytes).
func reached(t *testing.T, processInstanceKey int64, elementID string, timeout time.Duration) bool {
	t.Helper()
	key := []byte(fmt.Sprintf(`"processInstanceKey":%d,`, processInstanceKey))
	id := []byte(fmt.Sprintf(`"elementId":%q`, elementID))
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.Open(recordsLog)
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 1<<20), 16<<20)
		for s.Scan() {
			line := s.Bytes()
			if bytes.Contains(line, []byte(`"intent":"ELEMENT_COMPLETED"`)) && bytes.Contains(line, key) && bytes.Contains(line, id) {
				f.Close()
				return true
			}
		}
		f.Close()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func callbackVars(dv *emulator, workflow string) map[string]any {
	v := baseVars(dv)
	v["workflowId"] = workflow
	return v
}

// noCallbackSecrets checks the worker's log for the Dataverse token, the callback key and every
// callback token the emulator was given.
func noCallbackSecrets(t *testing.T, w *worker, dv *emulator) {
	t.Helper()
	noSecrets(t, w, append([]string{dvToken, callbackKey}, callbackTokens(dv.callbackAttempts(t))...)...)
}

// Trigger with waitMode callback, then a message catch event: the worker's receiver reads the
// run and publishes desktop-flow-completed; the process completes with the run's outputs.
func TestCallbackMessageCompletesTheProcess(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, callbackEnv(freeAddr(t))...)
	deploy(t, "examples/run-desktop-flow-callback.bpmn")

	out := runProcess(t, "run-desktop-flow-callback", callbackVars(dv, flowOK), 60*time.Second)
	outputs, _ := out["flowOutputs"].(map[string]any)
	if out["statusName"] != "Succeeded" || out["statusCode"] != float64(4) || outputs["Greeting"] != "Ada" {
		t.Fatalf("variables = %v, want the message's statusName, statusCode and flowOutputs", out)
	}
	id, _ := out["flowSessionId"].(string)
	if !reached(t, int64(out["__key"].(float64)), "RunCompleted", 10*time.Second) {
		t.Fatal("the message catch event did not complete")
	}
	if m := messagesPublished(t, id); len(m) != 1 || m[0] != "desktop-flow-completed" {
		t.Fatalf("messages published for %s: %v, want one desktop-flow-completed", id, m)
	}
	waitFor(t, 5*time.Second, func() bool { return len(dv.callbackAttempts(t)) >= 1 }) // recorded after the answer
	c := dv.counts(t)
	if a := dv.callbackAttempts(t); len(a) != 1 || a[0].Status != 200 || c["GetFlowSession"] != len(a) {
		t.Fatalf("callbacks %+v, calls %v: want one callback answered 200 and one status read (the receiver's)", a, c)
	}
	noCallbackSecrets(t, w, dv)
}

// A run that fails reaches the process through the message: statusName Failed and its error.
func TestCallbackMessageCarriesAFailedRun(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, callbackEnv(freeAddr(t))...)
	deploy(t, "examples/run-desktop-flow-callback.bpmn")

	out := runProcess(t, "run-desktop-flow-callback", callbackVars(dv, flowFails), 60*time.Second)
	if out["statusName"] != "Failed" || out["statusCode"] != float64(8) || out["errorCode"] != "NoCandidateMachine" ||
		out["errorMessage"] != "No machine was available." || out["flowOutputs"] != nil {
		t.Fatalf("variables = %v, want the failed run's status and error", out)
	}
	if n := dv.counts(t)["GetOutputs"]; n != 0 {
		t.Fatalf("%d output reads for a failed run", n)
	}
	noCallbackSecrets(t, w, dv)
}

// The first callback finds Dataverse unavailable (one injected 503 on the status read): the
// receiver answers 5xx, the emulator calls again a second later, and the message is published
// exactly once.
func TestCallbackRetriedAfterDataverseFaultPublishesOnce(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, callbackEnv(freeAddr(t))...)
	deploy(t, "examples/run-desktop-flow-callback.bpmn")
	dv.post(t, "/_emulator/faults", map[string]any{"op": "GetFlowSession", "status": 503})

	out := runProcess(t, "run-desktop-flow-callback", callbackVars(dv, flowOK), 60*time.Second)
	if out["statusName"] != "Succeeded" {
		t.Fatalf("variables = %v", out)
	}
	time.Sleep(1500 * time.Millisecond) // time for a wrong extra attempt
	a := dv.callbackAttempts(t)
	if len(a) != 2 || a[0].Status < 500 || a[1].Status != 200 {
		t.Fatalf("callback attempts %+v, want a 5xx answer then 200", a)
	}
	if n := dv.counts(t)["GetFlowSession"]; n != len(a) {
		t.Fatalf("%d status reads for %d callbacks, want one each", n, len(a))
	}
	if m := messagesPublished(t, out["flowSessionId"].(string)); len(m) != 1 {
		t.Fatalf("%d messages published, want exactly 1", len(m))
	}
	if !strings.Contains(w.Log(), `"outcome":"dataverse unavailable"`) {
		t.Fatal("the worker did not log the failed first callback")
	}
	noCallbackSecrets(t, w, dv)
}

// signCallbackToken builds a callback token the way docs/callbacks.md describes it, independently of
// the worker's code: a token of the right key but expired, or of another key.
func signCallbackToken(t *testing.T, key string, claims map[string]any) string {
	t.Helper()
	derive := func(label string) []byte {
		k, err := hkdf.Key(sha256.New, []byte(key), nil, label, 32)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	block, _ := aes.NewCipher(derive("pa-connector callback token encryption v1"))
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	auth, _ := json.Marshal(bearer())
	b64 := base64.RawURLEncoding
	claims["n"] = b64.EncodeToString(nonce)
	claims["a"] = b64.EncodeToString(aead.Seal(nonce, nonce, auth, []byte(claims["n"].(string))))
	payload, _ := json.Marshal(claims)
	m := hmac.New(sha256.New, derive("pa-connector callback token mac v1"))
	m.Write(payload)
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(m.Sum(nil))
}

func postCallback(t *testing.T, url, workflow, run string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(`{"statuscode":4,"statecode":0,"flowsessionid":%q}`, run)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "EnterpriseConnectors/1.0")
	req.Header.Set("x-ms-workflow-id", workflow)
	req.Header.Set("x-ms-run-id", run)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Forged, tampered and expired callbacks for a run that is still going are refused and publish
// nothing: the instance keeps waiting at the catch event. The genuine callback then completes it.
func TestForgedOrExpiredCallbackIsRefused(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	addr := freeAddr(t)
	w := startWorker(t, callbackEnv(addr)...)
	deploy(t, "examples/run-desktop-flow-callback.bpmn")
	key := createInstance(t, "run-desktop-flow-callback", callbackVars(dv, flowSlow))
	t.Cleanup(func() { zeebe.NewCancelInstanceCommand().ProcessInstanceKey(key).Send(t.Context()) })
	var id string
	json.Unmarshal([]byte(createdVariable(t, key, "flowSessionId", 30*time.Second)), &id)

	// The run has ended as far as an attacker claims; Dataverse says it is running.
	valid := map[string]any{"v": 1, "o": dv.URL, "w": flowSlow, "m": "msg", "e": time.Now().Add(time.Hour).Unix()}
	expired := map[string]any{"v": 1, "o": dv.URL, "w": flowSlow, "m": "msg", "e": time.Now().Add(-time.Minute).Unix()}
	good := signCallbackToken(t, callbackKey, valid)
	tampered := []byte(good)
	tampered[12] ^= 0x01
	cases := []struct {
		name, token string
		want        int
	}{
		{"garbage", "forged", 401},
		{"signed with another key", signCallbackToken(t, "attacker-key-attacker-key-attacker-key", valid), 401},
		{"tampered", string(tampered), 401},
		{"expired", signCallbackToken(t, callbackKey, expired), 403},
	}
	for _, c := range cases {
		if got := postCallback(t, "http://"+addr+"/callbacks/"+c.token, flowSlow, id); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// A well-made token for a run that Dataverse says is running: 503 (Power Automate retries),
	// nothing published either.
	if got := postCallback(t, "http://"+addr+"/callbacks/"+good, flowSlow, id); got != 503 {
		t.Errorf("genuine token, run not ended: %d, want 503", got)
	}
	time.Sleep(time.Second)
	if m := messagesPublished(t, id); len(m) != 0 {
		t.Fatalf("refused callbacks published %v", m)
	}
	if reached(t, key, "RunCompleted", time.Second) {
		t.Fatal("the catch event completed on a refused callback")
	}

	// Now the run really ends: Dataverse's own callback completes the instance.
	dv.post(t, "/_emulator/sessions/"+id+"/status", map[string]any{"statuscode": 4})
	if !reached(t, key, "EndEvent", 30*time.Second) {
		t.Fatalf("the genuine callback did not complete the instance; callbacks %+v", dv.callbackAttempts(t))
	}
	if m := messagesPublished(t, id); len(m) != 1 {
		t.Fatalf("%d messages, want 1", len(m))
	}
	noSecrets(t, w, dvToken, callbackKey, good, string(tampered))
	noCallbackSecrets(t, w, dv)
}

// runFlowAndWait with callbacks makes no status poll: the only status reads are the
// receiver's, one per callback; the job is woken in-process, so no message is published.
func TestRunFlowAndWaitWithCallbacksMakesNoStatusPolls(t *testing.T) {
	cfg := exampleConfig()
	cfg["flows"].(map[string]any)[flowOK] = map[string]any{"queueDelay": "500ms", "duration": "3s", "outputs": map[string]any{"Greeting": "${inputs.Name}"}}
	dv := startEmulator(t, cfg)
	w := startWorker(t, callbackEnv(freeAddr(t))...)
	deploy(t, "examples/run-desktop-flow-and-wait.bpmn")

	const n = 3
	results := make(chan map[string]any, n)
	for i := 0; i < n; i++ {
		go func() {
			results <- runProcessNoFatal(t, "run-desktop-flow-and-wait", callbackVars(dv, flowOK), 60*time.Second)
		}()
	}
	outs := make([]map[string]any, n)
	for i := range outs {
		outs[i] = <-results // all of them before any Fatal: the goroutines report to t
	}
	for i, out := range outs {
		outputs, _ := out["flowOutputs"].(map[string]any)
		if out == nil || out["statusName"] != "Succeeded" || outputs["Greeting"] != "Ada" {
			t.Fatalf("instance %d: %v", i, out)
		}
		if m := messagesPublished(t, out["flowSessionId"].(string)); len(m) != 0 {
			t.Errorf("a message was published although the job waited on this worker: %v", m)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return len(dv.callbackAttempts(t)) == n })
	c := dv.counts(t)
	polls := c["GetFlowSession"] - len(dv.callbackAttempts(t))
	t.Logf("runs %d, callbacks %d, status reads %d (receiver) + %d (polls), outputs reads %d", n, len(dv.callbackAttempts(t)), len(dv.callbackAttempts(t)), polls, c["GetOutputs"])
	if polls != 0 || c["RunDesktopFlow"] != n {
		t.Fatalf("calls %v with %d callbacks: want %d triggers and zero status polls", c, len(dv.callbackAttempts(t)), n)
	}
	if strings.Count(w.Log(), `"outcome":"delivered"`) != n {
		t.Fatalf("want %d callbacks delivered in-process", n)
	}
	noCallbackSecrets(t, w, dv)

	// The failure path: DESKTOP_FLOW_FAILED to the boundary event, still without polls.
	out := runProcess(t, "run-desktop-flow-and-wait", callbackVars(dv, flowFails), 60*time.Second)
	if !reached(t, int64(out["__key"].(float64)), "EndFailed", 10*time.Second) {
		t.Fatalf("a failed run should end through the boundary event: %v", out)
	}
	waitFor(t, 5*time.Second, func() bool { return len(dv.callbackAttempts(t)) == n+1 })
	if polls := dv.counts(t)["GetFlowSession"] - len(dv.callbackAttempts(t)); polls != 0 {
		t.Fatalf("%d status polls on the failure path", polls)
	}
}

// The worker is killed while a runFlowAndWait job waits for its callback. The restarted worker
// (same public URL and key) takes the job again, resumes the recorded run (one status read on
// resuming) and is woken by the callback, which it verifies although another process issued
// the token: exactly one run, no polling beyond the resume read.
func TestWorkerRestartDuringCallbackWait(t *testing.T) {
	cfg := exampleConfig()
	cfg["flows"].(map[string]any)[flowOK] = map[string]any{"duration": "8s", "outputs": map[string]any{"Greeting": "${inputs.Name}"}}
	dv := startEmulator(t, cfg)
	deploy(t, "examples/run-desktop-flow-and-wait.bpmn")
	addr := freeAddr(t)
	a := startWorker(t, callbackEnv(addr, "PA_CONNECTOR_JOB_TIMEOUT=3s")...)
	result := make(chan map[string]any, 1)
	go func() {
		result <- runProcessNoFatal(t, "run-desktop-flow-and-wait", callbackVars(dv, flowOK), 90*time.Second)
	}()
	waitFor(t, 30*time.Second, func() bool { return dv.counts(t)["RunDesktopFlow"] >= 1 })
	time.Sleep(500 * time.Millisecond) // the run is recorded on the element instance
	a.cmd.Process.Kill()
	<-a.done
	b := startWorker(t, callbackEnv(addr, "PA_CONNECTOR_JOB_TIMEOUT=3s")...)
	out := <-result
	if out == nil || out["statusName"] != "Succeeded" {
		t.Fatalf("instance result = %v", out)
	}
	waitFor(t, 5*time.Second, func() bool { return len(dv.callbackAttempts(t)) >= 1 })
	c := dv.counts(t)
	cb := dv.callbackAttempts(t)
	if c["RunDesktopFlow"] != 1 || len(cb) != 1 || cb[0].Status != 200 {
		t.Fatalf("calls %v, callbacks %+v: want one run and one callback taken by the new worker", c, cb)
	}
	if polls := c["GetFlowSession"] - len(cb); polls > 1 {
		t.Fatalf("%d status reads besides the receiver's, want at most the one on resuming", polls)
	}
	noCallbackSecrets(t, a, dv)
	noCallbackSecrets(t, b, dv)
}

// Callback URLs that fit Dataverse, through the binaries: runFlowAndWait with a literal 2 KB
// JWT bearer token falls back to polling with a warning on its job's log line (its callback URL
// would be about 4,000 characters); the same token by reference and client credentials with a
// secret placeholder complete through their callbacks; the literal token under waitMode callback
// is an incident naming authentication. The emulator refuses any callbackUrl over 2000
// characters, and every trigger it got was accepted.
func TestCallbackURLsFitDataverse(t *testing.T) {
	jwt := authtest.JWT(2048)
	cfg := exampleConfig()
	cfg["tokens"] = []string{dvToken, jwt}
	dv := startEmulator(t, cfg)
	w := startWorker(t, callbackEnv(freeAddr(t), "SECRET_DV_JWT="+jwt, "SECRET_DV_CLIENT_SECRET="+clientSec)...)
	deploy(t, "examples/run-desktop-flow-and-wait.bpmn")

	auths := map[string]map[string]any{
		"literal":   {"type": "bearer", "token": jwt},
		"reference": {"type": "bearer", "token": "{{secrets.DV_JWT}}"},
		"client credentials": {"type": "oauth-client-credentials-flow", "clientId": clientID, "clientSecret": "{{secrets.DV_CLIENT_SECRET}}",
			"oauthTokenEndpoint": dv.URL + "/00000000-0000-4000-8000-00000000e1d0/oauth2/v2.0/token", "clientAuthentication": "credentialsBody"},
	}
	insisted := callbackVars(dv, flowOK)
	insisted["authentication"], insisted["waitMode"] = auths["literal"], "callback"
	incident := createInstance(t, "run-desktop-flow-and-wait", insisted)

	type result struct {
		name string
		out  map[string]any
	}
	results := make(chan result, len(auths))
	for name, a := range auths {
		go func() {
			v := callbackVars(dv, flowOK)
			v["authentication"] = a
			results <- result{name, runProcessNoFatal(t, "run-desktop-flow-and-wait", v, 60*time.Second)}
		}()
	}
	session := map[string]string{}
	for range auths {
		r := <-results
		if r.out == nil || r.out["statusName"] != "Succeeded" {
			t.Fatalf("%s: variables %v, want the run to complete", r.name, r.out)
		}
		session[r.name] = r.out["flowSessionId"].(string)
	}
	msg := waitIncident(t, incident, 20*time.Second)
	if !strings.Contains(msg, "authentication:") || !strings.Contains(msg, "2000") || strings.Contains(msg, jwt[:40]) {
		t.Fatalf("incident %q, want one naming authentication and the 2000-character limit, without the token", msg)
	}

	for deadline := time.Now().Add(5 * time.Second); len(dv.callbackAttempts(t)) < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // the emulator records an attempt once the receiver has answered
	}
	called := map[string]bool{}
	for _, a := range dv.callbackAttempts(t) {
		called[a.SessionID] = a.Status == http.StatusOK
	}
	if !called[session["reference"]] || !called[session["client credentials"]] || len(called) != 2 {
		t.Fatalf("callbacks answered 200 for %v; want the reference and client-credentials runs (%s, %s) only", called, session["reference"], session["client credentials"])
	}
	if c := dv.counts(t); c["RunDesktopFlow"] != 3 {
		t.Fatalf("calls %v: want 3 triggers (none for the incident)", c)
	}
	for _, c := range dv.calls(t) {
		if c.Op == "RunDesktopFlow" && c.Status != http.StatusOK {
			t.Fatalf("the emulator refused a trigger (%d): a callbackUrl over 2000 characters?", c.Status)
		}
	}
	if n := strings.Count(w.Log(), `"warning":"callback skipped`); n != 1 {
		t.Fatalf("%d job log lines warn that the callback was skipped, want 1 (the literal token's)", n)
	}
	noSecrets(t, w, append([]string{jwt, dvToken, clientSec, callbackKey}, callbackTokens(dv.callbackAttempts(t))...)...)
}

// calls returns the emulator's recorded calls.
func (e *emulator) calls(t *testing.T) []struct {
	Op     string `json:"op"`
	Status int    `json:"status"`
} {
	t.Helper()
	res, err := http.Get(e.URL + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Calls []struct {
			Op     string `json:"op"`
			Status int    `json:"status"`
		} `json:"calls"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/_emulator/calls: %v", err)
	}
	return body.Calls
}
