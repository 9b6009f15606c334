package dataversetest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// connOptions declare connections: conn-ok shared with clientID, conn-static shared with every
// caller, conn-private shared with nobody, conn-off (a machine) and group-off (a machine group)
// offline, and references to them.
func connOptions() Options {
	return Options{
		Connections: map[string]Connection{
			"conn-ok":      {SharedWith: []string{clientID}},
			"conn-static":  {SharedWith: []string{ShareWithEveryone}},
			"conn-private": {},
			"conn-off":     {SharedWith: []string{ShareWithEveryone}, Offline: true},
			"group-off":    {SharedWith: []string{ShareWithEveryone}, Offline: true, MachineGroup: true},
		},
		ConnectionReferences: []ConnectionReference{
			{LogicalName: "new_ok", ConnectionID: "conn-ok"},
			{LogicalName: "new_static", ConnectionID: "conn-static", DisplayName: "Static"},
			{LogicalName: "new_private", ConnectionID: "conn-private"},
			{LogicalName: "new_unset"},
			{LogicalName: "new_teams", ConnectorID: "/providers/Microsoft.PowerApps/apis/shared_teams", ConnectionID: "conn-static"},
			{LogicalName: "new_off", ConnectionID: "conn-static", Inactive: true},
		},
	}
}

func connClientToken(t *testing.T, s *Server) string {
	t.Helper()
	status, m := tokenRequest(t, s, "POST", DefaultTenant, url.Values{"grant_type": {"client_credentials"},
		"client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}, "")
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %v", status, m)
	}
	return tok
}

func TestConnectionsCheckedWhenDeclared(t *testing.T) {
	t.Parallel()
	s := start(t, connOptions())
	client := connClientToken(t, s)
	run := func(token, name string, typ int) answer {
		body := map[string]any{"runMode": "unattended", "connectionName": name}
		if typ != 0 {
			body["connectionType"] = typ
		}
		return call(t, s, http.MethodPost, runPath(wfID), token, body)
	}
	tests := []struct {
		name   string
		token  string
		conn   string
		typ    int
		status int
		code   string
		says   []string
	}{
		{"connection shared with the client", client, "conn-ok", 1, 200, "", nil},
		{"connection type defaults to 1", client, "conn-ok", 0, 200, "", nil},
		{"connection shared with everyone, static token", staticToken, "conn-static", 1, 200, "", nil},
		{"reference to a shared connection", client, "new_ok", 2, 200, "", nil},
		{"reference name in another case", client, "NEW_OK", 2, 200, "", nil},
		{"unknown connection", client, "conn-nope", 1, 404, CodeObjectDoesNotExist, []string{"'conn-nope'", "not found"}},
		{"reference name given as a connection", client, "new_ok", 1, 404, CodeObjectDoesNotExist, []string{"'new_ok'"}},
		{"connection shared with nobody", client, "conn-private", 1, 403, CodePrivilegeDenied, []string{"'conn-private'", "not shared"}},
		{"connection shared with a client only, static token", staticToken, "conn-ok", 1, 403, CodePrivilegeDenied, []string{"'conn-ok'"}},
		{"reference to an unshared connection", client, "new_private", 2, 403, CodePrivilegeDenied, []string{"'conn-private'", "reference 'new_private'"}},
		{"unknown reference", client, "new_nope", 2, 404, CodeObjectDoesNotExist, []string{"connectionreference", "'new_nope'"}},
		{"reference without a connection", client, "new_unset", 2, 400, CodeInvalidArgument, []string{"Connection Id missing", "'new_unset'"}},
		{"reference of another connector", client, "new_teams", 2, 400, CodeInvalidArgument, []string{"shared_teams", "'new_teams'"}},
		{"inactive reference", client, "new_off", 2, 400, CodeInvalidArgument, []string{"inactive", "'new_off'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Count(OpRunDesktopFlow)
			runs := len(s.Sessions())
			a := run(tc.token, tc.conn, tc.typ)
			if a.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", a.status, tc.status, a.body)
			}
			if s.Count(OpRunDesktopFlow) != before+1 {
				t.Errorf("RunDesktopFlow not counted")
			}
			if tc.status == 200 {
				if len(s.Sessions()) != runs+1 {
					t.Errorf("no run started")
				}
				return
			}
			if len(s.Sessions()) != runs {
				t.Errorf("a refused trigger started a run")
			}
			code, msg := a.odata(t)
			if code != tc.code {
				t.Errorf("code = %s, want %s (%s)", code, tc.code, msg)
			}
			for _, want := range tc.says {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
		})
	}
}

// A run records the connection it used in flowsession.connectionid (the reference's connection).
func TestConnectionIDOnTheRun(t *testing.T) {
	t.Parallel()
	s := start(t, connOptions())
	a := call(t, s, http.MethodPost, runPath(wfID), connClientToken(t, s), map[string]any{"runMode": "unattended", "connectionName": "new_ok", "connectionType": 2})
	id, _ := a.json(t)["flowsessionId"].(string)
	if got := getSession(t, s, id, "?$select=connectionid")["connectionid"]; got != "conn-ok" {
		t.Errorf("connectionid = %v, want conn-ok", got)
	}
}

// Without declared connections any name is accepted (the default: today's tests and demos).
func TestConnectionsNotDeclaredAcceptAnyName(t *testing.T) {
	t.Parallel()
	s := start(t, Options{ConnectionReferences: []ConnectionReference{{LogicalName: "new_unset"}}})
	for _, typ := range []int{1, 2} {
		for _, name := range []string{"anything", "new_unset"} {
			a := call(t, s, http.MethodPost, runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": name, "connectionType": typ})
			if a.status != http.StatusOK {
				t.Errorf("type %d %q: %d %s", typ, name, a.status, a.body)
			}
		}
	}
	for _, f := range s.Sessions() {
		if f.ConnectionID != "" {
			t.Errorf("connectionid %q set without declared connections", f.ConnectionID)
		}
	}
}

// An offline machine: the trigger is accepted and the run fails as it starts with
// NoListenerConnected; an offline machine group keeps it queued until NoCandidateMachine at 6 h.
func TestOfflineMachine(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	opts := connOptions()
	opts.Clock = clock.Now
	opts.Flows = map[string]Flow{wfID: {QueueDelay: time.Second, Duration: time.Second, Outputs: map[string]any{"A": 1}}}
	s := start(t, opts)
	machine := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "conn-off"})
	group := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "group-off"})
	fine := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "conn-static"})
	clock.Add(2 * time.Second)
	s.Tick()
	if f, _ := s.Session(machine); f.StatusCode != StatusFailed || f.ErrorCode != ErrorNoListenerConnected || f.Outputs != nil {
		t.Errorf("machine offline: status %d errorcode %q outputs %s", f.StatusCode, f.ErrorCode, f.Outputs)
	}
	if f, _ := s.Session(fine); f.StatusCode != StatusSucceeded {
		t.Errorf("online machine: status %d", f.StatusCode)
	}
	if f, _ := s.Session(group); f.StatusCode != StatusWaiting {
		t.Errorf("group offline after 2 s: status %d, want 3 Waiting", f.StatusCode)
	}
	clock.Add(NoCandidateMachineAfter)
	s.Tick()
	if f, _ := s.Session(group); f.StatusCode != StatusFailed || f.ErrorCode != ErrorNoCandidateMachine {
		t.Errorf("group offline after 6 h: status %d errorcode %q", f.StatusCode, f.ErrorCode)
	}
}

func TestConnectionConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"reference without a name", Options{ConnectionReferences: []ConnectionReference{{ConnectionID: "c"}}}, "connectionReferences[0].logicalName is required"},
		{"reference declared twice", Options{ConnectionReferences: []ConnectionReference{{LogicalName: "a"}, {LogicalName: "A"}}}, "connectionReferences[1].logicalName"},
		{"reference to an undeclared connection", Options{Connections: map[string]Connection{"c": {}}, ConnectionReferences: []ConnectionReference{{LogicalName: "a", ConnectionID: "d"}}}, "connectionReferences[0].connectionId \"d\" is not one of connections"},
		{"blank sharedWith", Options{Connections: map[string]Connection{"c": {SharedWith: []string{" "}}}}, "connections[c].sharedWith[0]"},
		{"blank connection name", Options{Connections: map[string]Connection{" ": {}}}, "connections: a connection name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to say %q", err, tc.want)
			}
		})
	}
	if err := connOptions().Validate(); err != nil {
		t.Errorf("valid connections: %v", err)
	}
}
