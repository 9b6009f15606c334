package dataversetest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// DesktopFlowsConnector is the connector id of desktop-flow connections (the connectionreference
// table's connectorid of a reference RunDesktopFlow can use).
const DesktopFlowsConnector = "/providers/Microsoft.PowerApps/apis/shared_uiflow"

// ShareWithEveryone in Connection.SharedWith shares a connection with every caller, static tokens included.
const ShareWithEveryone = "*"

// Errorcodes of runs whose connection's machine is offline (documented: "Error code occurs when
// running an attended or unattended desktop flow", KB 4555406, and the run queue article).
const (
	ErrorNoListenerConnected = "NoListenerConnected"
	ErrorNoCandidateMachine  = "NoCandidateMachine"
)

// Connection is a desktop-flow connection (connector shared_uiflow) that RunDesktopFlow may name.
type Connection struct {
	// SharedWith are the client ids (Options.Clients) whose application users may run flows on
	// the connection; ShareWithEveryone ("*") is every caller, static tokens included. Empty:
	// the connection is shared with no caller, every trigger on it is refused.
	SharedWith []string `json:"sharedWith,omitempty"`
	// MachineGroup makes the connection target a machine group rather than one machine.
	MachineGroup bool `json:"machineGroup,omitempty"`
	// Offline: the machine (every machine of the group) is offline. A run on a machine fails as
	// it would start with errorcode NoListenerConnected; a run on a group waits in the queue and
	// fails after 6 hours with NoCandidateMachine.
	Offline bool `json:"offline,omitempty"`
}

// ConnectionReference is a seed row of the connectionreference table.
type ConnectionReference struct {
	// LogicalName is connectionreferencelogicalname, the name RunDesktopFlow takes with connectionType 2.
	LogicalName string `json:"logicalName"`
	// DisplayName is connectionreferencedisplayname; default LogicalName.
	DisplayName string `json:"displayName,omitempty"`
	// ConnectorID is connectorid; default DesktopFlowsConnector.
	ConnectorID string `json:"connectorId,omitempty"`
	// ConnectionID is connectionid: a name of Options.Connections when connections are
	// declared (any name otherwise); "" is a reference whose connection is not set.
	ConnectionID string `json:"connectionId,omitempty"`
	// Inactive makes the row statecode 1 (Inactive).
	Inactive bool `json:"inactive,omitempty"`
}

// connectionReferenceTable is the built-in connectionreference table (the documented columns a
// client resolving a reference reads).
func connectionReferenceTable() Table {
	return Table{
		LogicalName: "connectionreference", PrimaryNameAttribute: "connectionreferencedisplayname",
		Columns: append([]Column{
			str("connectionreferencelogicalname"), str("connectionreferencedisplayname"), str("connectorid"),
			str("connectionid"), str("description"), ownerColumn(),
		}, stateStatus(activeInactive, map[int]string{1: "Active", 2: "Inactive"}, 1)...),
	}
}

