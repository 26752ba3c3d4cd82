// Command load measures what a client sees of one URL while something changes behind it (a switch,
// a rollback, a scale-down): two samplers at once, each at a steady rate,
//
//	fresh   a new TCP connection for every request (what a Service's new connections see)
//	pooled  a keep-alive pool of --pool connections (what a browser or a proxy with open connections sees)
//
// Phases are marked while it runs: the harness writes control lines on standard input,
//
//	phase NAME   a new phase starts now (a request counts in the phase in force when it ends: when
//	             its answer or its failure came, so the requests a change breaks count in its phase)
//	event NAME   a moment to mark on the timeline (selector changed, EndpointSlice changed, ...)
//	reconnect    the pooled sampler leaves its connections and opens new ones from its next request
//	             on (a client that reconnected at that moment: a proxy's pool recycled, a new tab);
//	             marked on the timeline as the event "pooled reconnects"
//	stop         stop sending, wait for the requests in flight, write the report, exit 0
//
// and each is acknowledged on standard error (`load: phase NAME at 1234 ms`). The end of standard
// input, SIGTERM, SIGINT or --max-duration stop it the same way. The report (JSON, to --out or
// standard output) has, per phase and sampler, the requests, failures by kind (refused, reset,
// timeout, 5xx, other), p50/p99 latency of the answered ones, and a series per --interval (by the
// same end time) for a timeline; --summary adds one line per phase on standard error. Loops are
// bounded in rate and time. The keep-alive pool should exceed rate x latency, or requests queue for
// a connection (and time out).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The kinds of failure, in the order the report lists them.
var failureKinds = []string{"refused", "reset", "timeout", "5xx", "other"}

var samplerNames = []string{"fresh", "pooled"}

type options struct {
	url         string
	rate        int
	timeout     time.Duration
	interval    time.Duration
	pool        int
	maxDuration time.Duration
	out         string
	summary     bool
	firstPhase  string
}

func parseOptions(args []string) (options, error) {
	var o options
	flags := flag.NewFlagSet("load", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.StringVar(&o.url, "url", "", "the URL to request (http only)")
	flags.IntVar(&o.rate, "rate", 50, "requests per second, per sampler (1-1000)")
	flags.DurationVar(&o.timeout, "timeout", time.Second, "a request not answered within it is a timeout")
	flags.DurationVar(&o.interval, "interval", 100*time.Millisecond, "the width of one step of the series")
	flags.IntVar(&o.pool, "pool", 8, "connections in the keep-alive pool (1-64)")
	flags.DurationVar(&o.maxDuration, "max-duration", 10*time.Minute, "stop by itself after this long (at most 1h)")
	flags.StringVar(&o.out, "out", "", "write the report here (default standard output)")
	flags.BoolVar(&o.summary, "summary", false, "also print one line per phase on standard error")
	flags.StringVar(&o.firstPhase, "phase", "start", "the name of the first phase")
	if err := flags.Parse(args); err != nil {
		return o, fmt.Errorf("%v (flags: --url --rate --timeout --interval --pool --max-duration --out --summary --phase)", err)
	}
	if flags.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q; the URL is given with --url", flags.Arg(0))
	}
	parsed, err := url.Parse(o.url)
	if o.url == "" || err != nil || parsed.Scheme != "http" || parsed.Host == "" {
		return o, fmt.Errorf("--url is %q; it must be an http:// URL", o.url)
	}
	switch {
	case o.rate < 1 || o.rate > 1000:
		return o, fmt.Errorf("--rate is %d; it must be 1 to 1000 requests per second", o.rate)
	case o.pool < 1 || o.pool > 64:
		return o, fmt.Errorf("--pool is %d; it must be 1 to 64 connections", o.pool)
	case o.timeout <= 0 || o.timeout > time.Minute:
		return o, fmt.Errorf("--timeout is %s; it must be above 0 and at most 1m", o.timeout)
	case o.interval < 10*time.Millisecond:
		return o, fmt.Errorf("--interval is %s; it must be at least 10ms", o.interval)
	case o.maxDuration <= 0 || o.maxDuration > time.Hour:
		return o, fmt.Errorf("--max-duration is %s; it must be above 0 and at most 1h", o.maxDuration)
	case strings.TrimSpace(o.firstPhase) == "":
		return o, fmt.Errorf("--phase is empty; name the first phase")
	}
	return o, nil
}

