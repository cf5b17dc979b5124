package node_test

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// getCalls is the number of GETs a Redis has executed (INFO commandstats).
func getCalls(t testing.TB, addr string) int {
	t.Helper()
	m := regexp.MustCompile(`cmdstat_get:calls=(\d+)`).FindStringSubmatch(redisDo(t, addr, "INFO", "commandstats"))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// A node under a steady SET/GET load is reloaded 24 times, alternating its
// consistency levels between DC_ONE and DC_QUORUM and its timeout between
// three values. No request may fail, and the level must really change for
// the connections already open: in a datacenter of three racks a DC_ONE
// read is answered by the local rack alone, a DC_QUORUM read needs a
// second rack, so the other racks' Redis servers execute GETs in the
// DC_QUORUM phases only.
func TestReloadUnderLoadFailsNoRequestAndChangesTheLevel(t *testing.T) {
	log, _ := testLog(t, slog.LevelWarn)
	const racks = 3
	var redis [racks]*proxytest.Process
	var dyn [racks]string
	for i := range racks {
		redis[i] = proxytest.StartRedis(t)
		dyn[i] = proxytest.FreeAddr(t)
	}
	var nodes [racks]*fileNode
	for i := range racks {
		var seeds []string
		for j := range racks {
			if j != i {
				seeds = append(seeds, fmt.Sprintf("\n  - %s:r%d:dc1:0", dyn[j], j))
			}
		}
		nodes[i] = startFileNode(t, log, "listen", proxytest.FreeAddr(t), "dyn_listen", dyn[i],
			"stats_listen", proxytest.FreeAddr(t), "datacenter", "dc1", "rack", "r"+strconv.Itoa(i), "tokens", "'0'",
			"servers", "\n  - "+redis[i].Addr+":1", "dyn_seeds", strings.Join(seeds, ""),
			"read_consistency", "DC_ONE", "write_consistency", "DC_ONE", "timeout", "2000")
	}
	for _, n := range nodes {
		waitPeersUp(t, n)
	}
	f := nodes[0]

	const clients = 6
	var (
		done     [clients]atomic.Int64 // requests answered, per client
		failures atomic.Int64
		firstErr atomic.Pointer[string]
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	fail := func(msg string) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, &msg)
	}
	for c := range clients {
		rc := proxytest.Dial(t, f.Addr().String())
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				key, val := fmt.Sprintf("c%d-%d", c, i), strconv.Itoa(i)
				if got, err := rc.TryDo("SET", key, val); err != nil || got != "+OK\r\n" {
					fail(fmt.Sprintf("SET %s: %q %v", key, got, err))
				}
				done[c].Add(1)
				if got, err := rc.TryDo("GET", key); err != nil || got != "$"+strconv.Itoa(len(val))+"\r\n"+val+"\r\n" {
					fail(fmt.Sprintf("GET %s: %q %v", key, got, err))
				}
				done[c].Add(1)
			}
		})
	}
	// waitEach waits until every client has had n more requests answered.
	waitEach := func(n int64) {
		var from [clients]int64
		for c := range clients {
			from[c] = done[c].Load()
		}
		proxytest.Eventually(t, 30*time.Second, func() bool {
			for c := range clients {
				if done[c].Load() < from[c]+n {
					return false
				}
			}
			return true
		}, "the clients stalled (failures: %d)", failures.Load())
	}
	peerGets := func() int { return getCalls(t, redis[1].Addr) + getCalls(t, redis[2].Addr) }

	const reloads = 24
	const window = 40 // requests per client measured in each phase (half of them GETs)
	var quorumGets, oneGets []int
	for r := range reloads {
		level := "DC_ONE"
		if r%2 == 0 {
			level = "DC_QUORUM"
		}
		timeout := 1000 + 500*(r%3)
		f.set("read_consistency", level)
		f.set("write_consistency", level)
		f.set("timeout", strconv.Itoa(timeout))
		f.write(t)
		code, res := postReload(t, f.Node)
		require.Equal(t, 200, code, "reload %d: %s", r, res.Error)
		require.True(t, res.OK)
		require.Contains(t, res.Changed, "read_consistency")

		require.Equal(t, 1.0, metric(t, f.Node, "dynomite_consistency_level", map[string]string{"op": "read", "level": level}))
		require.Equal(t, 1.0, metric(t, f.Node, "dynomite_consistency_level", map[string]string{"op": "write", "level": level}))
		require.Equal(t, time.Duration(timeout)*time.Millisecond, f.Server().Backend().Tuning().Timeout)

		waitEach(2) // every client's requests from before the reload are answered
		before := peerGets()
		waitEach(window)
		delta := peerGets() - before
		if level == "DC_QUORUM" {
			quorumGets = append(quorumGets, delta)
		} else {
			oneGets = append(oneGets, delta)
		}
	}
	stop.Store(true)
	wg.Wait()

	var total int64
	for c := range clients {
		total += done[c].Load()
	}
	t.Logf("reload under load: %d requests by %d clients, %d reloads, %d failures; GETs on the other racks per phase: DC_QUORUM %v, DC_ONE %v",
		total, clients, reloads, failures.Load(), quorumGets, oneGets)
	if p := firstErr.Load(); p != nil {
		t.Errorf("first failure: %s", *p)
	}
	require.Zero(t, failures.Load(), "failed requests")
	for _, d := range quorumGets {
		// each DC_QUORUM GET needs a second rack's answer
		require.GreaterOrEqual(t, d, clients*window/2, "DC_QUORUM phases: GETs reach the other racks")
	}
	for _, d := range oneGets {
		// a copy sent under DC_QUORUM may still land after the phase began
		require.LessOrEqual(t, d, clients, "DC_ONE phases: reads stay on the local rack")
	}
}
