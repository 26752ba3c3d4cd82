// Command pack writes a container image archive (docker save's format, which `ctr images import`
// and `docker load` read) without a daemon or a registry: one layer holding a static binary, the
// directories given and /etc/passwd and /etc/group naming its user; the binary as entrypoint; a
// non-root user; no shell unless a --dir brings one (the smoke image's busybox). In a --dir tree an
// executable file stays executable and a symbolic link stays a link. Every --tag is one image whose APP_VERSION is that tag, sharing the layer.
// The same inputs give the same bytes (file times are fixed), so an image's digest names its content.
//
//	pack --binary BIN --tag REPO:TAG [--tag ...] --out FILE [--user UID] [--port N]
//	     [--dir SRC:/DEST ...] [--env KEY=VALUE ...] [--label KEY=VALUE ...]
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	binary, out     string
	user, port      int
	tags, dirs, env list
	labels          list
}

// epoch is every file's time: the layer's bytes depend on its contents only.
var epoch = time.Unix(0, 0).UTC()

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "", "the static binary, placed at /app/<name> and run as the entrypoint")
	flag.StringVar(&o.out, "out", "", "the archive to write")
	flag.IntVar(&o.user, "user", 1000, "the numeric user (and group) the image runs as; not 0")
	flag.IntVar(&o.port, "port", 0, "the TCP port the image exposes (none when 0)")
	flag.Var(&o.tags, "tag", "an image reference REPO:TAG (repeatable: one image per tag)")
	flag.Var(&o.dirs, "dir", "SRC:/DEST, a directory copied into the image (repeatable)")
	flag.Var(&o.env, "env", "KEY=VALUE in the image's environment (repeatable)")
	flag.Var(&o.labels, "label", "KEY=VALUE as an image label (repeatable)")
	flag.Parse()
	if err := pack(o); err != nil {
		fmt.Fprintf(os.Stderr, "pack: error: %v\n", err)
		os.Exit(1)
	}
}

func pack(o options) error {
	if o.binary == "" || o.out == "" || len(o.tags) == 0 {
		return errors.New("--binary, --out and at least one --tag are required")
	}
	if o.user <= 0 {
		return fmt.Errorf("--user is %d; the image must run as a non-root user", o.user)
	}
	layer, err := buildLayer(o)
	if err != nil {
		return err
	}
	base, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "physioflow pack", Created: v1.Time{Time: epoch}}})
	if err != nil {
		return err
	}
	images := map[name.Reference]v1.Image{}
	for _, tag := range o.tags {
		ref, err := name.NewTag(tag, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("--tag %s: %w", tag, err)
		}
		config, err := imageConfig(base, o, ref.TagStr())
		if err != nil {
			return err
		}
		img, err := mutate.ConfigFile(base, config)
		if err != nil {
			return err
		}
		images[ref] = img
	}
	partial := o.out + ".partial"
	if err := tarball.MultiRefWriteToFile(partial, images); err != nil {
		return fmt.Errorf("writing %s: %w", o.out, err)
	}
	return os.Rename(partial, o.out)
}

func pairs(flagName string, values list) (map[string]string, error) {
	out := map[string]string{}
	for _, value := range values {
		key, v, ok := strings.Cut(value, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--%s %q is not KEY=VALUE", flagName, value)
		}
		out[key] = v
	}
	return out, nil
}

// imageConfig is base's config file (its layers' diff IDs and history kept) with the image's settings.
func imageConfig(base v1.Image, o options, tag string) (*v1.ConfigFile, error) {
	file, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	file = file.DeepCopy()
	env, err := pairs("env", o.env)
	if err != nil {
		return nil, err
	}
	labels, err := pairs("label", o.labels)
	if err != nil {
		return nil, err
	}
	env["APP_VERSION"] = tag
	keys := make([]string, 0, len(env))
	for key := range env {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	lines := []string{}
	for _, key := range keys {
		lines = append(lines, key+"="+env[key])
	}
	config := v1.Config{
		Entrypoint: []string{"/app/" + filepath.Base(o.binary)},
		User:       fmt.Sprintf("%d:%d", o.user, o.user),
		WorkingDir: "/app",
		Env:        lines,
		Labels:     labels,
	}
	if o.port > 0 {
		config.ExposedPorts = map[string]struct{}{strconv.Itoa(o.port) + "/tcp": {}}
	}
	file.Architecture, file.OS, file.Created, file.Config = runtime.GOARCH, "linux", v1.Time{Time: epoch}, config
	return file, nil
}

// buildLayer writes the layer's tar: /app/<binary>, the --dir trees, /etc/passwd and /etc/group, all owned by root.
func buildLayer(o options) (v1.Layer, error) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	addDir := func(dir string) error {
		var parts []string
		for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
			parts = append([]string{d}, parts...)
		}
		for _, d := range parts {
			if !dirs[d] {
				dirs[d] = true
				if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	addFile := func(dest string, mode int64, content []byte) error {
		if err := addDir(path.Dir(dest)); err != nil {
			return err
		}
		if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dest, "/"), Mode: mode, Size: int64(len(content)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := w.Write(content)
		return err
	}
	addLink := func(dest, target string) error {
		if err := addDir(path.Dir(dest)); err != nil {
			return err
		}
		return w.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(dest, "/"), Linkname: target, Mode: 0o777, ModTime: epoch})
	}
	binary, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, err
	}
	if err := addFile("/app/"+filepath.Base(o.binary), 0o755, binary); err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\napp:x:%d:%d:app:/app:/sbin/nologin\n", o.user, o.user)
	group := fmt.Sprintf("root:x:0:\napp:x:%d:\n", o.user)
	if err := addFile("/etc/passwd", 0o644, []byte(passwd)); err != nil {
		return nil, err
	}
	if err := addFile("/etc/group", 0o644, []byte(group)); err != nil {
		return nil, err
	}
	for _, spec := range o.dirs {
		src, dest, ok := strings.Cut(spec, ":")
		if !ok || !strings.HasPrefix(dest, "/") {
			return nil, fmt.Errorf("--dir %q is not SRC:/DEST", spec)
		}
		if err := addTree(src, dest, addDir, addFile, addLink); err != nil {
			return nil, fmt.Errorf("--dir %s: %w", spec, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	content := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil })
}

// addTree adds the regular files under src at dest, in a fixed order: executable (0755) when the
// source is, else 0644; a symbolic link stays a link with its target unchanged.
func addTree(src, dest string, addDir func(string) error, addFile func(string, int64, []byte) error, addLink func(string, string) error) error {
	if err := addDir(dest); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(file string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		relative, err := filepath.Rel(src, file)
		if err != nil || relative == "." {
			return err
		}
		target := path.Join(dest, filepath.ToSlash(relative))
		if entry.IsDir() {
			return addDir(target)
		}
		if entry.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(file)
			if err != nil {
				return err
			}
			return addLink(target, link)
		}
		if !entry.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file, directory or symbolic link", file)
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		content, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return addFile(target, mode, content)
	})
}
