package connector

import (
	"errors"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// withConnections declares connections as Dataverse has them: robot (shared with the test
// client and static token users), private (shared with nobody), and references to them.
func withConnections(o *dataversetest.Options) {
	o.Connections = map[string]dataversetest.Connection{
		"robot":   {SharedWith: []string{dataversetest.ShareWithEveryone}},
		"private": {},
	}
	o.ConnectionReferences = []dataversetest.ConnectionReference{
		{LogicalName: "new_robot", ConnectionID: "robot"},
		{LogicalName: "new_private", ConnectionID: "private"},
		{LogicalName: "new_unset"},
		{LogicalName: "new_teams", ConnectorID: "/providers/Microsoft.PowerApps/apis/shared_teams", ConnectionID: "robot"},
		{LogicalName: "new_inactive", ConnectionID: "robot", Inactive: true},
	}
}

// A trigger with connectionType 2 resolves the reference first: one that is missing or
// unusable, or whose connection Dataverse refuses, is an incident (retries 0) naming the
// reference and the connection and saying how to fix it; no run starts.
func TestTriggerResolvesTheConnectionReference(t *testing.T) {
	f := newFixture(t, withConnections)
	ref := func(name string) map[string]any {
		return f.trigger(map[string]any{"connectionName": name, "connectionType": 2})
	}
	tests := []struct {
		name string
		vars map[string]any
		want []string
	}{
		{"missing reference", ref("new_nope"), []string{"connectionName", `connection reference "new_nope" does not exist`, "create it in the desktop flow's solution", "the user of the bearer token"}},
		{"reference without a connection", ref("new_unset"), []string{`connection reference "new_unset" has no connection`, "select a desktop flow connection"}},
		{"reference of another connector", ref("new_teams"), []string{`"new_teams"`, "shared_teams", "Desktop flows connector"}},
		{"inactive reference", ref("new_inactive"), []string{`"new_inactive"`, "inactive", "activate it"}},
		{"reference to an unshared connection", f.oauth(ref("new_private"), "{{secrets.CLIENT}}"), []string{`connection reference "new_private"`, "'private'", "403", "share the connection with the application user of client " + clientID}},
		{"unshared connection", f.trigger(map[string]any{"connectionName": "private"}), []string{`connection "private"`, "403", "share the connection with the user of the bearer token"}},
		{"unknown connection", f.trigger(map[string]any{"connectionName": "nope"}), []string{`connection "nope"`, "404", "check that the connection exists"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.run(tc.vars, triggerHeaders)
			var perm *PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("err = %v, want an incident (retries 0)", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("incident %q does not say %q", err, w)
				}
			}
		})
	}
	if n := len(f.srv.Sessions()); n != 0 {
		t.Errorf("%d runs started, want 0", n)
	}
	// A good reference runs, with a bearer token and with client credentials.
	for _, vars := range []map[string]any{ref("new_robot"), f.oauth(ref("NEW_ROBOT"), "{{secrets.CLIENT}}")} {
		if _, err := f.run(vars, triggerHeaders); err != nil {
			t.Fatalf("a good reference: %v", err)
		}
	}
	if runs := f.srv.Sessions(); len(runs) != 2 || runs[0].ConnectionID != "robot" {
		t.Errorf("runs = %+v, want 2 on connection robot", runs)
	}
}

// Dataverse's answer stays visible to an error expression (code "403"), which may decide otherwise.
func TestConnectionRefusalKeepsDataverseAnswerForErrorExpressions(t *testing.T) {
	f := newFixture(t, withConnections)
	res, err := f.run(f.trigger(map[string]any{"connectionName": "private"}),
		map[string]string{"errorExpression": `=if error.code = "403" then ignoreError({refused: true}) else null`})
	if err != nil || res.Variables["refused"] != true {
		t.Fatalf("error expression on a refused connection: %v %v", res.Variables, err)
	}
}

// 30 concurrent triggers naming one reference on a cold cache read it once; a missing
// reference is read again by the next trigger (creating it is seen at once).
func TestReferenceReadsAreSharedAndCached(t *testing.T) {
	f := newFixture(t, withConnections)
	const n = 30
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f.run(f.trigger(map[string]any{"connectionName": "new_robot", "connectionType": 2}), triggerHeaders)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if reads, runs := f.srv.Count(dataversetest.OpListRows), f.srv.Count(dataversetest.OpRunDesktopFlow); reads != 1 || runs != n {
		t.Fatalf("%d reference reads and %d runs for %d triggers, want 1 read and %d runs", reads, runs, n, n)
	}
	missing := f.trigger(map[string]any{"connectionName": "new_later", "connectionType": 2})
	for range 2 {
		if _, err := f.run(missing, triggerHeaders); err == nil {
			t.Fatal("a missing reference triggered")
		}
	}
	if reads := f.srv.Count(dataversetest.OpListRows); reads != 3 {
		t.Errorf("%d reads after two triggers on a missing reference, want 1+2", reads)
	}
	// A read that fails is a retried error, not an incident about the reference.
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpListRows, Status: 503})
	_, err := f.run(missing, triggerHeaders)
	var retry *RetryError
	if !errors.As(err, &retry) || !strings.Contains(err.Error(), `reading connection reference "new_later"`) {
		t.Errorf("a failed read: %v", err)
	}
	var ie *operations.InputError
	if errors.As(err, &ie) {
		t.Errorf("a failed read is an input error: %v", err)
	}
}
