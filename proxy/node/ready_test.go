package node_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// TestReadyFollowsTheSeedProvider: /ready waits for the provider's first
// answer, then for every peer it lists, and names what it waits for.
func TestReadyFollowsTheSeedProvider(t *testing.T) {
	addrs := nodetest.GossipNodes(t, 2)
	var mu sync.Mutex
	seeds := "" // empty: florida fails, so the node has no view yet
	florida := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if seeds == "" {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(seeds))
	}))
	defer florida.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(florida.URL, "http://"))
	t.Setenv("DYNOMITE_FLORIDA_IP", host)
	t.Setenv("DYNOMITE_FLORIDA_PORT", port)

	conf := func(i int, dynListen string) string {
		a := addrs[i]
		return fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n"+
			"  tokens: '0'\n  servers:\n  - %s:1\n  dyn_seed_provider: florida_provider\n  gos_interval: 100\n"+
			// a peer that refuses this many connections counts as down
			// (TestReadyTakesAnUnreachablePeerForDown); here it never does
			"  server_failure_limit: 1000000\n",
			i+1, a.Listen, dynListen, a.Stats, a.Redis)
	}
	// node 1 listens on every address: peers know it by 127.0.0.1
	_, dynPort, _ := net.SplitHostPort(addrs[0].Dyn)
	log, _ := testLog(t, slog.LevelInfo)
	runNode(t, conf(0, "0.0.0.0:"+dynPort), log)
	ready := "http://" + addrs[0].Stats + "/ready"

	var code int
	var body string
	proxytest.Eventually(t, 10*time.Second, func() bool {
		code, body = get(t, ready)
		// the datastore connects meanwhile; the provider still has not answered
		return body == "not ready: waiting for the seed provider (florida_provider) to answer\n"
	}, "the node never said it waits for the provider alone")
	require.Equal(t, http.StatusServiceUnavailable, code)

	mu.Lock()
	seeds = addrs[0].Dyn + ":rack1:dc1:0|" + addrs[1].Dyn + ":rack2:dc1:0"
	mu.Unlock()
	proxytest.Eventually(t, 10*time.Second, func() bool {
		code, body = get(t, ready)
		return body == "not ready: waiting for peers: dc1/rack2 "+addrs[1].Dyn+"\n"
	}, "the node never named the peer it waits for; last %d %q", code, body)

	// /cluster_describe names node 1 by its entry in the provider's answer
	_, body = get(t, "http://"+addrs[0].Stats+"/cluster_describe")
	require.Contains(t, body, `"host":"127.0.0.1","port":`+dynPort)
	require.NotContains(t, body, "0.0.0.0")

	runNode(t, conf(1, addrs[1].Dyn), log)
	proxytest.Eventually(t, 10*time.Second, func() bool {
		code, body = get(t, ready)
		return code == http.StatusOK
	}, "never ready once the peer runs; last %d %q", code, body)
	require.Equal(t, "ready\n", body)
	code, _ = get(t, "http://"+addrs[0].Stats+"/health")
	require.Equal(t, http.StatusOK, code, "/health stays the liveness check")
}

// TestReadyTakesAnUnreachablePeerForDown: a node started while a peer its
// provider lists is down becomes ready once it failed to connect to that
// peer server_failure_limit times.
func TestReadyTakesAnUnreachablePeerForDown(t *testing.T) {
	addrs := nodetest.GossipNodes(t, 2)
	a := addrs[0]
	yml := fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack1\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n"+
		"  tokens: '0'\n  servers:\n  - %s:1\n  server_failure_limit: 3\n  dyn_seeds:\n  - %s:rack2:dc1:0\n",
		a.Listen, a.Dyn, a.Stats, a.Redis, addrs[1].Dyn) // nothing listens on node 2's address
	log, _ := testLog(t, slog.LevelInfo)
	n, _ := runNode(t, yml, log)
	ready := "http://" + a.Stats + "/ready"
	var code int
	var body string
	proxytest.Eventually(t, 30*time.Second, func() bool {
		code, body = get(t, ready)
		return code == http.StatusOK
	}, "never ready with a peer that refuses connections; last %d %q", code, body)
	require.Equal(t, "ready\n", body)
	for _, p := range n.Server().PeerStats() {
		require.Zero(t, p.Pool.Connects, "%s never answered", p.Name)
		require.GreaterOrEqual(t, p.Pool.ConnectFailures, uint64(3), "%s: ready before the failure limit", p.Name)
	}
}
