package proxy_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

func TestClientAuthentication(t *testing.T) {
	rd := proxytest.StartRedis(t)
	// the datastore has its own password, which clients never see
	admin := proxytest.Dial(t, rd.Addr)
	require.Equal(t, "+OK\r\n", admin.Do("CONFIG", "SET", "requirepass", "ds-secret"))
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) {
		o.RequirePass, o.DatastorePassword = "client-secret", "ds-secret"
	})
	c := proxytest.Dial(t, n.Addr)
	steps := []struct {
		name, want string
		req        []byte
	}{
		{"commands before AUTH are refused", "-NOAUTH Authentication required.\r\n", proxytest.Cmd("GET", "a")},
		{"a wrong password is refused", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", proxytest.Cmd("AUTH", "nope")},
		{"the datastore's password is not the client's", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", proxytest.Cmd("AUTH", "ds-secret")},
		{"an unknown user is refused", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", proxytest.Cmd("AUTH", "bob", "client-secret")},
		{"still refused", "-NOAUTH Authentication required.\r\n", proxytest.Cmd("SET", "a", "1")},
		{"AUTH with the password", "+OK\r\n", proxytest.Cmd("AUTH", "client-secret")},
		{"then commands run", "+OK\r\n", proxytest.Cmd("SET", "a", "1")},
		{"AUTH default <password> works too", "+OK\r\n", proxytest.Cmd("AUTH", "default", "client-secret")},
		{"and reads too", "$1\r\n1\r\n", proxytest.Cmd("GET", "a")},
	}
	for _, st := range steps {
		require.Equal(t, st.want, c.DoRaw(st.req), st.name)
	}

	h := proxytest.Dial(t, n.Addr)
	require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", h.Do("HELLO", "2", "AUTH", "default", "bad"))
	got := h.Do("HELLO", "2", "AUTH", "default", "client-secret")
	require.True(t, strings.HasPrefix(got, "*14\r\n$6\r\nserver\r\n"), "HELLO answers after authenticating: %q", got)
	require.Equal(t, "$1\r\n1\r\n", h.Do("GET", "a"))

	// without requirepass, AUTH says so as Redis does
	rd2 := proxytest.StartRedis(t)
	n2 := proxytest.StartNode(t, msg.Redis, rd2.Addr, nil)
	require.True(t, strings.HasPrefix(proxytest.Dial(t, n2.Addr).Do("AUTH", "x"), "-ERR AUTH <password> called without any password configured"))
}

func TestNamedUsers(t *testing.T) {
	const wrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	users := []User{{Name: "alice", Digest: sha256.Sum256([]byte("alice-pw"))}, {Name: "app", Digest: sha256.Sum256([]byte("app-pw"))}}
	rd := proxytest.StartRedis(t)

	t.Run("beside requirepass", func(t *testing.T) {
		n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.RequirePass, o.Users = "root-pw", users })
		c := proxytest.Dial(t, n.Addr)
		for _, st := range []struct {
			name, want string
			req        []byte
		}{
			{"commands before AUTH are refused", "-NOAUTH Authentication required.\r\n", proxytest.Cmd("GET", "a")},
			{"a user with another user's password", wrongPass, proxytest.Cmd("AUTH", "alice", "app-pw")},
			{"a user with requirepass", wrongPass, proxytest.Cmd("AUTH", "alice", "root-pw")},
			{"an unknown user", wrongPass, proxytest.Cmd("AUTH", "mallory", "alice-pw")},
			{"a user's password without the user", wrongPass, proxytest.Cmd("AUTH", "alice-pw")},
			{"still refused", "-NOAUTH Authentication required.\r\n", proxytest.Cmd("GET", "a")},
			{"AUTH alice", "+OK\r\n", proxytest.Cmd("AUTH", "alice", "alice-pw")},
			{"then commands run", "+OK\r\n", proxytest.Cmd("SET", "a", "1")},
			{"AUTH as another user on the same connection", "+OK\r\n", proxytest.Cmd("AUTH", "app", "app-pw")},
			{"requirepass still works", "+OK\r\n", proxytest.Cmd("AUTH", "root-pw")},
		} {
			require.Equal(t, st.want, c.DoRaw(st.req), st.name)
		}
		h := proxytest.Dial(t, n.Addr)
		require.Equal(t, wrongPass, h.Do("HELLO", "2", "AUTH", "app", "alice-pw"))
		got := h.Do("HELLO", "2", "AUTH", "app", "app-pw")
		require.True(t, strings.HasPrefix(got, "*14\r\n$6\r\nserver\r\n"), "HELLO AUTH as a named user: %q", got)
		require.Equal(t, "$1\r\n1\r\n", h.Do("GET", "a"))
	})

	t.Run("without requirepass, clients must be one of the users", func(t *testing.T) {
		n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.Users = users })
		c := proxytest.Dial(t, n.Addr)
		require.Equal(t, "-NOAUTH Authentication required.\r\n", c.Do("GET", "a"))
		require.Equal(t, wrongPass, c.Do("AUTH", "alice-pw"), "there is no default user")
		require.Equal(t, wrongPass, c.Do("AUTH", "default", ""))
		require.Equal(t, "+OK\r\n", c.Do("AUTH", "alice", "alice-pw"))
		require.Equal(t, "$1\r\n1\r\n", c.Do("GET", "a"))
	})

	t.Run("default is requirepass's", func(t *testing.T) {
		_, err := New(Options{Proto: msg.Redis, Listen: "127.0.0.1:0", Datastore: rd.Addr, Users: []User{{Name: "default"}}})
		require.ErrorContains(t, err, `client_users: user "default"`)
	})
}