// result is one request: when it ended (since the run began), in which phase, how long it took,
// and how it ended ("" when answered below 400).
type result struct {
	end     time.Duration
	phase   int
	latency time.Duration
	failure string
	retried bool
	detail  string
}

type mark struct {
	Name string  `json:"name"`
	AtMs float64 `json:"atMs"`
}

// recorder holds every result and mark of a run; the report is computed from them at the end.
type recorder struct {
	mu      sync.Mutex
	began   time.Time
	phases  []mark
	events  []mark
	results map[string][]result
}

func (r *recorder) now() time.Duration { return time.Since(r.began) }

func (r *recorder) phaseNow() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.phases) - 1
}

func (r *recorder) add(sampler string, res result) {
	r.mu.Lock()
	r.results[sampler] = append(r.results[sampler], res)
	r.mu.Unlock()
}

func (r *recorder) mark(list *[]mark, name string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := ms(r.now())
	*list = append(*list, mark{Name: name, AtMs: at})
	return at
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// classify names the kind of failure of a request that returned err (nil: answered with code).
func classify(err error, code int) string {
	if err == nil {
		switch {
		case code >= 500:
			return "5xx"
		case code >= 400:
			return "other"
		}
		return ""
	}
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// Closed by the other end before a whole answer came: a reset, or a FIN where an answer was due.
		return "reset"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return "other"
}

// sampler sends one request every 1/rate seconds until stop closes, each in its own goroutine so a
// slow answer does not slow the rate; wg counts the requests in flight.
func sampler(name string, client *http.Client, o options, rec *recorder, stop <-chan struct{}, wg *sync.WaitGroup) {
	ticker := time.NewTicker(time.Second / time.Duration(o.rate))
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec.add(name, request(name, client, o.url, rec))
		}()
	}
}

func request(name string, client *http.Client, target string, rec *recorder) result {
	var res result
	conns := 0
	trace := &httptrace.ClientTrace{GetConn: func(string) { conns++ }}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		res.failure, res.detail = "other", err.Error()
		return res
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	req.Header.Set("User-Agent", "physioflow-load/"+name)
	began := time.Now()
	resp, err := client.Do(req)
	code := 0
	if err == nil {
		// The answer counts once its body is read to the end.
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		code = resp.StatusCode
	}
	res.latency = time.Since(began)
	res.end, res.phase = rec.now(), rec.phaseNow()
	res.failure = classify(err, code)
	// Go's keep-alive client, like a browser, sends a GET again on a new connection when a reused
	// one was closed before any answer: counted, not a failure.
	res.retried = conns > 1
	if err != nil {
		res.detail = err.Error()
	} else if res.failure != "" {
		res.detail = fmt.Sprintf("HTTP %d", code)
	}
	return res
}

// renewable is a keep-alive transport that reconnect replaces with a new one: requests from then
// on open new connections, whatever the old one's were connected to (the old transport's idle
// connections are closed at once; those busy then, once their requests have had o.timeout).
type renewable struct {
	current atomic.Pointer[http.Transport]
	make    func() *http.Transport
	timeout time.Duration
}

func (r *renewable) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.current.Load().RoundTrip(req)
}

func (r *renewable) reconnect() {
	old := r.current.Swap(r.make())
	old.CloseIdleConnections()
	time.AfterFunc(r.timeout+time.Second, old.CloseIdleConnections)
}

func clients(o options) (map[string]*http.Client, *renewable) {
	dialer := &net.Dialer{Timeout: o.timeout}
	transport := func(keepAlive bool) *http.Transport {
		return &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			DisableKeepAlives:   !keepAlive,
			MaxIdleConns:        o.pool,
			MaxIdleConnsPerHost: o.pool,
			MaxConnsPerHost:     o.pool,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
	}
	fresh := transport(false)
	// A new connection per request: no limit on how many are open at once.
	fresh.MaxConnsPerHost = 0
	pooled := &renewable{make: func() *http.Transport { return transport(true) }, timeout: o.timeout}
	pooled.current.Store(pooled.make())
	return map[string]*http.Client{
		"fresh":  {Transport: fresh, Timeout: o.timeout},
		"pooled": {Transport: pooled, Timeout: o.timeout},
	}, pooled
}

