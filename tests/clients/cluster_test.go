package clients

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/tests/internal/repo"
)

// cluster is three dynomite processes, one per rack of one datacenter,
// each in front of its own redis-server: every rack holds a full copy.
type cluster struct {
	// Addrs are the nodes' client listeners; Redis the redis-servers
	// behind them, in the same order.
	Addrs []string
	Redis []*proxytest.Process
	// Stats are the nodes' stats listeners, in the same order.
	Stats []string
}

// clusterConfig changes the node configuration of startCluster.
type clusterConfig struct {
	// Extra lines appended under dyn_o_mite in every node's YAML
	// ("  key: value").
	Extra []string
	// Read and Write consistency (default DC_QUORUM both).
	Read, Write string
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// dynomiteBinary builds cmd/dynomite once per run of the package.
func dynomiteBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := repo.Root()
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "dynomite-clients-test"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dynomite")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/dynomite")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/dynomite: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func cleanupBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// startCluster starts the redis-servers and the dynomite processes and
// waits until a write at the configured consistency goes through every
// node; everything stops with the test.
func startCluster(t testing.TB, cfg clusterConfig) *cluster {
	t.Helper()
	bin := dynomiteBinary(t)
	if cfg.Read == "" {
		cfg.Read = "DC_QUORUM"
	}
	if cfg.Write == "" {
		cfg.Write = "DC_QUORUM"
	}
	const racks = 3
	c := &cluster{}
	peer := make([]string, racks)
	for i := range racks {
		c.Redis = append(c.Redis, proxytest.StartRedis(t))
		c.Addrs = append(c.Addrs, proxytest.FreeAddr(t))
		c.Stats = append(c.Stats, proxytest.FreeAddr(t))
		peer[i] = proxytest.FreeAddr(t)
	}
	dir := t.TempDir()
	for i := range racks {
		var seeds []string
		for j := range racks {
			if j != i {
				seeds = append(seeds, fmt.Sprintf("  - %s:rack%d:dc1:101134286", peer[j], j+1))
			}
		}
		conf := strings.Join(append([]string{
			"dyn_o_mite:",
			"  datacenter: dc1",
			"  rack: rack" + strconv.Itoa(i+1),
			"  listen: " + c.Addrs[i],
			"  dyn_listen: " + peer[i],
			"  stats_listen: " + c.Stats[i],
			"  tokens: '101134286'",
			"  servers:",
			"  - " + c.Redis[i].Addr + ":1",
			"  data_store: 0",
			"  preconnect: true",
			"  read_consistency: " + cfg.Read,
			"  write_consistency: " + cfg.Write,
			"  dyn_seeds:",
		}, append(seeds, cfg.Extra...)...), "\n") + "\n"
		path := filepath.Join(dir, fmt.Sprintf("rack%d.yml", i+1))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		runNode(t, bin, path, filepath.Join(dir, fmt.Sprintf("rack%d.log", i+1)))
	}
	// every node has connected to every peer (/ready), so a publish or a
	// write's copy is not sent while a peer link is still being dialled
	for i := range c.Addrs {
		waitReady(t, c.Addrs[i], c.Stats[i], "dynomite rack"+strconv.Itoa(i+1))
	}
	// and takes quorum writes
	for i, a := range c.Addrs {
		proxytest.Eventually(t, 20*time.Second, func() bool {
			return rawDo(a, "SET", "clients:ready", strconv.Itoa(i)) == "+OK\r\n"
		}, "dynomite rack%d does not take quorum writes", i+1)
	}
	return c
}

// runNode starts bin -c path with its output in logPath; it is killed with
// the test, and its log printed when the test failed.
func runNode(t testing.TB, bin, path, logPath string) {
	t.Helper()
	cmd := exec.Command(bin, "-c", path)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s -c %s: %v", bin, path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("%s:\n%s", logf.Name(), b)
			}
		}
	})
}

// waitReady waits until the node listening on addr answers 200 on its
// stats listener's /ready: connected to every peer it knows.
func waitReady(t testing.TB, addr, stats, name string) {
	t.Helper()
	proxytest.WaitListening(t, addr, name)
	proxytest.Eventually(t, 20*time.Second, func() bool {
		resp, err := http.Get("http://" + stats + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "%s never ready", name)
}

// rawDo sends one command over a fresh connection and returns the reply's
// first line ("" when the connection fails).
func rawDo(addr string, args ...string) string {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write(proxytest.Cmd(args...)); err != nil {
		return ""
	}
	buf := make([]byte, 512)
	n, _ := nc.Read(buf)
	line := string(buf[:n])
	if i := strings.Index(line, "\n"); i >= 0 {
		line = line[:i+1]
	}
	return line
}
