package workload

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/coding"
)

// Mix categories and their weights: the Happy team's k6 full-API mix.
var mix = []struct {
	name   string
	weight int
}{
	{"health", 30},
	{"sessions", 20},
	{"machines", 15},
	{"artifacts", 10},
	{"account", 10},
	{"kv", 7},
	{"feed", 4},
	{"version", 4},
}

// Weights returns the mix's category weights (percent), for tests and
// documentation.
func Weights() map[string]int {
	w := map[string]int{}
	for _, m := range mix {
		w[m.name] = m.weight
	}
	return w
}

// user is one simulated Happy client.
type user struct {
	cfg    Config
	index  int
	rng    *rand.Rand
	key    ed25519.PrivateKey
	client *http.Client
	budget *atomic.Int64
	token  string
	tagN   int

	homeSession string
	homeMachine string
	sessions    []string // sessions this user keeps (home first)
	machines    []string
	artifacts   map[string]int64 // id -> body version
	artifactIDs []string
	kv          map[string]int64 // key -> version
	kvKeys      []string
	prefVersion int64

	mu    sync.Mutex // guards rep (WebSocket readers add to it)
	rep   Report
	trace []string
}

func newUser(c Config, i int, budget *atomic.Int64) *user {
	var seed [16]byte
	binary.LittleEndian.PutUint64(seed[:], c.Seed)
	binary.LittleEndian.PutUint64(seed[8:], uint64(i))
	keySeed := sha256.Sum256(append([]byte("reprise-workload-key\x00"), seed[:]...))
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     90 * time.Second,
			},
		}
	}
	return &user{
		cfg:       c,
		index:     i,
		rng:       rand.New(rand.NewPCG(c.Seed, uint64(i)+1)),
		key:       ed25519.NewKeyFromSeed(keySeed[:]),
		client:    client,
		budget:    budget,
		artifacts: map[string]int64{},
		kv:        map[string]int64{},
		rep:       newReport(),
	}
}

func (u *user) report() Report {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.rep
}

// acceptEncoding is what the client asks the server to compress with.
const acceptEncoding = "gzip, deflate, br"

// do sends one request and decodes a JSON object answer. route is the
// template the request is counted under; ok lists the statuses the caller
// expects (default 200).
func (u *user) do(ctx context.Context, method, route, path string, body any, ok ...int) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode %s body: %w", route, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.cfg.BaseURL+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	// As a browser or Node's fetch does: the server may compress its
	// answers, and the client reads through the coding.
	req.Header.Set("Accept-Encoding", acceptEncoding)
	req.Header.Set("User-Agent", "happy-app/1.4.2 (reprise-workload)")
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	label := method + " " + route
	resp, err := u.client.Do(req)
	u.mu.Lock()
	u.rep.Requests[label]++
	if err != nil {
		if ctx.Err() == nil {
			u.rep.Errors++
		}
		u.mu.Unlock()
		u.cfg.Logger.Debug("request failed", "user", u.index, "route", label, "err", err)
		return 0, nil, fmt.Errorf("%s: %w", label, err)
	}
	u.rep.Statuses[resp.StatusCode]++
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	if !slices.Contains(ok, resp.StatusCode) {
		u.rep.Unexpected++
	}
	u.mu.Unlock()
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: read body: %w", label, err)
	}
	if ce := resp.Header.Values("Content-Encoding"); len(ce) > 0 {
		dec, err := coding.DecodeCodings(coding.Parse(ce...), raw, 16<<20)
		if err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s: decode body: %w", label, err)
		}
		raw = dec.Data
	}
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s: decode body: %w", label, err)
		}
	}
	return resp.StatusCode, out, nil
}