func TestDatastorePasswordMismatchIsReported(t *testing.T) {
	rd := proxytest.StartRedis(t)
	admin := proxytest.Dial(t, rd.Addr)
	require.Equal(t, "+OK\r\n", admin.Do("CONFIG", "SET", "requirepass", "ds-secret"))
	o := Options{Proto: msg.Redis, Listen: "127.0.0.1:0", Datastore: rd.Addr, Preconnect: true, DatastorePassword: "wrong", Timeout: time.Second}
	s, err := New(o)
	require.NoError(t, err)
	require.NoError(t, s.Listen())
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- s.Serve(ctx) }()
	c := proxytest.Dial(t, s.Addr().String())
	require.Equal(t, "-ERR Storage: Datastore refused connection\r\n", c.Do("GET", "a"))
	require.False(t, s.Backend().Up())
	cancel()
	require.NoError(t, <-done)
}

func TestLimits(t *testing.T) {
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) {
		o.MaxClientConns = 2
		o.MaxRequestBytes = 64 << 10
		o.ClientReadTimeout = 300 * time.Millisecond
	})
	a, b := proxytest.Dial(t, n.Addr), proxytest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", a.Do("PING"))
	require.Equal(t, "+PONG\r\n", b.Do("PING"))

	t.Run("a connection beyond max_client_connections gets an error and is closed", func(t *testing.T) {
		c := proxytest.Dial(t, n.Addr)
		got, err := c.Read(proxytest.RedisReply)
		require.NoError(t, err)
		require.Equal(t, "-ERR max number of clients reached (max_client_connections)\r\n", string(got))
		_, err = c.Read(proxytest.RedisReply)
		require.Error(t, err)
		require.Equal(t, "+PONG\r\n", a.Do("PING"), "the others keep being served")
		require.EqualValues(t, 1, n.Server.Stats().Limits.MaxClientConnections)
	})

	t.Run("a request larger than max_request_bytes is refused", func(t *testing.T) {
		b.Send(proxytest.Cmd("SET", "big", strings.Repeat("x", 100<<10)))
		got, err := b.Read(proxytest.RedisReply)
		require.NoError(t, err)
		require.Equal(t, "-ERR Protocol error: request larger than the proxy's limit\r\n", string(got))
		_, err = b.Read(proxytest.RedisReply)
		require.Error(t, err, "then the connection closes")
		require.Equal(t, "$-1\r\n", a.Do("GET", "big"), "nothing was stored")
		require.EqualValues(t, 1, n.Server.Stats().Limits.MaxRequestBytes)
	})

	t.Run("a client that stops half-way through a request is reaped", func(t *testing.T) {
		require.Eventually(t, func() bool { return n.Server.ClientConnections() == 1 }, 5*time.Second, 10*time.Millisecond)
		c := proxytest.Dial(t, n.Addr)
		c.Send([]byte("*2\r\n$3\r\nGET\r\n$5\r\nab"))
		start := time.Now()
		_, err := c.Read(proxytest.RedisReply)
		require.Error(t, err)
		require.Less(t, time.Since(start), 5*time.Second)
		require.EqualValues(t, 1, n.Server.Stats().Limits.ClientReadTimeout, "counted as a read timeout")
		require.Zero(t, n.Server.Stats().Limits.ClientIdleTimeout, "not as an idle one")
		require.Equal(t, "+PONG\r\n", a.Do("PING"), "an idle but complete client is not reaped")
	})
}

func TestMaxBufferedBytes(t *testing.T) {
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.MaxBufferedBytes = 1 << 20 })
	c := proxytest.Dial(t, n.Addr)
	val := strings.Repeat("v", 700<<10)
	// a slow script holding 700 KiB, then another 700 KiB request: over 1 MiB
	slow := proxytest.Cmd("EVAL", "local t = redis.call('TIME'); local s = t[1]*1000000+t[2]; repeat local u = redis.call('TIME') until (u[1]*1000000+u[2]) - s > 300000; return #ARGV[1]", "1", "k", val)
	c.Send(append(slow, proxytest.Cmd("SET", "x", val)...))
	first, err := c.Read(proxytest.RedisReply)
	require.NoError(t, err)
	require.Equal(t, ":716800\r\n", string(first))
	second, err := c.Read(proxytest.RedisReply)
	require.NoError(t, err)
	require.Equal(t, "-ERR Dynomite: node buffer limit reached (max_buffered_bytes), retry later\r\n", string(second))
	require.Equal(t, "+OK\r\n", c.Do("SET", "x", val), "once the first is done there is room again")
	require.EqualValues(t, 1, n.Server.Stats().Limits.MaxBufferedBytes)
}
