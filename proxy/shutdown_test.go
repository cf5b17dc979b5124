package proxy_test

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// busyScript keeps Redis busy for ms milliseconds (Redis runs one script at
// a time, so everything sent after it waits) and returns "done".
func busyScript(ms int) []byte {
	return proxytest.Cmd("EVAL", "local t = redis.call('TIME'); local s = t[1]*1000000+t[2]; "+
		"repeat local u = redis.call('TIME') until (u[1]*1000000+u[2]) - s > "+strconv.Itoa(ms*1000)+"; return 'done'", "1", "busy")
}

// stopAsync stops n in the background; the channel closes when Serve
// returned.
func stopAsync(t *testing.T, n *proxytest.Node) <-chan struct{} {
	stopped := make(chan struct{})
	go func() { n.Stop(); close(stopped) }()
	return stopped
}

// readToEOF reads replies until the server closes, and requires a clean
// close: EOF, not a reset.
func readToEOF(t *testing.T, rc *proxytest.Conn) []string {
	t.Helper()
	var out []string
	for {
		b, err := rc.Read(proxytest.RedisReply)
		if err != nil {
			require.True(t, errors.Is(err, io.EOF), "the node must close cleanly after its last reply, got %v", err)
			return out
		}
		out = append(out, string(b))
	}
}

func TestShutdownAnswersEveryRequestItReadThenClosesCleanly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	rc := proxytest.Dial(t, n.Addr)

	// Pipelined: a slow script holding Redis, then 40 writes and reads
	// queued behind it. All of them are read and in flight when the node
	// is told to stop.
	var batch []byte
	want := []string{"$4\r\ndone\r\n"}
	batch = append(batch, busyScript(500)...)
	for i := 0; i < 20; i++ {
		k := "k" + strconv.Itoa(i)
		batch = append(batch, proxytest.Cmd("SET", k, "v"+strconv.Itoa(i))...)
		batch = append(batch, proxytest.Cmd("GET", k)...)
		want = append(want, "+OK\r\n", bulk("v"+strconv.Itoa(i)))
	}
	rc.Send(batch)
	// and the first part of one more request
	rc.Send([]byte("*3\r\n$3\r\nSET\r\n$4\r\nhalf"))
	require.Eventually(t, func() bool { return n.Server.InFlight() == int64(len(want)) }, 2*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the node has read the half request too

	start := time.Now()
	stopped := stopAsync(t, n)
	require.Eventually(t, n.Server.Stopping, time.Second, time.Millisecond)
	// a request half read when the node stops is read to its end and served
	rc.Send([]byte("\r\n$2\r\nok\r\n"))
	want = append(want, "+OK\r\n")
	// requests sent once the node stopped reading are not read: the client
	// gets a clean close for them, never a reset
	time.Sleep(100 * time.Millisecond)
	rc.Send(proxytest.Cmd("GET", "after"))

	require.Equal(t, want, readToEOF(t, rc))
	<-stopped
	require.Less(t, time.Since(start), 3*time.Second, "the drain is bounded")
	require.Equal(t, "$2\r\nok\r\n", proxytest.Dial(t, rd.Addr).Do("GET", "half"), "the half-read write was applied")
	require.Equal(t, "$-1\r\n", proxytest.Dial(t, rd.Addr).Do("GET", "after"))
}

func TestShutdownClosesIdleConnectionsAtOnceAndBoundsTheDrain(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.ShutdownGrace = 400 * time.Millisecond })
	idle := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", idle.Do("PING"))
	busy := proxytest.Dial(t, n.Addr)
	busy.Send(busyScript(2000)) // longer than the grace period
	require.Eventually(t, func() bool { return n.Server.InFlight() == 1 }, 2*time.Second, time.Millisecond)

	start := time.Now()
	stopped := stopAsync(t, n)
	// the idle client sees EOF at once (and would reconnect elsewhere)
	require.Empty(t, readToEOF(t, idle))
	require.Less(t, time.Since(start), 300*time.Millisecond)
	// the request still running at the deadline fails, and says why
	<-stopped
	require.Less(t, time.Since(start), 1500*time.Millisecond, "the grace period bounds the drain")
	require.Equal(t, []string{"-ERR Dynomite: node is shutting down\r\n"}, readToEOF(t, busy))
}

