package proxy

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

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// busyScript keeps Redis busy for ms milliseconds (Redis runs one script at
// a time, so everything sent after it waits) and returns "done".
func busyScript(ms int) []byte {
	return cmd("EVAL", "local t = redis.call('TIME'); local s = t[1]*1000000+t[2]; "+
		"repeat local u = redis.call('TIME') until (u[1]*1000000+u[2]) - s > "+strconv.Itoa(ms*1000)+"; return 'done'", "1", "busy")
}

// stopAsync stops n in the background; the channel closes when Serve
// returned.
func stopAsync(t *testing.T, n *node) <-chan struct{} {
	stopped := make(chan struct{})
	go func() { n.stop(t); close(stopped) }()
	return stopped
}

// readToEOF reads replies until the server closes, and requires a clean
// close: EOF, not a reset.
func (rc *rawConn) readToEOF(t *testing.T) []string {
	t.Helper()
	var out []string
	for {
		b, err := rc.read(redisReply)
		if err != nil {
			require.True(t, errors.Is(err, io.EOF), "the node must close cleanly after its last reply, got %v", err)
			return out
		}
		out = append(out, string(b))
	}
}

func TestShutdownAnswersEveryRequestItReadThenClosesCleanly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, nil)
	rc := dial(t, n.addr)

	// Pipelined: a slow script holding Redis, then 40 writes and reads
	// queued behind it. All of them are read and in flight when the node
	// is told to stop.
	var batch []byte
	want := []string{"$4\r\ndone\r\n"}
	batch = append(batch, busyScript(500)...)
	for i := 0; i < 20; i++ {
		k := "k" + strconv.Itoa(i)
		batch = append(batch, cmd("SET", k, "v"+strconv.Itoa(i))...)
		batch = append(batch, cmd("GET", k)...)
		want = append(want, "+OK\r\n", bulk("v"+strconv.Itoa(i)))
	}
	rc.send(batch)
	// and the first part of one more request
	rc.send([]byte("*3\r\n$3\r\nSET\r\n$4\r\nhalf"))
	require.Eventually(t, func() bool { return n.s.inFlight.Load() == int64(len(want)) }, 2*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the node has read the half request too

	start := time.Now()
	stopped := stopAsync(t, n)
	require.Eventually(t, n.s.conns.Draining, time.Second, time.Millisecond)
	// a request half read when the node stops is read to its end and served
	rc.send([]byte("\r\n$2\r\nok\r\n"))
	want = append(want, "+OK\r\n")
	// requests sent once the node stopped reading are not read: the client
	// gets a clean close for them, never a reset
	time.Sleep(100 * time.Millisecond)
	rc.send(cmd("GET", "after"))

	require.Equal(t, want, rc.readToEOF(t))
	<-stopped
	require.Less(t, time.Since(start), 3*time.Second, "the drain is bounded")
	require.Equal(t, "$2\r\nok\r\n", dial(t, rd.addr).do(cmd("GET", "half")), "the half-read write was applied")
	require.Equal(t, "$-1\r\n", dial(t, rd.addr).do(cmd("GET", "after")))
}

