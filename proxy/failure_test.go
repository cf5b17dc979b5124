package proxy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

func TestDatastoreGoingAwayAndComingBackIsSurvivedWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := proxytest.StartFakeRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) {
		o.AutoEject = false
		o.RetryTimeout = 200 * time.Millisecond
	})
	rc := proxytest.Dial(t, n.Addr)
	roundTrip := func(req []byte) string {
		rc.Send(req)
		b, err := rc.Read(proxytest.RedisReply)
		require.NoError(t, err, "the client connection must survive")
		return string(b)
	}
	require.Equal(t, "+OK\r\n", roundTrip(proxytest.Cmd("SET", "a", "1")))

	rd.Stop()
	start := time.Now()
	got := roundTrip(proxytest.Cmd("GET", "a"))
	require.True(t, strings.HasPrefix(got, "-ERR Storage:"), "got %q", got)
	require.Less(t, time.Since(start), time.Second, "a down datastore must answer at once, not hang")
	require.Equal(t, "-ERR Storage: Datastore refused connection\r\n", roundTrip(proxytest.Cmd("GET", "a")))

	rd.Start() // same port
	require.Eventually(t, func() bool { return roundTrip(proxytest.Cmd("SET", "b", "2")) == "+OK\r\n" },
		10*time.Second, 50*time.Millisecond, "the node must serve again by itself")
	require.Equal(t, "$1\r\n2\r\n", roundTrip(proxytest.Cmd("GET", "b")))

	rc.Close()
	n.Stop()
	rd.Stop()
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	rd := proxytest.StartFakeRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	rc := proxytest.Dial(t, n.Addr)
	// A slow request in flight when the node is told to stop still gets its reply.
	rd.Set("k", "done")
	rd.SetFault(proxytest.Fault{Delay: 300 * time.Millisecond})
	rc.Send(proxytest.Cmd("GET", "k"))
	proxytest.Eventually(t, 5*time.Second, func() bool { return rd.Count("GET") == 1 }, "the datastore never saw the GET")
	stopped := make(chan struct{})
	go func() { n.Stop(); close(stopped) }()
	b, err := rc.Read(proxytest.RedisReply)
	require.NoError(t, err)
	require.Equal(t, "$4\r\ndone\r\n", string(b))
	<-stopped
}
