//go:build integration

package conformance

import (
	"testing"
	"time"
)

// §G: the first true condition in XML order wins; none true → the default flow.
func TestK61ExclusiveGatewayFirstTrueThenDefault(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k61.bpmn")
	for _, c := range []struct {
		x    int
		end  string
		flow string
	}{{2, "EndA", "fA"}, {1, "EndB", "fB"}, {0, "EndDefault", "fDefault"}} {
		pik := e.create(t, "k61", map[string]any{"x": c.x})
		e.processCompleted(t, pik, 10*time.Second)
		e.waitRecord(t, ev("PROCESS_INSTANCE", "SEQUENCE_FLOW_TAKEN").pi(pik).f("elementId", c.flow), 10*time.Second)
		e.elementCompleted(t, pik, c.end, 10*time.Second)
		e.barrier(t)
		for _, end := range []string{"EndA", "EndB", "EndDefault"} {
			if end == c.end {
				continue
			}
			if got := e.find(ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("elementId", end)); len(got) > 0 {
				t.Errorf("x=%d: %s was activated too (want only %s)", c.x, end, c.end)
			}
		}
	}
}

// incidentOf waits for the instance's INCIDENT CREATED.
func (e *engine) incidentOf(t testing.TB, pik int64) rec {
	t.Helper()
	return e.waitRecord(t, ev("INCIDENT", "CREATED").pi(pik), 15*time.Second)
}

// checkIncident asserts an element incident (no job): type, message, element, scope.
func (e *engine) checkIncident(t testing.TB, pik int64, elementID, errorType, message string) rec {
	t.Helper()
	inc := e.incidentOf(t, pik)
	el := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("elementId", elementID), 10*time.Second)
	v := inc.Value
	if v.S("errorType") != errorType || v.S("errorMessage") != message {
		t.Errorf("incident %s %q\n      want %s %q", v.S("errorType"), v.S("errorMessage"), errorType, message)
	}
	if v.S("elementId") != elementID || v.I("elementInstanceKey") != el.Key || v.I("variableScopeKey") != el.Key || v.I("jobKey") != -1 {
		t.Errorf("incident %v: want elementId %s, elementInstanceKey = variableScopeKey = %d, jobKey -1", inc, elementID, el.Key)
	}
	return inc
}

// §G: no true condition and no default flow.
func TestK62NoTrueConditionNoDefaultIncident(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k62.bpmn")
	pik := e.create(t, "k62", map[string]any{"x": 0})
	e.checkIncident(t, pik, "K62Gateway", "CONDITION_ERROR", "Expected at least one condition to evaluate to true, or to have a default flow")
}

// §G: a condition that yields a string is an incident, not "false" (the default flow exists).
func TestK63NonBooleanConditionIncident(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k63.bpmn")
	pik := e.create(t, "k63", map[string]any{"s": "yes"})
	e.checkIncident(t, pik, "K63Gateway", "EXTRACT_VALUE_ERROR", "Expected result of the expression 's' to be 'BOOLEAN', but was 'STRING'.")
	e.none(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("elementId", "EndDefault"), "a non-boolean condition does not fall through to the default")
}
