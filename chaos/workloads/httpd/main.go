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
// Standard library only; built with CGO_ENABLED=0 and run FROM scratch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	mux.HandleFunc("GET /healthz", s.probe("liveness", false))
	mux.HandleFunc("GET /readyz", s.probe("readiness", true))
	mux.HandleFunc("GET /startupz", s.probe("startup", true))
	mux.HandleFunc("POST /admin/fail", s.handleFail)
	mux.HandleFunc("POST /admin/clear", s.handleClear)
	mux.HandleFunc("GET /admin/state", s.handleState)
	mux.HandleFunc("POST /admin/crash", s.handleCrash)
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

func (s *server) handleRoot(w http.ResponseWriter, _ *http.Request) {
	n := s.requests.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"pod": s.pod, "node": s.node, "requests": n})
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

func run(ctx context.Context, addr string, failReadiness bool) error {
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
	srv := &http.Server{Addr: addr, Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("httpd %s listening on %s (pod=%q node=%q startup_delay=%s shutdown_delay=%s "+
		"fail_readiness=%t)", version, addr, s.pod, s.node, startupDelay, shutdownDelay,
		failReadiness)

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
	flag.Parse()
	if *showVersion {
		fmt.Println("httpd", version)
		return
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *failReadiness); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("error: %v", err)
		os.Exit(1)
	}
}
