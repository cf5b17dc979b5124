package proxytest_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

func TestFakeRedisAnswersTheCommandsAProxyForwards(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := proxytest.StartFakeRedis(t)
	c := proxytest.Dial(t, f.Addr)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"ping", "hi"}, "$2\r\nhi\r\n"},
		{[]string{"ECHO", "x"}, "$1\r\nx\r\n"},
		{[]string{"SELECT", "0"}, "+OK\r\n"},
		{[]string{"SELECT", "1"}, "-ERR DB index is out of range\r\n"},
		{[]string{"AUTH", "pw"}, "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"},
		{[]string{"GET", "a"}, "$-1\r\n"},
		{[]string{"SET", "a", "1"}, "+OK\r\n"},
		{[]string{"SET", "a", "2", "NX"}, "$-1\r\n"},
		{[]string{"SET", "b", "2", "XX"}, "$-1\r\n"},
		{[]string{"SET", "a", "3", "XX", "EX", "100"}, "+OK\r\n"},
		{[]string{"TTL", "a"}, ":100\r\n"},
		{[]string{"SET", "a", "3", "PX", "0"}, "-ERR invalid expire time in 'set' command\r\n"},
		{[]string{"SET", "a", "3", "EX"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "a", "3", "NX", "XX"}, "-ERR syntax error\r\n"},
		{[]string{"INCR", "a"}, ":4\r\n"},
		{[]string{"TTL", "a"}, ":100\r\n"},
		{[]string{"DECRBY", "a", "10"}, ":-6\r\n"},
		{[]string{"MSET", "m1", "x", "m2", "y"}, "+OK\r\n"},
		{[]string{"MSET", "m1", "x", "m2"}, "-ERR wrong number of arguments for 'mset' command\r\n"},
		{[]string{"MGET", "m1", "none", "m2"}, "*3\r\n$1\r\nx\r\n$-1\r\n$1\r\ny\r\n"},
		{[]string{"INCR", "m1"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"EXISTS", "m1", "m2", "none", "m1"}, ":3\r\n"},
		{[]string{"EXPIRE", "m1", "50"}, ":1\r\n"},
		{[]string{"EXPIRE", "none", "50"}, ":0\r\n"},
		{[]string{"TTL", "m2"}, ":-1\r\n"},
		{[]string{"TTL", "none"}, ":-2\r\n"},
		{[]string{"DEL", "m1", "m2", "none"}, ":2\r\n"},
		{[]string{"HSET", "h", "f", "1", "g", "2"}, ":2\r\n"},
		{[]string{"HGET", "h", "g"}, "$1\r\n2\r\n"},
		{[]string{"HGET", "h", "none"}, "$-1\r\n"},
		{[]string{"GET", "h"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"NOSUCH", "a", "b"}, "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"},
		{[]string{"QUIT"}, "+OK\r\n"},
	}
	for _, s := range steps {
		require.Equal(t, s.want, c.Do(s.args...), "%q", s.args)
	}
	_, err := c.Read(proxytest.RedisReply)
	require.ErrorIs(t, err, io.EOF, "QUIT closes")
	v, ok := f.Get("a")
	require.True(t, ok)
	require.Equal(t, "-6", v)
	require.Equal(t, len(steps), f.Requests())
	require.Equal(t, 3, f.Count("get"))

	t.Run("AUTH with a password set", func(t *testing.T) {
		f.RequirePass("secret")
		defer f.RequirePass("")
		c := proxytest.Dial(t, f.Addr)
		require.Equal(t, "-NOAUTH Authentication required.\r\n", c.Do("GET", "a"))
		require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", c.Do("AUTH", "nope"))
		require.Equal(t, "+OK\r\n", c.Do("AUTH", "secret"))
		require.Equal(t, "$2\r\n-6\r\n", c.Do("GET", "a"))
	})
	f.Stop()
}

func TestFakeRedisRefusesMalformedFramingAndCloses(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := proxytest.StartFakeRedis(t)
	cases := map[string]struct{ in, want string }{
		"an inline command":               {"PING\r\n", "-ERR Protocol error: expected '*', got \"PING\"\r\n"},
		"a bare LF":                       {"*1\n$4\r\nPING\r\n", "-ERR Protocol error: line not terminated by CRLF\r\n"},
		"a bulk longer than announced":    {"*1\r\n$3\r\nPING\r\n", "-ERR Protocol error: bulk string not followed by CRLF\r\n"},
		"a negative array length":         {"*-1\r\n", "-ERR Protocol error: invalid multibulk length \"-1\"\r\n"},
		"a plus sign in a length":         {"*+1\r\n", "-ERR Protocol error: invalid multibulk length \"+1\"\r\n"},
		"a simple string as an argument":  {"*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got \"+PING\"\r\n"},
		"an empty array":                  {"*0\r\n", "-ERR Protocol error: invalid multibulk length \"0\"\r\n"},
		"a bulk length that is not a num": {"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length \"x\"\r\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := proxytest.Dial(t, f.Addr)
			c.Send([]byte(tc.in))
			got, err := c.Read(proxytest.RedisReply)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			_, err = c.Read(proxytest.RedisReply)
			require.ErrorIs(t, err, io.EOF, "the fake closes after a framing error")
		})
	}
	require.Zero(t, f.Requests(), "malformed requests are not counted")
	f.Stop()
}

