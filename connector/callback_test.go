package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/callback"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
	"github.com/pa-connector/pa-connector/secrets"
	"github.com/pa-connector/pa-connector/secrets/secretstest"
)

// fakePublisher stands in for the Zeebe adapter: it keeps published messages and refuses a
// second message with the same id, as Zeebe does while the first is buffered.
type fakePublisher struct {
	mu       sync.Mutex
	messages []callback.Message
	fail     int // fail this many publishes first
	attempts int
}

func (p *fakePublisher) PublishMessage(_ context.Context, m callback.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if p.fail > 0 {
		p.fail--
		return errors.New("rpc error: code = Unavailable desc = connection refused")
	}
	for _, x := range p.messages {
		if x.ID == m.ID {
			return callback.ErrMessageExists
		}
	}
	p.messages = append(p.messages, m)
	return nil
}

func (p *fakePublisher) published() []callback.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]callback.Message(nil), p.messages...)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cbFixture is the handler fixture plus callbacks served on a loopback listener that the
// emulator calls back, as Power Automate would call the public URL.
type cbFixture struct {
	*fixture
	cb   *callback.Callbacks
	rc   *callback.Receiver
	pub  *fakePublisher
	log  *syncBuffer
	recv *httptest.Server
}

func newCallbackFixture(t *testing.T, opts ...func(*dataversetest.Options)) *cbFixture {
	t.Helper()
	opts = append([]func(*dataversetest.Options){func(o *dataversetest.Options) {
		o.CallbackAllowedHosts = []string{"127.0.0.1"}
		o.CallbackRetryInterval = 50 * time.Millisecond
	}}, opts...)
	f := &cbFixture{fixture: newFixture(t, opts...), pub: &fakePublisher{}, log: &syncBuffer{}}
	f.rc = &callback.Receiver{Runs: f.h, Publisher: f.pub, Message: callback.DefaultMessage,
		MaxOutputBytes: DefaultMaxOutputBytes, Log: zerolog.New(f.log)}
	mx := http.NewServeMux()
	mx.Handle("POST "+callback.Path+"{token}", f.rc)
	f.recv = httptest.NewServer(mx)
	t.Cleanup(f.recv.Close)
	cb, err := callback.New(f.recv.URL, testCallbackKey)
	if err != nil {
		t.Fatal(err)
	}
	cb.SafetyPoll = time.Hour
	f.cb, f.rc.Callbacks = cb, cb
	f.h.Callbacks = cb
	f.h.Log = zerolog.New(f.log)
	f.h.JobTimeout = 3 * time.Second // lease steps of 1 s: the fixture's jobs have a fixed 1-minute deadline
	return f
}

// waitMessages waits until n messages are published.
func (f *cbFixture) waitMessages(n int) []callback.Message {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := f.pub.published(); len(m) >= n {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("%d messages published, want %d; callbacks: %+v", len(f.pub.published()), n, f.srv.Callbacks())
	return nil
}

// callbacksSent counts the emulator's callback attempts once the last one is recorded (the
// emulator records an attempt after the receiver's answer, which may come after the job ended).
func (f *cbFixture) callbacksSent(atLeast int) int {
	deadline := time.Now().Add(5 * time.Second)
	for len(f.srv.Callbacks()) < atLeast && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return len(f.srv.Callbacks())
}

// noLeak fails if a secret, the callback key or a callback token shows in the logs.
func (f *cbFixture) noLeak(extra ...string) {
	f.t.Helper()
	log := f.log.String()
	secrets := append([]string{testToken, clientSecret, testCallbackKey}, extra...)
	for _, s := range f.srv.Sessions() {
		if i := strings.Index(s.CallbackURL, "/callbacks/"); i >= 0 {
			secrets = append(secrets, s.CallbackURL[i+len("/callbacks/"):])
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			f.t.Errorf("the log shows a secret or token (%.6s…)", s)
		}
	}
}

func TestCallbackTriggerPublishesTheRunsMessage(t *testing.T) {
	f := newCallbackFixture(t)
	res, err := f.run(f.trigger(map[string]any{"runInputs": map[string]any{"Input1": "called back"}}), triggerHeaders)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.Variables["flowSessionId"].(string)
	s, _ := f.srv.Session(id)
	if !strings.HasPrefix(s.CallbackURL, f.recv.URL+"/callbacks/") {
		t.Fatalf("the trigger sent callbackUrl %.40q, want the worker's public URL + /callbacks/", s.CallbackURL)
	}
	m := f.waitMessages(1)[0]
	out, _ := m.Variables["flowOutputs"].(map[string]any)
	if m.Name != callback.DefaultMessage || m.CorrelationKey != id || m.ID != id || m.TTL != time.Hour ||
		m.Variables["flowSessionId"] != id || m.Variables["statusCode"] != int64(4) || m.Variables["statusName"] != "Succeeded" ||
		out["Output1"] != "called back" {
		t.Fatalf("message = %+v", m)
	}
	for _, k := range []string{"errorCode", "errorMessage"} {
		if _, ok := m.Variables[k]; !ok {
			t.Errorf("message variable %s missing", k)
		}
	}
	f.callbacksSent(1) // recorded once the receiver has answered
	if a := f.srv.Callbacks(); len(a) != 1 || a[0].Status != http.StatusOK {
		t.Fatalf("callback attempts = %+v, want one answered 200", a)
	}
	if n := f.srv.Count(dataversetest.OpGetFlowSession); n != 1 {
		t.Fatalf("%d status reads, want 1: the receiver's own read after the callback", n)
	}
	if !strings.Contains(f.log.String(), `"outcome":"published"`) {
		t.Fatalf("no log line for the published callback: %s", f.log)
	}
	raw := string(mustJSON(m.Variables))
	for _, secret := range []string{testToken, testCallbackKey, "/callbacks/", "{{secrets"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("message variables show %.8q: %s", secret, raw)
		}
	}
	f.noLeak()
}

