package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTest(t *testing.T, startupDelay time.Duration) (*server, *fakeClock, *httptest.Server) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := newServer("pod-a", "node-1", startupDelay, clk.now)
	ts := httptest.NewServer(s.routes())
	t.Cleanup(ts.Close)
	return s, clk, ts
}

func call(t *testing.T, ts *httptest.Server, method, path string) int {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func expect(t *testing.T, ts *httptest.Server, method, path string, want int) {
	t.Helper()
	if got := call(t, ts, method, path); got != want {
		t.Errorf("%s %s = %d, want %d", method, path, got, want)
	}
}

func TestRootReportsPodNodeAndCount(t *testing.T) {
	_, _, ts := newTest(t, 0)
	for want := 1; want <= 2; want++ {
		resp, err := ts.Client().Get(ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Pod, Node string
			Requests  int
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || body.Pod != "pod-a" || body.Node != "node-1" || body.Requests != want {
			t.Errorf("GET / = %d %+v, want 200 pod-a node-1 %d", resp.StatusCode, body, want)
		}
	}
	expect(t, ts, "GET", "/nope", 404)
}

func TestStartupDelayGatesReadinessAndStartup(t *testing.T) {
	_, clk, ts := newTest(t, 3*time.Second)
	expect(t, ts, "GET", "/healthz", 200)
	expect(t, ts, "GET", "/readyz", 503)
	expect(t, ts, "GET", "/startupz", 503)
	clk.advance(3 * time.Second)
	expect(t, ts, "GET", "/readyz", 200)
	expect(t, ts, "GET", "/startupz", 200)
}

func TestProbeFailWindow(t *testing.T) {
	_, clk, ts := newTest(t, 0)
	expect(t, ts, "POST", "/admin/fail?probe=readiness&seconds=2", 200)
	expect(t, ts, "GET", "/readyz", 503)
	expect(t, ts, "GET", "/healthz", 200) // only the named probe breaks
	expect(t, ts, "GET", "/", 200)        // and traffic is still served
	clk.advance(1999 * time.Millisecond)
	expect(t, ts, "GET", "/readyz", 503)
	clk.advance(time.Millisecond)
	expect(t, ts, "GET", "/readyz", 200)

	expect(t, ts, "POST", "/admin/fail?probe=liveness&seconds=0", 200)
	clk.advance(time.Hour)
	expect(t, ts, "GET", "/healthz", 503)
	expect(t, ts, "POST", "/admin/clear?probe=liveness", 200)
	expect(t, ts, "GET", "/healthz", 200)

	expect(t, ts, "POST", "/admin/fail?probe=startup&seconds=0", 200)
	expect(t, ts, "GET", "/startupz", 503)
	expect(t, ts, "POST", "/admin/clear", 200) // no probe: clear all
	expect(t, ts, "GET", "/startupz", 200)
}

func TestAdminState(t *testing.T) {
	_, _, ts := newTest(t, 0)
	expect(t, ts, "POST", "/admin/fail?probe=readiness&seconds=5", 200)
	expect(t, ts, "POST", "/admin/fail?probe=liveness&seconds=0", 200)
	resp, err := ts.Client().Get(ts.URL + "/admin/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Probes map[string]probeState `json:"probes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	r, l, s := st.Probes["readiness"], st.Probes["liveness"], st.Probes["startup"]
	if !r.Failing || r.RemainingS == nil || *r.RemainingS != 5 {
		t.Errorf("readiness state %+v", r)
	}
	if !l.Failing || !l.UntilCleared || l.RemainingS != nil {
		t.Errorf("liveness state %+v", l)
	}
	if s.Failing {
		t.Errorf("startup state %+v", s)
	}
}

func TestAdminRejectsBadInput(t *testing.T) {
	_, _, ts := newTest(t, 0)
	expect(t, ts, "POST", "/admin/fail?probe=bogus&seconds=1", 400)
	expect(t, ts, "POST", "/admin/fail?probe=readiness", 400)
	expect(t, ts, "POST", "/admin/fail?probe=readiness&seconds=-1", 400)
	expect(t, ts, "POST", "/admin/clear?probe=bogus", 400)
	expect(t, ts, "GET", "/admin/fail?probe=readiness&seconds=1", 405)
}

func TestCrashExitsWithStatus1(t *testing.T) {
	s, _, ts := newTest(t, 0)
	codes := make(chan int, 1)
	s.exit = func(code int) { codes <- code }
	expect(t, ts, "POST", "/admin/crash", 200)
	if got := <-codes; got != 1 {
		t.Errorf("exit code %d, want 1", got)
	}
}

func TestFailUntilClearedKeepsReadinessDownPastStartup(t *testing.T) {
	s, clk, ts := newTest(t, time.Second)
	s.failUntilCleared("readiness")
	clk.advance(time.Hour)
	expect(t, ts, "GET", "/readyz", 503)
	expect(t, ts, "GET", "/startupz", 200) // started, running, serving: only never Ready
	expect(t, ts, "GET", "/healthz", 200)
	expect(t, ts, "GET", "/", 200)
	expect(t, ts, "POST", "/admin/clear?probe=readiness", 200)
	expect(t, ts, "GET", "/readyz", 200)
}

func TestFailReadinessFlagStartsNeverReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("SHUTDOWN_DELAY", "0s")
	t.Setenv("STARTUP_DELAY", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, true, nil, cpuWork{}) }()
	defer func() { cancel(); <-done }()
	status := func(path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for status("/healthz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("server never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := status("/readyz"); got != 503 {
		t.Errorf("readyz with --fail-readiness = %d, want 503", got)
	}
}

func TestBadDelayExitsAtStart(t *testing.T) {
	t.Setenv("STARTUP_DELAY", "soon")
	if err := run(context.Background(), "127.0.0.1:0", false, nil, cpuWork{}); err == nil {
		t.Fatal("run accepted STARTUP_DELAY=soon; a crash-looping release relies on it failing")
	}
}

func TestReadinessFailsWhileShuttingDown(t *testing.T) {
	s, _, ts := newTest(t, 0)
	s.shuttingDown.Store(true)
	expect(t, ts, "GET", "/readyz", 503)
	expect(t, ts, "GET", "/healthz", 200)
	expect(t, ts, "GET", "/", 200)
}

func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("SHUTDOWN_DELAY", "300ms")
	t.Setenv("STARTUP_DELAY", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, false, nil, cpuWork{}) }()

	get := func(path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for get("/readyz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	began := time.Now()
	cancel()
	time.Sleep(50 * time.Millisecond)
	if got := get("/readyz"); got != 503 {
		t.Errorf("readyz during shutdown delay = %d, want 503", got)
	}
	if got := get("/"); got != 200 {
		t.Errorf("GET / during shutdown delay = %d, want 200", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown within 5s")
	}
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("stopped after %s, before SHUTDOWN_DELAY", d)
	}
	if got := get("/"); got != 0 {
		t.Errorf("GET / after shutdown = %d, want connection refused", got)
	}
}

func metrics(t *testing.T, ts *httptest.Server) (string, string) {
	t.Helper()
	resp, err := ts.Client().Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("Content-Type"), string(body)
}

func TestMetricsCountResponsesByClassAndErrors(t *testing.T) {
	_, _, ts := newTest(t, 0)
	expect(t, ts, "GET", "/", 200)
	expect(t, ts, "GET", "/", 200)
	expect(t, ts, "GET", "/nope", 404)
	expect(t, ts, "POST", "/admin/fail?probe=readiness&seconds=0", 200)
	expect(t, ts, "GET", "/readyz", 503)
	contentType, body := metrics(t, ts)
	metrics(t, ts) // scrapes are not counted
	if contentType != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q", contentType)
	}
	_, body = metrics(t, ts)
	for _, line := range []string{
		"# TYPE httpd_requests_total counter",
		`httpd_requests_total{code="2xx"} 3`,
		`httpd_requests_total{code="4xx"} 1`,
		`httpd_requests_total{code="5xx"} 1`,
		"# TYPE httpd_errors_total counter",
		"httpd_errors_total 1",
		"httpd_shutting_down 0",
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
}

func TestDelayAddsAKnownLatencyForItsWindow(t *testing.T) {
	_, clk, ts := newTest(t, 0)
	timed := func() time.Duration {
		start := time.Now()
		expect(t, ts, "GET", "/", http.StatusOK)
		return time.Since(start)
	}
	if d := timed(); d > 50*time.Millisecond {
		t.Fatalf("undelayed GET / took %s", d)
	}
	expect(t, ts, "POST", "/admin/delay?ms=120&seconds=2", http.StatusOK)
	if d := timed(); d < 120*time.Millisecond || d > 300*time.Millisecond {
		t.Errorf("delayed GET / took %s, want about 120ms", d)
	}
	clk.advance(2 * time.Second) // the window is over
	if d := timed(); d > 50*time.Millisecond {
		t.Errorf("GET / after the delay window took %s", d)
	}
	for _, bad := range []string{"ms=-1&seconds=1", "ms=x&seconds=1", "ms=5&seconds=0", "ms=5"} {
		expect(t, ts, "POST", "/admin/delay?"+bad, http.StatusBadRequest)
	}
}

func TestWorkBurnsAFixedAmountAndSaysSo(t *testing.T) {
	s := newServer("p", "n", 0, time.Now)
	s.work = cpuWork{rounds: 100}
	rec := httptest.NewRecorder()
	s.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"work":"`) {
		t.Fatalf("GET / with work: %d %s", rec.Code, rec.Body.String())
	}
	if burn(3) != burn(3) || burn(3) == burn(2) {
		t.Fatal("burn must be deterministic and depend on the rounds")
	}
}

func TestCPUPerRequestBurnsThatMuchThreadCPU(t *testing.T) {
	s := newServer("p", "n", 0, time.Now)
	s.work = cpuWork{cpu: 20 * time.Millisecond}
	rec := httptest.NewRecorder()
	cpuBefore := processCPU(t)
	s.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	used := processCPU(t) - cpuBefore
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"work_rounds":`) {
		t.Fatalf("GET / with cpu-per-request: %d %s", rec.Code, rec.Body.String())
	}
	// the process's CPU time covers the thread's: at least the 20 ms asked for, and not
	// far over it (the clock is read every 16 rounds, about 10 µs)
	if used < 20*time.Millisecond || used > 60*time.Millisecond {
		t.Fatalf("one GET / with 20ms of CPU per request used %s of process CPU", used)
	}
	if r1, r2 := burnCPU(time.Millisecond), burnCPU(10*time.Millisecond); r2 <= r1 {
		t.Fatalf("10 ms of CPU took %d rounds, 1 ms %d: rounds must grow with the CPU asked", r2, r1)
	}
}

// processCPU is the process's user+system CPU time so far.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkBurnRound(b *testing.B) {
	for i := 0; i < b.N; i++ {
		burn(1)
	}
}
