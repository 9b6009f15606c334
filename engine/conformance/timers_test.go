//go:build integration

package conformance

import (
	"testing"
	"time"
)

// §G: timer duration from a variable; PT1S fires after ~1 s, the PT10S fallback after ~10 s
// (asserted as "not before 9 s, by 12 s").
func TestK64TimerDurationFromVariable(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k64.bpmn")
	for _, c := range []struct {
		name     string
		vars     map[string]any
		due      int64
		min, max int64
	}{
		{"PT1S", map[string]any{"pollInterval": "PT1S"}, 1000, 1000, 4000},
		{"default PT10S", nil, 10000, 9000, 12000},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pik := e.create(t, "k64", c.vars)
			created := e.waitRecord(t, ev("TIMER", "CREATED").pi(pik), 10*time.Second)
			if created.Value.S("targetElementId") != "Wait" || created.Value.I("elementInstanceKey") <= pik {
				t.Errorf("TIMER CREATED %v: want targetElementId Wait and the catch event's element instance", created)
			}
			due := created.Value.I("dueDate")
			if d := due - created.Timestamp; d < c.due-500 || d > c.due+500 {
				t.Errorf("dueDate is %d ms after TIMER CREATED, want %d", d, c.due)
			}
			e.waitRecord(t, cmd("TIMER", "TRIGGER").k(created.Key), time.Duration(c.max+8000)*time.Millisecond)
			trig := e.waitRecord(t, ev("TIMER", "TRIGGERED").k(created.Key), 10*time.Second)
			if d := trig.Timestamp - created.Timestamp; d < c.min || d > c.max || trig.Timestamp < due {
				t.Errorf("TIMER TRIGGERED %d ms after CREATED (dueDate +%d), want between %d and %d, not before the due date", d, due-created.Timestamp, c.min, c.max)
			}
			e.processCompleted(t, pik, 10*time.Second)
		})
	}
}

// §G: a duration string that is not ISO-8601.
func TestK65InvalidTimerDurationIncident(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k65.bpmn")
	pik := e.create(t, "k65", map[string]any{"pollInterval": "5 seconds"})
	e.checkIncident(t, pik, "Wait", "EXTRACT_VALUE_ERROR", "Invalid duration format '5 seconds' for expression 'pollInterval'.")
	e.none(t, ev("TIMER", "CREATED").pi(pik), "no timer for an invalid duration")
}
