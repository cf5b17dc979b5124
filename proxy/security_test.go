package proxy

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

func TestClientAuthentication(t *testing.T) {
	rd := startRedis(t)
	// the datastore has its own password, which clients never see
	admin := dial(t, rd.addr)
	require.Equal(t, "+OK\r\n", admin.do(cmd("CONFIG", "SET", "requirepass", "ds-secret")))
	n := startNode(t, msg.Redis, rd.addr, func(o *Options) {
		o.RequirePass, o.DatastorePassword = "client-secret", "ds-secret"
	})
	c := dial(t, n.addr)
	steps := []struct {
		name, want string
		req        []byte
	}{
		{"commands before AUTH are refused", "-NOAUTH Authentication required.\r\n", cmd("GET", "a")},
		{"a wrong password is refused", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", cmd("AUTH", "nope")},
		{"the datastore's password is not the client's", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", cmd("AUTH", "ds-secret")},
		{"an unknown user is refused", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", cmd("AUTH", "bob", "client-secret")},
		{"still refused", "-NOAUTH Authentication required.\r\n", cmd("SET", "a", "1")},
		{"AUTH with the password", "+OK\r\n", cmd("AUTH", "client-secret")},
		{"then commands run", "+OK\r\n", cmd("SET", "a", "1")},
		{"AUTH default <password> works too", "+OK\r\n", cmd("AUTH", "default", "client-secret")},
		{"and reads too", "$1\r\n1\r\n", cmd("GET", "a")},
	}
	for _, st := range steps {
		require.Equal(t, st.want, c.do(st.req), st.name)
	}

	h := dial(t, n.addr)
	require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", h.do(cmd("HELLO", "2", "AUTH", "default", "bad")))
	got := h.do(cmd("HELLO", "2", "AUTH", "default", "client-secret"))
	require.True(t, strings.HasPrefix(got, "*14\r\n$6\r\nserver\r\n"), "HELLO answers after authenticating: %q", got)
	require.Equal(t, "$1\r\n1\r\n", h.do(cmd("GET", "a")))

	// without requirepass, AUTH says so as Redis does
	rd2 := startRedis(t)
	n2 := startNode(t, msg.Redis, rd2.addr, nil)
	require.True(t, strings.HasPrefix(dial(t, n2.addr).do(cmd("AUTH", "x")), "-ERR AUTH <password> called without any password configured"))
}

func TestNamedUsers(t *testing.T) {
	const wrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	users := []User{{Name: "alice", Digest: sha256.Sum256([]byte("alice-pw"))}, {Name: "app", Digest: sha256.Sum256([]byte("app-pw"))}}
	rd := startRedis(t)

	t.Run("beside requirepass", func(t *testing.T) {
		n := startNode(t, msg.Redis, rd.addr, func(o *Options) { o.RequirePass, o.Users = "root-pw", users })
		c := dial(t, n.addr)
		for _, st := range []struct {
			name, want string
			req        []byte
		}{
			{"commands before AUTH are refused", "-NOAUTH Authentication required.\r\n", cmd("GET", "a")},
			{"a user with another user's password", wrongPass, cmd("AUTH", "alice", "app-pw")},
			{"a user with requirepass", wrongPass, cmd("AUTH", "alice", "root-pw")},
			{"an unknown user", wrongPass, cmd("AUTH", "mallory", "alice-pw")},
			{"a user's password without the user", wrongPass, cmd("AUTH", "alice-pw")},
			{"still refused", "-NOAUTH Authentication required.\r\n", cmd("GET", "a")},
			{"AUTH alice", "+OK\r\n", cmd("AUTH", "alice", "alice-pw")},
			{"then commands run", "+OK\r\n", cmd("SET", "a", "1")},
			{"AUTH as another user on the same connection", "+OK\r\n", cmd("AUTH", "app", "app-pw")},
			{"requirepass still works", "+OK\r\n", cmd("AUTH", "root-pw")},
		} {
			require.Equal(t, st.want, c.do(st.req), st.name)
		}
		h := dial(t, n.addr)
		require.Equal(t, wrongPass, h.do(cmd("HELLO", "2", "AUTH", "app", "alice-pw")))
		got := h.do(cmd("HELLO", "2", "AUTH", "app", "app-pw"))
		require.True(t, strings.HasPrefix(got, "*14\r\n$6\r\nserver\r\n"), "HELLO AUTH as a named user: %q", got)
		require.Equal(t, "$1\r\n1\r\n", h.do(cmd("GET", "a")))
	})

	t.Run("without requirepass, clients must be one of the users", func(t *testing.T) {
		n := startNode(t, msg.Redis, rd.addr, func(o *Options) { o.Users = users })
		c := dial(t, n.addr)
		require.Equal(t, "-NOAUTH Authentication required.\r\n", c.do(cmd("GET", "a")))
		require.Equal(t, wrongPass, c.do(cmd("AUTH", "alice-pw")), "there is no default user")
		require.Equal(t, wrongPass, c.do(cmd("AUTH", "default", "")))
		require.Equal(t, "+OK\r\n", c.do(cmd("AUTH", "alice", "alice-pw")))
		require.Equal(t, "$1\r\n1\r\n", c.do(cmd("GET", "a")))
	})

	t.Run("default is requirepass's", func(t *testing.T) {
		_, err := New(Options{Proto: msg.Redis, Listen: "127.0.0.1:0", Datastore: rd.addr, Users: []User{{Name: "default"}}})
		require.ErrorContains(t, err, `client_users: user "default"`)
	})
}

func TestDatastorePasswordMismatchIsReported(t *testing.T) {
	rd := startRedis(t)
	admin := dial(t, rd.addr)
	require.Equal(t, "+OK\r\n", admin.do(cmd("CONFIG", "SET", "requirepass", "ds-secret")))
	o := Options{Proto: msg.Redis, Listen: "127.0.0.1:0", Datastore: rd.addr, Preconnect: true, DatastorePassword: "wrong", Timeout: time.Second}
	s, err := New(o)
	require.NoError(t, err)
	require.NoError(t, s.Listen())
	done := make(chan error, 1)
	ctx, cancel := contextWithCancel()
	go func() { done <- s.Serve(ctx) }()
	c := dial(t, s.Addr().String())
	require.Equal(t, "-ERR Storage: Datastore refused connection\r\n", c.do(cmd("GET", "a")))
	require.False(t, s.Backend().Up())
	cancel()
	require.NoError(t, <-done)
}

func TestLimits(t *testing.T) {
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, func(o *Options) {
		o.MaxClientConns = 2
		o.MaxRequestBytes = 64 << 10
		o.ClientReadTimeout = 300 * time.Millisecond
	})
	a, b := dial(t, n.addr), dial(t, n.addr)
	require.Equal(t, "+PONG\r\n", a.do(cmd("PING")))
	require.Equal(t, "+PONG\r\n", b.do(cmd("PING")))

	t.Run("a connection beyond max_client_connections gets an error and is closed", func(t *testing.T) {
		c := dial(t, n.addr)
		got, err := c.read(redisReply)
		require.NoError(t, err)
		require.Equal(t, "-ERR max number of clients reached (max_client_connections)\r\n", string(got))
		_, err = c.read(redisReply)
		require.Error(t, err)
		require.Equal(t, "+PONG\r\n", a.do(cmd("PING")), "the others keep being served")
		require.EqualValues(t, 1, n.s.Stats().Limits.MaxClientConnections)
	})

	t.Run("a request larger than max_request_bytes is refused", func(t *testing.T) {
		b.send(cmd("SET", "big", strings.Repeat("x", 100<<10)))
		got, err := b.read(redisReply)
		require.NoError(t, err)
		require.Equal(t, "-ERR Protocol error: request larger than the proxy's limit\r\n", string(got))
		_, err = b.read(redisReply)
		require.Error(t, err, "then the connection closes")
		require.Equal(t, "$-1\r\n", a.do(cmd("GET", "big")), "nothing was stored")
		require.EqualValues(t, 1, n.s.Stats().Limits.MaxRequestBytes)
	})

	t.Run("a client that stops half-way through a request is reaped", func(t *testing.T) {
		require.Eventually(t, func() bool { return n.s.ClientConnections() == 1 }, 5*time.Second, 10*time.Millisecond)
		c := dial(t, n.addr)
		c.send([]byte("*2\r\n$3\r\nGET\r\n$5\r\nab"))
		start := time.Now()
		_, err := c.read(redisReply)
		require.Error(t, err)
		require.Less(t, time.Since(start), 5*time.Second)
		require.EqualValues(t, 1, n.s.Stats().Limits.ClientReadTimeout, "counted as a read timeout")
		require.Zero(t, n.s.Stats().Limits.ClientIdleTimeout, "not as an idle one")
		require.Equal(t, "+PONG\r\n", a.do(cmd("PING")), "an idle but complete client is not reaped")
	})
}

func TestMaxBufferedBytes(t *testing.T) {
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, func(o *Options) { o.MaxBufferedBytes = 1 << 20 })
	c := dial(t, n.addr)
	val := strings.Repeat("v", 700<<10)
	// a slow script holding 700 KiB, then another 700 KiB request: over 1 MiB
	slow := cmd("EVAL", "local t = redis.call('TIME'); local s = t[1]*1000000+t[2]; repeat local u = redis.call('TIME') until (u[1]*1000000+u[2]) - s > 300000; return #ARGV[1]", "1", "k", val)
	c.send(append(slow, cmd("SET", "x", val)...))
	first, err := c.read(redisReply)
	require.NoError(t, err)
	require.Equal(t, ":716800\r\n", string(first))
	second, err := c.read(redisReply)
	require.NoError(t, err)
	require.Equal(t, "-ERR Dynomite: node buffer limit reached (max_buffered_bytes), retry later\r\n", string(second))
	require.Equal(t, "+OK\r\n", c.do(cmd("SET", "x", val)), "once the first is done there is room again")
	require.EqualValues(t, 1, n.s.Stats().Limits.MaxBufferedBytes)
}
