// Package webtest provides small web applications for tests, in the
// manner of net/http/httptest: servers whose state lives where real web
// apps keep it, so that a replay sent with recorded values fails.
package webtest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// CookieApp keeps sessions in a cookie its login sets, as a web app does:
// POST /login answers, after delay, a fresh session in a "sid" cookie
// (and a "theme" cookie that is no session); GET /me answers 200 to a
// session it issued and 401 to anything else.
func CookieApp(delay time.Duration) http.Handler {
	var mu sync.Mutex
	sessions := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		b := make([]byte, 16)
		rand.Read(b)
		sid := hex.EncodeToString(b)
		mu.Lock()
		sessions[sid] = true
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark"})
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sid")
		mu.Lock()
		ok := err == nil && sessions[c.Value]
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"ada"}`))
	})
	return mux
}
