package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheReusesTokenUntilShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn int
		reuseFor  time.Duration // still the cached token after this long
		refetchAt time.Duration // a new token after this long
	}{
		{"one hour token, one minute margin", 3599, 3599*time.Second - time.Minute - time.Nanosecond, 3599*time.Second - time.Minute},
		{"five minute token, ten percent margin", 300, 270*time.Second - time.Nanosecond, 270 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t)
			srv.ExpiresIn = tt.expiresIn
			clock := newClock()
			start := clock.Now()
			cache := NewCache(srv.Client(), WithClock(clock.Now))
			creds := clientCreds(srv)

			first, err := cache.Token(t.Context(), creds)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.reuseFor)
			if second, err := cache.Token(t.Context(), creds); err != nil || second != first {
				t.Fatalf("Token after %v = %q, %v; want the cached token", tt.reuseFor, second, err)
			}
			if n := cache.Fetches(); n != 1 {
				t.Fatalf("Fetches() = %d, want 1", n)
			}
			clock.Advance(start.Add(tt.refetchAt).Sub(clock.Now()))
			third, err := cache.Token(t.Context(), creds)
			if err != nil || third == first {
				t.Fatalf("Token after %v = %q, %v; want a new token", tt.refetchAt, third, err)
			}
			if n, reqs := cache.Fetches(), len(srv.Requests()); n != 2 || reqs != 2 {
				t.Errorf("Fetches() = %d, server saw %d; want 2", n, reqs)
			}
		})
	}
}

