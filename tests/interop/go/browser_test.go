package interop

// A scripted browser: a cookie jar, redirects followed by hand, the login form filled in and
// the consent form approved, until the server sends it to the client's redirect_uri. It keeps
// a transcript of every exchange for failure messages.

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

type browser struct {
	t          *testing.T
	client     *http.Client
	transcript []string
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (b *browser) history() string { return strings.Join(b.transcript, "\n") }

func (b *browser) do(method, target string, form url.Values) (*http.Response, string) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatalf("%s %s: %v\n%s", method, target, err, b.history())
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v\n%s", method, target, err, b.history())
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	shown := url.Values{}
	for k, v := range form {
		if k == "password" {
			v = []string{"***"}
		}
		shown[k] = v
	}
	var hdrs strings.Builder
	for k, v := range resp.Header {
		fmt.Fprintf(&hdrs, "     %s: %s\n", k, strings.Join(v, ", "))
	}
	text := string(data)
	if len(text) > 1500 {
		text = text[:1500]
	}
	b.transcript = append(b.transcript, fmt.Sprintf("%s %s\n  form %s\n  -> %s\n%s     %s",
		method, target, shown.Encode(), resp.Status, hdrs.String(), text))
	return resp, string(data)
}

var (
	formRe   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	buttonRe = regexp.MustCompile(`(?is)<button\b([^>]*)>(.*?)</button>`)
	attrRe   = regexp.MustCompile(`(?is)([a-z_:-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?`)
	linkRe   = regexp.MustCompile(`(?is)<a\b[^>]*href\s*=\s*"([^"]*/login/password[^"]*)"`)
	approve  = regexp.MustCompile(`(?i)approve|allow|accept|consent|authori[sz]e|yes|continue|grant`)
	deny     = regexp.MustCompile(`(?i)deny|cancel|reject|decline|refuse|\bno\b`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

type form struct {
	action, method string
	fields         url.Values
	passwordField  string
	emailField     string
	buttons        []map[string]string
}

func parseForms(page string) []form {
	var forms []form
	for _, m := range formRe.FindAllStringSubmatch(page, -1) {
		fa := attrs(m[1])
		f := form{action: fa["action"], method: strings.ToLower(fa["method"]), fields: url.Values{}}
		for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
			a := attrs(in[1])
			typ := strings.ToLower(a["type"])
			name := a["name"]
			switch {
			case typ == "submit":
				f.buttons = append(f.buttons, map[string]string{"name": name, "value": a["value"]})
			case name == "":
			case typ == "password":
				f.passwordField = name
			case typ == "email" || name == "email" || name == "username":
				f.emailField = name
			case typ == "checkbox" || typ == "radio":
				if _, checked := a["checked"]; checked {
					f.fields.Add(name, a["value"])
				}
			default:
				f.fields.Add(name, a["value"])
			}
		}
		for _, bt := range buttonRe.FindAllStringSubmatch(m[2], -1) {
			a := attrs(bt[1])
			if t := strings.ToLower(a["type"]); t != "" && t != "submit" {
				continue
			}
			f.buttons = append(f.buttons, map[string]string{"name": a["name"], "value": a["value"],
				"text": bt[2]})
		}
		forms = append(forms, f)
	}
	return forms
}

func pickButton(buttons []map[string]string) map[string]string {
	for _, b := range buttons {
		label := b["name"] + " " + b["value"] + " " + b["text"]
		if approve.MatchString(label) && !deny.MatchString(label) {
			return b
		}
	}
	if len(buttons) == 1 {
		return buttons[0]
	}
	return nil
}

// authorize follows an authorization request through login and consent and returns the URL
// the server finally redirects to (starting with redirectURI).
func (b *browser) authorize(start, email, password, redirectURI string) string {
	method, target := "GET", start
	var data url.Values
	loginPosted := false
	for hop := 0; hop < 20; hop++ {
		resp, page := b.do(method, target, data)
		base, _ := url.Parse(target)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := base.Parse(resp.Header.Get("Location"))
			if err != nil {
				b.t.Fatalf("bad Location: %v\n%s", err, b.history())
			}
			if strings.HasPrefix(loc.String(), redirectURI) {
				return loc.String()
			}
			method, target, data = "GET", loc.String(), nil
			continue
		}
		forms := parseForms(page)
		if resp.StatusCode == http.StatusOK && len(forms) > 0 {
			var chosen *form
			var button map[string]string
			for i := range forms {
				if forms[i].passwordField != "" {
					if loginPosted {
						b.t.Fatalf("the login form came back after posting it\n%s", b.history())
					}
					loginPosted = true
					chosen = &forms[i]
					chosen.fields.Set(chosen.passwordField, password)
					if chosen.emailField != "" {
						chosen.fields.Set(chosen.emailField, email)
					}
					button = pickButton(chosen.buttons)
					break
				}
			}
			if chosen == nil {
				for i := range forms {
					if button = pickButton(forms[i].buttons); button != nil {
						chosen = &forms[i]
						break
					}
				}
			}
			if chosen == nil {
				b.t.Fatalf("no form to submit at %s\n%s", target, b.history())
			}
			if button != nil && button["name"] != "" {
				chosen.fields.Set(button["name"], button["value"])
			}
			next, err := base.Parse(chosen.action)
			if err != nil {
				b.t.Fatalf("bad form action: %v\n%s", err, b.history())
			}
			if chosen.method == "post" {
				method, target, data = "POST", next.String(), chosen.fields
			} else {
				next.RawQuery = chosen.fields.Encode()
				method, target, data = "GET", next.String(), nil
			}
			continue
		}
		if m := linkRe.FindStringSubmatch(page); resp.StatusCode == http.StatusOK && m != nil {
			next, _ := base.Parse(html.UnescapeString(m[1]))
			method, target, data = "GET", next.String(), nil
			continue
		}
		b.t.Fatalf("stuck at %s (%s)\n%s", target, resp.Status, b.history())
	}
	b.t.Fatalf("too many hops\n%s", b.history())
	return ""
}
