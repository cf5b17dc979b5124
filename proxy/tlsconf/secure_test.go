package tlsconf_test

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/tlsconf"
)

func TestSecure(t *testing.T) {
	// The local node is dc1/rack1.
	peers := []struct {
		name     string
		dc, rack string
	}{
		{"same rack and datacenter", "dc1", "rack1"},
		{"another rack in the same datacenter", "dc1", "rack2"},
		{"a rack of the same name in another datacenter", "dc2", "rack1"},
		{"another rack in another datacenter", "dc2", "rack2"},
	}
	// want[option] lists the answer for each peer above, in order.
	want := map[string][4]bool{
		"none":       {false, false, false, false},
		"datacenter": {false, false, true, true},
		"rack":       {false, true, true, true},
		"all":        {true, true, true, true},
		// Anything else is none, as upstream (the config package rejects it).
		"":     {false, false, false, false},
		"dc":   {false, false, false, false},
		"ALL":  {false, false, false, false},
		"All ": {false, false, false, false},
	}
	for option, answers := range want {
		for i, p := range peers {
			t.Run(option+": "+p.name, func(t *testing.T) {
				require.Equal(t, answers[i], tlsconf.Secure(option, "dc1", "rack1", p.dc, p.rack))
				// Both ends agree.
				require.Equal(t, answers[i], tlsconf.Secure(option, p.dc, p.rack, "dc1", "rack1"))
			})
		}
	}
	require.Equal(t, "none", tlsconf.OptionNone)
	require.Equal(t, "datacenter", tlsconf.OptionDatacenter)
	require.Equal(t, "rack", tlsconf.OptionRack)
	require.Equal(t, "all", tlsconf.OptionAll)
}

// One peer listener can take TLS and plain links: Peek tells them apart and
// hands back a conn that still holds the first byte.
func TestPeek(t *testing.T) {
	f := newFixture(t)
	server, client, _, err := tlsconf.PeerConfigs(f.server.CertFile, f.server.KeyFile, f.caFile)
	require.NoError(t, err)
	frame := "   $2014$ 1 3 0 1 1 *1 d *0\r\n*1\r\n$4\r\nPING\r\n"
	tests := []struct {
		name  string
		tls   bool
		plain string
	}{
		{name: "a TLS client", tls: true},
		{name: "an upstream dnode frame", plain: frame},
		{name: "a RESP request", plain: "*1\r\n$4\r\nPING\r\n"},
		{name: "a memcached request", plain: "get k\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			require.NoError(t, a.SetDeadline(time.Now().Add(ioTimeout)))
			require.NoError(t, b.SetDeadline(time.Now().Add(ioTimeout)))
			done := make(chan error, 1)
			go func() {
				if tt.tls {
					c := tls.Client(a, client)
					err := c.Handshake()
					if err == nil {
						_, err = c.Write([]byte("hello"))
					}
					done <- err
					return
				}
				_, err := io.WriteString(a, tt.plain)
				done <- err
			}()
			conn, isTLS, err := tlsconf.Peek(b)
			require.NoError(t, err)
			require.Equal(t, tt.tls, isTLS)
			if tt.tls {
				s := tls.Server(conn, server)
				require.NoError(t, s.Handshake())
				got := make([]byte, 5)
				_, err = io.ReadFull(s, got)
				require.NoError(t, err)
				require.Equal(t, "hello", string(got))
			} else {
				got := make([]byte, len(tt.plain))
				_, err = io.ReadFull(conn, got)
				require.NoError(t, err)
				require.Equal(t, tt.plain, string(got), "the peeked byte is replayed")
			}
			require.NoError(t, <-done)
		})
	}
	t.Run("a client that closes before sending", func(t *testing.T) {
		a, b := net.Pipe()
		_ = a.Close()
		_, _, err := tlsconf.Peek(b)
		require.ErrorIs(t, err, io.EOF)
		_ = b.Close()
	})
}
