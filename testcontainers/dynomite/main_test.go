package dynomite_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/dynomite-go/dynomite/testcontainers/dynomite"
)

// dockerMissing says why the container tests cannot run ("" when they can).
var dockerMissing string

// TestMain settles what the container tests need before any runs: a Docker
// daemon and the local images. Without a daemon the container tests and the
// examples (which cannot skip themselves) are skipped, or, under CI=true,
// the run fails. Missing images are a failure: `make images` builds them.
func TestMain(m *testing.M) {
	flag.Parse()
	// The reaper image cannot be had without a registry, and the tests
	// remove what they start; a local daemon's ports are on 127.0.0.1 (a
	// machine with /.dockerenv would otherwise be told the gateway's).
	setDefault("TESTCONTAINERS_RYUK_DISABLED", "true")
	if h := os.Getenv("DOCKER_HOST"); h == "" || strings.HasPrefix(h, "unix://") || strings.Contains(h, "://127.0.0.1:") || strings.Contains(h, "://localhost:") {
		setDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	if os.Getenv("DYNOMITE_TC_VERBOSE") == "" {
		tclog.SetDefault(tclog.NewNoopLogger()) // testcontainers' own lines
	}
	if err := checkDocker(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "FAIL: %v; under CI=true the container tests must run\n", err)
			os.Exit(1)
		}
		dockerMissing = err.Error()
		fmt.Fprintf(os.Stderr, "SKIP container tests and examples: %v (CI=true makes this a failure)\n", dockerMissing)
		if err := flag.Set("test.skip", "^Example"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

func setDefault(k, v string) {
	if os.Getenv(k) == "" {
		_ = os.Setenv(k, v)
	}
}

// checkDocker returns nil when a daemon answers and holds the default
// images, nil-or-skip for no daemon, and exits for missing images.
func checkDocker() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		return fmt.Errorf("no Docker daemon answers (%v)", err)
	}
	defer cli.Close()
	var missing []string
	for _, img := range []string{dynomite.DefaultImage, dynomite.DefaultRedisImage, dynomite.DefaultMemcachedImage} {
		if _, err := cli.ImageInspect(ctx, img); err != nil {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: images %s are missing: run `make images` at the repository's root (nothing is pulled)\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
	return nil
}

// needDocker skips a container test where TestMain found no daemon.
func needDocker(t *testing.T) {
	t.Helper()
	if dockerMissing != "" {
		t.Skipf("%s; CI=true makes this a failure", dockerMissing)
	}
}
