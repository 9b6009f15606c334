package dataversetest

import "net/http"

// DOPHint is the x-ms-dop-hint every Web API answer carries: the degree of
// parallelism Dataverse recommends to a client. The value is the emulator's
// choice (Dataverse sends a per-environment number).
const DOPHint = "4"

// setRequestHeaders sets the headers Dataverse puts on every Web API answer,
// errors and 401 included: a request id under both names Microsoft support
// asks for (REQ_ID and x-ms-service-request-id, one value), and x-ms-dop-hint.
func setRequestHeaders(w http.ResponseWriter) {
	h := w.Header()
	id := newGUID()
	h.Set("x-ms-service-request-id", id)
	h["REQ_ID"] = []string{id} // not canonicalised: Dataverse spells it so
	h.Set("x-ms-dop-hint", DOPHint)
}
