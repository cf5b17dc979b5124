package dnsq_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/seedprovider/internal/dnsq"
	"github.com/dynomite-go/dynomite/seedprovider/internal/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServerAddr(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(conf, []byte("nameserver ::1\n"), 0o600))
	tests := map[string]struct {
		addr, want, err string
	}{
		"host and port":     {addr: "127.0.0.1:5353", want: "127.0.0.1:5353"},
		"port 53 is added":  {addr: "127.0.0.1", want: "127.0.0.1:53"},
		"IPv6 without port": {addr: "::1", want: "[::1]:53"},
		"IPv6 in brackets":  {addr: "[::1]", want: "[::1]:53"},
		"IPv6 with port":    {addr: "[::1]:5353", want: "[::1]:5353"},
		"a name":            {addr: "ns.test", want: "ns.test:53"},
		"from resolv.conf":  {addr: "", want: "[::1]:53"},
		"garbage":           {addr: "a b", err: "not host[:port]"},
		"empty brackets":    {addr: "[]", err: "not host[:port]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := dnsq.ServerAddr(tc.addr, conf)
			checkErr := dnsq.CheckServer(tc.addr)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.ErrorContains(t, checkErr, tc.err, "CheckServer agrees with ServerAddr")
				return
			}
			require.NoError(t, err)
			require.NoError(t, checkErr)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCheckServerReadsNoFile(t *testing.T) {
	// "" stands for resolv.conf, read only when the client is made.
	require.NoError(t, dnsq.CheckServer(""))
}

func TestNewClient(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(conf, []byte("search example.com\nnameserver 127.0.0.53\nnameserver 127.0.0.54\n"), 0o600))
	empty := filepath.Join(dir, "empty.conf")
	require.NoError(t, os.WriteFile(empty, []byte("search x\n"), 0o600))
	tests := map[string]struct {
		addr, resolvConf string
		timeout          time.Duration
		want             dnsq.Client
		err              string
	}{
		"an address and a timeout":            {addr: "127.0.0.9", timeout: time.Second, want: dnsq.Client{Server: "127.0.0.9:53", Timeout: time.Second}},
		"an address ignores resolv.conf":      {addr: "127.0.0.9:5353", resolvConf: filepath.Join(dir, "missing"), want: dnsq.Client{Server: "127.0.0.9:5353"}},
		"the first nameserver of resolv.conf": {resolvConf: conf, want: dnsq.Client{Server: "127.0.0.53:53"}},
		"a missing resolv.conf":               {resolvConf: filepath.Join(dir, "missing"), err: "reading " + filepath.Join(dir, "missing")},
		"a resolv.conf without nameserver":    {resolvConf: empty, err: empty + " lists no nameserver"},
		"a bad address":                       {addr: "a b", err: "not host[:port]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := dnsq.NewClient(tc.addr, tc.resolvConf, tc.timeout)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestQuery(t *testing.T) {
	srv := dnstest.Start(t)
	srv.Add(t, "a.test. 60 IN A 127.0.0.1", "big.test. 60 IN TXT \"x\"", "fail.test. 60 IN A 127.0.0.1")
	srv.Truncate("big.test")
	srv.Rcode("fail.test", dns.RcodeRefused)
	c := dnsq.Client{Server: srv.Addr}

	r, err := c.Query(context.Background(), "a.test", dns.TypeA)
	require.NoError(t, err)
	require.Len(t, r.Answer, 1)

	r, err = c.Query(context.Background(), "a.test", dns.TypeTXT)
	require.NoError(t, err, "NODATA is no error")
	require.Empty(t, r.Answer)

	r, err = c.Query(context.Background(), "big.test", dns.TypeTXT)
	require.NoError(t, err)
	require.Len(t, r.Answer, 1)
	require.EqualValues(t, 1, srv.TCP.Load())

	_, err = c.Query(context.Background(), "none.test", dns.TypeA)
	require.ErrorIs(t, err, dnsq.ErrNotFound)

	_, err = c.Query(context.Background(), "fail.test", dns.TypeA)
	require.ErrorContains(t, err, "REFUSED")

	srv.Delay(300 * time.Millisecond)
	slow := dnsq.Client{Server: srv.Addr, Timeout: 50 * time.Millisecond}
	_, err = slow.Query(context.Background(), "a.test", dns.TypeA)
	require.ErrorContains(t, err, "timeout")
}
