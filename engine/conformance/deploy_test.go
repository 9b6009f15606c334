//go:build integration

package conformance

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// §B: one file, two executable processes (and one non-executable that must be skipped).
func TestK03DeployTwoProcessesInOneFile(t *testing.T) {
	t.Parallel()
	e := eng
	resp := e.deploy(t, "k03-two.bpmn")
	if resp.GetTenantId() != "<default>" {
		t.Errorf("response tenantId = %q, want <default>", resp.GetTenantId())
	}
	deps := resp.GetDeployments()
	if len(deps) != 2 {
		t.Fatalf("%d deployments in the response, want 2 (k03-a, k03-b; k03-c is not executable): %v", len(deps), deps)
	}
	a, b := deps[0].GetProcess(), deps[1].GetProcess()
	if a == nil || b == nil {
		t.Fatalf("deployments are not processes: %v", deps)
	}
	if a.GetBpmnProcessId() != "k03-a" || b.GetBpmnProcessId() != "k03-b" {
		t.Errorf("process ids %q, %q, want k03-a, k03-b (document order)", a.GetBpmnProcessId(), b.GetBpmnProcessId())
	}
	if a.GetProcessDefinitionKey() == b.GetProcessDefinitionKey() {
		t.Errorf("both processes got key %d", a.GetProcessDefinitionKey())
	}
	for _, p := range []struct {
		id  string
		ver int32
		key int64
		res string
		ten string
	}{{a.GetBpmnProcessId(), a.GetVersion(), a.GetProcessDefinitionKey(), a.GetResourceName(), a.GetTenantId()},
		{b.GetBpmnProcessId(), b.GetVersion(), b.GetProcessDefinitionKey(), b.GetResourceName(), b.GetTenantId()}} {
		if p.ver != 1 {
			t.Errorf("%s: version %d, want 1", p.id, p.ver)
		}
		if p.res != "k03-two.bpmn" {
			t.Errorf("%s: resourceName %q, want k03-two.bpmn", p.id, p.res)
		}
		if p.ten != "<default>" {
			t.Errorf("%s: tenantId %q, want <default>", p.id, p.ten)
		}
		if p.key == resp.GetKey() {
			t.Errorf("%s: processDefinitionKey equals the deployment key %d", p.id, p.key)
		}
		e.waitRecord(t, ev("PROCESS", "CREATED").k(p.key).f("bpmnProcessId", p.id).f("version", 1).f("resourceName", "k03-two.bpmn"), 10*time.Second)
	}
	e.waitRecord(t, ev("DEPLOYMENT", "CREATED").k(resp.GetKey()), 10*time.Second)
	e.none(t, ev("PROCESS", "CREATED").f("bpmnProcessId", "k03-c"), "a non-executable process is skipped")
}

// §B: identical bytes under the same name are a duplicate.
func TestK04RedeployIdenticalIsDuplicate(t *testing.T) {
	t.Parallel()
	e := eng
	first := e.deploy(t, "k04.bpmn")
	second := e.deploy(t, "k04.bpmn")
	p1, p2 := first.GetDeployments()[0].GetProcess(), second.GetDeployments()[0].GetProcess()
	if p2.GetVersion() != 1 || p2.GetProcessDefinitionKey() != p1.GetProcessDefinitionKey() {
		t.Errorf("redeploy: version %d key %d, want the existing version 1 key %d", p2.GetVersion(), p2.GetProcessDefinitionKey(), p1.GetProcessDefinitionKey())
	}
	if second.GetKey() == first.GetKey() || second.GetKey() <= first.GetKey() {
		t.Errorf("deployment keys %d then %d: the redeploy needs a new, higher deployment key", first.GetKey(), second.GetKey())
	}
	d := e.waitRecord(t, ev("DEPLOYMENT", "CREATED").k(second.GetKey()), 10*time.Second)
	meta := d.Value.L("processesMetadata")
	if len(meta) != 1 {
		t.Errorf("DEPLOYMENT CREATED processesMetadata = %v, want one entry", meta)
	} else if m, _ := meta[0].(map[string]any); !eqVal(m["duplicate"], true) || !eqVal(m["processDefinitionKey"], p1.GetProcessDefinitionKey()) {
		t.Errorf("DEPLOYMENT CREATED processesMetadata[0] = %v, want duplicate:true processDefinitionKey:%d", m, p1.GetProcessDefinitionKey())
	}
	e.barrier(t)
	if got := e.find(ev("PROCESS", "CREATED").f("bpmnProcessId", "k04")); len(got) != 1 {
		t.Errorf("%d PROCESS CREATED records for k04, want 1 (the duplicate writes none): %v", len(got), got)
	}
}

