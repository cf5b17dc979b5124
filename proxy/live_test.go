package proxy_test

import (
	"crypto/sha256"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// A reload that raises the write level reaches a connection that is
// already open, for its next request; a connection that chose its own
// level (DYNO_CONFIG) keeps it.
func TestReloadedWriteLevelReachesOpenConnections(t *testing.T) {
	c := fakeCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r3/0"}, nil)
	srv := c.Nodes[0].Server
	plain := proxytest.Dial(t, c.Nodes[0].Addr)
	own := c.Client(0, "DC_ONE")
	c.Stop(1)
	c.Stop(2)
	// with two of three racks gone, DC_ONE writes succeed, DC_QUORUM ones cannot
	require.Equal(t, "+OK\r\n", plain.Do("SET", "k", "1"))

	l := srv.Live()
	l.WriteLevel = consistency.DCQuorum
	require.NoError(t, srv.Reload(l))
	_, wl := srv.Consistency()
	require.Equal(t, consistency.DCQuorum, wl, "the node-wide level")

	got := plain.Do("SET", "k", "2")
	require.True(t, strings.HasPrefix(got, "-"), "the open connection writes at DC_QUORUM now: %q", got)
	require.Equal(t, "+OK\r\n", own.Do("SET", "k", "3"), "a level set with DYNO_CONFIG stays")
	fresh := proxytest.Dial(t, c.Nodes[0].Addr)
	require.True(t, strings.HasPrefix(fresh.Do("SET", "k", "4"), "-"))

	// a reload that leaves the levels alone does not undo /set_consistency
	srv.SetConsistency(true, consistency.DCOne)
	l = srv.Live()
	l.ClientIdleTimeout = time.Hour
	require.NoError(t, srv.Reload(l))
	_, wl = srv.Consistency()
	require.Equal(t, consistency.DCOne, wl)
}

// read_repairs_enabled: a reload that changes it turns read repair on or
// off; one that leaves it alone keeps what /read_repairs/... set.
func TestReloadedReadRepairs(t *testing.T) {
	rd := proxytest.StartFakeRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	l := n.Server.Live()
	l.ReadRepairs = true
	require.NoError(t, n.Server.Reload(l))
	on, _ := n.Server.ReadRepairs()
	require.True(t, on)

	n.Server.SetReadRepairs(false) // /read_repairs/disable
	l.MaxClientConns = 10
	require.NoError(t, n.Server.Reload(l))
	on, _ = n.Server.ReadRepairs()
	require.False(t, on, "an unrelated reload keeps the run-time choice")
}

func TestReloadedRequirePassAppliesToNewAuthentications(t *testing.T) {
	rd := proxytest.StartFakeRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.RequirePass = "old" })
	before := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+OK\r\n", before.Do("AUTH", "old"))

	l := n.Server.Live()
	l.RequirePass = "new"
	l.Users = []User{{Name: "app", Digest: sha256.Sum256([]byte("apppw"))}}
	require.NoError(t, n.Server.Reload(l))

	after := proxytest.Dial(t, n.Addr)
	require.True(t, strings.HasPrefix(after.Do("SET", "a", "1"), "-NOAUTH"))
	require.True(t, strings.HasPrefix(after.Do("AUTH", "old"), "-WRONGPASS"))
	require.Equal(t, "+OK\r\n", after.Do("AUTH", "new"))
	require.Equal(t, "+OK\r\n", after.Do("SET", "a", "1"))
	require.Equal(t, "+OK\r\n", proxytest.Dial(t, n.Addr).Do("AUTH", "app", "apppw"), "client_users too")
	require.Equal(t, "$1\r\n1\r\n", before.Do("GET", "a"), "an authenticated connection stays so")

	l.Users = []User{{Name: "default"}}
	require.ErrorContains(t, n.Server.Reload(l), "client_users")
	require.Equal(t, "+OK\r\n", proxytest.Dial(t, n.Addr).Do("AUTH", "app", "apppw"), "a refused reload changes nothing")
}

// servers: the node moves to another Redis; new writes land there.
func TestReloadedDatastoreTakesTheNewWrites(t *testing.T) {
	a, b := proxytest.StartRedis(t), proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, a.Addr, nil)
	rc := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+OK\r\n", rc.Do("SET", "before", "1"))

	l := n.Server.Live()
	l.Datastore, l.DatastoreName = b.Addr, "second"
	require.NoError(t, n.Server.Reload(l))
	require.Equal(t, "+OK\r\n", rc.Do("SET", "after", "2"), "the open connection carries on")
	direct := func(p *proxytest.Process, args ...string) string {
		c := proxytest.Dial(t, p.Addr)
		defer c.Close()
		return c.Do(args...)
	}
	require.Equal(t, "$1\r\n2\r\n", direct(b, "GET", "after"))
	require.Equal(t, "$-1\r\n", direct(a, "GET", "after"))
	require.Equal(t, "$1\r\n1\r\n", direct(a, "GET", "before"))
	require.Equal(t, "second", n.Server.DatastoreName())
}

func TestReloadToAnUnreachableDatastoreIsRefusedWhole(t *testing.T) {
	a := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, a.Addr, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()

	l := n.Server.Live()
	l.Datastore = dead
	l.WriteLevel = consistency.DCQuorum
	err = n.Server.Reload(l)
	require.ErrorContains(t, err, "servers")
	require.ErrorContains(t, err, dead)
	_, wl := n.Server.Consistency()
	require.Equal(t, consistency.DCOne, wl, "nothing of the refused reload applies")
	require.Equal(t, a.Addr, n.Server.Live().Datastore)
	require.Equal(t, "+OK\r\n", proxytest.Dial(t, n.Addr).Do("SET", "k", "v"))
}

// Client limits and timeouts: an open idle connection is closed by a
// client_idle_timeout that a reload set; max_client_connections applies to
// the next connection.
func TestReloadedClientLimitsApply(t *testing.T) {
	rd := proxytest.StartFakeRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	idle := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", idle.Do("PING"))

	l := n.Server.Live()
	l.ClientIdleTimeout = 100 * time.Millisecond
	l.MaxClientConns = 1
	l.MaxRequestBytes = 4096
	require.NoError(t, n.Server.Reload(l))
	require.Equal(t, 4096, n.Server.MaxRequestBytes())
	// the idle connection's read armed before the reload has no deadline;
	// its next request arms the new one
	require.Equal(t, "+PONG\r\n", idle.Do("PING"))
	_, err := idle.Read(proxytest.RedisReply)
	require.Error(t, err, "closed after client_idle_timeout")

	proxytest.Eventually(t, 5*time.Second, func() bool { return n.Server.ClientConnections() == 0 }, "the idle client was not closed")
	one := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", one.Do("PING"))
	// max_request_bytes: the connection accepted after the reload has the new cap
	got, err := one.TryDo("SET", "big", strings.Repeat("x", 8192))
	require.NoError(t, err)
	require.Equal(t, string(RedisErrTooLarge), got)
	proxytest.Eventually(t, 5*time.Second, func() bool { return n.Server.ClientConnections() == 0 }, "the connection over the cap was not closed")
	one = proxytest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", one.Do("PING"))
	got, err = proxytest.Dial(t, n.Addr).TryDo("PING")
	require.True(t, err != nil || strings.Contains(got, "max number of clients"), "got %q %v", got, err)
}
