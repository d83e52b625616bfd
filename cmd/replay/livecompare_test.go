package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/metrics"
)

// releaseServer starts one instance of a release of the built-in Happy
// server, in-process, its handler wrapped by wrap when set, and returns
// its URL.
func releaseServer(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	srv, err := happyapi.New(happyapi.Config{AnyToken: true,
		AuthLimit: happyapi.RateLimit{N: -1}, TicketLimit: happyapi.RateLimit{N: -1}})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts.URL
}

// slowerHealth makes the release whose GET /health answers delay later
// and, with rewrite, say "status":"ok" where the release says "healthy":
// a release slower on one endpoint, one field of whose answers changed.
// Answers keep their content coding (decoded, rewritten, encoded again).
func slowerHealth(delay time.Duration, rewrite bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/health" {
				next.ServeHTTP(w, r)
				return
			}
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				return
			}
			if !rewrite {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			ce := rec.Header().Get("Content-Encoding")
			if ce != "" {
				res, err := coding.Decode(ce, body, 1<<20)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				body = res.Data
			}
			body = bytes.Replace(body, []byte(`"status":"healthy"`), []byte(`"status":"ok"`), 1)
			if ce != "" {
				var err error
				if body, err = coding.Encode(ce, body); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

// liveDoc is what the tests read of a live comparison document.
type liveDoc struct {
	Verdict string `json:"verdict"`
	Live    *struct {
		Pairs    int64 `json:"pairs"`
		Compared int64 `json:"compared"`
	} `json:"live"`
	Overall   liveEndpoint               `json:"overall"`
	Endpoints []liveEndpoint             `json:"endpoints"`
	Results   map[string]json.RawMessage `json:"results"`
}

type liveEndpoint struct {
	Endpoint    string `json:"endpoint"`
	Comparisons []struct {
		Metric string  `json:"metric"`
		Class  string  `json:"class"`
		Delta  float64 `json:"delta"`
		CILow  float64 `json:"ci_low"`
		CIHigh float64 `json:"ci_high"`
		Field  *struct {
			Field    string `json:"field"`
			ExampleA string `json:"example_a"`
			ExampleB string `json:"example_b"`
		} `json:"field"`
	} `json:"comparisons"`
}

func readLiveDoc(t testing.TB, path string) liveDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d liveDoc
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// regressionsOf lists a document's regressions as "endpoint metric".
func regressionsOf(d liveDoc) []string {
	var out []string
	for _, e := range append([]liveEndpoint{d.Overall}, d.Endpoints...) {
		for _, c := range e.Comparisons {
			if c.Class == "regression" {
				out = append(out, e.Endpoint+" "+c.Metric)
			}
		}
	}
	return out
}

// onlyHealthRegressed checks that d flags GET /health's latency and its
// field status, and nothing of another endpoint (the whole run's overall
// row holds GET /health too).
func onlyHealthRegressed(t *testing.T, d liveDoc, report string) {
	t.Helper()
	var field, latency bool
	for _, r := range regressionsOf(d) {
		switch {
		case r == "GET /health field status":
			field = true
		case strings.HasPrefix(r, "GET /health latency"):
			latency = true
		case strings.HasPrefix(r, "GET /health service"), strings.HasPrefix(r, " "):
		default:
			t.Errorf("regression %q: only GET /health changed\n%s", r, report)
		}
	}
	if !field || !latency {
		t.Errorf("regressions %q: want GET /health's latency and its field status\n%s", regressionsOf(d), report)
	}
}

// One replay of part of the shipped corpus sent to two instances of one
// release (unchanged, exit 0) and to a release whose GET /health is
// 15 ms slower and says "ok" for "healthy" (that endpoint's latency and
// that field, and nothing else of the other endpoints, exit 3), with
// the results of each release and an HTML report written.
func TestCompareLive(t *testing.T) {
	dir := t.TempDir()
	c := happyCorpus(t, dir)
	a := releaseServer(t, nil)
	args := func(b string, more ...string) []string {
		return append([]string{"compare", c, "--a", a, "--b", b, "--speed", "30", "-q",
			"--only", "GET /health", "--only", "GET /ready", "--only", "GET /v1/account*"}, more...)
	}
	t.Run("one release against itself", func(t *testing.T) {
		code, stdout, stderr := runReplay(t, args(releaseServer(t, nil))...)
		if code != exitOK || !strings.Contains(stdout, "verdict: UNCHANGED") {
			t.Fatalf("exit %d, want 0 and UNCHANGED\n%s%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "paired: ") || !strings.Contains(stdout, "answers compared field by field") {
			t.Errorf("the report does not say what was paired:\n%s", stdout)
		}
	})
	t.Run("slower and changed", func(t *testing.T) {
		out, html := filepath.Join(dir, "out", "cmp.json"), filepath.Join(dir, "out", "cmp.html")
		code, stdout, stderr := runReplay(t, args(releaseServer(t, slowerHealth(15*time.Millisecond, true)), "--out", "json="+out, "--out", "html="+html)...)
		if code != exitRegression {
			t.Fatalf("exit %d, want %d\n%s%s", code, exitRegression, stdout, stderr)
		}
		oneLine(t, stderr, "regression")
		d := readLiveDoc(t, out)
		onlyHealthRegressed(t, d, stdout)
		if !strings.Contains(stdout, `"healthy"`) || !strings.Contains(stdout, `"ok"`) {
			t.Errorf("the field's example values are not shown:\n%s", stdout)
		}
		for _, lane := range []string{"a", "b"} {
			s, err := metrics.Decode(bytes.NewReader(d.Results[lane]))
			if err != nil || s.Endpoint("GET /health") == nil {
				t.Errorf("results of %s: %v", lane, err)
			}
		}
		page, err := os.ReadFile(html)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte("REGRESSION")) || !bytes.Contains(page, []byte("GET /health · field status")) {
			t.Errorf("the HTML report does not open with the regression")
		}
	})
}

func TestCompareLiveBadInput(t *testing.T) {
	dir := t.TempDir()
	c := happyCorpus(t, dir)
	results := filepath.Join(dir, "a.json")
	os.WriteFile(results, []byte("{}\n"), 0o600)
	up := releaseServer(t, nil)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no b", []string{"compare", c, "--a", up}, exitUsage, []string{"--b URL"}},
		{"target", []string{"compare", c, "--a", up, "--b", up, "--target", up}, exitUsage, []string{"--target", "--a URL"}},
		{"bad url", []string{"compare", c, "--a", "ftp://x", "--b", up}, exitUsage, []string{"--a", "http://"}},
		{"release flags on files", []string{"compare", results, results, "--speed", "10"}, exitUsage, []string{"--speed", "live comparison"}},
		{"releases on files", []string{"compare", results, results, "--a", up}, exitUsage, []string{"--a", "live comparison"}},
		{"two corpora", []string{"compare", c, c}, exitUsage, []string{"is a corpus", "--a URL --b URL"}},
		{"one results file", []string{"compare", results, "--a", up, "--b", up}, exitUsage, []string{"two results files"}},
		{"b down", []string{"compare", c, "--a", up, "--b", "http://127.0.0.1:1"}, exitError, []string{"127.0.0.1:1", "--b"}},
		{"a down", []string{"compare", c, "--a", "http://127.0.0.1:1", "--b", up}, exitError, []string{"127.0.0.1:1", "--a right"}},
		{"b is the recorded origin", []string{"compare", c, "--a", up, "--b", "http://127.0.0.1:45453"}, exitError, []string{"origin", "(--b)", "--allow-origin"}},
		{"bad max pairs", []string{"compare", c, "--a", up, "--b", up, "--max-pairs", "5"}, exitUsage, []string{"--max-pairs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"replay"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			oneLine(t, stderr.String(), tc.want...)
		})
	}
}