// A trigger that Dataverse refuses (here: the callback host) fails with an incident that does
// not quote the callback URL or its token.
func TestCallbackURLNeverInAnIncident(t *testing.T) {
	f := newCallbackFixture(t)
	f.cb.PublicURL = "http://10.255.255.1:9" // not a host the emulator calls back
	_, err := f.run(f.trigger(nil), triggerHeaders)
	var p *PermanentError
	if !errors.As(err, &p) || strings.Contains(err.Error(), "/callbacks/") || strings.Contains(err.Error(), f.cb.PublicURL) {
		t.Fatalf("err = %v, want an incident without the callback URL", err)
	}
}

func TestCallbackFailedRunReportsItsError(t *testing.T) {
	f := newCallbackFixture(t)
	if _, err := f.run(f.trigger(map[string]any{"workflowId": failingFlow}), triggerHeaders); err != nil {
		t.Fatal(err)
	}
	m := f.waitMessages(1)[0]
	if m.Variables["statusName"] != "Failed" || m.Variables["statusCode"] != int64(8) ||
		m.Variables["errorCode"] != "NoCandidateMachine" || m.Variables["flowOutputs"] != nil {
		t.Fatalf("message variables = %v", m.Variables)
	}
	if n := f.srv.Count(dataversetest.OpGetOutputs); n != 0 {
		t.Fatalf("%d output reads for a failed run, want 0", n)
	}
}

// The receiver answers 5xx while it cannot read the run (Dataverse 503) or cannot publish
// (Zeebe down); Power Automate calls again and the message is published exactly once.
func TestCallbackRetriedUntilPublishedOnce(t *testing.T) {
	t.Run("dataverse unavailable", func(t *testing.T) {
		f := newCallbackFixture(t)
		f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpGetFlowSession, Status: 503})
		if _, err := f.run(f.trigger(nil), triggerHeaders); err != nil {
			t.Fatal(err)
		}
		f.waitMessages(1)
		time.Sleep(200 * time.Millisecond) // room for a wrong extra attempt
		a := f.srv.Callbacks()
		if len(a) != 2 || a[0].Status != http.StatusServiceUnavailable || a[1].Status != http.StatusOK {
			t.Fatalf("callback attempts = %+v, want 503 then 200", a)
		}
		if n := len(f.pub.published()); n != 1 {
			t.Fatalf("%d messages, want 1", n)
		}
		if n := f.srv.Count(dataversetest.OpGetFlowSession); n != len(a) {
			t.Fatalf("%d status reads for %d callbacks: want one per callback", n, len(a))
		}
	})
	t.Run("zeebe unavailable", func(t *testing.T) {
		f := newCallbackFixture(t)
		f.pub.fail = 2
		if _, err := f.run(f.trigger(nil), triggerHeaders); err != nil {
			t.Fatal(err)
		}
		f.waitMessages(1)
		f.callbacksSent(3)
		a := f.srv.Callbacks()
		if len(a) != 3 || a[0].Status != 503 || a[1].Status != 503 || a[2].Status != 200 {
			t.Fatalf("callback attempts = %+v, want 503, 503, 200", a)
		}
		f.noLeak()
	})
	t.Run("repeated callback", func(t *testing.T) {
		f := newCallbackFixture(t)
		res, err := f.run(f.trigger(nil), triggerHeaders)
		if err != nil {
			t.Fatal(err)
		}
		f.waitMessages(1)
		id := res.Variables["flowSessionId"].(string)
		s, _ := f.srv.Session(id)
		status, body := post(t, s.CallbackURL, workflowID, id)
		if status != http.StatusOK || !strings.Contains(body, "already-published") {
			t.Fatalf("a repeated callback got %d %s, want 200 already-published", status, body)
		}
		if n := len(f.pub.published()); n != 1 {
			t.Fatalf("%d messages, want 1", n)
		}
	})
}

