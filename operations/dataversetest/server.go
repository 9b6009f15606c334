package dataversetest

import (
	"net/http"
	"net/http/httptest"
)

// Server is an Emulator listening on a loopback port, like httptest.Server.
type Server struct {
	*Emulator
	ts *httptest.Server
}

// NewServer starts an emulator on 127.0.0.1 at a free port. Close it when done.
func NewServer(opts Options) *Server {
	e := NewHandler(opts)
	return &Server{Emulator: e, ts: httptest.NewServer(e)}
}

// URL is the organization URL, e.g. http://127.0.0.1:41234; the Web API is
// under URL()+"/api/data/v9.2/".
func (s *Server) URL() string { return s.ts.URL }

// TokenURL is the client-credentials token endpoint of the configured tenant.
func (s *Server) TokenURL() string { return s.ts.URL + "/" + s.opts.Tenant + "/oauth2/v2.0/token" }

// Scope is the scope a client asks the token endpoint for: "{org}/.default".
func (s *Server) Scope() string { return s.ts.URL + "/.default" }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the emulator's timers and callbacks, then the listener.
func (s *Server) Close() {
	s.Emulator.Close()
	s.ts.Close()
}

// FlowURL is the trigger URL of a cloud flow (Options.CloudFlows), signed
// with sp, sv and sig unless the flow is Entra-protected.
func (s *Server) FlowURL(flowID string) string { return s.ts.URL + s.FlowTriggerPath(flowID) }
