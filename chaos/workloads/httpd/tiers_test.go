package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// frontend starts a frontend whose backend is backendURL; it returns the frontend's server.
func frontend(t *testing.T, backendURL string, timeout time.Duration) (*server, *httptest.Server) {
	t.Helper()
	s, _, ts := newTest(t, 0)
	b, err := newBackend(backendConfig{URL: backendURL, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	s.backend = b
	return s, ts
}

type rootAnswer struct {
	Pod     string         `json:"pod"`
	Backend map[string]any `json:"backend"`
	Error   string         `json:"error"`
}

func getRoot(t *testing.T, ts *httptest.Server) (int, rootAnswer, time.Duration) {
	t.Helper()
	began := time.Now()
	resp, err := ts.Client().Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a rootAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, a, time.Since(began)
}

func TestFrontendCarriesTheBackendsAnswer(t *testing.T) {
	back := newServer("backend-1", "node-2", 0, time.Now)
	bts := httptest.NewServer(back.routes())
	defer bts.Close()
	_, ts := frontend(t, bts.URL+"/", time.Second)
	code, a, _ := getRoot(t, ts)
	if code != 200 || a.Pod != "pod-a" || a.Backend["pod"] != "backend-1" || a.Error != "" {
		t.Errorf("GET / = %d %+v, want 200 from pod-a carrying backend-1", code, a)
	}
	if back.requests.Load() != 1 {
		t.Errorf("backend saw %d requests, want 1", back.requests.Load())
	}
}

func TestFrontendAnswers502WhenTheBackendFails(t *testing.T) {
	bts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer bts.Close()
	s, ts := frontend(t, bts.URL, time.Second)
	code, a, _ := getRoot(t, ts)
	if code != 502 || !strings.Contains(a.Error, "backend answered 500") {
		t.Errorf("GET / = %d %+v, want 502 naming the backend's 500", code, a)
	}
	if s.backend.failures.Load() != 1 || s.backend.timeouts.Load() != 0 {
		t.Errorf("failures %d timeouts %d, want 1 and 0", s.backend.failures.Load(), s.backend.timeouts.Load())
	}
}

func TestFrontendAnswers502WhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused from now on
	_, ts := frontend(t, "http://"+addr+"/", time.Second)
	if code, a, _ := getRoot(t, ts); code != 502 || !strings.Contains(a.Error, "refused") {
		t.Errorf("GET / = %d %+v, want 502 connection refused", code, a)
	}
}

func TestFrontendAnswers502WhenTheNameDoesNotResolve(t *testing.T) {
	// .invalid never resolves (RFC 2606): the same answer a DNS failure gives
	_, ts := frontend(t, "http://backend.invalid:8080/", 2*time.Second)
	if code, a, _ := getRoot(t, ts); code != 502 && code != 504 {
		t.Errorf("GET / = %d %+v, want a 5xx dependency failure", code, a)
	}
}

func TestFrontendAnswers504WithinItsTimeout(t *testing.T) {
	release := make(chan struct{})
	bts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
	}))
	defer bts.Close()
	defer close(release)
	s, ts := frontend(t, bts.URL, 150*time.Millisecond)
	code, a, took := getRoot(t, ts)
	if code != 504 || !strings.Contains(a.Error, "timed out") {
		t.Errorf("GET / = %d %+v, want 504 timed out", code, a)
	}
	if took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("answered after %s, want just over the 150ms timeout", took)
	}
	if s.backend.timeouts.Load() != 1 {
		t.Errorf("timeouts %d, want 1", s.backend.timeouts.Load())
	}
}

func TestFrontendProbesDoNotFollowTheBackend(t *testing.T) {
	_, ts := frontend(t, "http://backend.invalid:8080/", time.Second)
	expect(t, ts, "GET", "/readyz", 200)
	expect(t, ts, "GET", "/healthz", 200)
}

