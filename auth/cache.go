package auth

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Cache defaults.
const (
	DefaultMaxEntries   = 1000
	DefaultFetchTimeout = 30 * time.Second
)

// Cache hands out access tokens for Credentials, one token request per
// distinct client-credentials set and token lifetime. Create one per process
// with NewCache and share it; it is safe for concurrent use.
//
// A token is reused until refreshMargin before it expires (one minute, or a
// tenth of a lifetime under ten minutes). Callers that need a token that is
// being requested wait for that request instead of sending their own. The
// cache holds at most a fixed number of tokens, dropping the least recently
// used. Failed requests are not cached.
type Cache struct {
	client       *http.Client
	now          func() time.Time
	maxEntries   int
	fetchTimeout time.Duration
	onFetch      func(time.Duration, error)
	redact       func([]byte) []byte
	salt         [32]byte     // keys hold a salted hash of the secret, not the secret
	fetches      atomic.Int64 // token requests sent, counted by the client's transport

	mu       sync.Mutex
	entries  map[cacheKey]*list.Element // values are *entry
	lru      *list.List                 // front = most recently used
	inflight map[cacheKey]*call
}

// cacheKey identifies a token request. Two Credentials with equal keys send
// byte-identical token requests.
type cacheKey struct {
	tokenURL string
	clientID string
	secret   [sha256.Size]byte
	scope    string
	style    authStyle
}

type entry struct {
	key       cacheKey
	token     string
	refreshAt time.Time // stop handing the token out at this time
}

// call is one token request in flight; done is closed when token and err are set.
type call struct {
	done  chan struct{}
	token string
	err   error
}

// Option configures a Cache.
type Option func(*Cache)

// WithClock replaces time.Now for token expiry (tests).
func WithClock(now func() time.Time) Option { return func(c *Cache) { c.now = now } }

// WithMaxEntries bounds the number of cached tokens (default DefaultMaxEntries).
func WithMaxEntries(n int) Option { return func(c *Cache) { c.maxEntries = n } }

// WithFetchTimeout bounds one token request (default DefaultFetchTimeout).
// A request runs on its own, not under the context of the caller that started
// it, so one caller giving up does not fail the others waiting for it.
func WithFetchTimeout(d time.Duration) Option { return func(c *Cache) { c.fetchTimeout = d } }

// WithOnFetch registers a function called after each token request with its
// duration and result (nil or the error Token returns), e.g. for metrics. It
// must be quick and safe for concurrent use.
func WithOnFetch(f func(d time.Duration, err error)) Option {
	return func(c *Cache) { c.onFetch = f }
}

// WithRedact registers a function applied to a token endpoint's refusal before any text is
// taken from it and cut to length: the caller's other secrets (a client id or scope given as
// a secret, which a server may quote) are then removed whole, never left as a prefix. The
// client secret and the Basic credentials are scrubbed in any case.
func WithRedact(f func(body []byte) []byte) Option {
	return func(c *Cache) { c.redact = f }
}

// NewCache returns a Cache that sends token requests with client (nil: a new
// client on http.DefaultTransport). The cache uses a copy of client that does
// not follow redirects, which would carry the client secret to another URL,
// and counts the requests it sends (Fetches).
func NewCache(client *http.Client, opts ...Option) *Cache {
	c := &Cache{
		now:          time.Now,
		maxEntries:   DefaultMaxEntries,
		fetchTimeout: DefaultFetchTimeout,
		entries:      make(map[cacheKey]*list.Element),
		lru:          list.New(),
		inflight:     make(map[cacheKey]*call),
	}
	c.client = tokenClient(client, &c.fetches)
	rand.Read(c.salt[:])
	for _, opt := range opts {
		opt(c)
	}
	c.maxEntries = max(c.maxEntries, 1)
	if c.fetchTimeout <= 0 {
		c.fetchTimeout = DefaultFetchTimeout
	}
	return c
}

// Token returns an access token for cred: the bearer token itself, or a
// cached or newly requested client-credentials token. It returns a
// *ValidationError for invalid credentials, a *TokenError when the token
// endpoint refuses, and a wrapped error on network failure, timeout or when
// ctx ends while waiting. No error contains a secret. A nil *Cache serves
// bearer credentials only.
func (c *Cache) Token(ctx context.Context, cred Credentials) (string, error) {
	n := cred.normalize()
	if err := n.validate(); err != nil {
		return "", err
	}
	if !n.clientCredentials() {
		return n.token, nil
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("getting access token: %w", context.Cause(ctx))
	}
	k := c.key(n)

	c.mu.Lock()
	if el, ok := c.entries[k]; ok {
		e := el.Value.(*entry)
		if c.now().Before(e.refreshAt) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.token, nil
		}
		c.removeLocked(el)
	}
	cl, ok := c.inflight[k]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.inflight[k] = cl
		go c.fetch(context.WithoutCancel(ctx), k, n, cl)
	}
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.token, cl.err
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for access token: %w", context.Cause(ctx))
	}
}

// fetch runs one token request for k and publishes its result to the cache
// and to everyone waiting on cl.
func (c *Cache) fetch(ctx context.Context, k cacheKey, n normalized, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	issued := c.now()
	start := time.Now()
	n.redact = c.redact
	token, lifetime, err := requestToken(ctx, c.client, n)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = fmt.Errorf("token request timed out after %v: %w", c.fetchTimeout, err)
	}

	c.mu.Lock()
	delete(c.inflight, k)
	if err == nil {
		c.storeLocked(k, token, issued.Add(lifetime-refreshMargin(lifetime)))
	}
	c.mu.Unlock()

	cl.token, cl.err = token, err
	close(cl.done)
	if c.onFetch != nil {
		c.onFetch(time.Since(start), err)
	}
}

func (c *Cache) storeLocked(k cacheKey, token string, refreshAt time.Time) {
	if el, ok := c.entries[k]; ok {
		c.removeLocked(el)
	}
	c.entries[k] = c.lru.PushFront(&entry{key: k, token: token, refreshAt: refreshAt})
	for c.lru.Len() > c.maxEntries {
		c.removeLocked(c.lru.Back())
	}
}

func (c *Cache) removeLocked(el *list.Element) {
	delete(c.entries, el.Value.(*entry).key)
	c.lru.Remove(el)
}

// Invalidate drops the cached token for cred if it is still token, e.g.
// after a resource server rejected it with 401. Concurrent callers holding
// the same rejected token drop it once; a newer token is kept, so a burst of
// 401s causes one new token request, not one each.
func (c *Cache) Invalidate(cred Credentials, token string) {
	n := cred.normalize()
	if !n.clientCredentials() || n.validate() != nil {
		return
	}
	k := c.key(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok && el.Value.(*entry).token == token {
		c.removeLocked(el)
	}
}

// Fetches returns the number of token requests sent so far.
func (c *Cache) Fetches() int64 { return c.fetches.Load() }

// Len returns the number of cached tokens, expired ones included until they
// are looked up or evicted.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) key(n normalized) cacheKey {
	h := sha256.New()
	h.Write(c.salt[:])
	h.Write([]byte(n.clientSecret))
	k := cacheKey{tokenURL: n.tokenURL, clientID: n.clientID, scope: n.scope, style: n.style}
	h.Sum(k.secret[:0])
	return k
}