// control reads control lines until stop or the end of input, then returns why it stopped.
func control(in io.Reader, rec *recorder, pooled *renewable, logger *log.Logger) string {
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		verb, name, _ := strings.Cut(line, " ")
		name = strings.TrimSpace(name)
		switch {
		case line == "":
		case line == "stop":
			return "stop"
		case verb == "phase" && name != "":
			logger.Printf("phase %s at %.0f ms", name, rec.mark(&rec.phases, name))
		case verb == "event" && name != "":
			logger.Printf("event %s at %.0f ms", name, rec.mark(&rec.events, name))
		case line == "reconnect":
			pooled.reconnect()
			logger.Printf("reconnect at %.0f ms", rec.mark(&rec.events, "pooled reconnects"))
		default:
			logger.Printf("error: control line %q is not phase NAME, event NAME, reconnect or stop; ignored", line)
		}
	}
	return "end of input"
}

func main() {
	logger := log.New(os.Stderr, "load: ", 0)
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		logger.Fatalf("error: %v", err)
	}
	var out io.Writer = os.Stdout
	if o.out != "" {
		file, err := os.Create(o.out)
		if err != nil {
			logger.Fatalf("error: --out: %v", err)
		}
		defer file.Close()
		out = file
	}
	rec := &recorder{began: time.Now(), results: map[string][]result{}}
	rec.mark(&rec.phases, o.firstPhase)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	stopped := make(chan string, 3)
	samplers, pooled := clients(o)
	go func() { stopped <- control(os.Stdin, rec, pooled, logger) }()
	go func() { stopped <- (<-signals).String() }()
	go func() {
		time.Sleep(o.maxDuration)
		stopped <- "max duration " + o.maxDuration.String()
	}()

	stop := make(chan struct{})
	var inFlight, loops sync.WaitGroup
	for name, client := range samplers {
		loops.Add(1)
		go func() {
			defer loops.Done()
			sampler(name, client, o, rec, stop, &inFlight)
		}()
	}
	logger.Printf("running: %s, %d requests/s per sampler (fresh, pooled), timeout %s, phase %s", o.url, o.rate, o.timeout, o.firstPhase)
	why := <-stopped
	close(stop)
	loops.Wait()
	inFlight.Wait()
	ended := rec.now()
	logger.Printf("stopped (%s) after %.0f ms", why, ms(ended))
	rep := buildReport(o, rec, ended, why)
	if o.summary {
		for _, line := range summaryLines(rep) {
			logger.Print(line)
		}
	}
	encoder := json.NewEncoder(out)
	encoder.SetIndent("", " ")
	if err := encoder.Encode(rep); err != nil {
		logger.Fatalf("error: writing the report: %v", err)
	}
}

type samplerFigures struct {
	Requests int            `json:"requests"`
	Ok       int            `json:"ok"`
	Failed   int            `json:"failed"`
	Failures map[string]int `json:"failures"`
	Retried  int            `json:"retried"`
	P50Ms    *float64       `json:"p50Ms"`
	P99Ms    *float64       `json:"p99Ms"`
	MaxMs    *float64       `json:"maxMs"`
	// The first failure of each kind, as the client saw it.
	Examples map[string]string `json:"examples,omitempty"`
}

type phaseReport struct {
	Name     string                     `json:"name"`
	StartMs  float64                    `json:"startMs"`
	EndMs    float64                    `json:"endMs"`
	Samplers map[string]*samplerFigures `json:"samplers"`
}

type step struct {
	StartMs  float64        `json:"startMs"`
	Requests int            `json:"requests"`
	Failures map[string]int `json:"failures"`
	P99Ms    *float64       `json:"p99Ms"`
}