// §B: changed bytes, or the same bytes under another name, make a new version.
func TestK05RedeployChangedIsNewVersion(t *testing.T) {
	t.Parallel()
	e := eng
	orig := fixture(t, "k05.bpmn")
	changed := []byte(strings.Replace(string(orig), `<bpmn:process id="k05" isExecutable="true">`, `<bpmn:process id="k05" name="changed" isExecutable="true">`, 1))
	if string(changed) == string(orig) {
		t.Fatal("fixture edit failed")
	}
	deploy := func(data []byte, name string) (int32, int64) {
		resp, err := e.zc.NewDeployResourceCommand().AddResource(data, name).Send(ctxT(t, 30*time.Second))
		must(t, err, "deploy "+name)
		p := resp.GetDeployments()[0].GetProcess()
		if p.GetResourceName() != name {
			t.Errorf("resourceName %q, want %q", p.GetResourceName(), name)
		}
		return p.GetVersion(), p.GetProcessDefinitionKey()
	}
	v1, k1 := deploy(orig, "k05.bpmn")
	v2, k2 := deploy(changed, "k05.bpmn")
	v3, k3 := deploy(changed, "k05-renamed.bpmn")
	if v1 != 1 || v2 != 2 || v3 != 3 {
		t.Errorf("versions %d, %d, %d; want 1, 2 (changed bytes), 3 (same bytes, other name)", v1, v2, v3)
	}
	if !(k1 < k2 && k2 < k3) {
		t.Errorf("definition keys %d, %d, %d; want three new, increasing keys", k1, k2, k3)
	}
	for i, k := range []int64{k1, k2, k3} {
		e.waitRecord(t, ev("PROCESS", "CREATED").k(k).f("version", i+1), 10*time.Second)
	}
}

// §B: zero resources.
func TestK06DeployNothingIsInvalidArgument(t *testing.T) {
	t.Parallel()
	e := eng
	_, err := e.zc.NewDeployResourceCommand().Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.InvalidArgument, "DEPLOYMENT", "CREATE", "INVALID_ARGUMENT",
		"Expected to deploy at least one resource, but none given")
}

// §B: broken XML, and a service task without zeebe:taskDefinition.
func TestK07DeployInvalidResourceNamesIt(t *testing.T) {
	t.Parallel()
	e := eng
	const prefix = "Command 'CREATE' rejected with code 'INVALID_ARGUMENT': Expected to deploy new resources, but encountered the following errors:"
	t.Run("broken XML", func(t *testing.T) {
		_, err := e.zc.NewDeployResourceCommand().AddResource(fixture(t, "k07-broken.bpmn"), "k07-broken.bpmn").Send(ctxT(t, 15*time.Second))
		msg := wantErrPrefix(t, err, codes.InvalidArgument, prefix)
		if !strings.Contains(msg, "\n'k07-broken.bpmn': ") {
			t.Errorf("message does not name the resource as \"\\n'k07-broken.bpmn': <detail>\": %q", msg)
		}
		e.waitRecord(t, rej("DEPLOYMENT", "CREATE").where("reason names k07-broken.bpmn", func(r rec) bool {
			return r.RejectionType == "INVALID_ARGUMENT" && strings.Contains(r.RejectionReason, "'k07-broken.bpmn': ")
		}), 10*time.Second)
	})
	t.Run("no taskDefinition", func(t *testing.T) {
		_, err := e.zc.NewDeployResourceCommand().AddResource(fixture(t, "k07-notaskdef.bpmn"), "k07-notaskdef.bpmn").Send(ctxT(t, 15*time.Second))
		msg := wantErrPrefix(t, err, codes.InvalidArgument, prefix)
		for _, want := range []string{"\n'k07-notaskdef.bpmn': ", "- Element: K07Task", "- ERROR: Must have exactly one 'zeebe:taskDefinition' extension element"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q: %q", want, msg)
			}
		}
		e.waitRecord(t, rej("DEPLOYMENT", "CREATE").where("reason names k07-notaskdef.bpmn", func(r rec) bool {
			return r.RejectionType == "INVALID_ARGUMENT" && strings.Contains(r.RejectionReason, "'k07-notaskdef.bpmn': ")
		}), 10*time.Second)
	})
}

// §B: all or nothing.
func TestK08DeployIsAtomic(t *testing.T) {
	t.Parallel()
	e := eng
	_, err := e.zc.NewDeployResourceCommand().
		AddResource(fixture(t, "k08-valid.bpmn"), "k08-valid.bpmn").
		AddResource(fixture(t, "k08-invalid.bpmn"), "k08-invalid.bpmn").Send(ctxT(t, 15*time.Second))
	msg := wantErrPrefix(t, err, codes.InvalidArgument, "Command 'CREATE' rejected with code 'INVALID_ARGUMENT': Expected to deploy new resources, but encountered the following errors:")
	if !strings.Contains(msg, "'k08-invalid.bpmn': ") || strings.Contains(msg, "'k08-valid.bpmn': ") {
		t.Errorf("message should name k08-invalid.bpmn only: %q", msg)
	}
	_, err = e.zc.NewCreateInstanceCommand().BPMNProcessId("k08-ok").LatestVersion().Send(ctxT(t, 15*time.Second))
	wantErr(t, err, codes.NotFound, rejMsg("CREATE", "NOT_FOUND", "Expected to find process definition with process ID 'k08-ok', but none found"))
	e.none(t, ev("PROCESS", "CREATED").f("bpmnProcessId", "k08-ok"), "the valid resource of a failed deployment is not deployed")
}

// §B: a condition must be an expression.
func TestK09ConditionWithoutEqualsIsRejected(t *testing.T) {
	t.Parallel()
	e := eng
	_, err := e.zc.NewDeployResourceCommand().AddResource(fixture(t, "k09.bpmn"), "k09.bpmn").Send(ctxT(t, 15*time.Second))
	msg := wantErrPrefix(t, err, codes.InvalidArgument, "Command 'CREATE' rejected with code 'INVALID_ARGUMENT': Expected to deploy new resources, but encountered the following errors:")
	for _, want := range []string{"\n'k09.bpmn': ", "Expected expression but found static value 'ok'. An expression must start with '=' (e.g. '=ok')."} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %q", want, msg)
		}
	}
}
