package dataversetest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
)

// AffinityCookie is the cookie that pins a client to one web server, as
// Dataverse's front end (Azure ARR) sets it.
const AffinityCookie = "ARRAffinity"

// serverID is the affinity cookie's value for web server i: 64 hex digits, as
// ARR writes them.
func serverID(i int) string {
	sum := sha256.Sum256([]byte("dataversetest web server " + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])
}

// server picks the web server that answers r: the one its affinity cookie
// names, else the next one in turn. The answer carries that server's cookie.
// Service-protection limits are counted per server (Limits.Servers).
func (e *Emulator) server(w http.ResponseWriter, r *http.Request) string {
	n := e.opts.Limits.Servers
	pick := -1
	if c, err := r.Cookie(AffinityCookie); err == nil {
		for i := range n {
			if c.Value == e.serverIDs[i] {
				pick = i
				break
			}
		}
	}
	if pick < 0 {
		e.mu.Lock()
		pick = e.nextSrv % n
		e.nextSrv++
		e.mu.Unlock()
	}
	id := e.serverIDs[pick]
	http.SetCookie(w, &http.Cookie{Name: AffinityCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil})
	return id
}
