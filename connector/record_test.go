package connector

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// recordingJob is a trigger job on element instance eik whose SetLocal keeps what the worker
// records, as Zeebe would for the next delivery of the same job.
type recordingJob struct {
	Job
	local map[string]any
}

func (f *fixture) recordingJob(eik int64, vars map[string]any) *recordingJob {
	j := &recordingJob{Job: f.job(vars, triggerHeaders)}
	j.ElementInstanceKey, j.ProcessInstanceKey = eik, 2251799813685249
	j.SetLocal = func(_ context.Context, v map[string]any) error {
		raw, err := json.Marshal(v) // through JSON, as the gateway carries it
		if err != nil {
			return err
		}
		j.local = map[string]any{}
		return json.Unmarshal(raw, &j.local)
	}
	return j
}

// redeliver is the same job again, its element instance's local variables over the process's.
func (j *recordingJob) redeliver(t *testing.T) Job {
	var vars map[string]any
	if err := json.Unmarshal([]byte(j.Variables), &vars); err != nil {
		t.Fatal(err)
	}
	for k, v := range j.local {
		vars[k] = v
	}
	raw, _ := json.Marshal(vars)
	next := j.Job
	next.Variables = string(raw)
	return next
}

// Issue 11 item 1d: a paConnectorRun the worker did not write for this element instance is
// never used as the run, and never leads to a second trigger: it is an incident.
func TestRecordedRunIsUsedOnlyWhenSignedForThisElementInstance(t *testing.T) {
	f := newFixture(t)
	first := f.recordingJob(7001, f.trigger(nil))
	res, err := f.h.Handle(t.Context(), first.Job)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.Variables["flowSessionId"].(string)
	rec, _ := first.local[RecordedRunVariable].(map[string]any)
	if rec == nil || rec["sig"] == nil {
		t.Errorf("recorded %v, want a signed record", first.local)
	}

	t.Run("the worker's own record resumes the run", func(t *testing.T) {
		before := f.srv.Count(dataversetest.OpRunDesktopFlow)
		res, err := f.h.Handle(t.Context(), first.redeliver(t))
		if err != nil || res.Variables["flowSessionId"] != id {
			t.Fatalf("redelivered: %v %v, want run %s", res.Variables, err, id)
		}
		if n := f.srv.Count(dataversetest.OpRunDesktopFlow) - before; n != 0 {
			t.Fatalf("%d triggers on redelivery, want 0", n)
		}
	})

	t.Run("another replica with the same key resumes it", func(t *testing.T) {
		a, b := NewRunRecords(testCallbackKey), NewRunRecords(testCallbackKey)
		f.h.Records = a
		defer func() { f.h.Records = nil }()
		j := f.recordingJob(7002, f.trigger(nil))
		if _, err := f.h.Handle(t.Context(), j.Job); err != nil {
			t.Fatal(err)
		}
		before := f.srv.Count(dataversetest.OpRunDesktopFlow)
		f.h.Records = b
		if _, err := f.h.Handle(t.Context(), j.redeliver(t)); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.Count(dataversetest.OpRunDesktopFlow) - before; n != 0 {
			t.Fatalf("%d triggers on the other replica, want 0", n)
		}
	})

	other := f.recordingJob(7001, f.trigger(nil)).Job // a fresh job: no record written yet
	forged := map[string]any{"status": 200, "body": map[string]any{"flowsessionId": id}}
	badSig := map[string]any{"status": 200, "body": rec["body"], "sig": strings.Repeat("A", 43)}
	cases := []struct {
		name   string
		job    Job
		record any
		why    string
	}{
		{"a process-scope variable with a run (no signature)", other, forged, "no signature"},
		{"a record written before records were signed", other, map[string]any{"status": int64(200), "body": map[string]any{"flowsessionId": id}}, "no signature"},
		{"a wrong signature", other, badSig, "signature does not match"},
		{"the body changed under a valid signature", other, map[string]any{"status": 200, "body": map[string]any{"flowsessionId": "00000000-0000-0000-0000-000000000001"}, "sig": rec["sig"]}, "signature does not match"},
		{"a record of another element instance", func() Job { j := other; j.ElementInstanceKey = 7999; return j }(), rec, "signature does not match"},
		{"a record of another process instance", func() Job { j := other; j.ProcessInstanceKey = 1; return j }(), rec, "signature does not match"},
		{"a record under another key (a restarted worker without the key)", other, rec, "signature does not match"},
		{"a string", other, "resume please", "a string"},
		{"a list", other, []any{rec}, "a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.name, "another key") {
				f.h.Records = NewRunRecords("")
				defer func() { f.h.Records = nil }()
			}
			var vars map[string]any
			json.Unmarshal([]byte(c.job.Variables), &vars)
			vars[RecordedRunVariable] = c.record
			raw, _ := json.Marshal(vars)
			job := c.job
			job.Variables = string(raw)
			before := f.srv.Count(dataversetest.OpRunDesktopFlow)
			res, err := f.h.Handle(t.Context(), job)
			var p *PermanentError
			if !errors.As(err, &p) {
				t.Fatalf("got %v, %v; want an incident", res.Variables, err)
			}
			for _, w := range []string{"paConnectorRun", "cannot verify", c.why, "a run may have started"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q should contain %q", err.Error(), w)
				}
			}
			if n := f.srv.Count(dataversetest.OpRunDesktopFlow) - before; n != 0 {
				t.Fatalf("%d triggers, want none", n)
			}
		})
	}

	t.Run("null is no record: the job triggers", func(t *testing.T) {
		vars := f.trigger(map[string]any{RecordedRunVariable: nil})
		before := f.srv.Count(dataversetest.OpRunDesktopFlow)
		if _, err := f.run(vars, triggerHeaders); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.Count(dataversetest.OpRunDesktopFlow) - before; n != 1 {
			t.Fatalf("%d triggers, want 1", n)
		}
	})
}

