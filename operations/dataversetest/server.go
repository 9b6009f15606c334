package dataversetest

import (
	"net/http"
	"net/http/httptest"
)

// Server is an Emulator listening on a loopback port, like httptest.Server.
type Server struct {
	*Emulator
	ts    *httptest.Server
	login *httptest.Server // the token endpoint's own host (Options.SeparateTokenEndpoint)
}

// NewServer starts an emulator on 127.0.0.1 at a free port, whose URL is one
// of the Organizations; with Options.SeparateTokenEndpoint the token endpoint
// gets a second port (TokenURL). Close it when done.
func NewServer(opts Options) *Server {
	ts := httptest.NewUnstartedServer(nil)
	opts.Organizations = append(append([]string(nil), opts.Organizations...), "http://"+ts.Listener.Addr().String())
	e := NewHandler(opts)
	ts.Config.Handler = e
	ts.Start()
	s := &Server{Emulator: e, ts: ts}
	if opts.SeparateTokenEndpoint {
		s.login = httptest.NewServer(e.TokenHandler())
	}
	return s
}

// URL is the organization URL, e.g. http://127.0.0.1:41234; the Web API is
// under URL()+"/api/data/v9.2/".
func (s *Server) URL() string { return s.ts.URL }

// TokenURL is the client-credentials token endpoint of the configured tenant.
func (s *Server) TokenURL() string {
	base := s.ts.URL
	if s.login != nil {
		base = s.login.URL
	}
	return base + "/" + s.opts.Tenant + "/oauth2/v2.0/token"
}

// Scope is the scope a client asks the token endpoint for: "{org}/.default".
func (s *Server) Scope() string { return s.ts.URL + "/.default" }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the emulator's timers and callbacks, then the listener.
func (s *Server) Close() {
	s.Emulator.Close()
	s.ts.Close()
	if s.login != nil {
		s.login.Close()
	}
}

// FlowURL is the trigger URL of a cloud flow (Options.CloudFlows), signed
// with sp, sv and sig unless the flow is Entra-protected.
func (s *Server) FlowURL(flowID string) string { return s.ts.URL + s.FlowTriggerPath(flowID) }
