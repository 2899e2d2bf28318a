// The in-process benchmark, Go side: containers/storage 1.43 driven as a
// library, the same operations as bench/clib/bench.c (run both with
// bench/inprocess.sh). Bench only: never part of the build or the tests.
//
//	golib meta GRAPHROOT RUNROOT DRIVER NIMAGES ITERS
//	golib mount GRAPHROOT RUNROOT DRIVER DEPTH ITERS
//
// meta runs on a store bench/gen-store.py wrote (NIMAGES images named
// example.com/bench/img-I:latest, each on its own layer); mount builds a
// chain of DEPTH empty layers and mounts and unmounts its top. Each line of
// output is "OP MEDIAN_US".
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/containers/storage"
	"github.com/containers/storage/pkg/reexec"
)

func ident(kind string, i int) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", kind, i)))
	return hex.EncodeToString(s[:])
}

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "golib: %s: %v\n", what, err)
	os.Exit(1)
}

func report(op string, t []time.Duration) {
	sort.Slice(t, func(a, b int) bool { return t[a] < t[b] })
	fmt.Printf("%s %.2f\n", op, float64(t[len(t)/2].Nanoseconds())/1000)
}

func open(graph, run, driver string) storage.Store {
	s, err := storage.GetStore(storage.StoreOptions{GraphRoot: graph, RunRoot: run, GraphDriverName: driver})
	if err != nil {
		die("open", err)
	}
	return s
}

func main() {
	// The overlay driver mounts long option lists from a child of its own.
	if reexec.Init() {
		return
	}
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: golib meta|mount GRAPHROOT RUNROOT DRIVER N ITERS")
		os.Exit(2)
	}
	mode, graph, run, driver := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	n, _ := strconv.Atoi(os.Args[5])
	iters, _ := strconv.Atoi(os.Args[6])
	t := make([]time.Duration, iters)
	if mode == "mount" {
		s := open(graph, run, driver)
		parent := ""
		for i := 0; i < n; i++ {
			l, err := s.CreateLayer("", parent, nil, "", false, nil)
			if err != nil {
				die("create layer", err)
			}
			parent = l.ID
		}
		for i := range t {
			t0 := time.Now()
			if _, err := s.Mount(parent, ""); err != nil {
				die("mount", err)
			}
			if _, err := s.Unmount(parent, false); err != nil {
				die("unmount", err)
			}
			t[i] = time.Since(t0)
		}
		report(fmt.Sprintf("mount+unmount-%s-%d", driver, n), t)
		s.Shutdown(true)
		return
	}

	// Open and close: GetStore keeps every store it opened, keyed by its
	// paths, so each open goes through a path of its own (a symlink to the
	// same store) to pay what a new process pays.
	os.MkdirAll(run, 0700)
	links := filepath.Join(filepath.Dir(graph), "golinks")
	os.MkdirAll(links, 0700)
	for i := range t {
		g := filepath.Join(links, fmt.Sprintf("g%d", i))
		r := filepath.Join(links, fmt.Sprintf("r%d", i))
		os.Symlink(graph, g)
		os.Symlink(run, r)
		t0 := time.Now()
		s := open(g, r, driver)
		if _, err := s.Shutdown(false); err != nil {
			die("shutdown", err)
		}
		t[i] = time.Since(t0)
	}
	report("open+close", t)

	s := open(graph, run, driver)
	defer s.Shutdown(true)
	// A write first, as any store in use has had: the lock files get the
	// writer's token (a store fresh from gen-store.py has none, and Go
	// reloads on every call until one is written).
	if err := s.SetNames(ident("image", 0), []string{"example.com/bench/img-0:latest"}); err != nil {
		die("set names", err)
	}
	if err := s.SetNames(ident("layer", 0), []string{"layer-0"}); err != nil {
		die("set layer names", err)
	}
	// A first call loads what the store loads lazily, in both libraries.
	if _, err := s.Images(); err != nil {
		die("images", err)
	}
	if _, err := s.Layers(); err != nil {
		die("layers", err)
	}
	for i := range t {
		t0 := time.Now()
		l, err := s.Layers()
		t[i] = time.Since(t0)
		if err != nil || len(l) < n {
			die("layers", err)
		}
	}
	report("list-layers", t)
	for i := range t {
		t0 := time.Now()
		l, err := s.Images()
		t[i] = time.Since(t0)
		if err != nil || len(l) != n {
			die("images", err)
		}
	}
	report("list-images", t)
	for i := range t {
		k := (i * 7919) % n
		name := fmt.Sprintf("example.com/bench/img-%d:latest", k)
		t0 := time.Now()
		img, err := s.Image(name)
		t[i] = time.Since(t0)
		if err != nil || img.ID != ident("image", k) {
			die("image by name", err)
		}
	}
	report("image-by-name", t)
	for i := range t {
		k := (i * 7919) % n
		id := ident("image", k)
		t0 := time.Now()
		img, err := s.Image(id)
		t[i] = time.Since(t0)
		if err != nil || img.ID != id {
			die("image by ID", err)
		}
	}
	report("image-by-id", t)
	td := make([]time.Duration, iters)
	for i := range t {
		t0 := time.Now()
		l, err := s.CreateLayer("", "", nil, "", false, nil)
		t[i] = time.Since(t0)
		if err != nil {
			die("create layer", err)
		}
		t0 = time.Now()
		err = s.DeleteLayer(l.ID)
		td[i] = time.Since(t0)
		if err != nil {
			die("delete layer", err)
		}
	}
	report("create-layer", t)
	report("delete-layer", td)
	for i := range t {
		t0 := time.Now()
		img, err := s.CreateImage("", nil, "", "", &storage.ImageOptions{})
		t[i] = time.Since(t0)
		if err != nil {
			die("create image", err)
		}
		if _, err := s.DeleteImage(img.ID, true); err != nil {
			die("delete image", err)
		}
	}
	report("create-image", t)
	for i := range t {
		k := (i * 7919) % n
		names := []string{fmt.Sprintf("example.com/bench/img-%d:latest", k), fmt.Sprintf("extra:%d", i)}
		t0 := time.Now()
		err := s.SetNames(ident("image", k), names)
		t[i] = time.Since(t0)
		if err != nil {
			die("set names", err)
		}
	}
	report("set-names", t)
	// What a daemon sees: a listing right after a change of one image.
	for i := range t {
		k := (i * 7919) % n
		names := []string{fmt.Sprintf("example.com/bench/img-%d:latest", k), fmt.Sprintf("again:%d", i)}
		if err := s.SetNames(ident("image", k), names); err != nil {
			die("set names", err)
		}
		t0 := time.Now()
		l, err := s.Images()
		t[i] = time.Since(t0)
		if err != nil || len(l) != n {
			die("images", err)
		}
	}
	report("list-images-after-write", t)
}
