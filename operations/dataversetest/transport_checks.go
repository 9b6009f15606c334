package dataversetest

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// olderVersions are the Web API versions Dataverse still answers: code
// written against v9.0 keeps working, so these paths are served as v9.2.
var olderVersions = []string{"/api/data/v9.0/", "/api/data/v9.1/"}

// sameAsCurrentVersion returns r with a v9.0 or v9.1 path rewritten to
// v9.2; other requests are returned as they are.
func sameAsCurrentVersion(r *http.Request) *http.Request {
	for _, v := range olderVersions {
		if rest, ok := strings.CutPrefix(r.URL.Path, v); ok {
			r2 := r.Clone(r.Context())
			r2.URL.Path = apiPrefix + rest
			r2.URL.RawPath = ""
			return r2
		}
	}
	return r
}

// checkContentType refuses a request body that is not declared JSON, as
// Dataverse's ASP.NET front end does (415 with its texts). A body is any
// request whose Content-Length is not 0.
func checkContentType(r *http.Request) *odataError {
	if r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return newError(http.StatusUnsupportedMediaType, "", "The request contains an entity body but no Content-Type header. The inferred media type 'application/octet-stream' is not supported for this resource.")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, "", fmt.Sprintf("The request entity's media type '%s' is not supported for this resource.", mediaTypeOf(ct)))
	}
	return nil
}

// mediaTypeOf is the type/subtype part of a Content-Type, lower-cased.
func mediaTypeOf(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
