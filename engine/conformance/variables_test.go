//go:build integration

package conformance

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// §C, §D: a task-local variable set by SetVariables(local) survives a job timeout and stays off
// the root.
func TestK18SetLocalVariableOnTaskScope(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k18.bpmn")
	res := e.createWithResult(t, "k18", map[string]any{"root": 1})
	job := e.activateOne(t, "k18", "k18-first", time.Second)
	eik := job.GetElementInstanceKey()
	c, err := e.zc.NewSetVariablesCommand().ElementInstanceKey(eik).VariablesFromString(`{"loc":"v"}`)
	must(t, err, "variables")
	resp, err := c.Local(true).Send(ctxT(t, 15*time.Second))
	must(t, err, "SetVariables local")
	if resp.GetKey() <= 0 {
		t.Errorf("SetVariables key %d", resp.GetKey())
	}
	v := e.waitRecord(t, ev("VARIABLE", "CREATED").f("name", "loc").pi(job.GetProcessInstanceKey()), 10*time.Second)
	if v.Value.I("scopeKey") != eik || v.Value.S("value") != `"v"` {
		t.Errorf("VARIABLE CREATED loc: scopeKey %d value %s, want scopeKey %d (the task) value \"v\"", v.Value.I("scopeKey"), v.Value.S("value"), eik)
	}
	e.waitRecord(t, ev("VARIABLE_DOCUMENT", "UPDATED").f("scopeKey", eik).f("updateSemantics", "LOCAL"), 10*time.Second)
	e.waitRecord(t, ev("JOB", "TIMED_OUT").k(job.GetKey()), 15*time.Second)
	again := e.activateOne(t, "k18", "k18-second", time.Minute)
	if again.GetKey() != job.GetKey() {
		t.Fatalf("re-activated job %d, want %d", again.GetKey(), job.GetKey())
	}
	jsonEq(t, "variables of the re-activated job", again.GetVariables(), `{"root":1,"loc":"v"}`)
	e.complete(t, again.GetKey(), "{}")
	jsonEq(t, "process result", awaitResult(t, res).GetVariables(), `{"root":1}`)
}

// §C: SetVariables(local=false) on the instance updates and creates root variables.
func TestK19SetPropagatingVariablesOnInstance(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k19.bpmn")
	pik := e.create(t, "k19", map[string]any{"a": 1})
	a := e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "a"), 10*time.Second)
	c, err := e.zc.NewSetVariablesCommand().ElementInstanceKey(pik).VariablesFromString(`{"a":2,"b":3}`)
	must(t, err, "variables")
	_, err = c.Local(false).Send(ctxT(t, 15*time.Second))
	must(t, err, "SetVariables")
	e.waitRecord(t, ev("VARIABLE_DOCUMENT", "UPDATED").f("scopeKey", pik).f("updateSemantics", "PROPAGATE"), 10*time.Second)
	e.waitRecord(t, ev("VARIABLE", "UPDATED").k(a.Key).pi(pik).f("name", "a").f("scopeKey", pik).f("value", "2"), 10*time.Second)
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "b").f("scopeKey", pik).f("value", "3"), 10*time.Second)
	job := e.activateOne(t, "k19", "k19", time.Minute)
	jsonEq(t, "job variables", job.GetVariables(), `{"a":2,"b":3}`)
	e.complete(t, job.GetKey(), "{}")
}

// §C: {} on an active instance; any document on a completed one.
func TestK20SetEmptyDocument(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k20.bpmn")
	pik := e.create(t, "k20", nil)
	job := e.jobOf(t, pik)
	c, err := e.zc.NewSetVariablesCommand().ElementInstanceKey(pik).VariablesFromString("{}")
	must(t, err, "variables")
	resp, err := c.Send(ctxT(t, 15*time.Second))
	must(t, err, "SetVariables {}")
	if resp.GetKey() <= pik || resp.GetKey() == job.Key {
		t.Errorf("SetVariables key %d: want a new key (instance %d, job %d)", resp.GetKey(), pik, job.Key)
	}
	e.waitRecord(t, ev("VARIABLE_DOCUMENT", "UPDATED").k(resp.GetKey()).f("scopeKey", pik), 10*time.Second)
	e.none(t, recFilter(func(r rec) bool { return r.ValueType == "VARIABLE" && r.Value.I("processInstanceKey") == pik }), "{} writes no VARIABLE record")

	e.complete(t, job.Key, "{}")
	e.processCompleted(t, pik, 10*time.Second)
	c, err = e.zc.NewSetVariablesCommand().ElementInstanceKey(pik).VariablesFromString("{}")
	must(t, err, "variables")
	_, err = c.Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.NotFound, "VARIABLE_DOCUMENT", "UPDATE", "NOT_FOUND",
		fmt.Sprintf("Expected to update variables for element with key '%d', but no such element was found", pik))
}

// §D: completion variables without output mappings are created at the root.
func TestK23CompletionVariablesPropagateToRoot(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k23.bpmn")
	res := e.createWithResult(t, "k23", nil)
	job := e.activateOne(t, "k23", "k23", time.Minute)
	e.complete(t, job.GetKey(), `{"x":1}`)
	pik := job.GetProcessInstanceKey()
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "x").f("scopeKey", pik).f("value", "1"), 10*time.Second)
	jsonEq(t, "process result", awaitResult(t, res).GetVariables(), `{"x":1}`)
}