func post(t *testing.T, url, workflow, run string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(`{"statuscode":4,"statecode":0,"flowsessionid":%q}`, run)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "EnterpriseConnectors/1.0")
	if workflow != "" {
		req.Header.Set("x-ms-workflow-id", workflow)
	}
	if run != "" {
		req.Header.Set("x-ms-run-id", run)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

func TestCallbackForgedOrExpiredIsRefusedAndPublishesNothing(t *testing.T) {
	f := newCallbackFixture(t)
	done := f.startRun(map[string]any{"waitMode": "poll"}) // a finished run the attacker names
	f.waitStatus(done)
	other := f.startRun(map[string]any{"waitMode": "poll", "workflowId": failingFlow})
	f.waitStatus(other)
	auth := map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}
	attacker, err := callback.New(f.recv.URL, testCallbackKey+"-attacker")
	if err != nil {
		t.Fatal(err)
	}
	// sign issues a token for a run of wf in org that expires exp from now.
	sign := func(cb *callback.Callbacks, org, wf string, exp time.Duration) string {
		cb.TokenTTL = time.Hour
		_, tok, err := cb.URL(org, wf, callback.ModeMessage, 0, auth, time.Now().Add(exp-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(f.cb, f.srv.URL(), workflowID, time.Hour)
	tampered := []byte(good)
	tampered[10] ^= 1
	cases := []struct {
		name, token, workflow, run string
		want                       int
	}{
		{"garbage", "not-a-token", workflowID, done, 401},
		{"tampered", string(tampered), workflowID, done, 401},
		{"signed with another key", sign(attacker, f.srv.URL(), workflowID, time.Hour), workflowID, done, 401},
		{"expired", sign(f.cb, f.srv.URL(), workflowID, -time.Minute), workflowID, done, 403},
		{"workflow header not the token's", good, failingFlow, done, 403},
		{"run of another workflow", good, workflowID, other, 403},
		{"unknown run", good, workflowID, "00000000-0000-4000-8000-000000000001", 403},
		{"no run id", good, workflowID, "", 400},
	}
	for _, c := range cases {
		status, body := post(t, f.recv.URL+"/callbacks/"+c.token, c.workflow, c.run)
		if status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
		}
	}
	if res, err := http.Get(f.recv.URL + "/callbacks/" + good); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on a callback URL: %v %v, want 405", res.StatusCode, err)
	}
	if m := f.pub.published(); len(m) != 0 {
		t.Fatalf("published %d messages for refused callbacks", len(m))
	}
	// The control: the good token with the right run is taken.
	if status, _ := post(t, f.recv.URL+"/callbacks/"+good, workflowID, done); status != http.StatusOK {
		t.Fatalf("the genuine callback got %d", status)
	}
	f.noLeak(good, string(tampered))
}

// runFlowAndWait with callbacks: the job waits for the receiver's in-process notification and
// reads no status itself; the only status read is the receiver's, one per callback.
func TestRunFlowAndWaitWithCallbackDoesNotPoll(t *testing.T) {
	f := newCallbackFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{QueueDelay: 300 * time.Millisecond, Duration: 1200 * time.Millisecond,
			Outputs: map[string]any{"Output1": "${inputs.Input1}"}}
	})
	res, err := f.run(f.waitVars(workflowID), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Variables["flowOutputs"].(map[string]any)
	if res.Variables["statusName"] != "Succeeded" || out["Output1"] != "waited" {
		t.Fatalf("variables = %v", res.Variables)
	}
	polls := f.srv.Count(dataversetest.OpGetFlowSession)
	if sent := f.callbacksSent(1); polls != sent || polls != 1 {
		t.Fatalf("%d status reads for %d callbacks: the waiting job must not poll", polls, sent)
	}
	if n := len(f.pub.published()); n != 0 {
		t.Fatalf("%d messages published although the waiting job was here", n)
	}
	if !strings.Contains(f.log.String(), `"outcome":"delivered"`) {
		t.Fatalf("no 'delivered' log line: %s", f.log)
	}
	// A failed run is still the BPMN error, with the run's error.
	_, err = f.run(f.waitVars(failingFlow), nil)
	var b *BPMNError
	if !errors.As(err, &b) || b.Code != FailedRunError || b.Variables["errorCode"] != "NoCandidateMachine" {
		t.Fatalf("err = %v, want %s", err, FailedRunError)
	}
	f.noLeak()
}