type report struct {
	URL           string                     `json:"url"`
	RatePerSecond int                        `json:"ratePerSecond"`
	TimeoutMs     float64                    `json:"timeoutMs"`
	IntervalMs    float64                    `json:"intervalMs"`
	Pool          int                        `json:"pool"`
	StartedAt     string                     `json:"startedAt"`
	DurationMs    float64                    `json:"durationMs"`
	StoppedBy     string                     `json:"stoppedBy"`
	Phases        []phaseReport              `json:"phases"`
	Events        []mark                     `json:"events"`
	Totals        map[string]*samplerFigures `json:"totals"`
	Series        map[string][]step          `json:"series"`
}

// percentile is the nearest-rank percentile p (0-100) of sorted durations, in ms; nil when there are none.
func percentile(sorted []time.Duration, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	value := ms(sorted[rank])
	return &value
}

func zeroFailures() map[string]int {
	counts := map[string]int{}
	for _, kind := range failureKinds {
		counts[kind] = 0
	}
	return counts
}

func figures(results []result) *samplerFigures {
	f := &samplerFigures{Failures: zeroFailures(), Examples: map[string]string{}}
	var answered []time.Duration
	for _, res := range results {
		f.Requests++
		if res.retried {
			f.Retried++
		}
		if res.failure == "" {
			f.Ok++
			answered = append(answered, res.latency)
			continue
		}
		f.Failed++
		f.Failures[res.failure]++
		if _, seen := f.Examples[res.failure]; !seen {
			f.Examples[res.failure] = res.detail
		}
	}
	sort.Slice(answered, func(i, j int) bool { return answered[i] < answered[j] })
	f.P50Ms, f.P99Ms, f.MaxMs = percentile(answered, 50), percentile(answered, 99), percentile(answered, 100)
	return f
}

func buildReport(o options, rec *recorder, ended time.Duration, why string) report {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rep := report{
		URL: o.url, RatePerSecond: o.rate, TimeoutMs: ms(o.timeout), IntervalMs: ms(o.interval), Pool: o.pool,
		StartedAt: rec.began.UTC().Format(time.RFC3339Nano), DurationMs: ms(ended), StoppedBy: why,
		Events: append([]mark{}, rec.events...), Totals: map[string]*samplerFigures{}, Series: map[string][]step{},
	}
	for i, phase := range rec.phases {
		end := ms(ended)
		if i+1 < len(rec.phases) {
			end = rec.phases[i+1].AtMs
		}
		rep.Phases = append(rep.Phases, phaseReport{Name: phase.Name, StartMs: phase.AtMs, EndMs: end, Samplers: map[string]*samplerFigures{}})
	}
	steps := int(ended/o.interval) + 1
	for _, name := range samplerNames {
		results := rec.results[name]
		byPhase := make([][]result, len(rec.phases))
		byStep := make([][]result, steps)
		for _, res := range results {
			byPhase[res.phase] = append(byPhase[res.phase], res)
			at := int(res.end / o.interval)
			if at >= steps {
				at = steps - 1
			}
			byStep[at] = append(byStep[at], res)
		}
		for i := range rep.Phases {
			rep.Phases[i].Samplers[name] = figures(byPhase[i])
		}
		rep.Totals[name] = figures(results)
		series := make([]step, steps)
		for i, inStep := range byStep {
			f := figures(inStep)
			series[i] = step{StartMs: ms(time.Duration(i) * o.interval), Requests: f.Requests, Failures: f.Failures, P99Ms: f.P99Ms}
		}
		rep.Series[name] = series
	}
	return rep
}

func summaryLines(rep report) []string {
	var lines []string
	for _, phase := range rep.Phases {
		parts := []string{}
		for _, name := range samplerNames {
			f := phase.Samplers[name]
			part := fmt.Sprintf("%s %d requests, %d failed", name, f.Requests, f.Failed)
			for _, kind := range failureKinds {
				if f.Failures[kind] > 0 {
					part += fmt.Sprintf(" (%s %d)", kind, f.Failures[kind])
				}
			}
			if f.P99Ms != nil {
				part += fmt.Sprintf(", p99 %.1f ms", *f.P99Ms)
			}
			parts = append(parts, part)
		}
		lines = append(lines, fmt.Sprintf("phase %s: %s", phase.Name, strings.Join(parts, "; ")))
	}
	return lines
}