// §D: a completion variable with the name of a task-local input target, and a different value,
// is absorbed by the task scope (camunda-docs#9645).
func TestK24CompletionAbsorbedByInputTarget(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k24.bpmn")
	res := e.createWithResult(t, "k24", nil)
	job := e.activateOne(t, "k24", "k24", time.Minute)
	pik, eik := job.GetProcessInstanceKey(), job.GetElementInstanceKey()
	local := e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "v").f("scopeKey", eik).f("value", "1"), 10*time.Second)
	e.complete(t, job.GetKey(), `{"v":2}`)
	e.waitRecord(t, ev("VARIABLE", "UPDATED").k(local.Key).f("scopeKey", eik).f("value", "2"), 10*time.Second)
	jsonEq(t, "process result", awaitResult(t, res).GetVariables(), `{}`)
	e.none(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "v").f("scopeKey", pik), "the root never gets v")
}

// §D: with an equal value the walk does not stop at the task: the root gets it (camunda#55491).
func TestK25EqualValueReachesRoot(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k25.bpmn")
	res := e.createWithResult(t, "k25", nil)
	job := e.activateOne(t, "k25", "k25", time.Minute)
	pik, eik := job.GetProcessInstanceKey(), job.GetElementInstanceKey()
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "v").f("scopeKey", eik).f("value", "1"), 10*time.Second)
	e.complete(t, job.GetKey(), `{"v":1}`)
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "v").f("scopeKey", pik).f("value", "1"), 10*time.Second)
	jsonEq(t, "process result", awaitResult(t, res).GetVariables(), `{"v":1}`)
	e.none(t, ev("VARIABLE", "UPDATED").pi(pik).f("name", "v"), "an equal value writes no UPDATED")
}

// §D: with output mappings only the mapped values reach the process.
func TestK26OutputMappingOnly(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k26.bpmn")
	res := e.createWithResult(t, "k26", nil)
	job := e.activateOne(t, "k26", "k26", time.Minute)
	e.complete(t, job.GetKey(), `{"a":1,"c":2}`)
	jsonEq(t, "process result", awaitResult(t, res).GetVariables(), `{"b":1}`)
	pik := job.GetProcessInstanceKey()
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "b").f("scopeKey", pik).f("value", "1"), 10*time.Second)
	e.none(t, recFilter(func(r rec) bool {
		return r.ValueType == "VARIABLE" && r.Value.I("processInstanceKey") == pik && r.Value.I("scopeKey") == pik &&
			(r.Value.S("name") == "a" || r.Value.S("name") == "c")
	}), "completion variables without an output mapping stay on the task")
}

// §D: nested output target merges into the visible context; nested input target builds afresh.
func TestK27NestedOutputMergesInputReplaces(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k27.bpmn")
	res := e.createWithResult(t, "k27", map[string]any{"o": map[string]any{"x": 1}, "i": map[string]any{"x": 1}})
	job := e.activateOne(t, "k27", "k27", time.Minute)
	jsonEq(t, "job variables (input i.y replaces i locally)", job.GetVariables(), `{"o":{"x":1},"i":{"y":2}}`)
	e.complete(t, job.GetKey(), "{}")
	jsonEq(t, "process result (output o.y merges into o)", awaitResult(t, res).GetVariables(), `{"o":{"x":1,"y":3},"i":{"x":1}}`)
}

// §D: static input is a string; a missing variable is null; later inputs see earlier targets;
// a.x and a.y build one context.
func TestK28InputMappingSemantics(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k28.bpmn")
	pik := e.create(t, "k28", nil)
	job := e.activateOne(t, "k28", "k28", time.Minute)
	jsonEq(t, "job variables", job.GetVariables(), `{"s":"1","m":null,"e1":"first","e2":"first-second","a":{"x":1,"y":2}}`)
	eik := job.GetElementInstanceKey()
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "s").f("scopeKey", eik).f("value", `"1"`), 10*time.Second)
	e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "m").f("scopeKey", eik).f("value", "null"), 10*time.Second)
	e.complete(t, job.GetKey(), "{}")
}

// §D, §E: without fetchVariable every visible variable (locals hide the root); with one, only
// the listed names that exist.
func TestK29ActivateFetchVariables(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k29.bpmn")
	p1 := e.create(t, "k29", map[string]any{"a": "root", "b": "rootb"})
	e.jobOf(t, p1)
	p2 := e.create(t, "k29", map[string]any{"a": "root", "b": "rootb"})
	e.jobOf(t, p2)
	all := e.activateOne(t, "k29", "k29", time.Minute)
	jsonEq(t, "variables without fetchVariable", all.GetVariables(), `{"a":"local","b":"rootb"}`)
	some := e.activateOne(t, "k29", "k29", time.Minute, "a", "missing")
	jsonEq(t, "variables with fetchVariable [a missing]", some.GetVariables(), `{"a":"local"}`)
	e.complete(t, all.GetKey(), "{}")
	e.complete(t, some.GetKey(), "{}")
}
