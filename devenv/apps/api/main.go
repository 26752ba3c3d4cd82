// Command api is the stand-in for the team's API: small, but honest where the deploy program looks.
//
//	/health   SELECT 1 with the color's own login (DATABASE_HOST, DATABASE_PORT, DATABASE_NAME,
//	          DATABASE_USER, POSTGRES_PASSWORD, the names the program's Deployments give it) and, with
//	          REQUIRED_MIGRATION_VERSION, a schema_migrations row at or above it: 200, else 503
//	/metrics  http_requests_total{code="..."} in Prometheus' text format (probes and scrapes not counted)
//	/version  APP_VERSION (the image's tag, set when the image is packed), APP_COLOR and APP_ENV as JSON
//	/         200, a line of text
//
// Faults for tests: FAULT=unhealthy fails /health; FAULT=5xx answers 500 on every path but /health
// and /metrics; FAULT_AFTER_REQUESTS=N holds the fault back until N requests (probes and scrapes
// not counted) were answered, so a color passes its readiness and smoke test and fails under traffic. RESPONSE_DELAY_MS delays every answer but /health's and /metrics'. On SIGTERM it
// stops accepting, finishes the requests in flight (SHUTDOWN_GRACE_SECONDS, default 25) and exits 0.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"physioflow.local/apps/internal/serve"
)

const defaultPort = 7011

// settings is what the API reads from its environment, checked once at start.
type settings struct {
	databaseURL     string
	requiredVersion string
	fault           string
	faultAfter      uint64
	delay           time.Duration
	grace           time.Duration
	version, color  string
	environment     string
}

var versionPattern = regexp.MustCompile(`^[0-9]{3}$`)

func readSettings() (settings, error) {
	s := settings{
		requiredVersion: os.Getenv("REQUIRED_MIGRATION_VERSION"),
		fault:           os.Getenv("FAULT"),
		version:         os.Getenv("APP_VERSION"),
		color:           os.Getenv("APP_COLOR"),
		environment:     os.Getenv("APP_ENV"),
	}
	for _, name := range []string{"DATABASE_HOST", "DATABASE_NAME", "DATABASE_USER", "POSTGRES_PASSWORD"} {
		if os.Getenv(name) == "" {
			return s, fmt.Errorf("%s is not set (the Deployment's ConfigMap and the color's Secret give it)", name)
		}
	}
	port := os.Getenv("DATABASE_PORT")
	if port == "" {
		port = "5432"
	}
	sslmode := os.Getenv("DATABASE_SSLMODE")
	if sslmode == "" {
		sslmode = "prefer"
	}
	s.databaseURL = (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(os.Getenv("DATABASE_USER"), os.Getenv("POSTGRES_PASSWORD")),
		Host:     net.JoinHostPort(os.Getenv("DATABASE_HOST"), port),
		Path:     "/" + os.Getenv("DATABASE_NAME"),
		RawQuery: url.Values{"sslmode": {sslmode}, "connect_timeout": {"2"}, "application_name": {"physioflow-api-standin"}}.Encode(),
	}).String()
	if s.requiredVersion != "" && !versionPattern.MatchString(s.requiredVersion) {
		return s, fmt.Errorf("REQUIRED_MIGRATION_VERSION is %q; it must be a migration version like 007", s.requiredVersion)
	}
	if s.fault != "" && s.fault != "unhealthy" && s.fault != "5xx" {
		return s, fmt.Errorf("FAULT is %q; it must be unhealthy, 5xx or empty", s.fault)
	}
	delay, err := wholeNumber("RESPONSE_DELAY_MS", 0)
	if err != nil {
		return s, err
	}
	grace, err := wholeNumber("SHUTDOWN_GRACE_SECONDS", 25)
	if err != nil {
		return s, err
	}
	faultAfter, err := wholeNumber("FAULT_AFTER_REQUESTS", 0)
	if err != nil {
		return s, err
	}
	if faultAfter > 0 && s.fault == "" {
		return s, fmt.Errorf("FAULT_AFTER_REQUESTS is %d but FAULT is not set; it delays FAULT", faultAfter)
	}
	s.faultAfter = uint64(faultAfter)
	s.delay, s.grace = time.Duration(delay)*time.Millisecond, time.Duration(grace)*time.Second
	return s, nil
}

// wholeNumber reads a non-negative whole number from the variable name, or def when it is not set.
func wholeNumber(name string, def int) (int, error) {
	text := os.Getenv(name)
	if text == "" {
		return def, nil
	}
	value, err := strconv.Atoi(text)
	if err != nil || value < 0 {
		return 0, fmt.Errorf("%s is %q; it must be a whole number", name, text)
	}
	return value, nil
}

// checkDatabase connects with the color's login (a new connection each time, so a changed password
// fails the next check), runs SELECT 1 and, when one is required, looks for the migration version.
func (s settings) checkDatabase(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, s.databaseURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return "", fmt.Errorf("SELECT 1: %w", err)
	}
	if s.requiredVersion == "" {
		return "", nil
	}
	var latest *string
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&latest); err != nil {
		return "", fmt.Errorf("schema_migrations: %w", err)
	}
	if latest == nil || *latest < s.requiredVersion {
		have := "none"
		if latest != nil {
			have = *latest
		}
		return have, fmt.Errorf("migration %s is required; the database has %s", s.requiredVersion, have)
	}
	return *latest, nil
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (s settings) handler(logger *log.Logger) http.Handler {
	counters := serve.NewCounters()
	// Requests that reached the app (probes and scrapes do not): the fault starts after s.faultAfter of them.
	var served atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, req *http.Request) {
		if s.fault == "unhealthy" && served.Load() >= s.faultAfter {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": "FAULT=unhealthy"})
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 2500*time.Millisecond)
		defer cancel()
		migration, err := s.checkDatabase(ctx)
		if err != nil {
			logger.Printf("health: %v", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok", "migration": migration})
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { counters.WriteText(w) })
	app := http.NewServeMux()
	app.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": s.version, "color": s.color, "environment": s.environment})
	})
	app.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "physioflow-api stand-in %s\n", s.version)
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		before := served.Add(1) - 1
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		if s.fault == "5xx" && before >= s.faultAfter {
			http.Error(w, "FAULT=5xx", http.StatusInternalServerError)
			return
		}
		app.ServeHTTP(w, req)
	}))
	return counters.Counted(mux, "/health", "/metrics")
}

func main() {
	logger := log.New(os.Stderr, "physioflow-api: ", log.LstdFlags)
	s, err := readSettings()
	if err != nil {
		logger.Fatalf("error: %v", err)
	}
	addr, err := serve.Address(defaultPort)
	if err != nil {
		logger.Fatalf("error: %v", err)
	}
	if err := serve.Run(logger, addr, s.handler(logger), s.grace); err != nil {
		logger.Fatalf("error: %v", err)
	}
}
