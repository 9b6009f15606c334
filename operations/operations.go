// Package operations is the Dataverse client: it builds the documented Web API requests of
// desktop flows (RunDesktopFlow, the flowsession row, its outputs, CancelDesktopFlowRun) and of
// rows and actions (Rows: tables resolved through EntityDefinitions, alternate keys, lookups
// bound through navigation properties, paging), sends them and turns the answers into a
// Response or a typed *HTTPError; bad input is an *InputError naming the field. It knows nothing
// of jobs, Zeebe or expressions; authentication and limits live in the http.Client's transport.
package operations

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// APIPath is the Web API root below an organization URL.
const APIPath = "/api/data/v9.2"

// Op names a desktop-flow operation.
type Op string

// The operations, named as the element template's operationType.
const (
	OpTrigger Op = "triggerFlowRun"
	OpStatus  Op = "getStatusOfFlowRun"
	OpOutputs Op = "getFlowOutputs"
	OpCancel  Op = "cancelFlowRun"
)

// Call is one HTTP request to send.
type Call struct {
	Op     Op // empty for a plain REST call
	Method string
	URL    string
	Header http.Header
	Body   []byte // nil: no body
}

// MaxCallbackURL is the most characters RunDesktopFlow's callbackUrl may have: Dataverse keeps it
// in the flowsession callbackurl column, whose MaxLength is 2000.
const MaxCallbackURL = 2000

// RunDesktopFlowBody is the RunDesktopFlow action's body with the types Dataverse declares.
type RunDesktopFlowBody struct {
	RunMode        string `json:"runMode"`
	RunPriority    string `json:"runPriority,omitempty"`
	ConnectionName string `json:"connectionName"`
	ConnectionType int32  `json:"connectionType,omitempty"`
	Timeout        int32  `json:"timeout,omitempty"`
	Inputs         string `json:"inputs,omitempty"`
	CallbackURL    string `json:"callbackUrl,omitempty"`
}

// Status codes of a flowsession row (its statuscode column).
var statusNames = [...]string{
	"NotSpecified", "Paused", "Running", "Waiting", "Succeeded", "Skipped", "Suspended",
	"Cancelled", "Failed", "Faulted", "TimedOut", "Aborted", "Ignored", "Deleted", "Terminated",
}

// StatusName returns the name of a flowsession statuscode ("Succeeded" for 4), or "" if unknown.
func StatusName(code int) string {
	if code < 0 || code >= len(statusNames) {
		return ""
	}
	return statusNames[code]
}

// Terminal reports whether a statuscode means the run will not change any more.
func Terminal(code int) bool {
	switch code {
	case 4, 5, 7, 8, 9, 10, 11, 12, 13, 14:
		return true
	}
	return false
}

// Succeeded reports whether a terminal statuscode is a success.
func Succeeded(code int) bool { return code == 4 }

// guid matches the canonical form of a Dataverse row id.
var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidID reports whether id is a GUID as Dataverse writes them.
func ValidID(id string) bool { return guid.MatchString(id) }

func base(org string) string { return strings.TrimRight(org, "/") + APIPath }

func jsonHeader(withBody bool) http.Header {
	h := http.Header{
		"Accept":           {"application/json"},
		"Odata-Maxversion": {"4.0"},
		"Odata-Version":    {"4.0"},
	}
	if withBody {
		h["Content-Type"] = []string{"application/json"}
	}
	return h
}

// Trigger builds the RunDesktopFlow call.
func Trigger(org, workflowID string, body RunDesktopFlowBody) (Call, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Call{}, fmt.Errorf("encoding RunDesktopFlow body: %w", err)
	}
	return Call{
		Op:     OpTrigger,
		Method: http.MethodPost,
		URL:    fmt.Sprintf("%s/workflows(%s)/Microsoft.Dynamics.CRM.RunDesktopFlow", base(org), workflowID),
		Header: jsonHeader(true),
		Body:   b,
	}, nil
}

// StatusColumns are the flowsession columns the status operation reads.
const StatusColumns = "statuscode,statecode,startedon,completedon,errorcode,errormessage"

// Status builds the read of a flowsession row's status columns.
func Status(org, sessionID string) Call {
	return Call{
		Op:     OpStatus,
		Method: http.MethodGet,
		URL:    fmt.Sprintf("%s/flowsessions(%s)?$select=%s", base(org), sessionID, StatusColumns),
		Header: jsonHeader(false),
	}
}

// Outputs builds the download of a run's outputs file column.
func Outputs(org, sessionID string) Call {
	return Call{
		Op:     OpOutputs,
		Method: http.MethodGet,
		URL:    fmt.Sprintf("%s/flowsessions(%s)/outputs/$value", base(org), sessionID),
		Header: jsonHeader(false),
	}
}

// Cancel builds the CancelDesktopFlowRun call.
func Cancel(org, sessionID string) Call {
	return Call{
		Op:     OpCancel,
		Method: http.MethodPost,
		URL:    fmt.Sprintf("%s/flowsessions(%s)/Microsoft.Dynamics.CRM.CancelDesktopFlowRun", base(org), sessionID),
		Header: jsonHeader(true),
		Body:   []byte("{}"),
	}
}

var (
	triggerPath = regexp.MustCompile(`(?i)^(.*)/api/data/v9\.[0-9]+/workflows\(([^)]*)\)/Microsoft\.Dynamics\.CRM\.RunDesktopFlow/?$`)
	outputsPath = regexp.MustCompile(`(?i)^(.*)/api/data/v9\.[0-9]+/flowsessions\(([^)]*)\)/outputs/\$value/?$`)
	cancelPath  = regexp.MustCompile(`(?i)^(.*)/api/data/v9\.[0-9]+/flowsessions\(([^)]*)\)/Microsoft\.Dynamics\.CRM\.CancelDesktopFlowRun/?$`)
	statusPath  = regexp.MustCompile(`(?i)^(.*)/api/data/v9\.[0-9]+/flowsessions\(([^)]*)\)/?$`)
)

// Recognize tells which desktop-flow operation a URL addresses, with the organization URL and
// the row id in it. ok is false for any other URL (a plain REST call).
func Recognize(method, rawURL string) (op Op, org, id string, ok bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", "", "", false
	}
	p := u.Scheme + "://" + u.Host + u.EscapedPath()
	if p2, err := url.PathUnescape(p); err == nil {
		p = p2
	}
	m := strings.ToUpper(method)
	for _, c := range []struct {
		re     *regexp.Regexp
		op     Op
		method string
	}{
		{triggerPath, OpTrigger, http.MethodPost},
		{outputsPath, OpOutputs, http.MethodGet},
		{cancelPath, OpCancel, http.MethodPost},
		{statusPath, OpStatus, http.MethodGet},
	} {
		if s := c.re.FindStringSubmatch(p); s != nil && m == c.method {
			return c.op, s[1], strings.Trim(s[2], "'"), true
		}
	}
	return "", "", "", false
}
