// Command httpd is kube-chaos's target workload: a tiny HTTP service whose probes can be
// broken on request (cooperative probe-break fault) and which shuts down gracefully, so that
// chaos experiments measure Kubernetes' recovery rather than the workload's quirks. It exposes
// its request and error counters at /metrics in the Prometheus text format, so abort guards
// can be tested against a real Prometheus scraping it.
//
// --fail-readiness starts it as a bad release that runs and answers but is never Ready (its
// readiness probe fails until /admin/clear), for rollouts that must stall. A bad value in
// STARTUP_DELAY or SHUTDOWN_DELAY makes it exit at once: a crash-looping release.
//
// With --backend it is the frontend of a two-tier workload: every GET / calls the backend
// (another httpd, through its Service DNS name) within --backend-timeout and answers 504 when
// the call times out, 502 when it fails otherwise or the backend answers with an error. Its
// probes stay local: a frontend whose readiness followed the backend would leave the Service
// together with every other frontend the moment the backend stumbles, turning a partial
// dependency failure into a full outage.
//
// Standard library only; built with CGO_ENABLED=0 and run FROM scratch.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// version is overridden at build time with -ldflags "-X main.version=...".
var version = "dev"

// Probe names accepted by the admin endpoints.
var probes = []string{"readiness", "liveness", "startup"}

// forever marks a probe failure that lasts until cleared.
var forever = time.Time{}

type server struct {
	pod, node    string
	startupDelay time.Duration
	started      time.Time
	now          func() time.Time
	exit         func(code int)
	requests     atomic.Int64
	shuttingDown atomic.Bool
	// responses served, by status class (1xx..5xx), /metrics itself not counted
	served  [6]atomic.Int64
	mu      sync.Mutex
	failing map[string]time.Time // probe -> until (forever = until cleared)
	backend *backend             // nil: a single tier that answers GET / itself
	// POST /admin/delay: every GET / answered before delayUntil first waits delay, a known
	// latency to check load generators against (kube-chaos's open-loop accuracy benchmark)
	delay      time.Duration
	delayUntil time.Time
	// CPU burnt before every GET / answer: what an HorizontalPodAutoscaler reacts to
	work cpuWork
}

// cpuWork is the CPU one GET / costs: --work rounds of SHA-256, or --cpu-per-request of the
// serving thread's own CPU time (the same cost on any machine, where a round's cost is not).
type cpuWork struct {
	rounds int
	cpu    time.Duration
}

// backend is the next tier, called on every GET /.
type backend struct {
	url      string
	timeout  time.Duration
	retries  int
	client   *http.Client
	timeouts atomic.Int64 // answered 504
	failures atomic.Int64 // answered 502
	retried  atomic.Int64 // attempts repeated after a failed connect
}

// backendConfig is what the --backend* flags say.
type backendConfig struct {
	URL            string
	Timeout        time.Duration // the whole call, retries included
	ConnectTimeout time.Duration // one attempt's connect, DNS lookup included (0: Timeout)
	Retries        int           // further attempts after a failed connect
	KeepAlive      bool
}

// newBackend checks the settings and builds the client. Without KeepAlive every call opens
// a new connection, so each one resolves the Service name and is balanced by kube-proxy
// afresh, as a connection-per-request client is: network faults show up per request instead
// of hiding behind (or sticking to) a pooled connection.
func newBackend(cfg backendConfig) (*backend, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--backend=%q: want an http:// or https:// URL with a host", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("--backend-timeout=%s: want a positive duration", cfg.Timeout)
	}
	if cfg.ConnectTimeout < 0 || cfg.ConnectTimeout > cfg.Timeout {
		return nil, fmt.Errorf("--backend-connect-timeout=%s: want a duration up to "+
			"--backend-timeout (%s)", cfg.ConnectTimeout, cfg.Timeout)
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("--backend-retries=%d: want 0 or more", cfg.Retries)
	}
	connect := cfg.ConnectTimeout
	if connect == 0 {
		connect = cfg.Timeout
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: connect}).DialContext,
		DisableKeepAlives:   !cfg.KeepAlive,
		MaxIdleConnsPerHost: 64,
	}
	return &backend{url: u.String(), timeout: cfg.Timeout, retries: cfg.Retries,
		client: &http.Client{Transport: transport}}, nil
}

// dialFailed: the connection was never made (lookup, refused, connect timeout), so the
// backend cannot have seen the request and another attempt is safe for any request.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// call GETs the backend within its timeout, trying again (a new connection, which kube-proxy
// may send to another backend) while connecting fails: its JSON answer, or the status this
// frontend must answer with (504 on a timeout, 502 on any other failure) and why.
func (b *backend) call(ctx context.Context) (any, int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		v, code, err := b.once(ctx)
		if err == nil || attempt >= b.retries || !dialFailed(err) || ctx.Err() != nil {
			return v, code, err
		}
		b.retried.Add(1)
	}
}

