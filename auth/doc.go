// Package auth provides access tokens for outbound HTTP calls and an
// http.RoundTripper that attaches them.
//
// Each job carries its own [Credentials]: a static bearer token, or OAuth 2.0
// client credentials (RFC 6749 §4.4) for a token endpoint such as Microsoft
// Entra ID. One [Cache] per process shares tokens between all jobs: a token is
// requested once per distinct credential set, reused until shortly before it
// expires, and concurrent jobs that need the same missing token wait for one
// token request instead of sending their own.
//
// [Transport] sits at the bottom of a client's transport stack, just above
// the base transport (an outer retry layer then retries with a fresh token):
//
//	tracing → retry → metrics → logging → auth.Transport → http.Transport
//
// It adds "Authorization: Bearer <token>" and, when the resource server
// answers 401, drops the rejected token and retries once with a new one.
//
// Errors: a token endpoint's refusal is a [*TokenError] whose Permanent field
// says whether a retry can help; invalid credentials are [*ValidationError]s;
// network failures and timeouts are plain wrapped errors (retryable).
// [IsPermanent] folds these rules into one test.
//
// Secrets: no error, String, GoString, fmt verb, JSON or zerolog output of this
// package contains a client secret or an access token. The package does not log.
package auth
