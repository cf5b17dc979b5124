package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// fileNode is a node run from a configuration file that a test rewrites
// and reloads.
type fileNode struct {
	*node.Node
	path string
	// key: value lines of the pool, rendered in order by write
	keys []string
	vals map[string]string
}

func (f *fileNode) set(key, val string) {
	if _, ok := f.vals[key]; !ok {
		f.keys = append(f.keys, key)
	}
	f.vals[key] = val
}

// write renders the file and returns its SHA-256.
func (f *fileNode) write(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("dyn_o_mite:\n")
	for _, k := range f.keys {
		b.WriteString("  " + k + ": " + f.vals[k] + "\n")
	}
	require.NoError(t, os.WriteFile(f.path, []byte(b.String()), 0o600))
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// startFileNode writes the file from base (key, value pairs), builds the
// node from it as the command does and runs it until the test ends.
func startFileNode(t *testing.T, log *slog.Logger, base ...string) *fileNode {
	t.Helper()
	return startFileNodeWith(t, log, nil, base...)
}

// startFileNodeWith is startFileNode with more options for node.New.
func startFileNodeWith(t *testing.T, log *slog.Logger, opts []node.Option, base ...string) *fileNode {
	t.Helper()
	f := &fileNode{path: filepath.Join(t.TempDir(), "node.yml"), vals: map[string]string{}}
	for i := 0; i+1 < len(base); i += 2 {
		f.set(base[i], base[i+1])
	}
	f.write(t)
	cfg, err := config.Load(f.path)
	require.NoError(t, err)
	n, err := node.New(context.Background(), cfg, append([]node.Option{node.WithLogger(log), node.WithConfigFile(f.path)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, n.Listen())
	f.Node = n
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	proxytest.Eventually(t, 10*time.Second, n.Server().Backend().AllUp, "the node never connected to its datastore")
	return f
}

// postReload calls POST /reload on the node's stats listener.
func postReload(t testing.TB, n *node.Node) (int, admin.ReloadResult) {
	t.Helper()
	res, err := http.Post("http://"+n.StatsAddr().String()+"/reload", "", nil)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out admin.ReloadResult
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return res.StatusCode, out
}

// info returns /info as a map.
func info(t testing.TB, n *node.Node) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(metricstest.Get(t, n.StatsAddr().String(), "/info")), &v))
	return v
}

func metric(t testing.TB, n *node.Node, name string, match map[string]string) float64 {
	t.Helper()
	v, ok := metricstest.Sum(t, n.Registry(), name, match)
	require.True(t, ok, "%s%v has no series", name, match)
	return v
}

func singleNodeBase(t *testing.T, redis string) []string {
	return []string{"listen", proxytest.FreeAddr(t), "stats_listen", proxytest.FreeAddr(t),
		"servers", "\n  - " + redis + ":1", "timeout", "2000"}
}