func (b *backend) once(ctx context.Context) (any, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url, nil)
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	resp, err := b.client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var body []byte
		body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			return nil, http.StatusBadGateway, fmt.Errorf("backend answered %d", resp.StatusCode)
		}
		if err == nil {
			var v any
			if json.Unmarshal(body, &v) != nil {
				v = string(body)
			}
			return v, http.StatusOK, nil
		}
	}
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
		return nil, http.StatusGatewayTimeout, err
	}
	return nil, http.StatusBadGateway, err
}

func newServer(pod, node string, startupDelay time.Duration, now func() time.Time) *server {
	return &server{
		pod:          pod,
		node:         node,
		startupDelay: startupDelay,
		started:      now(),
		now:          now,
		exit:         os.Exit,
		failing:      map[string]time.Time{},
	}
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleRoot)
	mux.HandleFunc("GET /payload", handlePayload)
	mux.HandleFunc("GET /healthz", s.probe("liveness", false))
	mux.HandleFunc("GET /readyz", s.probe("readiness", true))
	mux.HandleFunc("GET /startupz", s.probe("startup", true))
	mux.HandleFunc("POST /admin/fail", s.handleFail)
	mux.HandleFunc("POST /admin/clear", s.handleClear)
	mux.HandleFunc("GET /admin/state", s.handleState)
	mux.HandleFunc("POST /admin/crash", s.handleCrash)
	mux.HandleFunc("POST /admin/delay", s.handleDelay)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	return s.counting(mux)
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// counting counts every response by status class, except the scrapes of /metrics.
func (s *server) counting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		if class := code / 100; class >= 1 && class <= 5 {
			s.served[class].Add(1)
		}
	})
}

// handleMetrics writes the counters in the Prometheus text exposition format (version 0.0.4).
func (s *server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	b.WriteString("# HELP httpd_requests_total HTTP responses served, by status class.\n")
	b.WriteString("# TYPE httpd_requests_total counter\n")
	for class := 1; class <= 5; class++ {
		fmt.Fprintf(&b, "httpd_requests_total{code=\"%dxx\"} %d\n", class, s.served[class].Load())
	}
	b.WriteString("# HELP httpd_errors_total HTTP responses with a 5xx status.\n")
	b.WriteString("# TYPE httpd_errors_total counter\n")
	fmt.Fprintf(&b, "httpd_errors_total %d\n", s.served[5].Load())
	b.WriteString("# HELP httpd_shutting_down 1 once SIGTERM was received (readiness fails).\n")
	b.WriteString("# TYPE httpd_shutting_down gauge\n")
	down := 0
	if s.shuttingDown.Load() {
		down = 1
	}
	fmt.Fprintf(&b, "httpd_shutting_down %d\n", down)
	_, _ = io.WriteString(w, b.String())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) handleRoot(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	s.mu.Lock()
	delay := s.delay
	if !s.now().Before(s.delayUntil) {
		delay = 0
	}
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	out := map[string]any{"pod": s.pod, "node": s.node, "requests": n}
	if s.work.rounds > 0 {
		sum := burn(s.work.rounds)
		out["work"] = hex.EncodeToString(sum[:4])
	}
	if s.work.cpu > 0 {
		out["work_rounds"] = burnCPU(s.work.cpu)
	}
	if s.backend == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	answer, code, err := s.backend.call(r.Context())
	switch code {
	case http.StatusOK:
		out["backend"] = answer
	case http.StatusGatewayTimeout:
		s.backend.timeouts.Add(1)
		out["error"] = "backend timed out: " + err.Error()
	default:
		s.backend.failures.Add(1)
		out["error"] = "backend failed: " + err.Error()
	}
	writeJSON(w, code, out)
}

// burn hashes a 1 KiB block `rounds` times, each round over the previous digest: a fixed
// amount of CPU work (a few µs per round), not of time, so a CPU-throttled pod answers more
// slowly and a busy one shows in the metrics an HorizontalPodAutoscaler reads.
func burn(rounds int) [32]byte {
	var block [1024]byte
	var sum [32]byte
	for i := 0; i < rounds; i++ {
		copy(block[:], sum[:])
		sum = sha256.Sum256(block[:])
	}
	return sum
}

