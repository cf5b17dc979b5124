package itest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Labels on everything the suites create: the run's id (one go test
// process) and the suite. Cleanup removes by these labels only.
const (
	labelRun   = "dynomite-itest"
	labelSuite = "dynomite-itest.suite"
)

// runID tells this run's containers and networks from any other's.
var runID = fmt.Sprintf("%s-%d", time.Now().UTC().Format("150405"), os.Getpid())

func TestMain(m *testing.M) {
	// Without a registry the reaper (Ryuk) image cannot be pulled, and the
	// machine has /.dockerenv, so without the override testcontainers
	// would dial the default gateway instead of the published ports.
	setDefaultEnv("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefaultEnv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	flag.Parse()
	if os.Getenv("ITEST_VERBOSE") == "" {
		tclog.SetDefault(tclog.NewNoopLogger())
	}
	// Remove this run's leftovers before go test's -timeout panics (no
	// cleanup runs after that), and on Ctrl-C.
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 2*time.Minute {
			time.AfterFunc(d-45*time.Second, func() { sweep("the -timeout is near") })
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		sweep("signal " + s.String())
		os.Exit(2)
	}()
	start := time.Now()
	code := m.Run()
	sweep("end of run")
	summariesMu.Lock()
	if len(summaries) > 0 {
		fmt.Printf("\nitest: %d summaries (run %s, %s):\n", len(summaries), runID, time.Since(start).Round(time.Second))
		for _, s := range summaries {
			fmt.Println("  " + s)
		}
	}
	summariesMu.Unlock()
	for _, d := range tempDirs {
		_ = os.RemoveAll(d)
	}
	os.Exit(code)
}

// tempDirs are removed at the end of the run.
var tempDirs []string

func setDefaultEnv(k, v string) {
	if os.Getenv(k) == "" {
		_ = os.Setenv(k, v)
	}
}

var (
	dockerOnce sync.Once
	dockerCli  *testcontainers.DockerClient
	dockerErr  error
)

// requireDocker returns the Docker client, or skips the test when no daemon
// answers (fails it under CI=true).
func requireDocker(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err == nil {
			_, err = cli.Ping(ctx, client.PingOptions{})
		}
		dockerCli, dockerErr = cli, err
	})
	if dockerErr != nil {
		msg := fmt.Sprintf("no Docker daemon answers (%v): the itest suites run containers", dockerErr)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; under CI=true this is a failure", msg)
		}
		t.Skipf("%s; skipped (set CI=true to make this a failure)", msg)
	}
	return dockerCli
}

// Images: the locally built ones (scripts/images.sh), never pulled.
var imagePrefix = func() string {
	if p := os.Getenv("IMAGE_PREFIX"); p != "" {
		return p
	}
	return "dynomite-local"
}()

func image(name string) string { return imagePrefix + "/" + name + ":latest" }

var (
	imagesOnce sync.Once
	imagesErr  error
	imagesNote string
)

// ensureImages checks that the local images exist and builds the missing
// ones with `make images` at the repository's root.
func ensureImages(t *testing.T, cli *testcontainers.DockerClient) {
	t.Helper()
	imagesOnce.Do(func() {
		ctx := context.Background()
		var missing []string
		for _, n := range []string{"dynomite", "redis", "memcached", "dns"} {
			if _, err := cli.ImageInspect(ctx, image(n)); err != nil {
				missing = append(missing, image(n))
			}
		}
		if len(missing) > 0 {
			root, _ := filepath.Abs("..")
			start := time.Now()
			cmd := exec.Command("make", "-C", root, "images")
			out, err := cmd.CombinedOutput()
			if err != nil {
				imagesErr = fmt.Errorf("missing %s; `make images` failed: %v\n%s", strings.Join(missing, ", "), err, tail(string(out), 40))
				return
			}
			imagesNote = fmt.Sprintf("built missing images (%s) with make images in %s", strings.Join(missing, ", "), time.Since(start).Round(time.Second))
		}
		if r, err := cli.ImageInspect(ctx, image("dynomite")); err == nil {
			created := r.Created
			v := ""
			if r.Config != nil {
				v = r.Config.Labels["org.opencontainers.image.version"]
			}
			note := fmt.Sprintf("%s is %s (version %s, built %s)", image("dynomite"), shortID(r.ID), v, created)
			if imagesNote != "" {
				note = imagesNote + "; " + note
			}
			imagesNote = note
		}
	})
	if imagesErr != nil {
		t.Fatalf("images: %v", imagesErr)
	}
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sweep removes whatever this run left (containers, then networks), by
// label. Tests clean up after themselves; this is the safety net.
func sweep(why string) {
	if dockerCli == nil || dockerErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := client.Filters{}.Add("label", labelRun+"="+runID)
	cs, err := dockerCli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err == nil {
		for _, c := range cs.Items {
			_, _ = dockerCli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
		if len(cs.Items) > 0 {
			fmt.Fprintf(os.Stderr, "itest: %s: removed %d leftover container(s) of run %s\n", why, len(cs.Items), runID)
		}
	}
	ns, err := dockerCli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err == nil {
		for _, n := range ns.Items {
			_, _ = dockerCli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
		if len(ns.Items) > 0 {
			fmt.Fprintf(os.Stderr, "itest: %s: removed %d leftover network(s) of run %s\n", why, len(ns.Items), runID)
		}
	}
}