// connectionReferenceRows are the rows of Options.ConnectionReferences.
func connectionReferenceRows(o Options) Table {
	t := Table{LogicalName: "connectionreference"}
	for _, r := range o.ConnectionReferences {
		row := map[string]any{"connectionreferencelogicalname": r.LogicalName,
			"connectionreferencedisplayname": r.LogicalName, "connectorid": DesktopFlowsConnector}
		if r.DisplayName != "" {
			row["connectionreferencedisplayname"] = r.DisplayName
		}
		if r.ConnectorID != "" {
			row["connectorid"] = r.ConnectorID
		}
		if r.ConnectionID != "" {
			row["connectionid"] = r.ConnectionID
		}
		if r.Inactive {
			row["statecode"], row["statuscode"] = 1, 2
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// checkConnections reports the first invalid connection or reference, naming the field.
func checkConnections(o Options) error {
	for _, name := range sortedKeys(o.Connections) {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("connections: a connection name must not be blank")
		}
		for i, c := range o.Connections[name].SharedWith {
			if strings.TrimSpace(c) == "" {
				return fmt.Errorf("connections[%s].sharedWith[%d] must not be blank", name, i)
			}
		}
	}
	seen := map[string]bool{}
	for i, r := range o.ConnectionReferences {
		at := fmt.Sprintf("connectionReferences[%d]", i)
		key := strings.ToLower(r.LogicalName)
		switch {
		case strings.TrimSpace(r.LogicalName) == "":
			return fmt.Errorf("%s.logicalName is required", at)
		case seen[key]:
			return fmt.Errorf("%s.logicalName %q is declared twice", at, r.LogicalName)
		case r.ConnectionID != "" && len(o.Connections) > 0:
			if _, ok := o.Connections[r.ConnectionID]; !ok {
				return fmt.Errorf("%s.connectionId %q is not one of connections", at, r.ConnectionID)
			}
		}
		seen[key] = true
	}
	return nil
}

// resolveConnection checks a trigger's connection when connections are declared: the
// connection (connectionType 1) or the reference and its connection (2) must exist, the
// connection must be shared with the caller. It returns the connection's name and settings.
// Without declared connections every name is accepted (ok false, no error).
func (e *Emulator) resolveConnection(req runRequest, caller string) (string, Connection, bool, *odataError) {
	if len(e.opts.Connections) == 0 {
		return "", Connection{}, false, nil
	}
	name, via := req.ConnectionName, ""
	if req.ConnectionType != nil && *req.ConnectionType == 2 {
		ref, err := e.connectionReference(req.ConnectionName)
		if err != nil {
			return "", Connection{}, false, err
		}
		name, via = ref, fmt.Sprintf(" (of connection reference '%s')", req.ConnectionName)
	}
	c, ok := e.opts.Connections[name]
	if !ok {
		// Undocumented answer (docs/emulator.md).
		return "", Connection{}, false, newError(http.StatusNotFound, CodeObjectDoesNotExist,
			fmt.Sprintf("The connection '%s'%s was not found in this environment.", name, via))
	}
	if !slices.ContainsFunc(c.SharedWith, func(s string) bool { return s == ShareWithEveryone || strings.EqualFold(s, caller) }) {
		// Undocumented answer (docs/emulator.md): the caller's application user has no access to it.
		return "", Connection{}, false, newError(http.StatusForbidden, CodePrivilegeDenied,
			fmt.Sprintf("Principal user (Id=%s, type=8) has no access to the connection '%s'%s: it is not shared with this user.", callerID, name, via))
	}
	return name, c, true, nil
}

// connectionReference finds a connectionreference row by logical name (any case) and returns
// its connectionid, or the error RunDesktopFlow answers when it cannot be used.
func (e *Emulator) connectionReference(logicalName string) (string, *odataError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.store.sorted("connectionreference") {
		n, _ := r.vals["connectionreferencelogicalname"].(string)
		if !strings.EqualFold(n, logicalName) {
			continue
		}
		conn, _ := r.vals["connectionid"].(string)
		connector, _ := r.vals["connectorid"].(string)
		state, _ := r.vals["statecode"].(int64)
		// Undocumented answers (docs/emulator.md); the missing connection's text is the one
		// Power Automate gives when a flow's reference has none (XrmConnectionReferenceMissingConnection).
		switch {
		case state != 0:
			return "", newError(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("The connection reference '%s' is inactive.", n))
		case !strings.EqualFold(connector, DesktopFlowsConnector):
			return "", newError(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("The connection reference '%s' is for the connector '%s', not for desktop flows (%s).", n, connector, DesktopFlowsConnector))
		case strings.TrimSpace(conn) == "":
			return "", newError(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("XrmConnectionReferenceMissingConnection: Connection Id missing for connection reference logical name '%s'.", n))
		}
		return conn, nil
	}
	return "", newError(http.StatusNotFound, CodeObjectDoesNotExist, fmt.Sprintf("connectionreference With connectionreferencelogicalname = '%s' Does Not Exist", logicalName))
}

// offlineMachine makes a run on an offline connection fail as documented: on one machine as it
// would start (NoListenerConnected), on a machine group after 6 hours in the queue (NoCandidateMachine).
func offlineMachine(flow Flow, c Connection) Flow {
	if !c.Offline {
		return flow
	}
	flow.Outputs, flow.EchoInputs = nil, false
	if c.MachineGroup {
		flow.QueueDelay = NoCandidateMachineAfter
		return flow
	}
	flow.Duration, flow.FinalStatus = 0, StatusFailed
	flow.ErrorCode = ErrorNoListenerConnected
	flow.ErrorMessage = "The endpoint wasn't found. There are no listeners connected to the endpoint. Check that your machine is online."
	return flow
}