// threadCPU is the calling OS thread's CPU time (CLOCK_THREAD_CPUTIME_ID): it does not advance
// while the thread waits for a core or sits out a CFS throttle, so CPU time burnt by this
// clock costs a throttled pod more wall time, as real work does.
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		panic("clock_gettime(CLOCK_THREAD_CPUTIME_ID): " + errno.Error())
	}
	return time.Duration(ts.Nano())
}

// burnCPU hashes until the serving thread has used `cpu` of CPU time and answers the rounds
// it took. The goroutine is locked to its thread meanwhile, so the clock it reads is its own;
// the clock is read every 16 rounds (about 10 µs) to keep the syscall out of the cost.
func burnCPU(cpu time.Duration) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	end := threadCPU() + cpu
	var block [1024]byte
	var sum [32]byte
	rounds := 0
	for {
		for i := 0; i < 16; i++ {
			copy(block[:], sum[:])
			sum = sha256.Sum256(block[:])
		}
		rounds += 16
		if threadCPU() >= end {
			return rounds
		}
	}
}

// maxPayload bounds /payload so that a typo cannot make a pod stream gigabytes.
const maxPayload = 64 << 20

// handlePayload answers ?bytes=N bytes of filler: a transfer long enough for a bandwidth
// fault to show (GET / answers a few hundred bytes, which any rate lets through at once).
func handlePayload(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("bytes"))
	if err != nil || n < 0 || n > maxPayload {
		http.Error(w, fmt.Sprintf("bytes must be a whole number from 0 to %d", maxPayload),
			http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		n -= k
	}
}

func (s *server) startupDone() bool {
	return s.now().Sub(s.started) >= s.startupDelay
}

// failingNow reports whether probe is broken now, forgetting expired failures.
func (s *server) failingNow(probe string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.failing[probe]
	if !ok {
		return false
	}
	if until.Equal(forever) || s.now().Before(until) {
		return true
	}
	delete(s.failing, probe)
	return false
}