func TestFakeMemcacheAnswersTheCommandsAProxyForwards(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := proxytest.StartFakeMemcache(t)
	c := proxytest.Dial(t, f.Addr)
	steps := []struct {
		in, want string
		get      bool
	}{
		{in: "version\r\n", want: "VERSION 1.6.0-proxytest\r\n"},
		{in: "get a b\r\n", want: "END\r\n", get: true},
		{in: "set a 5 0 1\r\nx\r\n", want: "STORED\r\n"},
		{in: "add a 0 0 1\r\ny\r\n", want: "NOT_STORED\r\n"},
		{in: "replace b 0 0 1\r\ny\r\n", want: "NOT_STORED\r\n"},
		{in: "add b 0 0 2\r\n10\r\n", want: "STORED\r\n"},
		{in: "get a b c\r\n", want: "VALUE a 5 1\r\nx\r\nVALUE b 0 2\r\n10\r\nEND\r\n", get: true},
		{in: "gets a\r\n", want: "VALUE a 5 1 1\r\nx\r\nEND\r\n", get: true},
		{in: "cas a 0 0 1 9\r\nz\r\n", want: "EXISTS\r\n"},
		{in: "cas a 0 0 1 1\r\nz\r\n", want: "STORED\r\n"},
		{in: "incr b 5\r\n", want: "15\r\n"},
		{in: "decr b 20\r\n", want: "0\r\n"},
		{in: "incr a 1\r\n", want: "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{in: "touch a 100\r\n", want: "TOUCHED\r\n"},
		{in: "gat 100 a none\r\n", want: "VALUE a 0 1\r\nz\r\nEND\r\n", get: true},
		{in: "gats -1 a\r\n", want: "VALUE a 0 1 3\r\nz\r\nEND\r\n", get: true},
		{in: "get a\r\n", want: "END\r\n", get: true},
		{in: "touch none 100\r\n", want: "NOT_FOUND\r\n"},
		{in: "set q 0 0 1 noreply\r\nq\r\ndelete q\r\n", want: "DELETED\r\n"},
		{in: "delete q\r\n", want: "NOT_FOUND\r\n"},
		{in: "nosuch\r\n", want: "ERROR\r\n"},
	}
	for _, s := range steps {
		c.Send([]byte(s.in))
		frame := proxytest.MemcacheLine
		if s.get {
			frame = proxytest.MemcacheRetrieval
		}
		got, err := c.Read(frame)
		require.NoError(t, err, "%q", s.in)
		require.Equal(t, s.want, string(got), "%q", s.in)
	}
	for name, in := range map[string]string{
		"a data block longer than announced": "set a 0 0 1\r\nxy\r\n",
		"a storage command missing a field":  "set a 0 1\r\nx\r\n",
		"a key longer than 250 bytes":        "get " + string(make([]byte, 251)) + "\r\n",
		"two spaces between fields":          "delete  a\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := proxytest.Dial(t, f.Addr)
			c.Send([]byte(in))
			got, err := c.Read(proxytest.MemcacheLine)
			require.NoError(t, err)
			require.Contains(t, string(got), "CLIENT_ERROR ")
			_, err = c.Read(proxytest.MemcacheLine)
			require.ErrorIs(t, err, io.EOF)
		})
	}
	f.Stop()
}

func TestFakeFaults(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := proxytest.StartFakeRedis(t)
	c := proxytest.Dial(t, f.Addr)

	f.SetFault(proxytest.Fault{Error: "injected"})
	require.Equal(t, "-ERR injected\r\n", c.Do("SET", "a", "1"))
	_, ok := f.Get("a")
	require.False(t, ok, "a failed request is not executed")

	f.SetFault(proxytest.Fault{Delay: 50 * time.Millisecond})
	start := time.Now()
	require.Equal(t, "+PONG\r\n", c.Do("PING"))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	f.SetFault(proxytest.Fault{Hang: true})
	c.Send(proxytest.Cmd("GET", "a"))
	proxytest.Eventually(t, 5*time.Second, func() bool { return f.Count("get") == 1 }, "the hung request was never read")
	_ = c.NetConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.NetConn().Read(make([]byte, 1))
	var ne interface{ Timeout() bool }
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a hung fake answers nothing: %v", err)

	f.SetFault(proxytest.Fault{Close: true})
	d := proxytest.Dial(t, f.Addr)
	d.Send(proxytest.Cmd("PING"))
	_, err = d.Read(proxytest.RedisReply)
	require.ErrorIs(t, err, io.EOF)

	f.SetFault(proxytest.Fault{})
	require.Equal(t, 1, f.CloseConns(), "the hung connection is still open")
	e := proxytest.Dial(t, f.Addr)
	require.Equal(t, "+PONG\r\n", e.Do("PING"))

	f.Stop()
	_, err = proxytest.TryDial(t, f.Addr)
	require.Error(t, err, "a stopped fake refuses connections")
	f.Start()
	require.Equal(t, "+PONG\r\n", proxytest.Dial(t, f.Addr).Do("PING"))
	f.Stop()
}
