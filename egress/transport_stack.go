// Package egress is every call the worker makes: the host policy (allow-list, IANA
// special-purpose addresses), Dataverse's service-protection limits, and the http.RoundTripper
// stack a call goes through, one layer per concern in the order Egress.Client writes down.
package egress

import (
	"net/http"
	"time"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/operations"
)

// Egress is the process's shared part of the HTTP client stack: the base transport (connection
// pool, proxy, host-checked dialer, request log), the token cache, the service-protection
// limits and the observers. It is one value per process; Client builds a call's stack on it.
type Egress struct {
	Base   http.RoundTripper // NewBaseTransport, with the request log on top at debug level
	Tokens *auth.Cache
	Limits *Limits // nil: no client-side limits
	// Observe, when set, is told about each request on the wire (for metrics).
	Observe func(op operations.Op, status int, d time.Duration)
	// OnThrottle, when set, is told about each 429 and whether the worker waits in-process.
	OnThrottle func(wait time.Duration, inProcess bool)
	// MaxThrottleWaits caps in-process waits on 429 for one call (default 5).
	MaxThrottleWaits int
	Now              func() time.Time
}

// Route is what one call adds to the stack: which operation it is, whose credentials it
// carries and under which limits, and how long it may take.
type Route struct {
	Op          operations.Op
	Credentials *auth.Credentials  // nil: no Authorization header
	OnToken     func(token string) // told every access token sent, to keep it out of messages
	Identity    string             // the Dataverse caller the limits count ("": not limited)
	Connection  string             // a trigger's connection, for the triggers-per-minute limit
	Timeout     time.Duration      // each request on the wire, body included (0: none)
	Deadline    func() time.Time   // the job's deadline: in-process 429 waits must end before it
}

// Client returns the stack for one call. It follows no redirect: it is no http.Client, so a 3xx
// comes back as the *RedirectError the redirect layer makes of it.
func (e *Egress) Client(r Route) operations.Doer {
	// The stack, outermost first. A request goes down it, its answer comes back up:
	//
	//  redirect  a 3xx answer is a *RedirectError naming the Location's host; nothing is
	//            followed, so no credential or body ever goes to another host
	//  throttle  a 429 is waited out in process (Retry-After, pausing the caller's other
	//            requests in Limits) and sent again while the wait fits the job's deadline;
	//            otherwise the 429 goes up, for a hand-back with retries unchanged
	//  auth      Authorization: Bearer; after a 401, one new token and one resend
	//  limits    service-protection limits per Dataverse caller, for every request on the wire:
	//            the resend after a 401 counts, the wait for Entra ID above does not
	//  timeout   connectionTimeoutInSeconds for each request on the wire, body included
	//  metrics   Observe(operation, status, duration) for each request on the wire
	//  sent      a failure after a connection was handed to the request is a *SentError:
	//            the server may have received it (a trigger may have started a run)
	//  base      shared: request log (debug level) → http.Transport (pool, proxy from the
	//            environment checked against the allow-list, host-checked dialer)
	l := new(layers) // one allocation for the whole stack
	now := e.Now
	if now == nil {
		now = time.Now
	}
	l.sent = sentTransport{next: e.Base}
	var rt http.RoundTripper = &l.sent
	if e.Observe != nil {
		l.metrics = metricsTransport{next: rt, op: r.Op, observe: e.Observe, now: now}
		rt = &l.metrics
	}
	if r.Timeout > 0 {
		l.timeout = timeoutTransport{next: rt, timeout: r.Timeout}
		rt = &l.timeout
	}
	if e.Limits != nil && r.Identity != "" {
		l.limit = limitTransport{next: rt, limits: e.Limits, identity: r.Identity, connection: r.Connection}
		rt = &l.limit
	}
	if r.Credentials != nil {
		l.auth = auth.Transport{Base: rt, Cache: e.Tokens, Credentials: *r.Credentials, OnToken: r.OnToken}
		rt = &l.auth
	}
	l.throttle = throttleTransport{next: rt, maxWaits: e.MaxThrottleWaits, deadline: r.Deadline, now: now,
		limits: e.Limits, identity: r.Identity, onThrottle: e.OnThrottle}
	l.redirect = redirectTransport{next: &l.throttle}
	return l
}

// layers is one call's stack, its layers allocated together (a request's share of the stack's
// cost; docs/benchmarks.md, issue 11). Do sends a request through it as it is: no redirects
// followed, no *url.Error wrapping (whose text would quote the URL, query included).
type layers struct {
	redirect redirectTransport
	throttle throttleTransport
	auth     auth.Transport
	limit    limitTransport
	timeout  timeoutTransport
	metrics  metricsTransport
	sent     sentTransport
}

func (l *layers) Do(req *http.Request) (*http.Response, error) { return l.redirect.RoundTrip(req) }

// closeRequestBody closes req's body, as a RoundTripper must when it returns without sending.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