func TestShutdownClosesIdleConnectionsAtOnceAndBoundsTheDrain(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, func(o *Options) { o.ShutdownGrace = 400 * time.Millisecond })
	idle := dial(t, n.addr)
	require.Equal(t, "+PONG\r\n", idle.do(cmd("PING")))
	busy := dial(t, n.addr)
	busy.send(busyScript(2000)) // longer than the grace period
	require.Eventually(t, func() bool { return n.s.inFlight.Load() == 1 }, 2*time.Second, time.Millisecond)

	start := time.Now()
	stopped := stopAsync(t, n)
	// the idle client sees EOF at once (and would reconnect elsewhere)
	require.Empty(t, idle.readToEOF(t))
	require.Less(t, time.Since(start), 300*time.Millisecond)
	// the request still running at the deadline fails, and says why
	<-stopped
	require.Less(t, time.Since(start), 1500*time.Millisecond, "the grace period bounds the drain")
	require.Equal(t, []string{"-ERR Dynomite: node is shutting down\r\n"}, busy.readToEOF(t))
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
	tc := startCluster(t, []string{"dc1/r1/" + half, "dc1/r1/4294967295", "dc1/r2/0", "dc1/r3/0"}, nil)
	const a, b = 0, 1
	topo := tc.nodes[a].n.s.Topology()
	var bKeys []string
	for i := 0; len(bKeys) < 8; i++ {
		k := "key:" + strconv.Itoa(i)
		if topo.Lookup([]byte(k), topo.LocalDC(), topo.LocalRack()).Name == tc.nodes[b].dynAddr {
			bKeys = append(bKeys, k)
		}
	}
	set := tc.client(a, "DC_QUORUM")
	for _, k := range bKeys {
		require.Equal(t, "+OK\r\n", set.do(cmd("SET", k, "v:"+k)))
	}
	bPool := func() (replies, errs uint64) {
		st := tc.nodes[a].n.s.cluster.state.Load()
		for i, nd := range st.topo.Nodes() {
			if nd.Name == tc.nodes[b].dynAddr {
				s := st.pools[i].Stats()
				return s.Replies, s.Errors
			}
		}
		t.Fatal("no pool for B")
		return 0, 0
	}

	t.Run("the stopping node answers the peer requests it has read", func(t *testing.T) {
		// B's Redis is busy: A's copies of these reads wait in B when it stops
		held := dial(t, tc.nodes[b].redis.addr)
		held.send(busyScript(400))
		time.Sleep(20 * time.Millisecond)
		bSent := tc.nodes[b].n.s.Backend().Stats().Requests
		replies0, errs0 := bPool()
		c := tc.client(a, "DC_QUORUM")
		for _, k := range bKeys {
			c.send(cmd("GET", k))
		}
		require.Eventually(t, func() bool { return tc.nodes[b].n.s.Backend().Stats().Requests >= bSent+uint64(len(bKeys)) },
			2*time.Second, time.Millisecond, "B has read A's copies")
		stopped := stopAsync(t, tc.nodes[b].n)
		for _, k := range bKeys {
			got, err := c.read(redisReply)
			require.NoError(t, err)
			require.Equal(t, bulk("v:"+k), string(got))
		}
		<-stopped
		replies, errs := bPool()
		require.Equal(t, replies0+uint64(len(bKeys)), replies, "B answered every copy it had read before it stopped")
		require.Equal(t, errs0, errs, "none of them failed")
		_, err := held.read(redisReply)
		require.NoError(t, err)
	})

	tc.startNode(b, nil)
	require.Eventually(t, func() bool {
		for _, p := range tc.nodes[a].n.s.Peers() {
			if !p.Up {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "B is back")

	t.Run("requests of the other nodes fail over or reach quorum without it, none hangs", func(t *testing.T) {
		stopLoad := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			failures []string
			rounds   [3]int
		)
		for li, level := range []string{"DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM"} {
			c := tc.client(a, level)
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
					c.send(append(append(cmd("SET", k, "v:"+k), cmd("GET", k)...), cmd("MGET", bKeys[0], k, "key:nope")...))
					for j, want := range []string{"+OK\r\n", bulk("v:" + k), arrayOf([]string{bulk("v:" + bKeys[0]), bulk("v:" + k), bulk("")})} {
						got, err := c.read(redisReply)
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
		time.Sleep(200 * time.Millisecond)
		<-stopAsync(t, tc.nodes[b].n)
		time.Sleep(300 * time.Millisecond) // the load carries on without B
		close(stopLoad)
		wg.Wait()
		require.Empty(t, failures, "through A while B stopped")
		for li, n := range rounds {
			require.Greater(t, n, 10, "level %d made progress", li)
		}
	})
	for i := range tc.nodes {
		if tc.nodes[i].n.cancel != nil {
			tc.stopNode(i)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
