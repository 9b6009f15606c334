package dataversetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Privilege depths (access levels) of a security role, as Dataverse names them.
const (
	DepthBasic  = "Basic"  // records the user owns ("User" in the maker portal)
	DepthLocal  = "Local"  // records owned by users of the user's business unit
	DepthDeep   = "Deep"   // as Local: the emulator has one level of business units
	DepthGlobal = "Global" // every record ("Organization")
)

// RoleSystemAdministrator is the built-in security role holding every
// privilege at Global depth.
const RoleSystemAdministrator = "System Administrator"

// CodeNotMember is Dataverse's 403 for a caller that is no user of the environment.
const CodeNotMember = "0x80072560"

// RootBusinessUnit is the business unit of an AppUser that names none.
const RootBusinessUnit = "root"

// Privileges the desktop-flow operations need. Row operations need
// prv{Create,Read,Write,Delete}{table logical name} (prvReadaccount).
const (
	PrivReadWorkflow     = "prvReadworkflow"     // RunDesktopFlow (the documented example)
	PrivReadFlowSession  = "prvReadflowsession"  // a run's status and outputs
	PrivWriteFlowSession = "prvWriteflowsession" // CancelDesktopFlowRun
)

// AppUser is the Dataverse application user of one Entra ID app (client id):
// its security roles and business unit.
type AppUser struct {
	// Roles are names of Options.SecurityRoles or RoleSystemAdministrator.
	Roles []string `json:"roles"`
	// BusinessUnit groups users for Local depth; default RootBusinessUnit.
	BusinessUnit string `json:"businessUnit,omitempty"`
}

// SecurityRole maps privilege names (prvReadflowsession) to a depth
// (DepthBasic, DepthLocal, DepthDeep or DepthGlobal).
type SecurityRole map[string]string

var depthRank = map[string]int{DepthBasic: 1, DepthLocal: 2, DepthDeep: 2, DepthGlobal: 4}

// principal is a caller as the authorization checks see it.
type principal struct {
	name   string
	userID string
	bu     string
	roles  int
	admin  bool
	privs  map[string]int // lower-case privilege name → depth rank
}

// validateAppUsers checks AppUsers and SecurityRoles, naming the field.
func (o Options) validateAppUsers() error {
	for _, name := range sortedKeys(o.SecurityRoles) {
		if strings.TrimSpace(name) == "" || name == RoleSystemAdministrator {
			return fmt.Errorf("securityRoles[%q]: the name must not be blank or %q", name, RoleSystemAdministrator)
		}
		for _, p := range sortedKeys(o.SecurityRoles[name]) {
			if !strings.HasPrefix(p, "prv") || len(p) < 4 {
				return fmt.Errorf("securityRoles[%q]: privilege %q must be a name such as prvReadflowsession", name, p)
			}
			if _, ok := depthRank[o.SecurityRoles[name][p]]; !ok {
				return fmt.Errorf("securityRoles[%q][%q]: depth %q is not Basic, Local, Deep or Global", name, p, o.SecurityRoles[name][p])
			}
		}
	}
	for _, id := range sortedKeys(o.AppUsers) {
		if strings.TrimSpace(id) == "" {
			return fmt.Errorf("appUsers: a client id must not be blank")
		}
		for i, r := range o.AppUsers[id].Roles {
			if _, ok := o.SecurityRoles[r]; !ok && r != RoleSystemAdministrator {
				return fmt.Errorf("appUsers[%s].roles[%d]: %q is not a security role (securityRoles or %q)", id, i, r, RoleSystemAdministrator)
			}
		}
	}
	return nil
}

// compilePrincipals turns AppUsers into principals keyed by caller name.
func compilePrincipals(o Options) map[string]*principal {
	out := make(map[string]*principal, len(o.AppUsers))
	for id, u := range o.AppUsers {
		p := &principal{name: id, userID: userID(id), bu: u.BusinessUnit, roles: len(u.Roles), privs: map[string]int{}}
		if p.bu == "" {
			p.bu = RootBusinessUnit
		}
		for _, r := range u.Roles {
			if r == RoleSystemAdministrator {
				p.admin = true
				continue
			}
			for priv, depth := range o.SecurityRoles[r] {
				k := strings.ToLower(priv)
				p.privs[k] = max(p.privs[k], depthRank[depth])
			}
		}
		out[id] = p
	}
	return out
}

// admin is every caller when no application users are declared, and a
// static token that no AppUser names.
func adminPrincipal(name string) *principal {
	return &principal{name: name, userID: callerID, bu: RootBusinessUnit, roles: 1, admin: true}
}