func TestCacheConcurrentCallersShareOneRequest(t *testing.T) {
	t.Parallel()
	// The token endpoint holds the request until every caller is waiting,
	// so the callers really overlap one request in flight.
	const callers = 100
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		<-release
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3599}`, n)
	}))
	defer srv.Close()
	var fetched atomic.Int32
	cache := NewCache(srv.Client(), WithOnFetch(func(d time.Duration, err error) {
		if err == nil {
			fetched.Add(1)
		}
	}))
	creds := Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: "c", ClientSecret: testSecret, Scopes: []string{"s"}}

	var wg sync.WaitGroup
	tokens := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { tokens[i], errs[i] = cache.Token(context.Background(), creds) })
	}
	waitFor(t, func() bool { return requests.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // let stragglers reach the wait
	close(release)
	wg.Wait()

	for i := range callers {
		if errs[i] != nil || tokens[i] != "tok-1" {
			t.Fatalf("caller %d got %q, %v; want tok-1", i, tokens[i], errs[i])
		}
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("token endpoint saw %d requests for %d concurrent callers, want 1", n, callers)
	}
	if cache.Fetches() != 1 || fetched.Load() != 1 {
		t.Errorf("Fetches() = %d, OnFetch successes = %d; want 1", cache.Fetches(), fetched.Load())
	}
}

func TestCacheCallerLeavingDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-release
		fmt.Fprint(w, `{"access_token":"tok","expires_in":3599}`)
	}))
	defer srv.Close()
	cache := NewCache(srv.Client())
	creds := Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: "c", ClientSecret: "s"}

	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error)
	go func() { _, err := cache.Token(ctx, creds); firstErr <- err }()
	waitFor(t, func() bool { return requests.Load() == 1 })
	second := make(chan string)
	go func() { tok, _ := cache.Token(context.Background(), creds); second <- tok }()

	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v, want context.Canceled", err)
	}
	close(release)
	if tok := <-second; tok != "tok" {
		t.Fatalf("second caller got %q, want the token the first caller's request fetched", tok)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestCacheKeys(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t)
	base := clientCreds(srv)
	with := func(f func(*Credentials)) Credentials { c := base; f(&c); return c }
	tests := []struct {
		name string
		b    Credentials
		same bool
	}{
		{"identical", base, true},
		{"scope order and duplicates", with(func(c *Credentials) { c.Scopes = append(c.Scopes, c.Scopes...) }), true},
		{"auth style case", with(func(c *Credentials) { c.ClientAuthentication = "BASICAUTHHEADER" }), true},
		{"empty style is basicAuthHeader", with(func(c *Credentials) { c.ClientAuthentication = AuthBasicHeader }), true},
		{"type case and blanks", with(func(c *Credentials) { c.Type = " OAUTH-client-credentials-flow" }), true},
		{"different scope", with(func(c *Credentials) { c.Scopes = []string{"https://other.crm.dynamics.com/.default"} }), false},
		{"different secret", with(func(c *Credentials) { c.ClientSecret = testSecret + "2" }), false},
		{"different style", with(func(c *Credentials) { c.ClientAuthentication = AuthCredentialsBody }), false},
		{"different client", with(func(c *Credentials) { c.ClientID = "other" }), false},
		{"different token URL", with(func(c *Credentials) { c.TokenURL += "?x=1" }), false},
	}
	cache := NewCache(nil)
	for _, tt := range tests {
		if got := cache.key(base.normalize()) == cache.key(tt.b.normalize()); got != tt.same {
			t.Errorf("%s: same key = %v, want %v", tt.name, got, tt.same)
		}
	}
	// Through the token endpoint: distinct keys are distinct entries.
	for _, c := range []Credentials{base, with(func(c *Credentials) { c.ClientAuthentication = AuthCredentialsBody })} {
		if _, err := cache.Token(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 2 || cache.Fetches() != 2 {
		t.Errorf("Len() = %d, Fetches() = %d; want 2 entries from 2 requests", cache.Len(), cache.Fetches())
	}
}

func TestCacheInvalidate(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t)
	cache := NewCache(srv.Client())
	creds := clientCreds(srv)
	old, err := cache.Token(t.Context(), creds)
	if err != nil {
		t.Fatal(err)
	}

	cache.Invalidate(creds, "some other token")
	if tok, _ := cache.Token(t.Context(), creds); tok != old || cache.Fetches() != 1 {
		t.Fatalf("Invalidate with another token dropped the cached one")
	}

	// A burst of 401s for the same token: one new token request in all.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			cache.Invalidate(creds, old)
			if tok, err := cache.Token(context.Background(), creds); err != nil || tok == old {
				t.Errorf("after Invalidate: %q, %v; want a new token", tok, err)
			}
		})
	}
	wg.Wait()
	if n := cache.Fetches(); n != 2 {
		t.Errorf("Fetches() = %d after 50 invalidations of one token, want 2", n)
	}

	// Bearer and invalid credentials: nothing to drop, no panic.
	cache.Invalidate(Credentials{Type: TypeBearer, Token: testToken}, testToken)
	cache.Invalidate(Credentials{}, "")
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":3599}`, requests.Add(1))
	}))
	defer srv.Close()
	cache := NewCache(srv.Client(), WithMaxEntries(3))
	creds := func(i int) Credentials {
		return Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: fmt.Sprint("client-", i), ClientSecret: "s"}
	}
	for i := range 3 {
		cache.Token(t.Context(), creds(i))
	}
	cache.Token(t.Context(), creds(0)) // 0 is now the most recently used
	cache.Token(t.Context(), creds(3)) // evicts 1
	if got := cache.Len(); got != 3 {
		t.Fatalf("Len() = %d, want 3", got)
	}
	before := cache.Fetches()
	cache.Token(t.Context(), creds(0))
	cache.Token(t.Context(), creds(3))
	if cache.Fetches() != before {
		t.Errorf("recently used entries were evicted")
	}
	cache.Token(t.Context(), creds(1))
	if cache.Fetches() != before+1 {
		t.Errorf("least recently used entry was kept")
	}
}

func TestCacheDoesNotCacheFailures(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t)
	cache := NewCache(srv.Client())
	creds := clientCreds(srv)
	creds.ClientSecret = "wrong"
	for range 2 {
		if _, err := cache.Token(t.Context(), creds); !IsPermanent(err) {
			t.Fatalf("Token with a wrong secret: %v, want a permanent error", err)
		}
	}
	if n := cache.Fetches(); n != 2 || cache.Len() != 0 {
		t.Errorf("Fetches() = %d, Len() = %d; want 2 requests and nothing cached", n, cache.Len())
	}
}

func TestCacheBearer(t *testing.T) {
	t.Parallel()
	var nilCache *Cache
	for _, cache := range []*Cache{NewCache(nil), nilCache} {
		tok, err := cache.Token(t.Context(), Credentials{Type: TypeBearer, Token: testToken})
		if err != nil || tok != testToken {
			t.Errorf("Token(bearer) = %q, %v", tok, err)
		}
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
	}
}