func TestFrontendStateShowsTheBackend(t *testing.T) {
	_, ts := frontend(t, "http://backend:8080/", 1500*time.Millisecond)
	resp, err := ts.Client().Get(ts.URL + "/admin/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Backend struct {
			URL      string  `json:"url"`
			TimeoutS float64 `json:"timeout_s"`
		} `json:"backend"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Backend.URL != "http://backend:8080/" || st.Backend.TimeoutS != 1.5 {
		t.Errorf("state backend %+v", st.Backend)
	}
}

func TestNewBackendRejectsBadSettings(t *testing.T) {
	good := backendConfig{URL: "http://backend:8080/", Timeout: time.Second}
	for _, raw := range []string{"backend:8080", "ftp://backend/", "http://", "::"} {
		bad := good
		bad.URL = raw
		if _, err := newBackend(bad); err == nil {
			t.Errorf("newBackend(%q) accepted", raw)
		}
	}
	for name, change := range map[string]func(*backendConfig){
		"zero timeout":             func(c *backendConfig) { c.Timeout = 0 },
		"connect beyond the whole": func(c *backendConfig) { c.ConnectTimeout = 2 * time.Second },
		"negative retries":         func(c *backendConfig) { c.Retries = -1 },
	} {
		bad := good
		change(&bad)
		if _, err := newBackend(bad); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	if _, err := newBackend(good); err != nil {
		t.Errorf("good settings were refused: %v", err)
	}
}

func TestPayloadAnswersTheBytesAskedFor(t *testing.T) {
	_, _, ts := newTest(t, 0)
	resp, err := ts.Client().Get(ts.URL + "/payload?bytes=100000")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(body) != 100000 {
		t.Errorf("GET /payload?bytes=100000 = %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
	expect(t, ts, "GET", "/payload?bytes=0", 200)
	expect(t, ts, "GET", "/payload?bytes=-1", 400)
	expect(t, ts, "GET", "/payload?bytes=many", 400)
	expect(t, ts, "GET", fmt.Sprintf("/payload?bytes=%d", maxPayload+1), 400)
}

func TestFrontendRetriesAFailedConnectElsewhere(t *testing.T) {
	// first attempt: nothing listens (refused); the retry reaches a live backend, as a new
	// connection through a Service may reach another replica
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	back := httptest.NewServer(newServer("backend-2", "node-2", 0, time.Now).routes())
	defer back.Close()
	s, ts := frontend(t, "http://backend.test/", time.Second)
	s.backend.retries = 2
	attempts := 0
	s.backend.client.Transport.(*http.Transport).DialContext =
		func(ctx context.Context, network, _ string) (net.Conn, error) {
			attempts++
			target := back.Listener.Addr().String()
			if attempts == 1 {
				target = dead
			}
			return (&net.Dialer{}).DialContext(ctx, network, target)
		}
	code, a, _ := getRoot(t, ts)
	if code != 200 || a.Backend["pod"] != "backend-2" || attempts != 2 || s.backend.retried.Load() != 1 {
		t.Errorf("GET / = %d %+v after %d attempts, want 200 from backend-2 after 2", code, a, attempts)
	}
}

func TestFrontendDoesNotRetryOnceConnected(t *testing.T) {
	calls := 0
	bts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer bts.Close()
	s, ts := frontend(t, bts.URL, time.Second)
	s.backend.retries = 3
	if code, _, _ := getRoot(t, ts); code != 502 || calls != 1 {
		t.Errorf("GET / = %d after %d backend calls, want 502 after 1 (it saw the request)", code, calls)
	}
}

func TestFrontendRetriesStopAtTheDeadline(t *testing.T) {
	// every connect times out: the retries must not outlive the call's own timeout
	s, ts := frontend(t, "http://backend.test/", 300*time.Millisecond)
	s.backend.retries = 100
	s.backend.client.Transport.(*http.Transport).DialContext =
		func(ctx context.Context, _, _ string) (net.Conn, error) {
			select { // a SYN nobody answers, until the attempt's connect timeout
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
			}
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}
		}
	code, _, took := getRoot(t, ts)
	if code != 504 || took < 300*time.Millisecond || took > time.Second {
		t.Errorf("GET / = %d after %s, want 504 at the 300ms deadline", code, took)
	}
	if n := s.backend.retried.Load(); n < 3 || n > 7 {
		t.Errorf("%d retries, want about 300ms / 50ms", n)
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