// TestShutdownWithPeers: three racks. One node stops while it has peer
// requests in flight and while clients of another node keep sending at
// every level: the stopping node answers the peer requests it had read, and
// the other node's requests fail over or reach their quorum without it.
func TestShutdownWithPeersFinishesTheirRequestsAndTheyCarryOn(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// rack r1 has two nodes (A: lower half of the ring, B: upper half), r2
	// and r3 one each: keys in B's half go to B at DC_ONE from A
	half := strconv.Itoa(1 << 31)
	// the datastore timeout is far above the slow datastore's delays below,
	// so that on a loaded machine no copy times out: every copy B read
	// must be answered
	tc := fakeCluster(t, []string{"dc1/r1/" + half, "dc1/r1/4294967295", "dc1/r2/0", "dc1/r3/0"}, func(o *Options) {
		o.Timeout = 5 * time.Second
	})
	const a, b = 0, 1
	topo := tc.Nodes[a].Server.Topology()
	var bKeys []string
	for i := 0; len(bKeys) < 8; i++ {
		k := "key:" + strconv.Itoa(i)
		if topo.Lookup([]byte(k), topo.LocalDC(), topo.LocalRack()).Name == tc.Nodes[b].DynAddr {
			bKeys = append(bKeys, k)
		}
	}
	set := tc.Client(a, "DC_QUORUM")
	for _, k := range bKeys {
		require.Equal(t, "+OK\r\n", set.Do("SET", k, "v:"+k))
	}
	bPool := func() (replies, errs uint64) {
		for _, ps := range tc.Nodes[a].Server.PeerStats() {
			if ps.Name == tc.Nodes[b].DynAddr {
				return ps.Pool.Replies, ps.Pool.Errors
			}
		}
		t.Fatal("no pool for B")
		return 0, 0
	}
	// A's copies to B all answered: a quorum answers the client before the
	// last copy's reply, which A counts on its own reader afterwards
	bSettled := func() bool {
		for _, ps := range tc.Nodes[a].Server.PeerStats() {
			if ps.Name == tc.Nodes[b].DynAddr {
				return ps.Pool.Replies+ps.Pool.Errors == ps.Pool.Requests
			}
		}
		return false
	}

	t.Run("the stopping node answers the peer requests it has read", func(t *testing.T) {
		// B's datastore is slow: A's copies of these reads wait in B when it
		// stops
		tc.Nodes[b].Fake.SetFault(proxytest.Fault{Delay: 50 * time.Millisecond})
		bSent := tc.Nodes[b].Server.Backend().Stats().Requests
		require.Eventually(t, bSettled, 5*time.Second, time.Millisecond, "A's copies of the SETs to B never all answered")
		replies0, errs0 := bPool()
		c := tc.Client(a, "DC_QUORUM")
		for _, k := range bKeys {
			c.Send(proxytest.Cmd("GET", k))
		}
		require.Eventually(t, func() bool { return tc.Nodes[b].Server.Backend().Stats().Requests >= bSent+uint64(len(bKeys)) },
			2*time.Second, time.Millisecond, "B has read A's copies")
		stopped := stopAsync(t, tc.Nodes[b].Node)
		for _, k := range bKeys {
			got, err := c.Read(proxytest.RedisReply)
			require.NoError(t, err)
			require.Equal(t, bulk("v:"+k), string(got))
		}
		<-stopped
		require.Eventually(t, bSettled, 5*time.Second, time.Millisecond, "A's copies of the GETs to B never all answered")
		replies, errs := bPool()
		require.Equal(t, replies0+uint64(len(bKeys)), replies, "B answered every copy it had read before it stopped")
		require.Equal(t, errs0, errs, "none of them failed")
		tc.Nodes[b].Fake.SetFault(proxytest.Fault{})
	})

	tc.Start(b)
	require.Eventually(t, func() bool { return tc.AllPeersUp(a) }, 15*time.Second, 20*time.Millisecond, "B is back")

	t.Run("requests of the other nodes fail over or reach quorum without it, none hangs", func(t *testing.T) {
		stopLoad := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			failures []string
			rounds   [3]int
		)
		for li, level := range []string{"DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM"} {
			c := tc.Client(a, level)
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stopLoad:
						return
					default:
					}
					k := bKeys[i%len(bKeys)]
					t0 := time.Now()
					// pipelined: a write and two reads of keys B holds in rack r1
					c.Send(append(append(proxytest.Cmd("SET", k, "v:"+k), proxytest.Cmd("GET", k)...), proxytest.Cmd("MGET", bKeys[0], k, "key:nope")...))
					for j, want := range []string{"+OK\r\n", bulk("v:" + k), arrayOf([]string{bulk("v:" + bKeys[0]), bulk("v:" + k), bulk("")})} {
						got, err := c.Read(proxytest.RedisReply)
						if err != nil || string(got) != want || time.Since(t0) > 2*time.Second {
							mu.Lock()
							failures = append(failures, level+" #"+strconv.Itoa(j)+": "+strconv.Quote(string(got))+" after "+time.Since(t0).String()+" "+errString(err))
							mu.Unlock()
							if err != nil {
								return
							}
						}
					}
					mu.Lock()
					rounds[li]++
					mu.Unlock()
				}
			})
		}
		// every level makes progress with B, then again without it: counted
		// rounds, not a time, so a slow machine only takes longer
		progressed := func(since [3]int, n int) func() bool {
			return func() bool {
				mu.Lock()
				defer mu.Unlock()
				for li := range rounds {
					if rounds[li] < since[li]+n {
						return false
					}
				}
				return true
			}
		}
		require.Eventually(t, progressed([3]int{}, 6), 10*time.Second, time.Millisecond, "the load never got going")
		<-stopAsync(t, tc.Nodes[b].Node)
		mu.Lock()
		before := rounds
		mu.Unlock()
		require.Eventually(t, progressed(before, 6), 10*time.Second, time.Millisecond, "the load did not carry on without B: %v", failures)
		close(stopLoad)
		wg.Wait()
		require.Empty(t, failures, "through A while B stopped")
		for li, n := range rounds {
			require.Greater(t, n, 10, "level %d made progress", li)
		}
	})
	tc.Close()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
