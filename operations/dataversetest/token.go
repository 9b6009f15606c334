package dataversetest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// issuedToken is an access token the token endpoint gave out.
type issuedToken struct {
	client   string
	audience string // FlowAudience, or the origin of the organization (scheme://host[:port])
	expires  time.Time
}

// serveToken is the Entra ID v2.0 token endpoint for the client-credentials
// grant. It returns the client id (not secret) as the caller's name.
func (e *Emulator) serveToken(w *recorder, r *http.Request, rt route) string {
	if e.applyFault(w, r, OpToken) {
		return ""
	}
	if r.Method != http.MethodPost {
		aad(w, http.StatusBadRequest, "invalid_request", 900561, fmt.Sprintf("The endpoint only accepts POST requests. Received a %s request.", r.Method))
		return ""
	}
	if !strings.EqualFold(rt.tenant, e.opts.Tenant) {
		aad(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", rt.tenant))
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	_ = r.ParseForm() // a body that is not form-encoded leaves PostForm empty, as Entra ignores it
	form := r.PostForm
	missing := func(name string) string {
		aad(w, http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", name))
		return ""
	}
	grant := form.Get("grant_type")
	if grant == "" {
		return missing("grant_type")
	}
	if grant != "client_credentials" {
		aad(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
		return ""
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok {
		clientID, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(sec)
	}
	if clientID == "" {
		return missing("client_id")
	}
	scope := form.Get("scope")
	if scope == "" {
		return missing("scope")
	}
	resource, ok := e.checkScope(w, scope)
	if !ok {
		return clientID
	}
	clientID, want, known := e.client(clientID)
	if !known {
		aad(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, e.opts.Tenant))
		return clientID
	}
	if secret == "" {
		aad(w, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return clientID
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		aad(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		return clientID
	}
	audience := origin(resource)
	if resource+"/" == FlowAudience {
		audience = FlowAudience
	} else if !e.orgs[audience] && !sameHost(resource, r.Host) {
		aad(w, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, e.opts.Tenant))
		return clientID
	}
	tok := newToken()
	ttl := int(e.opts.TokenTTL.Seconds())
	e.mu.Lock()
	e.tokens[tok] = issuedToken{client: clientID, audience: audience, expires: e.now().Add(e.opts.TokenTTL)}
	e.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeAADJSON(w, http.StatusOK, orderedObject{
		{"token_type", "Bearer"}, {"expires_in", ttl}, {"ext_expires_in", ttl}, {"access_token", tok},
	})
	return clientID
}

// client finds the registered application id, compared as Entra compares application ids
// (GUIDs: in any case), and returns it as registered, so tokens and application users key on
// one spelling (audit U10).
func (e *Emulator) client(id string) (string, string, bool) {
	if secret, ok := e.opts.Clients[id]; ok {
		return id, secret, true
	}
	for known, secret := range e.opts.Clients {
		if strings.EqualFold(known, id) {
			return known, secret, true
		}
	}
	return id, "", false
}

// checkScope accepts exactly one "{resource}/.default" scope and returns the resource.
func (e *Emulator) checkScope(w http.ResponseWriter, scope string) (string, bool) {
	fields := strings.Fields(scope)
	invalid := func() (string, bool) {
		aad(w, http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope))
		return "", false
	}
	if len(fields) != 1 {
		return invalid()
	}
	s := fields[0]
	resource, ok := strings.CutSuffix(s, "/.default")
	if !ok {
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return invalid()
		}
		aad(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", s))
		return "", false
	}
	resource = strings.TrimSuffix(resource, "/")
	if u, err := url.Parse(resource); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return invalid()
	}
	return resource, true
}

// sameHost reports whether resource (an org URL) names the host the request came to.
func sameHost(resource, host string) bool {
	u, err := url.Parse(resource)
	if err != nil {
		return false
	}
	return strings.EqualFold(stripDefaultPort(u.Host, u.Scheme), stripDefaultPort(host, u.Scheme))
}

func stripDefaultPort(hostport, scheme string) string {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		return h
	}
	return hostport
}

// authenticate returns the caller behind a request's bearer token for the
// organization the request came to: a token issued for another organization
// (another scheme, host or port) or for flows is refused. Static tokens
// (audience "") are accepted by every organization.
func (e *Emulator) authenticate(r *http.Request) (string, bool) {
	caller, audience, ok := e.tokenCaller(r)
	return caller, ok && (audience == "" || audience == origin(orgURL(r)))
}

// origin is scheme://host[:port] of an http(s) URL in lower case, without a
// default port; "" for anything else.
func origin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	return scheme + "://" + strings.ToLower(stripDefaultPort(u.Host, scheme))
}

// tokenCaller returns the caller and audience of a request's bearer token.
func (e *Emulator) tokenCaller(r *http.Request) (string, string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", "", false
	}
	if name, ok := e.static[tok]; ok {
		return name, "", true
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.tokens[tok]
	if !ok {
		return "", "", false
	}
	if !now.Before(it.expires) {
		delete(e.tokens, tok)
		return "", "", false
	}
	return it.client, it.audience, true
}

// RevokeTokens invalidates every token the token endpoint issued; the next
// Dataverse call with one gets 401. Static Options.Tokens stay valid.
func (e *Emulator) RevokeTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.tokens)
}

func aad(w http.ResponseWriter, status int, name string, code int, msg string) {
	writeAADError(w, status, name, fmt.Sprintf("AADSTS%d: %s", code, msg), []int{code})
}

// writeAADError writes an Entra ID error answer.
func writeAADError(w http.ResponseWriter, status int, name, description string, codes []int) {
	now := time.Now().UTC()
	stamp := now.Format("2006-01-02 15:04:05Z")
	trace, corr := newGUID(), newGUID()
	if codes == nil {
		codes = []int{}
	}
	errorURI := "https://login.microsoftonline.com/error"
	if len(codes) > 0 {
		errorURI += fmt.Sprintf("?code=%d", codes[0])
	}
	writeAADJSON(w, status, orderedObject{
		{"error", name},
		{"error_description", description + "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + stamp},
		{"error_codes", codes},
		{"timestamp", stamp},
		{"trace_id", trace},
		{"correlation_id", corr},
		{"error_uri", errorURI},
	})
}

func writeAADJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
