// Command curl is a stand-in for curl in the smoke image built offline (docs/traffic.md): exactly
// the part of curl's command line the smoke script uses (components/smokeChecks.ts), with curl's
// meaning and exit codes, so the script runs unchanged in a pod on the local node:
//
//	-s, --silent          no error messages (there is never a progress meter)
//	-S, --show-error      error messages even with -s
//	-f, --fail            an HTTP answer of 400 or more is an error (exit 22), its body not written
//	-o, --output FILE     the body to FILE instead of standard output
//	-w, --write-out FMT   after the transfer, FMT with %{http_code} (000 when nothing answered) and \n
//	-m, --max-time SECS   the whole transfer's limit (exit 28)
//
// One GET of one http:// URL, no redirects followed (as curl without -L). Anything else is refused
// (exit 2) in one line naming what it supports: it is not curl.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	silent, showError, fail bool
	output, writeOut, url   string
	maxTime                 time.Duration
}

const supported = "this curl is physioflow's stand-in; it supports -s -S -f -o FILE -w FORMAT -m/--max-time SECONDS and one http:// URL"

func parse(args []string) (options, error) {
	var o options
	value := func(i *int, name string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("option %s: requires parameter", name)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		var err error
		switch {
		case arg == "--silent":
			o.silent = true
		case arg == "--show-error":
			o.showError = true
		case arg == "--fail":
			o.fail = true
		case arg == "--output" || arg == "-o":
			o.output, err = value(&i, arg)
		case arg == "--write-out" || arg == "-w":
			o.writeOut, err = value(&i, arg)
		case arg == "--max-time" || arg == "-m":
			var text string
			if text, err = value(&i, arg); err == nil {
				seconds, convErr := strconv.ParseFloat(text, 64)
				if convErr != nil || seconds <= 0 {
					return o, fmt.Errorf("option %s: expected a proper numerical parameter", arg)
				}
				o.maxTime = time.Duration(seconds * float64(time.Second))
			}
		case strings.HasPrefix(arg, "-") && !strings.HasPrefix(arg, "--") && len(arg) > 1 && strings.Trim(arg[1:], "sSf") == "":
			for _, flag := range arg[1:] {
				switch flag {
				case 's':
					o.silent = true
				case 'S':
					o.showError = true
				case 'f':
					o.fail = true
				}
			}
		case strings.HasPrefix(arg, "-"):
			return o, fmt.Errorf("option %s: is unknown (%s)", arg, supported)
		case o.url != "":
			return o, fmt.Errorf("a second URL %q (%s)", arg, supported)
		default:
			o.url = arg
		}
		if err != nil {
			return o, err
		}
	}
	if o.url == "" {
		return o, fmt.Errorf("no URL specified (%s)", supported)
	}
	if parsed, err := url.Parse(o.url); err != nil || parsed.Scheme != "http" || parsed.Host == "" {
		return o, fmt.Errorf("%q is not an http:// URL (%s)", o.url, supported)
	}
	return o, nil
}

// failure is a curl exit code and its message.
type failure struct {
	code    int
	message string
}

// classify maps a transfer error to curl's exit code and words.
func classify(err error, maxTime time.Duration) failure {
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return failure{28, fmt.Sprintf("Operation timed out after %d milliseconds", maxTime.Milliseconds())}
	case errors.As(err, &dnsErr):
		return failure{6, "Could not resolve host: " + dnsErr.Name}
	case errors.Is(err, syscall.ECONNREFUSED):
		return failure{7, "Failed to connect: Connection refused"}
	case errors.Is(err, io.EOF):
		return failure{52, "Empty reply from server"}
	}
	return failure{56, "Failure when receiving data from the peer: " + err.Error()}
}

func writeOut(format string, code int) string {
	text := strings.ReplaceAll(format, `\n`, "\n")
	status := fmt.Sprintf("%03d", code)
	text = strings.ReplaceAll(text, "%{http_code}", status)
	return strings.ReplaceAll(text, "%{response_code}", status)
}

func run(o options) int {
	client := &http.Client{
		Timeout:       o.maxTime,
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	complain := func(f failure) int {
		if !o.silent || o.showError {
			fmt.Fprintf(os.Stderr, "curl: (%d) %s\n", f.code, f.message)
		}
		return f.code
	}
	var out io.Writer = os.Stdout
	if o.output != "" {
		file, err := os.Create(o.output)
		if err != nil {
			return complain(failure{23, "Failure writing output to destination: " + err.Error()})
		}
		defer file.Close()
		out = file
	}
	req, err := http.NewRequest(http.MethodGet, o.url, nil)
	if err != nil {
		return complain(failure{3, "URL rejected: " + err.Error()})
	}
	req.Header.Set("User-Agent", "curl/physioflow-stand-in")
	req.Header.Set("Accept", "*/*")
	resp, err := client.Do(req)
	code := 0
	result := 0
	if err != nil {
		result = complain(classify(err, o.maxTime))
	} else {
		code = resp.StatusCode
		if o.fail && code >= 400 {
			resp.Body.Close()
			result = complain(failure{22, fmt.Sprintf("The requested URL returned error: %d", code)})
		} else {
			_, err = io.Copy(out, resp.Body)
			resp.Body.Close()
			if err != nil {
				result = complain(classify(err, o.maxTime))
			}
		}
	}
	if o.writeOut != "" {
		fmt.Fprint(os.Stdout, writeOut(o.writeOut, code))
	}
	return result
}

func main() {
	o, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "curl: %v\n", err)
		os.Exit(2)
	}
	os.Exit(run(o))
}
