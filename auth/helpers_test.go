package auth

import (
	"sync"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/auth/authtest"
)

// Distinctive values that must never appear in any error or printed output.
const (
	testSecret = "Sup3r+Secr3t/Quokka=42&zz~" // characters that need form encoding
	testToken  = "eyJ0eXAiOiJKV1QiLCJhbGc.STATIC-BEARER-TOKEN.9f8e7d"
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "00000000-aaaa-bbbb-cccc-000000000001"
	testOrg    = "https://org.crm.dynamics.com"
)

// newTokenServer starts a fake Entra token endpoint that accepts testClient/testSecret.
func newTokenServer(t *testing.T) *authtest.Server {
	t.Helper()
	s := authtest.NewServer(testTenant, testClient, testSecret)
	t.Cleanup(s.Close)
	return s
}

// clientCreds returns valid client credentials for s.
func clientCreds(s *authtest.Server) Credentials {
	return Credentials{
		Type:         TypeClientCredentials,
		TokenURL:     s.TokenURL(),
		ClientID:     testClient,
		ClientSecret: testSecret,
		Scopes:       []string{authtest.Scope(testOrg)},
	}
}

// fakeClock is a settable clock for Cache expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