// setup logs in and creates the user's home session and machine.
func (u *user) setup(ctx context.Context) error {
	if u.cfg.AuthToken != "" {
		u.token = u.cfg.AuthToken
	} else {
		challenge := u.randBytes(32)
		st, body, err := u.do(ctx, "POST", "/v1/auth", "/v1/auth", map[string]string{
			"publicKey": base64.StdEncoding.EncodeToString(u.key.Public().(ed25519.PublicKey)),
			"challenge": base64.StdEncoding.EncodeToString(challenge),
			"signature": base64.StdEncoding.EncodeToString(ed25519.Sign(u.key, challenge)),
		})
		if err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		tok, _ := body["token"].(string)
		if st != http.StatusOK || tok == "" {
			return fmt.Errorf("log in: status %d %v", st, body["error"])
		}
		u.token = tok
	}
	st, body, err := u.do(ctx, "POST", "/v1/sessions", "/v1/sessions", map[string]any{
		"tag": fmt.Sprintf("home-%d-%d", u.cfg.Seed, u.index), "metadata": u.blob(48), "dataEncryptionKey": u.blob(32),
	})
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("create home session: status %d: %v", st, err)
	}
	u.homeSession = str(body, "session", "id")
	u.sessions = append(u.sessions, u.homeSession)
	u.homeMachine = u.uuid()
	st, _, err = u.do(ctx, "POST", "/v1/machines", "/v1/machines", map[string]any{
		"id": u.homeMachine, "metadata": u.blob(64), "daemonState": u.blob(24), "dataEncryptionKey": u.blob(32),
	})
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("register machine: status %d: %v", st, err)
	}
	u.machines = append(u.machines, u.homeMachine)
	if u.homeSession == "" {
		return errors.New("create home session: no session id in the answer")
	}
	return nil
}

// run executes mix operations until runCtx ends or a bound is reached;
// WebSocket clients run beside it. Operations use ctx, so one under way
// when runCtx ends completes.
func (u *user) run(ctx, runCtx context.Context) {
	var wg sync.WaitGroup
	// The WebSocket clients live as long as the operation loop.
	wsCtx, stopWS := context.WithCancel(runCtx)
	defer stopWS()
	if !u.cfg.NoWebSocket {
		ws := newWSClient(u)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws.run(ctx, wsCtx)
		}()
	}
	for n := 0; u.cfg.OpsPerUser == 0 || n < u.cfg.OpsPerUser; n++ {
		if !sleep(runCtx, u.think()) {
			break
		}
		if u.budget != nil && u.budget.Add(-1) < 0 {
			break
		}
		cat := u.pick()
		u.mu.Lock()
		u.rep.Ops[cat]++
		u.mu.Unlock()
		op := u.operation(ctx, cat)
		if u.cfg.Trace {
			u.trace = append(u.trace, op)
		}
	}
	stopWS()
	wg.Wait()
}

func (u *user) think() time.Duration {
	lo, hi := u.cfg.ThinkMin, u.cfg.ThinkMax
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(u.rng.Int64N(int64(hi-lo)))
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (u *user) pick() string {
	n := u.rng.IntN(100)
	for _, m := range mix {
		if n < m.weight {
			return m.name
		}
		n -= m.weight
	}
	return mix[0].name
}

// chance reports true with probability p percent.
func (u *user) chance(p int) bool { return u.rng.IntN(100) < p }

// randBytes draws n bytes from the user's seeded source.
func (u *user) randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(u.rng.IntN(256))
	}
	return b
}

func (u *user) blob(n int) string {
	return base64.StdEncoding.EncodeToString(u.randBytes(n))
}

