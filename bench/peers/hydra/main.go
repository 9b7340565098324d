// A minimal login and consent app for Ory Hydra, for the comparison benchmark only
// (bench/compare.py, docs/performance.md). Hydra has no login UI of its own: it redirects
// to an app like this one, which tells Hydra's admin API who signed in and what they
// granted. One user; its password is kept as an Argon2id hash with Habanero's parameters
// (m = 19 MiB, t = 2, p = 1), so a login costs here what it costs in Habanero.
//
//	hydra-login-consent -listen 127.0.0.1:PORT -admin http://127.0.0.1:ADMIN -user EMAIL -password P
//
// GET  /login?login_challenge=C   a form (email, password, the challenge)
// POST /login                     checks the password, accepts the login request, 302 onwards
// GET  /consent?consent_challenge=C   accepts every requested scope and audience, 302 onwards
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/crypto/argon2"
)

type app struct {
	admin string
	user  string
	salt  []byte
	hash  []byte
	http  *http.Client
}

func (a *app) derive(password string) []byte {
	return argon2.IDKey([]byte(password), a.salt, 2, 19*1024, 1, 32)
}

// call sends a request to Hydra's admin API and decodes its JSON answer into out.
func (a *app) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.admin+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		c := r.URL.Query().Get("login_challenge")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Sign in</title><form method="post" action="/login">`+
			`<input type="hidden" name="login_challenge" value="%s">`+
			`<input type="email" name="email"><input type="password" name="password">`+
			`<button type="submit">Sign in</button></form>`, html.EscapeString(c))
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	c := r.PostForm.Get("login_challenge")
	ok := subtle.ConstantTimeCompare(a.derive(r.PostForm.Get("password")), a.hash) == 1 &&
		r.PostForm.Get("email") == a.user
	if !ok {
		http.Error(w, "wrong email or password", http.StatusUnauthorized)
		return
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	err := a.call(http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(c),
		map[string]any{"subject": "bench-user", "remember": false}, &out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

func (a *app) consent(w http.ResponseWriter, r *http.Request) {
	c := r.URL.Query().Get("consent_challenge")
	var req struct {
		RequestedScope    []string `json:"requested_scope"`
		RequestedAudience []string `json:"requested_access_token_audience"`
	}
	q := "?consent_challenge=" + url.QueryEscape(c)
	if err := a.call(http.MethodGet, "/admin/oauth2/auth/requests/consent"+q, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	err := a.call(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept"+q, map[string]any{
		"grant_scope": req.RequestedScope, "grant_access_token_audience": req.RequestedAudience,
		"remember": false,
		"session": map[string]any{"id_token": map[string]any{"email": a.user, "email_verified": true}},
	}, &out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	admin := flag.String("admin", "", "Hydra's admin URL")
	user := flag.String("user", "", "the user's email")
	password := flag.String("password", "", "the user's password")
	flag.Parse()
	if *admin == "" || *user == "" || *password == "" {
		log.Fatal("usage: hydra-login-consent -listen ADDR -admin URL -user EMAIL -password P")
	}
	a := &app{admin: *admin, user: *user, salt: make([]byte, 16),
		http: &http.Client{Timeout: 10 * time.Second}}
	if _, err := rand.Read(a.salt); err != nil {
		log.Fatal(err)
	}
	a.hash = a.derive(*password)
	mux := http.NewServeMux()
	mux.HandleFunc("/login", a.login)
	mux.HandleFunc("/consent", a.consent)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	log.Fatal(http.ListenAndServe(*listen, mux))
}
