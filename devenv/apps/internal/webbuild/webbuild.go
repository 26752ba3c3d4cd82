// Package webbuild renders the web stand-in's page and JS chunk with the NEXT_PUBLIC_* values baked
// in, as `next build` inlines process.env.NEXT_PUBLIC_* into the chunks it writes.
package webbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Required is the value a build without it would bake as undefined, so it is refused.
const Required = "NEXT_PUBLIC_API_URL"

// PublicEnvironment picks the NEXT_PUBLIC_* variables out of environ (KEY=VALUE lines).
func PublicEnvironment(environ []string) map[string]string {
	values := map[string]string{}
	for _, line := range environ {
		key, value, _ := strings.Cut(line, "=")
		if strings.HasPrefix(key, "NEXT_PUBLIC_") {
			values[key] = value
		}
	}
	return values
}

// Render returns the files of a build (path relative to the site root -> content): index.html and
// _next/static/chunks/app-<hash>.js, the chunk named after its content as Next.js names its chunks.
func Render(public map[string]string) (map[string][]byte, error) {
	if public[Required] == "" {
		return nil, fmt.Errorf("%s is not set: the page would call no API (give it as a build arg)", Required)
	}
	keys := make([]string, 0, len(public))
	for key := range public {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var values strings.Builder
	for i, key := range keys {
		name, _ := json.Marshal(key)
		value, _ := json.Marshal(public[key])
		if i > 0 {
			values.WriteString(",")
		}
		fmt.Fprintf(&values, "%s:%s", name, value)
	}
	chunk := "\"use strict\";\n" +
		"// physioflow-web stand-in: NEXT_PUBLIC_* baked in at image build time.\n" +
		"(self.physioflow = self.physioflow || {}).env = {" + values.String() + "};\n" +
		"fetch(self.physioflow.env.NEXT_PUBLIC_API_URL + \"/version\").catch(function () {});\n"
	sum := sha256.Sum256([]byte(chunk))
	chunkPath := "_next/static/chunks/app-" + hex.EncodeToString(sum[:8]) + ".js"
	page := "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>PhysioFlow</title>\n" +
		"<script src=\"/" + chunkPath + "\" defer></script></head>\n" +
		"<body><div id=\"__next\">PhysioFlow (web stand-in)</div></body></html>\n"
	return map[string][]byte{"index.html": []byte(page), chunkPath: []byte(chunk)}, nil
}

// Write writes files under dir.
func Write(dir string, files map[string][]byte) error {
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