// uuid makes a version-4 UUID from the user's random source.
func (u *user) uuid() string {
	b := u.randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

func num(m map[string]any, key string) (int64, bool) {
	f, ok := m[key].(float64)
	return int64(f), ok
}

// pickOf returns a random element of list, or "" when empty.
func (u *user) pickOf(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[u.rng.IntN(len(list))]
}

// operation runs one operation of category cat and returns its name.
func (u *user) operation(ctx context.Context, cat string) string {
	switch cat {
	case "health":
		if u.chance(90) {
			u.do(ctx, "GET", "/health", "/health", nil)
			return "health"
		}
		u.do(ctx, "GET", "/ready", "/ready", nil)
		return "ready"
	case "sessions":
		return u.sessionsOp(ctx)
	case "machines":
		return u.machinesOp(ctx)
	case "artifacts":
		return u.artifactsOp(ctx)
	case "account":
		return u.accountOp(ctx)
	case "kv":
		return u.kvOp(ctx)
	case "feed":
		u.do(ctx, "GET", "/v1/feed", fmt.Sprintf("/v1/feed?limit=%d", 10+u.rng.IntN(3)*10), nil)
		return "feed"
	case "version":
		platform := []string{"ios", "android", "web"}[u.rng.IntN(3)]
		u.do(ctx, "POST", "/v1/version", "/v1/version", map[string]any{
			"platform": platform, "version": fmt.Sprintf("1.%d.%d", 3+u.rng.IntN(2), u.rng.IntN(10)), "app_id": "com.slopus.happy",
		})
		return "version"
	}
	return "unknown"
}

func (u *user) sessionsOp(ctx context.Context) string {
	n := u.rng.IntN(100)
	switch {
	case n < 30:
		// The app lists sessions, then opens one.
		u.do(ctx, "GET", "/v1/sessions", "/v1/sessions", nil)
		if u.chance(60) {
			u.do(ctx, "GET", "/v1/sessions/{id}/messages", "/v1/sessions/"+u.pickOf(u.sessions)+"/messages?limit=20", nil)
		}
		return "sessions.list"
	case n < 40:
		_, body, err := u.do(ctx, "GET", "/v2/sessions", "/v2/sessions?limit=5", nil)
		if cur := str(body, "nextCursor"); err == nil && cur != "" && u.chance(50) {
			u.do(ctx, "GET", "/v2/sessions", "/v2/sessions?limit=5&cursor="+cur, nil)
		}
		return "sessions.page"
	case n < 45:
		u.do(ctx, "GET", "/v2/sessions/active", "/v2/sessions/active?limit=20", nil)
		return "sessions.active"
	case n < 60:
		u.do(ctx, "GET", "/v1/sessions/{id}", "/v1/sessions/"+u.pickOf(u.sessions), nil)
		return "sessions.get"
	case n < 85:
		u.sessionFlow(ctx)
		return "sessions.flow"
	case n < 95:
		u.chat(ctx)
		return "sessions.chat"
	default:
		u.archiveFlow(ctx)
		return "sessions.archive"
	}
}

// sessionFlow is the k6 sessions scenario: create a session, post a
// message into it, list its messages, delete it; the created id feeds the
// next three requests.
func (u *user) sessionFlow(ctx context.Context) {
	u.tagN++
	st, body, err := u.do(ctx, "POST", "/v1/sessions", "/v1/sessions", map[string]any{
		"tag": fmt.Sprintf("flow-%d-%d-%d", u.cfg.Seed, u.index, u.tagN), "metadata": u.blob(48),
	})
	id := str(body, "session", "id")
	if err != nil || st != http.StatusOK || id == "" {
		return
	}
	short := func() { sleep(ctx, u.think()/2) }
	short()
	u.do(ctx, "POST", "/v1/sessions/{id}/messages", "/v1/sessions/"+id+"/messages", map[string]any{
		"localId": u.uuid(), "content": map[string]any{"t": "encrypted", "c": u.blob(40)},
	})
	short()
	u.do(ctx, "GET", "/v1/sessions/{id}/messages", "/v1/sessions/"+id+"/messages?limit=50", nil)
	short()
	u.do(ctx, "DELETE", "/v1/sessions/{id}", "/v1/sessions/"+id, nil)
}

// chat posts into the home session, which session-scoped sockets follow.
func (u *user) chat(ctx context.Context) {
	u.do(ctx, "POST", "/v1/sessions/{id}/messages", "/v1/sessions/"+u.homeSession+"/messages", map[string]any{
		"localId": u.uuid(), "content": map[string]any{"t": "encrypted", "c": u.blob(60 + u.rng.IntN(200))},
	})
	if u.chance(40) {
		u.do(ctx, "GET", "/v1/sessions/{id}/messages", "/v1/sessions/"+u.homeSession+"/messages?limit=20", nil)
	}
}

// archiveFlow creates a session that stays, archives some, reads state.
func (u *user) archiveFlow(ctx context.Context) {
	u.tagN++
	st, body, _ := u.do(ctx, "POST", "/v1/sessions", "/v1/sessions", map[string]any{
		"tag": fmt.Sprintf("kept-%d-%d-%d", u.cfg.Seed, u.index, u.tagN), "metadata": u.blob(32), "agentState": u.blob(16),
	})
	id := str(body, "session", "id")
	if st != http.StatusOK || id == "" {
		return
	}
	if len(u.sessions) < 8 {
		u.sessions = append(u.sessions, id)
	}
	if u.chance(50) {
		u.do(ctx, "POST", "/v1/sessions/{id}/archive", "/v1/sessions/"+id+"/archive", map[string]any{"reason": "manual"})
	}
	u.do(ctx, "GET", "/v1/sessions/{id}/state", "/v1/sessions/"+id+"/state", nil)
}

func (u *user) machinesOp(ctx context.Context) string {
	n := u.rng.IntN(100)
	switch {
	case n < 40:
		u.do(ctx, "GET", "/v1/machines", "/v1/machines", nil)
		if u.chance(50) {
			u.do(ctx, "GET", "/v1/machines/{id}", "/v1/machines/"+u.pickOf(u.machines), nil)
		}
		return "machines.list"
	case n < 60:
		u.do(ctx, "GET", "/v1/machines/{id}", "/v1/machines/"+u.pickOf(u.machines), nil)
		return "machines.get"
	case n < 85:
		u.do(ctx, "PUT", "/v1/machines/{id}/status", "/v1/machines/"+u.pickOf(u.machines)+"/status", map[string]any{"active": u.chance(70)})
		return "machines.status"
	default:
		id := u.pickOf(u.machines)
		if len(u.machines) < 3 && u.chance(50) {
			id = u.uuid()
		}
		st, _, _ := u.do(ctx, "POST", "/v1/machines", "/v1/machines", map[string]any{"id": id, "metadata": u.blob(64), "daemonState": u.blob(24)})
		if st == http.StatusOK && !slices.Contains(u.machines, id) {
			u.machines = append(u.machines, id)
		}
		return "machines.register"
	}
}

func (u *user) artifactsOp(ctx context.Context) string {
	n := u.rng.IntN(100)
	switch {
	case n < 35 || (n >= 60 && len(u.artifactIDs) == 0):
		u.do(ctx, "GET", "/v1/artifacts", "/v1/artifacts", nil)
		if len(u.artifactIDs) > 0 && u.chance(50) {
			u.do(ctx, "GET", "/v1/artifacts/{id}", "/v1/artifacts/"+u.pickOf(u.artifactIDs), nil)
		}
		return "artifacts.list"
	case n < 60:
		id := u.uuid()
		st, _, _ := u.do(ctx, "POST", "/v1/artifacts", "/v1/artifacts", map[string]any{
			"id": id, "header": u.blob(24), "body": u.blob(120), "dataEncryptionKey": u.blob(32),
		})
		if st == http.StatusOK {
			u.artifacts[id] = 1
			u.artifactIDs = append(u.artifactIDs, id)
		}
		return "artifacts.create"
	case n < 80:
		u.do(ctx, "GET", "/v1/artifacts/{id}", "/v1/artifacts/"+u.pickOf(u.artifactIDs), nil)
		return "artifacts.get"
	case n < 90:
		id := u.pickOf(u.artifactIDs)
		st, body, _ := u.do(ctx, "POST", "/v1/artifacts/{id}", "/v1/artifacts/"+id, map[string]any{"body": u.blob(120), "expectedBodyVersion": u.artifacts[id]})
		if v, ok := num(body, "bodyVersion"); st == http.StatusOK && ok {
			u.artifacts[id] = v
		} else if v, ok := num(body, "currentBodyVersion"); ok {
			u.artifacts[id] = v
		}
		return "artifacts.update"
	default:
		id := u.pickOf(u.artifactIDs)
		st, _, _ := u.do(ctx, "DELETE", "/v1/artifacts/{id}", "/v1/artifacts/"+id, nil)
		if st == http.StatusOK {
			delete(u.artifacts, id)
			u.artifactIDs = slices.DeleteFunc(u.artifactIDs, func(x string) bool { return x == id })
		}
		return "artifacts.delete"
	}
}

func (u *user) accountOp(ctx context.Context) string {
	n := u.rng.IntN(100)
	switch {
	case n < 40:
		u.do(ctx, "GET", "/v1/account", "/v1/account", nil)
		if u.chance(50) {
			_, body, _ := u.do(ctx, "GET", "/v1/account/settings", "/v1/account/settings", nil)
			if v, ok := num(body, "settingsVersion"); ok {
				u.prefVersion = v
			}
		}
		return "account.get"
	case n < 70:
		_, body, _ := u.do(ctx, "GET", "/v1/account/preferences", "/v1/account/preferences", nil)
		if v, ok := num(body, "settingsVersion"); ok {
			u.prefVersion = v
		}
		return "account.preferences"
	case n < 90:
		_, body, _ := u.do(ctx, "PUT", "/v1/account/preferences", "/v1/account/preferences", map[string]any{"settings": u.blob(40), "expectedVersion": u.prefVersion})
		if v, ok := num(body, "version"); ok {
			u.prefVersion = v
		} else if v, ok := num(body, "currentVersion"); ok {
			u.prefVersion = v
		}
		return "account.preferences.put"
	default:
		u.do(ctx, "PUT", "/v1/account", "/v1/account", map[string]any{"firstName": fmt.Sprintf("User%d", u.index)})
		return "account.update"
	}
}

func (u *user) kvOp(ctx context.Context) string {
	n := u.rng.IntN(100)
	switch {
	case n < 40:
		u.do(ctx, "GET", "/v1/kv", "/v1/kv?limit=50", nil)
		return "kv.list"
	case n < 70:
		key := u.pickOf(u.kvKeys)
		if key == "" || u.chance(15) {
			key = fmt.Sprintf("missing.%d", u.rng.IntN(1000))
		}
		u.do(ctx, "GET", "/v1/kv/{key}", "/v1/kv/"+key, nil, http.StatusOK, http.StatusNotFound)
		return "kv.get"
	default:
		key := fmt.Sprintf("settings.%d", u.rng.IntN(6))
		version, known := u.kv[key]
		if !known {
			version = -1
		}
		st, body, _ := u.do(ctx, "POST", "/v1/kv", "/v1/kv", map[string]any{"mutations": []any{map[string]any{"key": key, "value": u.blob(24), "version": version}}}, http.StatusOK, http.StatusConflict)
		// A write answers with the key's new version in "results", a
		// conflict with its current one in "errors": either way it is known.
		list := map[int]string{http.StatusOK: "results", http.StatusConflict: "errors"}[st]
		if items, ok := body[list].([]any); ok && len(items) == 1 {
			if m, ok := items[0].(map[string]any); ok {
				v, _ := num(m, "version")
				u.kv[key] = v
				if !known {
					u.kvKeys = append(u.kvKeys, key)
				}
			}
		}
		return "kv.mutate"
	}
}
