package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

func TestDatastoreGoingAwayAndComingBackIsSurvivedWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, func(o *Options) {
		o.AutoEject = false
		o.RetryTimeout = 200 * time.Millisecond
	})
	rc := dial(t, n.addr)
	roundTrip := func(req []byte) string {
		rc.send(req)
		b, err := rc.read(redisReply)
		require.NoError(t, err, "the client connection must survive")
		return string(b)
	}
	require.Equal(t, "+OK\r\n", roundTrip(cmd("SET", "a", "1")))

	rd.stop()
	start := time.Now()
	got := roundTrip(cmd("GET", "a"))
	require.True(t, strings.HasPrefix(got, "-ERR Storage:"), "got %q", got)
	require.Less(t, time.Since(start), time.Second, "a down datastore must answer at once, not hang")
	require.Equal(t, "-ERR Storage: Datastore refused connection\r\n", roundTrip(cmd("GET", "a")))

	rd.start() // same port, empty dataset
	require.Eventually(t, func() bool { return roundTrip(cmd("SET", "b", "2")) == "+OK\r\n" },
		10*time.Second, 50*time.Millisecond, "the node must serve again by itself")
	require.Equal(t, "$1\r\n2\r\n", roundTrip(cmd("GET", "b")))

	rc.c.Close()
	n.stop(t)
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, nil)
	rc := dial(t, n.addr)
	// A slow request in flight when the node is told to stop still gets its reply.
	rc.send(cmd("EVAL", "local t = redis.call('TIME'); local s = t[1]*1000000+t[2]; repeat local u = redis.call('TIME') until (u[1]*1000000+u[2]) - s > 300000; return 'done'", "1", "k"))
	time.Sleep(50 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { n.stop(t); close(stopped) }()
	b, err := rc.read(redisReply)
	require.NoError(t, err)
	require.Equal(t, "$4\r\ndone\r\n", string(b))
	<-stopped
}