func TestReloadAppliesLiveKeysAndPublishesTheConfigurationInForce(t *testing.T) {
	log, logs := testLog(t, slog.LevelInfo)
	rd := proxytest.StartRedis(t)
	f := startFileNode(t, log, singleNodeBase(t, rd.Addr)...)
	startHash := f.write(t)
	require.Equal(t, startHash, info(t, f.Node)["config_hash"], "the file loaded at start")
	require.Equal(t, 1.0, metric(t, f.Node, "dynomite_config_hash", map[string]string{"hash": startHash}))

	rc := proxytest.Dial(t, f.Addr().String())
	require.Equal(t, "+OK\r\n", rc.Do("SET", "a", "1"))

	f.set("write_consistency", "DC_QUORUM")
	f.set("read_consistency", "dc_safe_quorum")
	f.set("timeout", "1500")
	f.set("requirepass", "s3cret")
	f.set("max_client_connections", "100")
	hash := f.write(t)
	before := time.Now().Unix()
	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Equal(t, admin.ReloadResult{OK: true, Hash: hash, Changed: []string{"read_consistency", "write_consistency",
		"timeout", "requirepass", "max_client_connections"}}, res)

	rl, wl := f.Server().Consistency()
	require.Equal(t, "DC_SAFE_QUORUM", rl.String())
	require.Equal(t, "DC_QUORUM", wl.String())
	require.Equal(t, 1500*time.Millisecond, f.Server().Backend().Tuning().Timeout)
	require.Equal(t, 1.0, metric(t, f.Node, "dynomite_consistency_level", map[string]string{"op": "write", "level": "DC_QUORUM"}))
	require.Equal(t, "$1\r\n1\r\n", rc.Do("GET", "a"), "the connection authenticated before (none was needed) stays so")
	fresh := proxytest.Dial(t, f.Addr().String())
	require.True(t, strings.HasPrefix(fresh.Do("GET", "a"), "-NOAUTH"), "new connections need the new password")
	require.Equal(t, "+OK\r\n", fresh.Do("AUTH", "s3cret"))

	in := info(t, f.Node)
	require.Equal(t, hash, in["config_hash"])
	require.Equal(t, true, in["config_last_reload_successful"])
	require.GreaterOrEqual(t, in["config_last_reload_time"], float64(before))
	require.Equal(t, 1.0, metric(t, f.Node, "dynomite_config_last_reload_successful", nil))
	require.Equal(t, 1.0, metric(t, f.Node, "dynomite_config_hash", map[string]string{"hash": hash}))
	require.GreaterOrEqual(t, metric(t, f.Node, "dynomite_config_last_reload_success_timestamp_seconds", nil), float64(before))
	require.Contains(t, logs.String(), "configuration reloaded")
	require.Contains(t, logs.String(), "requirepass")
	require.NotContains(t, logs.String(), "s3cret", "a password never reaches the log")

	// nothing changed: still a success, with nothing to apply
	code, res = postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, admin.ReloadResult{OK: true, Hash: hash, Changed: []string{}}, res)
}

func TestReloadRefusesARestartOnlyChangeAndKeepsTheConfigurationInForce(t *testing.T) {
	log, logs := testLog(t, slog.LevelInfo)
	rd := proxytest.StartRedis(t)
	f := startFileNode(t, log, singleNodeBase(t, rd.Addr)...)
	good := f.write(t)
	oldListen := f.vals["listen"]
	newListen := proxytest.FreeAddr(t)
	f.set("listen", newListen)
	f.set("hash", "crc32a")
	f.set("write_consistency", "DC_QUORUM") // live, but the reload is all or nothing
	bad := f.write(t)

	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusConflict, code)
	require.False(t, res.OK)
	require.Equal(t, bad, res.Hash)
	require.Equal(t, []string{"listen", "hash", "write_consistency"}, res.Changed)
	require.Contains(t, res.Error, fmt.Sprintf("listen: %s → %s", oldListen, newListen))
	require.Contains(t, res.Error, "hash: murmur → crc32a")
	require.NotContains(t, res.Error, "write_consistency:", "only the restart-only keys are the reason")

	_, wl := f.Server().Consistency()
	require.Equal(t, "DC_ONE", wl.String(), "nothing of the refused file applies")
	require.Equal(t, "+OK\r\n", redisDo(t, f.Addr().String(), "SET", "k", "v"), "the node serves on the old listener")
	in := info(t, f.Node)
	require.Equal(t, good, in["config_hash"], "the hash of the configuration in force")
	require.Equal(t, false, in["config_last_reload_successful"])
	require.Equal(t, 0.0, metric(t, f.Node, "dynomite_config_last_reload_successful", nil))
	require.Equal(t, 1.0, metric(t, f.Node, "dynomite_config_hash", map[string]string{"hash": good}))
	require.Contains(t, logs.String(), "configuration reload refused")
	require.Contains(t, logs.String(), "needs a restart")
}