// userID is a stable systemuserid for an application user.
func userID(name string) string {
	sum := sha256.Sum256([]byte("systemuser:" + name))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// principalOf resolves the caller of an authenticated request: its
// application user, or an administrator when no AppUsers are declared or the
// caller is a static token no AppUser names. nil: a client that is no user
// of the environment.
func (e *Emulator) principalOf(caller string) *principal {
	if p, ok := e.principals[caller]; ok {
		return p
	}
	if len(e.principals) == 0 || e.isStaticCaller(caller) {
		return adminPrincipal(caller)
	}
	return nil
}

func (e *Emulator) isStaticCaller(caller string) bool {
	for _, name := range e.static {
		if name == caller {
			return true
		}
	}
	return false
}

// errNotMember is Dataverse's answer to an app that is no application user.
var errNotMember = newError(http.StatusForbidden, CodeNotMember, "The user is not a member of the organization.")

// depth is the caller's depth of privilege priv (0: none).
func (p *principal) depth(priv string) int {
	if p.admin {
		return depthRank[DepthGlobal]
	}
	return p.privs[strings.ToLower(priv)]
}

// missingPrivilege is the documented 403 for a privilege the caller lacks.
func (p *principal) missingPrivilege(priv string) *odataError {
	return newError(http.StatusForbidden, CodePrivilegeDenied, fmt.Sprintf(
		"Principal user (Id=%s, type=8) is missing %s privilege (Id=%s)", p.userID, priv, privilegeID(priv)))
}

// privilegeID is a stable id for a privilege name.
func privilegeID(priv string) string {
	h := sha256.Sum256([]byte("privilege:" + strings.ToLower(priv)))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// requiredPrivilege is the privilege an operation needs ("" = none checked).
func requiredPrivilege(rt route) string {
	switch rt.op {
	case OpRunDesktopFlow, OpGetWorkflowInputs, OpGetWorkflowOutputs:
		return PrivReadWorkflow
	case OpGetFlowSession, OpGetOutputs:
		return PrivReadFlowSession
	case OpCancelDesktopFlowRun:
		return PrivWriteFlowSession
	}
	if rt.table == nil {
		return ""
	}
	verb := map[string]string{OpCreateRow: PrivCreate, OpRetrieveRow: PrivRead, OpListRows: PrivRead,
		OpUpdateRow: PrivWrite, OpDeleteRow: PrivDelete}[rt.op]
	if verb == "" {
		return ""
	}
	return "prv" + verb + rt.table.LogicalName
}

// authorize checks the caller's privilege for the operation and, for a run,
// that its depth reaches the run's owner. A run that does not exist, or a
// wrong method, is left to the operation (404).
func (e *Emulator) authorize(p *principal, rt route, method string) *odataError {
	priv := requiredPrivilege(rt)
	if priv == "" || p.admin || (rt.method != "" && method != rt.method) {
		return nil
	}
	d := p.depth(priv)
	if d == 0 {
		if rt.table != nil {
			return privilegeError(rt.table, strings.TrimSuffix(strings.TrimPrefix(priv, "prv"), rt.table.LogicalName), p.userID)
		}
		return p.missingPrivilege(priv)
	}
	if rt.op != OpGetFlowSession && rt.op != OpGetOutputs && rt.op != OpCancelDesktopFlowRun {
		return nil
	}
	id, ok := parseGUID(rt.key)
	if !ok {
		return nil
	}
	e.mu.Lock()
	s, found := e.sessions[id]
	owner := ""
	if found {
		owner = s.Caller
	}
	e.mu.Unlock()
	if !found || e.reaches(p, d, owner) {
		return nil
	}
	right := "ReadAccess"
	if rt.op == OpCancelDesktopFlowRun {
		right = "WriteAccess"
	}
	return newError(http.StatusForbidden, CodePrivilegeDenied, fmt.Sprintf(
		"Principal user (Id=%s, type=8) does not have %s right(s) for record with id %s of entity flowsession.", p.userID, right, id))
}

// reaches reports whether depth d of principal p covers a record owned by owner.
func (e *Emulator) reaches(p *principal, d int, owner string) bool {
	switch {
	case d >= depthRank[DepthGlobal] || owner == p.name:
		return true
	case d >= depthRank[DepthLocal]:
		o := e.principalOf(owner)
		return o != nil && o.bu == p.bu
	}
	return false
}

// AppUserID is the systemuserid the emulator gives an application user (the
// Id in its 403 messages); callers without an AppUser are administrators with
// a fixed id.
func (e *Emulator) AppUserID(clientID string) string {
	if p, ok := e.principals[clientID]; ok {
		return p.userID
	}
	return callerID
}