// probe serves one probe endpoint; gated probes also fail until the startup delay passed.
func (s *server) probe(name string, gated bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		reason := ""
		switch {
		case s.failingNow(name):
			reason = "broken by /admin/fail"
		case name == "readiness" && s.shuttingDown.Load():
			reason = "shutting down"
		case gated && !s.startupDone():
			reason = "starting"
		}
		if reason != "" {
			http.Error(w, name+": "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
}

func validProbe(p string) bool {
	for _, q := range probes {
		if p == q {
			return true
		}
	}
	return false
}

// failUntilCleared breaks probe from now on, as /admin/fail?seconds=0 would.
func (s *server) failUntilCleared(probe string) {
	s.mu.Lock()
	s.failing[probe] = forever
	s.mu.Unlock()
}

// handleDelay makes every GET / answered in the next ?seconds=S wait ?ms=M first (ms=0 lifts
// it): a known added latency, for checking what a load generator reports.
func (s *server) handleDelay(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.ParseFloat(r.URL.Query().Get("ms"), 64)
	if err != nil || ms < 0 || ms > 60000 {
		http.Error(w, "ms must be a number from 0 to 60000", http.StatusBadRequest)
		return
	}
	secs, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
	if err != nil || secs <= 0 || secs > 3600 {
		http.Error(w, "seconds must be a number above 0 and at most 3600", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.delay = time.Duration(ms * float64(time.Millisecond))
	s.delayUntil = s.now().Add(time.Duration(secs * float64(time.Second)))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"delay_ms": ms, "seconds": secs})
}

func (s *server) handleFail(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("probe")
	if !validProbe(p) {
		http.Error(w, "probe must be readiness, liveness or startup", http.StatusBadRequest)
		return
	}
	secs, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
	if err != nil || secs < 0 {
		http.Error(w, "seconds must be a number >= 0 (0 = until cleared)", http.StatusBadRequest)
		return
	}
	until := forever
	if secs > 0 {
		until = s.now().Add(time.Duration(secs * float64(time.Second)))
	}
	s.mu.Lock()
	s.failing[p] = until
	s.mu.Unlock()
	log.Printf("admin: %s probe failing for %gs (0 = until cleared)", p, secs)
	s.handleState(w, r)
}

func (s *server) handleClear(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("probe")
	if p != "" && p != "all" && !validProbe(p) {
		http.Error(w, "probe must be readiness, liveness, startup or all", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if p == "" || p == "all" {
		clear(s.failing)
	} else {
		delete(s.failing, p)
	}
	s.mu.Unlock()
	log.Printf("admin: cleared %q", p)
	s.handleState(w, r)
}

type probeState struct {
	Failing      bool     `json:"failing"`
	RemainingS   *float64 `json:"remaining_s"` // null when failing until cleared or not failing
	UntilCleared bool     `json:"until_cleared"`
}

func (s *server) handleState(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{
		"pod":           s.pod,
		"node":          s.node,
		"version":       version,
		"requests":      s.requests.Load(),
		"started":       s.startupDone(),
		"shutting_down": s.shuttingDown.Load(),
	}
	ps := map[string]probeState{}
	for _, p := range probes {
		st := probeState{Failing: s.failingNow(p)}
		s.mu.Lock()
		if until, ok := s.failing[p]; ok {
			if until.Equal(forever) {
				st.UntilCleared = true
			} else {
				rem := until.Sub(s.now()).Seconds()
				st.RemainingS = &rem
			}
		}
		s.mu.Unlock()
		ps[p] = st
	}
	out["probes"] = ps
	if b := s.backend; b != nil {
		out["backend"] = map[string]any{"url": b.url, "timeout_s": b.timeout.Seconds(),
			"retries": b.retries, "timeouts": b.timeouts.Load(), "failures": b.failures.Load(),
			"retried": b.retried.Load()}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) handleCrash(w http.ResponseWriter, _ *http.Request) {
	log.Printf("admin: crash requested, exiting with status 1")
	_, _ = w.Write([]byte("crashing\n"))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	s.exit(1)
}

func durationEnv(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative Go duration like 3s", name, v)
	}
	return d, nil
}

func run(ctx context.Context, addr string, failReadiness bool, dep *backend, work cpuWork) error {
	startupDelay, err := durationEnv("STARTUP_DELAY", 0)
	if err != nil {
		return err
	}
	shutdownDelay, err := durationEnv("SHUTDOWN_DELAY", 5*time.Second)
	if err != nil {
		return err
	}
	s := newServer(os.Getenv("POD_NAME"), os.Getenv("NODE_NAME"), startupDelay, time.Now)
	if failReadiness {
		s.failUntilCleared("readiness")
	}
	s.backend = dep
	s.work = work
	srv := &http.Server{Addr: addr, Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("httpd %s listening on %s (pod=%q node=%q startup_delay=%s shutdown_delay=%s "+
		"fail_readiness=%t)", version, addr, s.pod, s.node, startupDelay, shutdownDelay,
		failReadiness)
	if dep != nil {
		log.Printf("frontend: GET / calls %s (timeout %s, %d retries after a failed connect)",
			dep.url, dep.timeout, dep.retries)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Fail readiness first and keep serving, so endpoint controllers drop this pod before
	// it stops accepting; close keep-alive connections so clients reconnect elsewhere.
	s.shuttingDown.Store(true)
	srv.SetKeepAlivesEnabled(false)
	log.Printf("signal received: readiness failing, serving %s more", shutdownDelay)
	time.Sleep(shutdownDelay)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Printf("shut down cleanly")
	return nil
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	addr := flag.String("addr", ":8080", "listen address")
	failReadiness := flag.Bool("fail-readiness", false,
		"start with the readiness probe failing until POST /admin/clear (a release that never "+
			"becomes Ready)")
	backendURL := flag.String("backend", "", "frontend mode: GET / calls this URL (e.g. "+
		"http://backend:8080/) and answers 504 on a timeout, 502 on another failure")
	var cfg backendConfig
	flag.DurationVar(&cfg.Timeout, "backend-timeout", 2*time.Second, "deadline of one backend "+
		"call, retries included")
	flag.DurationVar(&cfg.ConnectTimeout, "backend-connect-timeout", 0, "deadline of one "+
		"connection attempt, DNS lookup included (default: --backend-timeout)")
	flag.IntVar(&cfg.Retries, "backend-retries", 0, "new attempts after a failed connect")
	flag.BoolVar(&cfg.KeepAlive, "backend-keepalive", false, "reuse connections to the "+
		"backend (default: a new connection, DNS lookup included, per call)")
	var work cpuWork
	flag.IntVar(&work.rounds, "work", 0, "CPU work per GET /: SHA-256 rounds over 1 KiB (0.6-1.2 "+
		"µs each, by machine); --cpu-per-request is the same on any machine")
	flag.DurationVar(&work.cpu, "cpu-per-request", 0, "CPU time burnt per GET / on the serving "+
		"thread's own CPU clock, e.g. 4ms, for autoscaling experiments")
	flag.Parse()
	if work.rounds < 0 || work.cpu < 0 {
		fmt.Fprintln(os.Stderr, "httpd: --work and --cpu-per-request must be 0 or more")
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("httpd", version)
		return
	}
	var dep *backend
	if *backendURL != "" {
		var err error
		cfg.URL = *backendURL
		if dep, err = newBackend(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "httpd:", err)
			os.Exit(2)
		}
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *failReadiness, dep, work); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("error: %v", err)
		os.Exit(1)
	}
}
