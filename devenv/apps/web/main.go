// Command web is the stand-in for the team's Next.js app, in two steps as the team's image is made:
//
//	web build --out DIR   like `next build`: reads NEXT_PUBLIC_* from its environment (the image's
//	                      build args) and writes the page and its JS chunk, the values baked into the chunk
//	web                   serves the files under STATIC_DIR (default /app/site) on PORT (default 3000):
//	                      / is the page, /_next/static/... the chunks, /metrics the request counters
//
// What the pod's environment says at run time changes nothing that is served: a chunk built for another
// environment keeps that environment's URLs, as with the real app. On SIGTERM it stops gracefully.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"physioflow.local/apps/internal/serve"
	"physioflow.local/apps/internal/webbuild"
)

const defaultPort = 3000

func main() {
	logger := log.New(os.Stderr, "physioflow-web: ", log.LstdFlags)
	if len(os.Args) > 1 && os.Args[1] == "build" {
		flags := flag.NewFlagSet("web build", flag.ExitOnError)
		out := flags.String("out", "", "directory to write the page and its chunk to")
		_ = flags.Parse(os.Args[2:])
		if *out == "" {
			logger.Fatalf("error: web build needs --out DIR")
		}
		files, err := webbuild.Render(webbuild.PublicEnvironment(os.Environ()))
		if err == nil {
			err = webbuild.Write(*out, files)
		}
		if err != nil {
			logger.Fatalf("error: %v", err)
		}
		return
	}
	root := os.Getenv("STATIC_DIR")
	if root == "" {
		root = "/app/site"
	}
	if _, err := os.Stat(root + "/index.html"); err != nil {
		logger.Fatalf("error: no page to serve: %v (web build --out %s writes it)", err, root)
	}
	addr, err := serve.Address(defaultPort)
	if err != nil {
		logger.Fatalf("error: %v", err)
	}
	counters := serve.NewCounters()
	files := http.FileServer(http.Dir(root))
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { counters.WriteText(w) })
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// The page and files only: no directory listings.
		if req.URL.Path != "/" && strings.HasSuffix(req.URL.Path, "/") {
			http.NotFound(w, req)
			return
		}
		files.ServeHTTP(w, req)
	}))
	if err := serve.Run(logger, addr, counters.Counted(mux, "/metrics"), 25*time.Second); err != nil {
		logger.Fatalf("error: %v", err)
	}
}
