package callback

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/operations"
)

// A callback token is the last path segment of the callbackUrl the worker hands to Dataverse:
//
//	base64url(payload) "." base64url(HMAC-SHA256(macKey, payload))
//
// payload is the JSON of Claims. The authentication object the receiver needs to read
// the run's status is in the payload encrypted with AES-256-GCM, so the token carries no
// credential in clear and the receiver needs no state: any replica, before or after a restart,
// can verify and use a token it did not issue, as long as it has the same callback key. Both
// keys are derived from PA_CONNECTOR_CALLBACK_KEY with HKDF-SHA256 under different labels.

// callbackTokenVersion is the payload format; a token of another version is refused.
const callbackTokenVersion = 1

// maxCallbackToken bounds what the parser looks at: a token with a literal bearer token inside
// is about 3 KB; anything much longer is not ours.
const maxCallbackToken = 16 << 10

// MinKeyBytes is the shortest callback key accepted.
const MinKeyBytes = 32

// Callback modes: what the receiver does with a completed run.
const (
	ModeMessage = "msg"  // publish the Zeebe message (trigger task + message catch event)
	ModeWait    = "wait" // wake the runFlowAndWait job waiting on this replica, else publish
)

// Claims is what a token says. Field names are short: the token travels in a URL.
type Claims struct {
	Version  int    `json:"v"`
	Org      string `json:"o"` // organization URL the run belongs to
	Workflow string `json:"w"` // workflow id the run was started for (lower case)
	Mode     string `json:"m"` // ModeMessage or ModeWait
	Nonce    string `json:"n"` // 16 random bytes, base64url: no two tokens are alike
	Expires  int64  `json:"e"` // Unix seconds
	Auth     string `json:"a"` // base64url(GCM nonce || sealed JSON authentication object)
}

// callbackKeys are the keys derived from the callback key.
type callbackKeys struct {
	mac  []byte
	aead cipher.AEAD
}

func newCallbackKeys(secret string) (*callbackKeys, error) {
	if len(secret) < MinKeyBytes {
		return nil, fmt.Errorf("the callback key must be at least %d bytes", MinKeyBytes)
	}
	mac, err := hkdf.Key(sha256.New, []byte(secret), nil, "pa-connector callback token mac v1", 32)
	if err != nil {
		return nil, err
	}
	enc, err := hkdf.Key(sha256.New, []byte(secret), nil, "pa-connector callback token encryption v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &callbackKeys{mac: mac, aead: aead}, nil
}

// b64 is strict: a token has exactly one spelling, so no altered character still verifies.
var b64 = base64.RawURLEncoding.Strict()

// The errors a token can have. Neither says more: an attacker learns nothing from the answer.
var (
	errBadToken     = errors.New("invalid callback token")
	errExpiredToken = errors.New("expired callback token")
)

// sign seals auth (the job's authentication object) into claims and returns the token.
func (k *callbackKeys) sign(c Claims, auth any) (string, error) {
	c.Version = callbackTokenVersion
	if c.Nonce == "" {
		n := make([]byte, 16)
		if _, err := rand.Read(n); err != nil {
			return "", err
		}
		c.Nonce = b64.EncodeToString(n)
	}
	plain, err := json.Marshal(auth)
	if err != nil {
		return "", fmt.Errorf("encoding the authentication for the callback token: %w", err)
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := k.aead.Seal(nonce, nonce, plain, []byte(c.Nonce))
	c.Auth = b64.EncodeToString(sealed)
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(k.mac256(payload)), nil
}

func (k *callbackKeys) mac256(payload []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write(payload)
	return m.Sum(nil)
}

// parseCallbackToken checks a token's signature (in constant time, before looking at the
// payload), its format and its expiry. It returns errBadToken or errExpiredToken.
func (k *callbackKeys) parse(token string, now time.Time) (Claims, error) {
	var c Claims
	if len(token) > maxCallbackToken {
		return c, errBadToken
	}
	// Only the base64url alphabet and one dot: Go's decoders skip \r and \n, so an altered
	// token would otherwise still verify.
	if strings.IndexFunc(token, func(r rune) bool { return !base64URLChar(r) && r != '.' }) >= 0 {
		return c, errBadToken
	}
	p64, s64, ok := strings.Cut(token, ".")
	if !ok || p64 == "" || strings.Contains(s64, ".") {
		return c, errBadToken
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return c, errBadToken
	}
	sig, err := b64.DecodeString(s64)
	if err != nil || !hmac.Equal(sig, k.mac256(payload)) {
		return c, errBadToken
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, errBadToken
	}
	if c.Version != callbackTokenVersion || !operations.ValidID(c.Workflow) || c.Nonce == "" ||
		(c.Mode != ModeMessage && c.Mode != ModeWait) {
		return c, errBadToken
	}
	if u, err := url.Parse(c.Org); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return c, errBadToken
	}
	if now.Unix() > c.Expires {
		return c, errExpiredToken
	}
	return c, nil
}

// auth opens the sealed authentication object of verified claims.
func (k *callbackKeys) auth(c Claims) (map[string]any, error) {
	sealed, err := b64.DecodeString(c.Auth)
	if err != nil || len(sealed) < k.aead.NonceSize() {
		return nil, errBadToken
	}
	ns := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(c.Nonce))
	if err != nil {
		return nil, errBadToken
	}
	v, ok := operations.ParseBody("application/json", plain).(map[string]any)
	if !ok {
		return nil, errBadToken
	}
	return v, nil
}

func base64URLChar(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// Open verifies a token as the receiver does (signature, format, expiry) and returns its
// claims and the authentication object it seals.
func (c *Callbacks) Open(token string, now time.Time) (Claims, map[string]any, error) {
	claims, err := c.keys.parse(token, now)
	if err != nil {
		return claims, nil, err
	}
	auth, err := c.keys.auth(claims)
	return claims, auth, err
}
