// Command loadgen drives the parts of the comparison benchmark that a fixed wrk request cannot:
// the browser-less authorization-code round trip and open-loop (paced) load. Standard library only. scripts/bench-peers.sh builds and runs it.
//
//	loadgen flow   -issuer URL -client ID -secret S -user U -password P [-c 8] [-d 10s]
//	loadgen seed   -issuer URL -client ID -secret S -user U -password P -n 64   (refresh tokens)
//	(flow and seed: -prompt consent for oidc-provider, which grants offline_access only so)
//	loadgen rate   -url URL -basic ID:SECRET -body FORM -rate R [-c 64] [-d 10s]
//
// flow: each worker repeats, with a fresh cookie jar each time, GET authorize (PKCE S256,
// scope "openid offline_access") → follow redirects → fill and POST the login form (the first
// form on the page: hidden inputs kept, the email/username field and the password field
// filled) → follow redirects up to the redirect URI → POST the code to the token endpoint.
// One sequence is one "flow"; its latency is the whole sequence. Endpoints come from the
// issuer's discovery document.
//
// rate: requests are due at fixed intervals (1/rate) from the start; a worker takes the next
// due time, waits for it, sends, and records completion − due time, so a stalled server is
// charged for the requests that queue behind it (no coordinated omission, as in wrk2).
//
// Output: one JSON object on stdout (seed: one refresh token per line).
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	issuer, client, secret, user, password, redirect, scope, prompt string
	url, basic, body                                                string
	conns, n, checkpoint, pid                                       int
	rate                                                            float64
	duration                                                        time.Duration
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen flow|seed|rate [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	var o options
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	fs.StringVar(&o.issuer, "issuer", "", "issuer URL (discovery at /.well-known/openid-configuration)")
	fs.StringVar(&o.client, "client", "bench", "client_id")
	fs.StringVar(&o.secret, "secret", "", "client_secret (client_secret_basic)")
	fs.StringVar(&o.user, "user", "", "the user's email or username")
	fs.StringVar(&o.password, "password", "", "the user's password")
	fs.StringVar(&o.redirect, "redirect", "http://127.0.0.1/callback", "registered redirect URI")
	fs.StringVar(&o.scope, "scope", "openid offline_access", "scope of the authorization request")
	fs.StringVar(&o.prompt, "prompt", "", "prompt of the authorization request (oidc-provider grants offline_access only with consent)")
	fs.StringVar(&o.url, "url", "", "rate: URL to POST to")
	fs.StringVar(&o.basic, "basic", "", "rate: ID:SECRET for client_secret_basic")
	fs.StringVar(&o.body, "body", "grant_type=client_credentials", "rate: form body")
	fs.IntVar(&o.conns, "c", 8, "concurrent workers (connections)")
	fs.IntVar(&o.n, "n", 64, "seed: refresh tokens to print")
	fs.Float64Var(&o.rate, "rate", 1000, "rate: requests per second")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "flow/rate: duration")
	fs.Parse(os.Args[2:])

	var err error
	switch mode {
	case "flow":
		err = runFlow(o)
	case "seed":
		err = runSeed(o)
	case "rate":
		err = runRate(o)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// ---- shared ---------------------------------------------------------------------

func transport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

type stats struct {
	Requests   int64              `json:"requests"`
	Sequences  int64              `json:"sequences,omitempty"`
	DurationS  float64            `json:"duration_s"`
	PerS       float64            `json:"requests_per_s"`
	SeqPerS    float64            `json:"sequences_per_s,omitempty"`
	TargetRate float64            `json:"target_rate,omitempty"`
	LatencyUs  map[string]float64 `json:"latency_us"`
	Errors     map[string]int64   `json:"errors"`
	FirstError string             `json:"first_error,omitempty"`
}

func percentiles(lat []time.Duration) map[string]float64 {
	m := map[string]float64{}
	if len(lat) == 0 {
		return m
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 {
		i := int(p / 100 * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i].Microseconds())
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	m["mean"] = float64((sum / time.Duration(len(lat))).Microseconds())
	m["p50"], m["p90"], m["p99"] = at(50), at(90), at(99)
	m["max"] = float64(lat[len(lat)-1].Microseconds())
	return m
}

func emit(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}

type errCount struct {
	mu    sync.Mutex
	m     map[string]int64
	first string
}

func (e *errCount) add(kind string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[kind]++
	if e.first == "" && err != nil {
		e.first = err.Error()
	}
}

// ---- the authorization-code flow --------------------------------------------------

type discovery struct {
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
}

func discover(client *http.Client, issuer string) (discovery, error) {
	var d discovery
	resp, err := client.Get(strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration")
	if err != nil {
		return d, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return d, fmt.Errorf("discovery: status %d", resp.StatusCode)
	}
	err = json.NewDecoder(resp.Body).Decode(&d)
	if err == nil && (d.Authorization == "" || d.Token == "") {
		err = errors.New("discovery: endpoints missing")
	}
	return d, err
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var (
	formRe  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRe  = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		v := a[3] + a[4] + a[5]
		m[strings.ToLower(a[1])] = html.UnescapeString(v)
	}
	return m
}

// loginForm finds the first form of the page and fills it in.
func loginForm(page string, base *url.URL, user, password string) (string, url.Values, error) {
	f := formRe.FindStringSubmatch(page)
	if f == nil {
		return "", nil, errors.New("no form on the login page")
	}
	fa := attrs(f[1])
	action, err := base.Parse(fa["action"])
	if err != nil {
		return "", nil, err
	}
	v := url.Values{}
	sawPassword := false
	for _, in := range inputRe.FindAllStringSubmatch(f[2], -1) {
		a := attrs(in[1])
		name, typ := a["name"], strings.ToLower(a["type"])
		switch {
		case name == "":
		case typ == "password" || name == "password":
			v.Set(name, password)
			sawPassword = true
		case name == "email" || name == "username" || name == "login":
			v.Set(name, user)
		case typ == "checkbox" || typ == "submit":
		default:
			v.Set(name, a["value"])
		}
	}
	if !sawPassword {
		return "", nil, errors.New("the form has no password field")
	}
	return action.String(), v, nil
}

type flowClient struct {
	o    options
	d    discovery
	tr   *http.Transport
	reqs atomic.Int64
}

// one runs the whole sequence; it returns the token response.
func (fc *flowClient) one(ctx context.Context) (map[string]any, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: fc.tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := random(32)
	sum := sha256.Sum256([]byte(verifier))
	state := random(12)
	q := url.Values{"client_id": {fc.o.client}, "response_type": {"code"}, "scope": {fc.o.scope},
		"redirect_uri": {fc.o.redirect}, "state": {state}, "nonce": {random(12)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	if fc.o.prompt != "" {
		q.Set("prompt", fc.o.prompt)
	}
	next := fc.d.Authorization + "?" + q.Encode()
	var form url.Values
	code := ""
	posted := false
	for hop := 0; hop < 12 && code == ""; hop++ {
		var req *http.Request
		var err error
		if form != nil {
			req, err = http.NewRequestWithContext(ctx, "POST", next, strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			form = nil
		} else {
			req, err = http.NewRequestWithContext(ctx, "GET", next, nil)
		}
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		fc.reqs.Add(1)
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(loc.String(), fc.o.redirect) {
				if e := loc.Query().Get("error"); e != "" {
					return nil, fmt.Errorf("authorization error %s: %s", e, loc.Query().Get("error_description"))
				}
				if loc.Query().Get("state") != state {
					return nil, errors.New("state mismatch")
				}
				code = loc.Query().Get("code")
				if code == "" {
					return nil, errors.New("no code in the redirect")
				}
				break
			}
			next = loc.String()
		case resp.StatusCode == 200 && !posted:
			action, values, err := loginForm(string(body), req.URL, fc.o.user, fc.o.password)
			if err != nil {
				return nil, err
			}
			next, form, posted = action, values, true
		default:
			return nil, fmt.Errorf("%s %s: status %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	if code == "" {
		return nil, errors.New("too many hops without a code")
	}
	tv := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {fc.o.redirect}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(ctx, "POST", fc.d.Token, strings.NewReader(tv.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(fc.o.client), url.QueryEscape(fc.o.secret))
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	fc.reqs.Add(1)
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("token: status %d: %.200s", resp.StatusCode, body)
	}
	var tok map[string]any
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, err
	}
	if _, ok := tok["access_token"].(string); !ok {
		return nil, errors.New("token: no access_token")
	}
	return tok, nil
}

func newFlowClient(o options) (*flowClient, error) {
	tr := transport(o.conns)
	d, err := discover(&http.Client{Transport: tr, Timeout: 10 * time.Second}, o.issuer)
	if err != nil {
		return nil, err
	}
	return &flowClient{o: o, d: d, tr: tr}, nil
}

func runFlow(o options) error {
	fc, err := newFlowClient(o)
	if err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs errCount
		wg   sync.WaitGroup
		seqs atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+30*time.Second)
	defer cancel()
	start := time.Now()
	end := start.Add(o.duration)
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) {
				t0 := time.Now()
				if _, err := fc.one(ctx); err != nil {
					errs.add("flow", err)
					continue
				}
				mine = append(mine, time.Since(t0))
				seqs.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	return emit(stats{Requests: fc.reqs.Load(), Sequences: seqs.Load(), DurationS: el,
		PerS: float64(fc.reqs.Load()) / el, SeqPerS: float64(seqs.Load()) / el,
		LatencyUs: percentiles(lat), Errors: errs.m, FirstError: errs.first})
}

func runSeed(o options) error {
	fc, err := newFlowClient(o)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var (
		mu     sync.Mutex
		tokens []string
		wg     sync.WaitGroup
		first  error
		next   atomic.Int64
	)
	workers := o.conns
	if workers > o.n {
		workers = o.n
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(o.n) {
				tok, err := fc.one(ctx)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if rt, ok := tok["refresh_token"].(string); ok && err == nil {
					tokens = append(tokens, rt)
				} else if err == nil && first == nil {
					first = errors.New("no refresh_token in the token response")
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	for _, t := range tokens {
		fmt.Println(t)
	}
	return nil
}

// ---- paced POSTs -------------------------------------------------------------------

func postRequest(ctx context.Context, o options) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", o.url, strings.NewReader(o.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if id, secret, ok := strings.Cut(o.basic, ":"); ok {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return req, nil
}

func send(c *http.Client, o options) error {
	req, err := postRequest(context.Background(), o)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func runRate(o options) error {
	c := &http.Client{Transport: transport(o.conns), Timeout: 30 * time.Second}
	// Open the connections before the clock starts.
	for i := 0; i < o.conns; i++ {
		_ = send(c, o)
	}
	interval := time.Duration(float64(time.Second) / o.rate)
	total := int64(o.duration.Seconds() * o.rate)
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, total)
		errs errCount
		wg   sync.WaitGroup
	)
	start := time.Now().Add(10 * time.Millisecond)
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, total/int64(o.conns)+1)
			for {
				i := next.Add(1) - 1
				if i >= total {
					break
				}
				due := start.Add(time.Duration(i) * interval)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if err := send(c, o); err != nil {
					errs.add("request", err)
					continue
				}
				mine = append(mine, time.Since(due))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	return emit(stats{Requests: int64(len(lat)), DurationS: el, PerS: float64(len(lat)) / el,
		TargetRate: o.rate, LatencyUs: percentiles(lat), Errors: errs.m, FirstError: errs.first})
}
