package dataversetest

import "time"

// Labels of the flowsession choice columns (flowsession table reference).
var (
	statusLabels = []string{"NotSpecified", "Paused", "Running", "Waiting", "Succeeded", "Skipped",
		"Suspended", "Cancelled", "Failed", "Faulted", "TimedOut", "Aborted", "Ignored", "Deleted", "Terminated"}
	stateLabels       = []string{"Active", "Inactive"}
	runModeLabels     = []string{"Local", "Attended", "Unattended"}
	triggerTypeLabels = map[int]string{3: "RunDesktopFlowDataverseApi"}
)

// sessionLookups are the lookup columns of a run: the table each points at
// and the navigation property Dataverse names in associatednavigationproperty.
var sessionLookups = map[string]struct{ table, nav string }{
	"_regardingobjectid_value": {"workflow", "regardingobjectid"},
	"_ownerid_value":           {"systemuser", "ownerid"},
	"_createdby_value":         {"systemuser", "createdby"},
	"_modifiedby_value":        {"systemuser", "modifiedby"},
	"_owninguser_value":        {"systemuser", "owninguser"},
}

// annotateSession puts before each column of a flowsession answer the
// annotations that Prefer: odata.include-annotations asks for: the
// FormattedValue of choices (labels), dates (en-US, UTC) and lookups (the
// target's primary name), and the lookups' logical name and navigation property.
func (e *Emulator) annotateSession(obj orderedObject, flowName string, p prefer) orderedObject {
	out := make(orderedObject, 0, len(obj)*2)
	for _, c := range obj {
		if look, ok := sessionLookups[c.k]; ok && c.v != nil {
			if p.wants(annFormatted) {
				name := any(flowName)
				if look.table != "workflow" {
					e.mu.Lock()
					name = e.primaryNameLocked(lookupRef{table: look.table, id: callerID})
					e.mu.Unlock()
				}
				out = append(out, kv{c.k + "@" + annFormatted, name})
			}
			if p.wants(annNavigation) {
				out = append(out, kv{c.k + "@" + annNavigation, look.nav})
			}
			if p.wants(annLookupTable) {
				out = append(out, kv{c.k + "@" + annLookupTable, look.table})
			}
		} else if f, ok := sessionFormatted(c.k, c.v); ok && p.wants(annFormatted) {
			out = append(out, kv{c.k + "@" + annFormatted, f})
		}
		out = append(out, c)
	}
	return out
}

// sessionFormatted is the FormattedValue of a flowsession column's value.
func sessionFormatted(col string, v any) (string, bool) {
	label := func(labels []string) (string, bool) {
		n, ok := v.(int)
		if !ok || n < 0 || n >= len(labels) {
			return "", false
		}
		return labels[n], true
	}
	switch col {
	case "statuscode":
		return label(statusLabels)
	case "statecode":
		return label(stateLabels)
	case "runmode":
		return label(runModeLabels)
	case "triggertype":
		n, _ := v.(int)
		l, ok := triggerTypeLabels[n]
		return l, ok
	case "createdon", "modifiedon", "startedon", "completedon":
		s, _ := v.(string)
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return "", false
		}
		return ts.Format("1/2/2006 3:04 PM"), true
	}
	return "", false
}
