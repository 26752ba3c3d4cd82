// Package serve is what both stand-ins share: request counters in Prometheus' text format, and an
// HTTP server that stops gracefully on SIGTERM (stop accepting, finish the requests in flight, exit 0).
package serve

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Counters counts answered requests by status code.
type Counters struct {
	mu     sync.Mutex
	byCode map[int]uint64
}

// NewCounters returns empty counters.
func NewCounters() *Counters { return &Counters{byCode: map[int]uint64{}} }

// Add counts one answer with status code.
func (c *Counters) Add(code int) {
	c.mu.Lock()
	c.byCode[code]++
	c.mu.Unlock()
}

// WriteText writes http_requests_total in Prometheus' text exposition format, one line per code.
func (c *Counters) WriteText(w http.ResponseWriter) {
	c.mu.Lock()
	codes := make([]int, 0, len(c.byCode))
	for code := range c.byCode {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	lines := "# HELP http_requests_total Requests answered, by status code (probes and scrapes not counted).\n# TYPE http_requests_total counter\n"
	for _, code := range codes {
		lines += fmt.Sprintf("http_requests_total{code=\"%d\"} %d\n", code, c.byCode[code])
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(lines))
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Counted wraps next so each answer is counted, except on the paths in skip (probes and scrapes are
// not traffic: a failing health check shows in readiness, not in the error rate the watch reads).
func (c *Counters) Counted(next http.Handler, skip ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for _, path := range skip {
			if req.URL.Path == path {
				next.ServeHTTP(w, req)
				return
			}
		}
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, req)
		c.Add(rec.code)
	})
}

// Address is LISTEN_ADDRESS (default: every interface) with PORT (default defaultPort).
func Address(defaultPort int) (string, error) {
	port := defaultPort
	if text := os.Getenv("PORT"); text != "" {
		value, err := strconv.Atoi(text)
		if err != nil || value <= 0 || value > 65535 {
			return "", fmt.Errorf("PORT is %q; it must be a TCP port number", text)
		}
		port = value
	}
	return net.JoinHostPort(os.Getenv("LISTEN_ADDRESS"), strconv.Itoa(port)), nil
}

// Run serves handler on addr until SIGTERM or SIGINT, then stops accepting connections, waits up to
// grace for the requests in flight to finish, and returns nil (an error only when it could not serve).
func Run(logger *log.Logger, addr string, handler http.Handler, grace time.Duration) error {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	logger.Printf("listening on %s", listener.Addr())
	select {
	case err := <-served:
		return err
	case sig := <-stop:
		logger.Printf("%s: no new connections; finishing the requests in flight (at most %s)", sig, grace)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	} else if err != nil {
		logger.Printf("requests still in flight after %s: closed", grace)
		return nil
	}
	logger.Printf("stopped")
	return nil
}
