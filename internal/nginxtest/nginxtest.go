// Package nginxtest starts a real nginx (from the system's packages) on a
// loopback port for integration tests, with an access log the test can
// read back, in the manner of net/http/httptest.
package nginxtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running nginx.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:PORT" ("https://" when it
	// listens with ssl).
	URL  string
	Addr string
	dir  string
	cmd  *exec.Cmd
}

// Options configure StartWith.
type Options struct {
	// Listen is added to the listen directive, for example "ssl http2"
	// (with ssl_certificate and ssl_certificate_key in Server).
	Listen string
	// HTTP is inserted into the http block (log_format, map, upstream).
	HTTP string
	// Server is inserted into the server block (locations); by default
	// every request gets 200 "ok".
	Server string
}

// Dir is the server's directory: its configuration and logs.
func (s *Server) Dir() string { return s.dir }

// Entry is one access-log line.
type Entry struct {
	// Time is when nginx logged the request (millisecond resolution).
	Time   time.Time
	Method string
	URI    string
	// Flow is the X-Flow request header, "-" when absent.
	Flow   string
	Status int
	// Length is the request length in bytes (line, headers and body).
	Length int
}

// Binary returns the nginx binary, or "" when none is installed.
func Binary() string {
	for _, p := range []string{"nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// Start runs nginx for the test, skipping it when nginx is absent. extra
// is inserted into the server block (locations); by default every request
// gets 200 "ok".
func Start(t testing.TB, extra string) *Server {
	t.Helper()
	return StartWith(t, Options{Server: extra})
}

// StartWith runs nginx for the test as Start does, with more of the
// configuration given.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	extra := o.Server
	bin := Binary()
	if bin == "" {
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if extra == "" {
		extra = "location / { return 200 'ok\\n'; }"
	}
	conf := fmt.Sprintf(`
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  log_format reprise '$msec $request_method "$request_uri" $http_x_flow $status $request_length';
  access_log %[1]s/access.log reprise;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 100000;
  %[5]s
  server {
    listen %[2]s %[4]s;
    %[3]s
  }
}
`, dir, addr, extra, o.Listen, o.HTTP)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;", "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	scheme := "http"
	if strings.Contains(" "+o.Listen+" ", " ssl ") {
		scheme = "https"
	}
	s := &Server{URL: scheme + "://" + addr, Addr: addr, dir: dir, cmd: cmd}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func (s *Server) stop() {
	if s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// Log returns the access log so far. nginx writes a request's line after
// sending its response, so a client can be answered before the line is
// there: Log reads until two reads 50 ms apart agree (for at most 2 s).
func (s *Server) Log(ctx context.Context) ([]Entry, error) {
	log, err := s.readLog()
	deadline := time.Now().Add(2 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		again, rerr := s.readLog()
		if rerr != nil || len(again) == len(log) {
			return again, rerr
		}
		log = again
	}
	return log, err
}

func (s *Server) readLog() ([]Entry, error) {
	f, err := os.Open(filepath.Join(s.dir, "access.log"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// 1700000000.123 GET "/path?q" flow 200 123
		q1 := strings.IndexByte(line, '"')
		q2 := strings.LastIndexByte(line, '"')
		if q1 < 0 || q2 <= q1 {
			return nil, fmt.Errorf("access log line %q", line)
		}
		head := strings.Fields(line[:q1])
		tail := strings.Fields(line[q2+1:])
		if len(head) != 2 || len(tail) != 3 {
			return nil, fmt.Errorf("access log line %q", line)
		}
		sec, err := strconv.ParseFloat(head[0], 64)
		if err != nil {
			return nil, fmt.Errorf("access log time %q: %w", head[0], err)
		}
		status, _ := strconv.Atoi(tail[1])
		length, _ := strconv.Atoi(tail[2])
		out = append(out, Entry{
			Time:   time.UnixMilli(int64(sec*1000 + 0.5)),
			Method: head[1], URI: line[q1+1 : q2], Flow: tail[0], Status: status, Length: length,
		})
	}
	return out, sc.Err()
}
