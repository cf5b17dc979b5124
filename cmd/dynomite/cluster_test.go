package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// redisDo sends one command to addr on a connection of its own and returns
// the raw reply.
func redisDo(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c := proxytest.Dial(t, addr)
	defer c.Close()
	return c.Do(args...)
}

func TestNodesDiscoverEachOtherThroughFlorida(t *testing.T) {
	type node struct{ listen, dyn, stats, redis string }
	nodes := []node{{proxytest.FreeAddr(t), proxytest.FreeAddr(t), proxytest.FreeAddr(t), proxytest.StartRedis(t).Addr}, {proxytest.FreeAddr(t), proxytest.FreeAddr(t), proxytest.FreeAddr(t), proxytest.StartRedis(t).Addr}}
	var mu sync.Mutex
	seeds := ""
	florida := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write([]byte(seeds))
	}))
	defer florida.Close()
	setSeeds := func(ns ...int) {
		var parts []string
		for _, i := range ns {
			parts = append(parts, nodes[i].dyn+":rack"+strconv.Itoa(i+1)+":dc1:0")
		}
		mu.Lock()
		seeds = strings.Join(parts, "|")
		mu.Unlock()
	}
	setSeeds(0, 1)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(florida.URL, "http://"))

	for i, n := range nodes {
		conf := writeConf(t, fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '0'\n  servers:\n  - %s:1\n  dyn_seed_provider: florida_provider\n  gos_interval: 200\n",
			i+1, n.listen, n.dyn, n.stats, n.redis))
		cmd := exec.Command(binary, "-c", conf, "-v", "6")
		cmd.Env = append(os.Environ(), "DYNOMITE_FLORIDA_IP="+host, "DYNOMITE_FLORIDA_PORT="+port)
		var logs strings.Builder
		cmd.Stderr = &syncWriter{w: &logs}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %d log:\n%s", i+1, logs.String())
			}
		})
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	// a write through node 1 reaches node 2's Redis once they found each other
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", nodes[0].listen)
		if err != nil {
			return false
		}
		c.Close()
		return strings.HasPrefix(redisDo(t, nodes[0].listen, "SET", "found", "yes"), "+OK") &&
			strings.Contains(redisDo(t, nodes[1].redis, "GET", "found"), "yes")
	}, 20*time.Second, 100*time.Millisecond, "nodes never discovered each other")

	// node 2 leaves the list: node 1 stops replicating to it
	setSeeds(0)
	var got string
	require.Eventually(t, func() bool {
		key := "after" + strconv.FormatInt(time.Now().UnixNano(), 10)
		if got = redisDo(t, nodes[0].listen, "SET", key, "leave"); got != "+OK\r\n" {
			return false
		}
		time.Sleep(50 * time.Millisecond)
		got = redisDo(t, nodes[1].redis, "GET", key)
		return got == "$-1\r\n"
	}, 10*time.Second, 100*time.Millisecond, "the removed node still receives writes (last: %q)", got)
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestGossipBinary runs three built nodes with enable_gossip, kills one and
// checks that the others log it dead and keep serving DC_QUORUM writes.
func TestGossipBinary(t *testing.T) {
	nodes := nodetest.GossipNodes(t, 3)
	logs := make([]*nodetest.Logs, 3)
	cmds := make([]*exec.Cmd, 3)
	for i := range nodes {
		conf := writeConf(t, nodetest.GossipConf(nodes, i))
		cmd := exec.Command(binary, "-c", conf, "-v", "6")
		logs[i] = &nodetest.Logs{}
		cmd.Stderr = logs[i]
		cmd.Stdout = cmd.Stderr
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("node %d log:\n%s", i+1, logs[i].String())
			}
		})
	}
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", nodes[0].Listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(logs[0].String(), "gossip started") }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Count(logs[0].String(), "gossip member alive") >= 2
	}, 15*time.Second, 50*time.Millisecond)
	res, err := http.Get("http://" + nodes[0].Stats + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(body), "dynomite_gossip_members{", "the gossip metrics are wired too")
	require.NoError(t, cmds[2].Process.Signal(os.Kill))
	_ = cmds[2].Wait()
	require.Eventually(t, func() bool {
		return strings.Contains(logs[0].String(), "peer is dead, marked down") &&
			strings.Contains(logs[1].String(), "peer is dead, marked down")
	}, 20*time.Second, 100*time.Millisecond, "the others never logged the killed node dead")
	for i := range 5 {
		require.Equal(t, "+OK\r\n", redisDo(t, nodes[0].Listen, "SET", "bin"+strconv.Itoa(i), "v"))
	}
}
