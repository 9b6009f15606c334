//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	notifyOwnerFlow = "c10d0000-0000-4000-8000-000000000001"
	approvalFlow    = "c10d0000-0000-4000-8000-000000000002"
	cloudFlowLead   = "1ead0000-0000-4000-8000-000000000001"
)

// TestRunCloudFlowThroughTheBinary runs power-automate:1's runCloudFlow through the worker
// binary, the engine and the emulator binary, three instances at once: a flow answering 200,
// whose body lands in a variable through the resultExpression (its URL a secret); a flow
// answering 202 with a Location that answers 202 twice more before the final answer (3 polls,
// 1 s apart as Retry-After asks); and the first flow's URL with a wrong signature, whose
// incident, the worker's log and its /metrics hold no part of either signature.
func TestRunCloudFlowThroughTheBinary(t *testing.T) {
	cfg := emulatorConfig()
	cfg["flowSigningKey"] = "integration-flow-signing-key"
	cfg["cloudFlows"] = map[string]any{
		notifyOwnerFlow: map[string]any{"name": "notify owner", "body": map[string]any{
			"notified": "${inputs.recordId}", "table": "${inputs.entityLogicalName}", "priority": "${inputs.priority}"}},
		approvalFlow: map[string]any{"name": "approval", "polls": 3, "retryAfter": 1, "body": map[string]any{
			"approved": true, "by": "${inputs.approver}"}},
	}
	dv := startEmulator(t, cfg)
	urls := map[string]string{}
	var flows []struct{ ID, URL string }
	getJSON(t, dv.URL+"/_emulator/cloudflows", &flows)
	for _, f := range flows {
		urls[f.ID] = f.URL
	}
	notifyURL, approvalURL := urls[notifyOwnerFlow], urls[approvalFlow]
	notifySig, approvalSig := sigOf(t, notifyURL), sigOf(t, approvalURL)
	wrongSig := reverse(notifySig) // same length and alphabet, another value
	wrongURL := strings.Replace(notifyURL, "sig="+notifySig, "sig="+wrongSig, 1)

	deploy(t, "integration/testdata/cloud-flow.bpmn")
	w := startWorker(t, "SECRET_NOTIFY_OWNER_FLOW_URL="+notifyURL)

	began := time.Now()
	wrong := createInstance(t, "cloud-flow", map[string]any{"flowUrl": wrongURL, "leadId": cloudFlowLead, "approver": "ada"})
	async := make(chan map[string]any, 1)
	go func() {
		async <- runProcessNoFatal(t, "cloud-flow", map[string]any{"flowUrl": approvalURL, "leadId": cloudFlowLead, "approver": "grace"}, 30*time.Second)
	}()
	sync := runProcess(t, "cloud-flow", map[string]any{"flowUrl": "{{secrets.NOTIFY_OWNER_FLOW_URL}}", "leadId": cloudFlowLead, "approver": "ada"}, 30*time.Second)
	wantSync := map[string]any{"notified": cloudFlowLead, "table": "lead", "priority": "high"}
	if sync["flowStatus"] != float64(200) || !equalJSON(sync["flowAnswer"], wantSync) {
		t.Errorf("the synchronous flow: status %v, answer %v; want 200, %v", sync["flowStatus"], sync["flowAnswer"], wantSync)
	}
	if got := <-async; got == nil || got["flowStatus"] != float64(200) || !equalJSON(got["flowAnswer"], map[string]any{"approved": true, "by": "grace"}) {
		t.Errorf("the asynchronous flow's variables: %v", got)
	}
	if took := time.Since(began); took < 3*time.Second {
		t.Errorf("the asynchronous flow completed after %s: its 3 Retry-After pauses of 1 s were not honoured", took)
	}
	var runs []struct {
		FlowID string         `json:"flowId"`
		Polls  int            `json:"polls"`
		Body   map[string]any `json:"body"`
	}
	getJSON(t, dv.URL+"/_emulator/flowruns", &runs)
	polls := map[string]int{}
	for _, r := range runs {
		polls[r.FlowID] += r.Polls
		if r.Body["entityLogicalName"] != "lead" || r.Body["recordId"] != cloudFlowLead || r.Body["priority"] != "high" {
			t.Errorf("a flow received %v, want {entityLogicalName, recordId, ...inputs}", r.Body)
		}
	}
	if len(runs) != 2 || polls[approvalFlow] != 3 {
		t.Errorf("flow runs %+v: want the two accepted calls (the wrong signature is refused), the approval's Location polled 3 times", runs)
	}

	incident := waitIncident(t, int64(wrong), 20*time.Second)
	for _, want := range []string{"401", "DirectApiInvalidAuthorizationSignature", "signature"} {
		if !strings.Contains(incident, want) {
			t.Errorf("incident %q lacks %q", incident, want)
		}
	}
	metrics := getText(t, w.HTTP+"/metrics")
	if !strings.Contains(metrics, `operation="runCloudFlow"`) {
		t.Errorf("/metrics has no runCloudFlow requests (the check would see nothing)")
	}
	// Both calls of the notify flow are logged with their path (the URL as a secret holds its
	// signature, not its path), the approval's trigger and its 3 polls too.
	if n := strings.Count(w.Log(), "/workflows/"+notifyOwnerFlow+"/triggers/manual/paths/invoke"); n != 2 {
		t.Errorf("the worker logged %d calls of the notify flow's trigger with their path, want 2", n)
	}
	if n := strings.Count(w.Log(), "/workflows/"+approvalFlow+"/"); n != 4 {
		t.Errorf("the worker logged %d requests of the approval flow with their path, want 4 (trigger and 3 polls)", n)
	}
	for what, text := range map[string]string{"incident": incident, "worker log": w.Log(), "metrics": metrics} {
		for name, sig := range map[string]string{"wrong": wrongSig, "notify": notifySig, "approval": approvalSig} {
			for i := 0; i+8 <= len(sig); i++ {
				if strings.Contains(text, sig[i:i+8]) {
					t.Errorf("the %s holds %q of the %s signature", what, sig[i:i+8], name)
					break
				}
			}
		}
	}
}

func sigOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || len(u.Query().Get("sig")) < 8 {
		t.Fatalf("a flow URL without a signature (%v)", err)
	}
	return u.Query().Get("sig")
}

func getText(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return string(raw)
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, u)), v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