// A lost callback (the public URL does not answer) is covered by the safety poll.
func TestRunFlowAndWaitSafetyPollCoversALostCallback(t *testing.T) {
	f := newCallbackFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{Duration: 300 * time.Millisecond}
	})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	f.cb.PublicURL = dead.URL
	f.cb.SafetyPoll = 700 * time.Millisecond
	start := time.Now()
	res, err := f.run(f.waitVars(workflowID), nil)
	if err != nil || res.Variables["statusName"] != "Succeeded" {
		t.Fatalf("%v %v", res.Variables, err)
	}
	if took := time.Since(start); took < 600*time.Millisecond || took > 5*time.Second {
		t.Fatalf("took %s, want about one safety-poll period", took)
	}
	if n := f.srv.Count(dataversetest.OpGetFlowSession); n != 1 {
		t.Fatalf("%d status reads, want 1 (the safety poll)", n)
	}
}

// A job that resumes a recorded run reads the status at once: the callback may have come while
// no worker was waiting for it.
func TestRunFlowAndWaitWithCallbackResumes(t *testing.T) {
	f := newCallbackFixture(t)
	id := f.startRun(map[string]any{"waitMode": "poll"})
	f.waitStatus(id) // the run ended while its worker was gone
	before := f.srv.Count(dataversetest.OpGetFlowSession)
	vars := f.waitVars(workflowID)
	rec, err := f.h.records().record(f.job(nil, nil), &operations.Response{Status: 200, Body: map[string]any{"flowsessionId": id}})
	if err != nil {
		t.Fatal(err)
	}
	vars[RecordedRunVariable] = rec
	res, err := f.runJob(f.job(vars, nil))
	if err != nil || res.Variables["statusName"] != "Succeeded" || res.Variables["flowSessionId"] != id {
		t.Fatalf("resumed job: %v %v", res.Variables, err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Fatalf("%d triggers, want 1", n)
	}
	if n := f.srv.Count(dataversetest.OpGetFlowSession) - before; n != 1 {
		t.Fatalf("%d status reads on resuming, want 1", n)
	}
}

func TestWaitModeChoice(t *testing.T) {
	t.Run("poll by choice sends no callbackUrl", func(t *testing.T) {
		f := newCallbackFixture(t)
		id := f.startRun(map[string]any{"waitMode": "poll"})
		if s, _ := f.srv.Session(id); s.CallbackURL != "" {
			t.Fatal("waitMode poll sent a callbackUrl")
		}
	})
	t.Run("the modeler's own callbackUrl is kept", func(t *testing.T) {
		f := newCallbackFixture(t)
		id := f.startRun(map[string]any{"callbackUrl": "https://hooks.example.com/x"})
		if s, _ := f.srv.Session(id); s.CallbackURL != "https://hooks.example.com/x" {
			t.Fatalf("callbackUrl = %.40q", s.CallbackURL)
		}
	})
	t.Run("input errors", func(t *testing.T) {
		plain := newFixture(t)
		f := newCallbackFixture(t)
		for name, c := range map[string]struct {
			f     *fixture
			extra map[string]any
		}{
			"callback without a public URL": {plain, map[string]any{"waitMode": "callback"}},
			"callback with an own URL":      {f.fixture, map[string]any{"waitMode": "callback", "callbackUrl": "https://hooks.example.com/x"}},
			"unknown mode":                  {f.fixture, map[string]any{"waitMode": "push"}},
		} {
			_, err := c.f.run(c.f.trigger(c.extra), nil)
			var p *PermanentError
			if !errors.As(err, &p) || !strings.Contains(err.Error(), "waitMode") {
				t.Errorf("%s: err = %v, want a permanent error naming waitMode", name, err)
			}
		}
	})
	t.Run("the callback key is not a secret jobs may read", func(t *testing.T) {
		f := newCallbackFixture(t)
		f.env["SECRET_CBKEY"] = testCallbackKey
		_, err := f.run(f.trigger(map[string]any{"authentication": map[string]any{"type": "bearer", "token": "{{secrets.CBKEY}}"}}), nil)
		var p *PermanentError
		if !errors.As(err, &p) || strings.Contains(err.Error(), testCallbackKey) {
			t.Fatalf("err = %v, want a permanent error that does not quote the key", err)
		}
	})
}

// A placeholder stays a reference in the token: the receiver resolves it from its own secrets.
func TestCallbackTokenKeepsSecretReferences(t *testing.T) {
	f := newCallbackFixture(t)
	id := f.startRun(nil)
	s, _ := f.srv.Session(id)
	tok := s.CallbackURL[strings.Index(s.CallbackURL, "/callbacks/")+len("/callbacks/"):]
	_, auth, err := f.cb.Open(tok, time.Now())
	if err != nil || auth["token"] != "{{secrets.TOKEN}}" {
		t.Fatalf("sealed authentication = %v, %v; want the placeholder, not the secret", auth, err)
	}
	if strings.Contains(s.CallbackURL, testToken) {
		t.Fatal("the callback URL holds the bearer token")
	}
}

// Item 8: a run row whose workflow is null or missing is no run of the token's workflow: the
// callback is refused and nothing is published.
func TestCallbackRunWithoutWorkflowIsRefused(t *testing.T) {
	f := newCallbackFixture(t)
	const run = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	for name, row := range map[string]string{
		"null":       `{"flowsessionid":"` + run + `","statuscode":4,"statecode":0,"_regardingobjectid_value":null}`,
		"missing":    `{"flowsessionid":"` + run + `","statuscode":4,"statecode":0}`,
		"not a GUID": `{"flowsessionid":"` + run + `","statuscode":4,"statecode":0,"_regardingobjectid_value":7}`,
	} {
		dv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, row) // any read: the run's row, or its outputs
		}))
		t.Cleanup(dv.Close)
		_, tok, err := f.cb.URL(dv.URL, workflowID, callback.ModeMessage, time.Hour,
			map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if status, body := post(t, f.recv.URL+"/callbacks/"+tok, workflowID, run); status != http.StatusForbidden || !strings.Contains(body, "workflow mismatch") {
			t.Errorf("%s workflow: %d %s, want 403 workflow mismatch", name, status, body)
		}
	}
	if m := f.pub.published(); len(m) != 0 {
		t.Fatalf("published %d messages for runs of no workflow", len(m))
	}
}

