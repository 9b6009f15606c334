package dataversetest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// newGUID returns a random (version 4) GUID in Dataverse's lower-case form.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// parseGUID accepts the key form Dataverse accepts in a URL, a bare
// 8-4-4-4-12 hex GUID, and returns it lower-cased.
func parseGUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}

// newToken returns an opaque random access token.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "emu." + hex.EncodeToString(b[:])
}