// A job may not read the key that signs records through a {{secrets.…}} placeholder (the key
// file sits in the secrets directory), with or without a public URL.
func TestRecordKeyIsNotReadableByJobs(t *testing.T) {
	f := newFixture(t)
	f.h.Records = NewRunRecords(testCallbackKey)
	f.env["SECRET_KEY"] = testCallbackKey
	_, err := f.run(f.trigger(map[string]any{"runInputs": map[string]any{"k": "{{secrets.KEY}}"}}), nil)
	var p *PermanentError
	if !errors.As(err, &p) || !strings.Contains(err.Error(), "callback key") || strings.Contains(err.Error(), testCallbackKey) {
		t.Fatalf("err = %v", err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
		t.Fatalf("%d triggers, want none", n)
	}
}

// A record verifies after the trip through the gateway (encoded, stored, decoded with the
// job's variables) whatever Dataverse answered: numbers of every size, HTML characters,
// strings that are not UTF-8.
func TestRunRecordSurvivesTheGatewayRoundTrip(t *testing.T) {
	r := NewRunRecords(testCallbackKey)
	h := &Handler{Records: r}
	job := Job{ElementInstanceKey: 2251799813685260, ProcessInstanceKey: 2251799813685249}
	for _, body := range []any{
		map[string]any{"flowsessionId": workflowID, "n": int64(9007199254740993), "f": 0.1, "big": 1e21, "e": 1e300, "z": int64(0)},
		map[string]any{"flowsessionId": workflowID, "html": "<a href='x'>&</a>", "ls": "\u2028", "bad": "caf\xe9 \xff"},
		map[string]any{"flowsessionId": workflowID, "list": []any{int64(1), "x", nil, true, map[string]any{}}},
		"a plain text answer",
	} {
		rec, err := r.record(job, &operations.Response{Status: 200, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(map[string]any{RecordedRunVariable: rec})
		vars, err := decodeVariables(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.recordedRun(job, vars)
		if err != nil || res == nil {
			t.Errorf("%v: recorded run not verified after the round trip: %v", body, err)
		}
	}
}