// A run whose outputs echo a secret the trigger passed in: the message the callback receiver
// publishes, and its log, hold none of it, however long after the trigger the callback comes
// (the trigger's job and its secrets are long gone: the token names the placeholders).
func TestSecretsLeakNotFromCallbacks(t *testing.T) {
	f := newCallbackFixture(t)
	live := secrets.NewRegistry()
	// The process's logger: every line scrubbed of the secrets live holds.
	logger := zerolog.New(live.Writer(f.log)).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	f.h.Live, f.h.Log, f.rc.Live, f.rc.Log = live, logger, live, logger
	const input = "input-secret-passed-to-the-flow"
	f.env["SECRET_IN"] = input
	if _, err := f.run(f.trigger(map[string]any{"runInputs": map[string]any{"Input1": "{{secrets.IN}}"}}), triggerHeaders); err != nil {
		t.Fatal(err)
	}
	m := f.waitMessages(1)[0]
	if out, _ := m.Variables["flowOutputs"].(map[string]any); out["Output1"] != "***" {
		t.Fatalf("flowOutputs = %v, want the echoed input scrubbed", m.Variables["flowOutputs"])
	}
	f.callbacksSent(1)
	raw, _ := json.Marshal(m.Variables)
	for _, text := range []string{string(raw), f.log.String()} {
		if l := secretstest.Leaks(text, input); len(l) > 0 {
			t.Errorf("the input secret left the worker: %s", strings.Join(l, "; "))
		}
	}
	f.noLeak()
}
