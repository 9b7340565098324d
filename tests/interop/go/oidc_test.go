// Interop: github.com/coreos/go-oidc/v3 and golang.org/x/oauth2 against a running Habanero.
//
// Run by tests/interop/run.py go, which starts the server, registers the client and the user,
// and passes them in the environment (HABANERO_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET,
// RP_REDIRECT_URI, USER_EMAIL, USER_PASSWORD). The user's part is played by a scripted
// browser (browser_test.go) that logs in and approves consent.
package interop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type env struct {
	issuer, clientID, secret, redirectURI, email, password string
}

func loadEnv(t *testing.T) env {
	t.Helper()
	e := env{
		issuer:      os.Getenv("HABANERO_ISSUER"),
		clientID:    os.Getenv("RP_CLIENT_ID"),
		secret:      os.Getenv("RP_CLIENT_SECRET"),
		redirectURI: os.Getenv("RP_REDIRECT_URI"),
		email:       os.Getenv("USER_EMAIL"),
		password:    os.Getenv("USER_PASSWORD"),
	}
	if e.issuer == "" || e.clientID == "" || e.redirectURI == "" || e.email == "" {
		t.Fatal("run through tests/interop/run.py go: HABANERO_ISSUER, RP_* and USER_* are unset")
	}
	return e
}

func random(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestDiscoveryCodeExchangeAndIDTokenVerification(t *testing.T) {
	e := loadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		Issuer                   string   `json:"issuer"`
		JWKSURI                  string   `json:"jwks_uri"`
		UserinfoEndpoint         string   `json:"userinfo_endpoint"`
		CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
		IssParameterSupported    bool     `json:"authorization_response_iss_parameter_supported"`
		IDTokenSigningAlgs       []string `json:"id_token_signing_alg_values_supported"`
		ResponseTypesSupported   []string `json:"response_types_supported"`
		TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatalf("discovery claims: %v", err)
	}
	if meta.Issuer != e.issuer {
		t.Errorf("issuer %q, want %q", meta.Issuer, e.issuer)
	}
	if !slices.Contains(meta.CodeChallengeMethods, "S256") {
		t.Errorf("code_challenge_methods_supported %v lacks S256", meta.CodeChallengeMethods)
	}
	if !meta.IssParameterSupported {
		t.Errorf("authorization_response_iss_parameter_supported is not true (RFC 9207)")
	}
	if !slices.Contains(meta.ResponseTypesSupported, "code") {
		t.Errorf("response_types_supported %v lacks code", meta.ResponseTypesSupported)
	}

	conf := oauth2.Config{
		ClientID:     e.clientID,
		ClientSecret: e.secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  e.redirectURI,
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
	state, nonce, verifier := random(t), random(t), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	b := newBrowser(t)
	callback := b.authorize(authURL, e.email, e.password, e.redirectURI)
	cb, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	q := cb.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error %q: %s\n%s", q.Get("error"), q.Get("error_description"),
			b.history())
	}
	if q.Get("state") != state {
		t.Fatalf("state %q, want %q", q.Get("state"), state)
	}
	if q.Get("iss") != e.issuer {
		t.Errorf("iss in the authorization response %q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
	}

	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		t.Errorf("token_type %q", tok.TokenType)
	}
	rawID, ok := tok.Extra("id_token").(string)
	if !ok || rawID == "" {
		t.Fatal("no id_token in the token response")
	}

	idToken, err := provider.Verifier(&oidc.Config{ClientID: e.clientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token verification: %v", err)
	}
	if idToken.Nonce != nonce {
		t.Errorf("nonce %q, want %q", idToken.Nonce, nonce)
	}
	if idToken.Subject == "" {
		t.Error("empty sub")
	}
	if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Email    string   `json:"email"`
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.AuthTime == 0 || claims.AuthTime > time.Now().Unix()+5 {
		t.Errorf("auth_time %d", claims.AuthTime)
	}
	if !slices.Contains(claims.AMR, "pwd") {
		t.Errorf("amr %v lacks pwd", claims.AMR)
	}

	// A verifier for another client must refuse the same token (audience check).
	if _, err := provider.Verifier(&oidc.Config{ClientID: "someone-else"}).Verify(ctx, rawID); err == nil {
		t.Error("an ID token for another audience verified")
	}

	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != idToken.Subject {
		t.Errorf("userinfo sub %q, ID token sub %q", info.Subject, idToken.Subject)
	}
	if info.Email != e.email {
		t.Errorf("userinfo email %q, want %q", info.Email, e.email)
	}
}

func TestIDTokenWithBrokenSignatureIsRefused(t *testing.T) {
	e := loadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: e.clientID, ClientSecret: e.secret,
		Endpoint: provider.Endpoint(), RedirectURL: e.redirectURI,
		Scopes: []string{oidc.ScopeOpenID}}
	verifier := oauth2.GenerateVerifier()
	state := random(t)
	b := newBrowser(t)
	callback := b.authorize(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)),
		e.email, e.password, e.redirectURI)
	cb, _ := url.Parse(callback)
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v\n%s", err, b.history())
	}
	rawID, _ := tok.Extra("id_token").(string)
	parts := strings.Split(rawID, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token is not a compact JWS: %q", rawID)
	}
	sig := []byte(parts[2])
	if i := len(sig) / 2; sig[i] == 'A' { // still base64url, a different signature
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	v := provider.Verifier(&oidc.Config{ClientID: e.clientID})
	if _, err := v.Verify(ctx, tampered); err == nil {
		t.Error("a tampered ID token verified")
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	if _, err := v.Verify(ctx, none+"."+parts[1]+"."); err == nil {
		t.Error("an alg:none ID token verified")
	}
}
