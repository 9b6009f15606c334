package dataversetest

import (
	"net/http"
	"sort"
)

// Operation names of the Web API's own resources.
const (
	OpWhoAmI          = "WhoAmI"
	OpServiceDocument = "ServiceDocument"
)

// The ids WhoAmI answers besides the caller's systemuserid (callerID).
const (
	businessUnitID = "00000000-0000-4000-8000-0000000000b1"
	organizationID = "00000000-0000-4000-8000-0000000000c1"
)

// serveWhoAmI is the WhoAmI function: the caller's user, business unit and organization.
func (e *Emulator) serveWhoAmI(w http.ResponseWriter, r *http.Request, p *principal) {
	if r.Method != http.MethodGet {
		wrongMethod(w, r)
		return
	}
	writeJSON(w, http.StatusOK, orderedObject{
		{"@odata.context", metadataURL(r) + "Microsoft.Dynamics.CRM.WhoAmIResponse"},
		{"BusinessUnitId", businessUnitID},
		{"UserId", p.userID},
		{"OrganizationId", organizationID},
	})
}

// serveServiceDocument is GET {org}/api/data/v9.2/: the entity sets, by name.
func (e *Emulator) serveServiceDocument(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		wrongMethod(w, r)
		return
	}
	sets := []string{"flowsessions"}
	for _, t := range e.tables {
		sets = append(sets, t.EntitySetName)
	}
	sort.Strings(sets)
	value := make([]orderedObject, 0, len(sets))
	for _, s := range sets {
		value = append(value, orderedObject{{"name", s}, {"kind", "EntitySet"}, {"url", s}})
	}
	writeJSON(w, http.StatusOK, orderedObject{
		{"@odata.context", orgURL(r) + apiPrefix + "$metadata"},
		{"value", value},
	})
}
