package dataversetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Dataverse error codes the emulator answers with.
const (
	CodeObjectDoesNotExist   = "0x80040217" // 404: no such row
	CodeInvalidArgument      = "0x80040203" // 400: the action rejected a parameter value
	CodePayloadError         = "0x80048d19" // 400: the request body could not be deserialized
	CodeQuerySyntax          = "0x80060888" // 400: bad key, unknown $select column, bad query option
	CodeResourceNotFound     = "0x8006088a" // 404: unknown entity set, action or segment
	CodeRequestsLimit        = "0x80072322" // 429: number of requests
	CodeExecutionTimeLimit   = "0x80072321" // 429: combined execution time
	CodeConcurrencyLimit     = "0x80072326" // 429: concurrent requests
	CodeTriggerLimit         = "DesktopFlowsActionThrottled"
	CodeUnexpected           = "0x80040216" // 500: generic server error (used by injected faults)
	CodeETagMismatch         = "0x80060882" // 412: If-Match names another version of the row
	CodeDuplicateRecord      = "0x80040237" // 412: a row with the same primary or alternate key exists
	CodePrivilegeDenied      = "0x80040220" // 403: the caller lacks a privilege on the table
	CodeOutOfRange           = "0x8004431a" // 400: an option value outside the column's options
	CodeActionFailed         = "0x80040265" // 400: a custom API's plug-in threw (InvalidPluginExecutionException)
	contentTypeODataJSON     = "application/json; odata.metadata=minimal"
	payloadErrorPrefix       = "Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: "
	flowSessionType          = "Microsoft.Dynamics.CRM.flowsession"
	apiPrefix                = "/api/data/v9.2/"
	retryAfterConcurrencySec = 1
)

// odataError is a Dataverse Web API error answer.
type odataError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds; 0 = no Retry-After header
}

func (e *odataError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, message string) *odataError {
	return &odataError{status: status, code: code, message: message}
}

// payloadError is the 400 that Dataverse gives when OData cannot read a body.
func payloadError(inner string) *odataError {
	return newError(http.StatusBadRequest, CodePayloadError, payloadErrorPrefix+inner)
}

func notFoundRow(entity, id string) *odataError {
	return newError(http.StatusNotFound, CodeObjectDoesNotExist, entity+" With Id = "+id+" Does Not Exist")
}

// writeJSON writes v as a Dataverse JSON answer with the OData headers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"` + CodeUnexpected + `","message":"encoding the answer failed"}}`)
	}
	h := w.Header()
	h.Set("OData-Version", "4.0")
	h.Set("Content-Type", contentTypeODataJSON)
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

func writeError(w http.ResponseWriter, e *odataError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": e.code, "message": e.message}})
}