func TestReloadRefusesAnInvalidFileWithEveryProblemAndItsLine(t *testing.T) {
	log, _ := testLog(t, slog.LevelInfo)
	rd := proxytest.StartRedis(t)
	f := startFileNode(t, log, singleNodeBase(t, rd.Addr)...)
	good := f.write(t)
	f.set("timeout", "soon")               // line 6 (servers takes two)
	f.set("write_consistency", "DC_MAYBE") // line 7
	f.write(t)

	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusBadRequest, code)
	require.False(t, res.OK)
	require.Contains(t, res.Error, f.path+`:6: timeout: "soon" is not a number`)
	require.Contains(t, res.Error, f.path+`:7: write_consistency: "DC_MAYBE"`)
	require.Equal(t, good, info(t, f.Node)["config_hash"])
	require.Equal(t, 2*time.Second, f.Server().Backend().Tuning().Timeout)

	// fixed, it applies
	f.set("timeout", "3000")
	f.set("write_consistency", "DC_ONE")
	f.write(t)
	code, res = postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Equal(t, []string{"timeout"}, res.Changed)
	require.Equal(t, 3*time.Second, f.Server().Backend().Tuning().Timeout)
}

// servers: a reload moves the node to a second Redis; new writes land there.
func TestReloadMovesTheDatastore(t *testing.T) {
	log, _ := testLog(t, slog.LevelInfo)
	a, b := proxytest.StartRedis(t), proxytest.StartRedis(t)
	f := startFileNode(t, log, singleNodeBase(t, a.Addr)...)
	rc := proxytest.Dial(t, f.Addr().String())
	require.Equal(t, "+OK\r\n", rc.Do("SET", "one", "1"))
	f.set("servers", "\n  - "+b.Addr+":1")
	f.set("datastore_connections", "2")
	f.write(t)
	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Equal(t, []string{"servers", "datastore_connections"}, res.Changed)
	require.Equal(t, "+OK\r\n", rc.Do("SET", "two", "2"))
	require.Equal(t, "$1\r\n2\r\n", redisDo(t, b.Addr, "GET", "two"))
	require.Equal(t, "$-1\r\n", redisDo(t, a.Addr, "GET", "two"))
	require.Equal(t, "$1\r\n1\r\n", redisDo(t, a.Addr, "GET", "one"))
}

// SIGHUP's path (Node.Reload) without a file reloads the certificates only;
// ReloadConfig without a file is refused.
func TestReloadWithoutAFileIsRefused(t *testing.T) {
	n := newNode(t, "")
	res := n.ReloadConfig()
	require.False(t, res.OK)
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Contains(t, res.Error, "no configuration file")
	n.Reload() // must not panic or block
}

// levels records what the node asks of the log level.
type levels struct {
	mu  sync.Mutex
	set []int
}

func (l *levels) SetVerbosity(v int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set = append(l.set, v)
	return true
}
func (l *levels) Adjust(int) {}
func (l *levels) calls() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.set...)
}

func TestReloadChangesTheLogLevelOnlyWhenVerbosityChanges(t *testing.T) {
	log, _ := testLog(t, slog.LevelInfo)
	rd := proxytest.StartRedis(t)
	lv := &levels{}
	f := startFileNodeWith(t, log, []node.Option{node.WithLogControl(lv)}, singleNodeBase(t, rd.Addr)...)

	f.set("timeout", "1500")
	f.write(t)
	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Empty(t, lv.calls(), "a reload that leaves verbosity alone keeps the level set by -v or at run time")

	f.set("verbosity", "7")
	f.write(t)
	code, res = postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Equal(t, []string{"verbosity"}, res.Changed)
	require.Equal(t, []int{7}, lv.calls())

	f.set("verbosity", "12")
	f.write(t)
	code, res = postReload(t, f.Node)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, res.Error, "verbosity")
	require.Equal(t, []int{7}, lv.calls(), "an invalid file changes nothing")
}
