package operations

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// OpRunCloudFlow is a cloud flow's "When an HTTP request is received" trigger and the polls of
// the Location an asynchronous answer names.
const OpRunCloudFlow Op = "runCloudFlow"

// CloudFlowBody is the body a flow's trigger receives: {entityLogicalName, recordId, ...inputs},
// an empty entityLogicalName or recordId left out. An input named like one of the two when that
// one is given is an *InputError naming inputs.<name>: it would silently replace it.
func CloudFlowBody(entityLogicalName, recordID string, inputs map[string]any) ([]byte, error) {
	body := make(map[string]any, len(inputs)+2)
	for k, v := range map[string]string{"entityLogicalName": entityLogicalName, "recordId": recordID} {
		if v == "" {
			continue
		}
		if _, ok := inputs[k]; ok {
			return nil, &InputError{Field: "inputs." + k, Msg: "is given by the " + k + " variable already"}
		}
		body[k] = v
	}
	for k, v := range inputs {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &InputError{Field: "inputs", Msg: fmt.Sprintf("cannot be encoded as JSON: %v", err)}
	}
	return b, nil
}

// CloudFlowTrigger is the POST of body to a flow's trigger URL.
func CloudFlowTrigger(flowURL string, body []byte) Call {
	return Call{Op: OpRunCloudFlow, Method: http.MethodPost, URL: flowURL,
		Header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}, Body: body}
}

// CloudFlowPoll is the GET of the Location of a flow's 202 answer.
func CloudFlowPoll(location string) Call {
	return Call{Op: OpRunCloudFlow, Method: http.MethodGet, URL: location, Header: http.Header{"Accept": {"application/json"}}}
}

// ResolveLocation resolves a Location header against the URL of the request it answered.
func ResolveLocation(requestURL, location string) (string, error) {
	// url.Parse's errors quote the URL, and these carry a signature: say less.
	base, err := url.Parse(requestURL)
	if err != nil {
		return "", errors.New("the request's URL does not parse")
	}
	ref, err := url.Parse(location)
	if err != nil {
		return "", errors.New("the Location header is not a URL")
	}
	return base.ResolveReference(ref).String(), nil
}
