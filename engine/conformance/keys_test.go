//go:build integration

package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// §J: on a fresh engine the first key is 2^51+1 (a process definition key: definition keys are
// drawn before the deployment key, §B); every new key is higher than all earlier ones; positions
// grow by exactly 1 per record.
//
// "Keys increase" is checked in order of first appearance in the log: Zeebe draws keys in
// processing order and writes the records that carry them in the same order. For example
// CreateProcessInstance draws the instance key, appends the PROCESS_INSTANCE ACTIVATE_ELEMENT
// command (key = instance key) and then the PROCESS_INSTANCE_CREATION CREATED event (a newer key)
// ([src] ProcessInstanceCreationCreateProcessor + CommandProcessorImpl.accept). Instance
// variables would draw keys before the instance's first record, so the instance here has none.
func TestK75FreshEngineKeysAndPositions(t *testing.T) {
	t.Parallel()
	e := startEngine(t)
	dep := e.deploy(t, "k75.bpmn")
	if k := dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey(); k != firstKey {
		t.Errorf("first process definition key %d, want %d", k, firstKey)
	}
	if dep.GetKey() != firstKey+1 {
		t.Errorf("first deployment key %d, want %d (drawn after the definition key)", dep.GetKey(), firstKey+1)
	}
	pik := e.create(t, "k75", nil) // no variables: their keys would legitimately precede the instance's first record
	job := e.activateOne(t, "k75", "k75", time.Minute)
	e.complete(t, job.GetKey(), "{}")
	e.processCompleted(t, pik, 10*time.Second)
	e.barrier(t)
	recs := e.log.all()
	if len(recs) < 20 {
		t.Fatalf("only %d records", len(recs))
	}
	errs := 0
	report := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 8 {
			t.Errorf(format, args...)
		}
	}
	seen := map[int64]bool{}
	var maxKey int64 = -1
	var maxRec rec
	for i, r := range recs {
		if i > 0 && r.Position != recs[i-1].Position+1 {
			report("record %d: position %d follows %d (want +1)", i, r.Position, recs[i-1].Position)
		}
		if r.SourceRecordPosition >= r.Position {
			report("record at %d has sourceRecordPosition %d", r.Position, r.SourceRecordPosition)
		}
		if r.Key == -1 {
			continue
		}
		if r.Key>>51 != 1 {
			report("record at %d: key %d is not a partition-1 key", r.Position, r.Key)
		}
		if seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		if r.Key <= maxKey {
			report("new key %d first appears after key %d: keys must increase\n  %s %s %s at %d\n  after %s %s %s key %d at %d",
				r.Key, maxKey, r.RecordType, r.ValueType, r.Intent, r.Position, maxRec.RecordType, maxRec.ValueType, maxRec.Intent, maxRec.Key, maxRec.Position)
		}
		if r.Key > maxKey {
			maxKey, maxRec = r.Key, r
		}
	}
	var minKey int64 = -1
	for k := range seen {
		if minKey == -1 || k < minKey {
			minKey = k
		}
	}
	if minKey != firstKey {
		t.Errorf("lowest key in the log %d, want %d", minKey, firstKey)
	}
}

var topLevel = []string{"partitionId", "value", "key", "position", "timestamp", "valueType", "intent", "rejectionType",
	"rejectionReason", "recordVersion", "authorizations", "sourceRecordPosition", "brokerVersion", "recordType"}

func topLevelKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// §I: the line format of the records file.
func TestK76RecordLineFormat(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k76.bpmn")
	pik := e.create(t, "k76", map[string]any{"s": "<default> & x", "n": 42, "z": nil, "o": map[string]any{"a": 1}})
	job := e.jobOf(t, pik)
	e.complete(t, job.Key, "{}")
	e.processCompleted(t, pik, 10*time.Second)
	e.barrier(t)

	for _, b := range e.log.badLines() {
		t.Errorf("unparsable record line: %s", b)
	}
	errs := 0
	report := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	badPIK := regexp.MustCompile(`"processInstanceKey":-?[0-9]+[^,0-9]`)
	wantAuth := map[string]any{"authorized_tenants": []any{"<default>"}}
	for _, r := range e.log.all() {
		var c bytes.Buffer
		if err := json.Compact(&c, []byte(r.Raw)); err != nil || c.String() != r.Raw {
			report("line is not compact JSON: %s", r)
		}
		keys, err := topLevelKeys(r.Raw)
		if err != nil || strings.Join(keys, ",") != strings.Join(topLevel, ",") {
			report("top-level members %v, want %v: %s", keys, topLevel, r)
		}
		if r.PartitionID != 1 || r.RecordVersion != 1 || r.BrokerVersion != "8.5.8" || !eqVal(r.Authorizations, wantAuth) {
			report("partitionId/recordVersion/brokerVersion/authorizations: %s", r)
		}
		switch r.RecordType {
		case "EVENT", "COMMAND":
			if r.RejectionType != "NULL_VAL" || r.RejectionReason != "" {
				report("rejectionType %q rejectionReason %q on a %s: %s", r.RejectionType, r.RejectionReason, r.RecordType, r)
			}
		case "COMMAND_REJECTION":
			if r.RejectionType == "NULL_VAL" || r.RejectionType == "" {
				report("rejection without rejectionType: %s", r)
			}
		default:
			report("recordType %q: %s", r.RecordType, r)
		}
		if r.Value == nil {
			report("value is not an object: %s", r)
		}
		if m := badPIK.FindString(r.Raw); m != "" {
			report("%q: processInstanceKey must be followed by a comma: %s", m, r)
		}
		for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
			if strings.Contains(r.Raw, esc) {
				report("HTML-escaped %s: %s", esc, r)
			}
		}
	}
	for name, raw := range map[string]string{
		"s": `"value":"\"<default> & x\""`,
		"n": `"value":"42"`,
		"z": `"value":"null"`,
		"o": `"value":"{\"a\":1}"`,
	} {
		v := e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", name), 5*time.Second)
		for _, want := range []string{raw, `"valueType":"VARIABLE"`, `"tenantId":"<default>"`, fmt.Sprintf(`"processInstanceKey":%d,`, pik)} {
			if !strings.Contains(v.Raw, want) {
				t.Errorf("VARIABLE %s lacks %s: %s", name, want, v.Raw)
			}
		}
	}
}

// §J: an answered CompleteJob survives kill -9; after the restart the instance moves on and
// keys continue above the old ones.
func TestK77KillAfterCompleteSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := startEngine(t)
	e.deploy(t, "k77.bpmn")
	pik := e.create(t, "k77", nil)
	a := e.activateOne(t, "k77a", "k77", time.Minute)
	e.complete(t, a.GetKey(), "{}")
	e.Kill(t)
	maxKey, maxPos := max(pik, a.GetKey()), int64(0)
	for _, r := range e.log.all() {
		maxKey, maxPos = max(maxKey, r.Key), max(maxPos, r.Position)
	}

	e.Restart(t)
	e.wantRejection(t, e.completeErr(t, a.GetKey()), codes.NotFound, "JOB", "COMPLETE", "NOT_FOUND", notFoundComplete(a.GetKey()))
	b := e.activateOne(t, "k77b", "k77", time.Minute)
	if b.GetProcessInstanceKey() != pik || b.GetElementId() != "TaskB" {
		t.Fatalf("after restart: job %v, want TaskB of instance %d", b, pik)
	}
	maxKey = max(maxKey, b.GetKey())
	pik2 := e.create(t, "k77", nil)
	if pik2 <= maxKey {
		t.Errorf("instance key after restart %d, not above the keys before it (up to %d)", pik2, maxKey)
	}
	e.complete(t, b.GetKey(), "{}")
	e.processCompleted(t, pik, 15*time.Second)
	r := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").k(pik2), 10*time.Second)
	if r.Position <= maxPos {
		t.Errorf("position after restart %d, not above the positions before it (up to %d)", r.Position, maxPos)
	}
	_, err := e.zc.NewCancelInstanceCommand().ProcessInstanceKey(pik2).Send(ctxT(t, 15*time.Second))
	must(t, err, "cancel the second instance")
}
