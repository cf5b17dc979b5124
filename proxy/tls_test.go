package proxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/tlsconf"
	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

func TestClientTLSListener(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlstest.GenerateCA(dir)
	require.NoError(t, err)
	srvCert, err := tlstest.GenerateLeaf(ca, "127.0.0.1", "localhost")
	require.NoError(t, err)
	cfg, _, err := tlsconf.ClientListenerConfig(srvCert.CertFile, srvCert.KeyFile, "")
	require.NoError(t, err)

	rd := proxytest.StartRedis(t)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", proxytest.FreePort(t))
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) {
		o.ClientTLSListen, o.ClientTLS, o.RequirePass = tlsAddr, cfg, "pw"
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	c, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	require.NoError(t, err)
	rc := proxytest.NewConn(t, c)
	require.Equal(t, "-NOAUTH Authentication required.\r\n", rc.Do("GET", "k"))
	require.Equal(t, "+OK\r\n", rc.Do("AUTH", "pw"))
	require.Equal(t, "+OK\r\n", rc.Do("SET", "k", "over tls"))
	c.Close()

	// a client that does not trust the CA fails the handshake
	_, err = tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"})
	require.Error(t, err)
	// a plain client on the TLS port gets nothing and is closed; the node serves on
	plain := proxytest.Dial(t, tlsAddr)
	plain.Send(proxytest.Cmd("PING"))
	_, err = plain.Read(proxytest.RedisReply)
	require.Error(t, err)
	require.Equal(t, "-NOAUTH Authentication required.\r\n", proxytest.Dial(t, n.Addr).Do("PING"))

	// redis-cli --tls, when this build of redis-tools has TLS
	if out, err := exec.Command("redis-cli", "--help").CombinedOutput(); err == nil && strings.Contains(string(out), "--tls") {
		host, port, err := net.SplitHostPort(tlsAddr)
		require.NoError(t, err)
		got, err := exec.Command("redis-cli", "--tls", "--cacert", ca.CertFile, "-h", host, "-p", port, "--no-auth-warning", "-a", "pw", "GET", "k").CombinedOutput()
		require.NoError(t, err, string(got))
		require.Equal(t, "over tls\n", string(got))
		got, _ = exec.Command("redis-cli", "--tls", "--cacert", ca.CertFile, "-h", host, "-p", port, "--no-auth-warning", "-a", "wrong", "GET", "k").CombinedOutput()
		require.Contains(t, string(got), "WRONGPASS")
	}
}

func TestPeerLinksOverTLSWithUpstreamsSharedKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dynomite.pem")
	_, err := tlstest.WriteRSAKey(keyFile, 2048, false)
	require.NoError(t, err)
	srv, cli, err := tlsconf.SharedKeyConfigs(keyFile)
	require.NoError(t, err)
	tc := realCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc2/r1/0"}, func(o *Options) {
		o.PeerTLSServer, o.PeerTLSClient, o.SecureOption = srv, cli, tlsconf.OptionAll
	})
	c := tc.Client(0, "DC_QUORUM")
	require.Equal(t, "+OK\r\n", c.Do("SET", "secret", "v"))
	for i := range tc.Nodes {
		require.Eventually(t, func() bool { return tc.Direct(i, "GET", "secret") == "$1\r\nv\r\n" }, 5*time.Second, 10*time.Millisecond)
	}
	// a node holding another key cannot join the links
	otherKey := filepath.Join(dir, "other.pem")
	_, err = tlstest.WriteRSAKey(otherKey, 2048, false)
	require.NoError(t, err)
	_, otherCli, err := tlsconf.SharedKeyConfigs(otherKey)
	require.NoError(t, err)
	if oc, err := tls.Dial("tcp", tc.Nodes[1].DynAddr, otherCli); err == nil {
		// TLS 1.3: the server's refusal of our certificate arrives on read
		rc := proxytest.NewConn(t, oc)
		rc.Send([]byte("   $2014$ 1 3 0 1 1 *1 d *0\r\n*1\r\n$4\r\nPING\r\n"))
		_, err = rc.Read(proxytest.RedisReply)
		require.Error(t, err, "a node with another key must be refused")
		oc.Close()
	}
	// a plain link is refused under secure_server_option: all
	plain := proxytest.Dial(t, tc.Nodes[1].DynAddr)
	plain.Send([]byte("   $2014$ 1 3 0 1 1 *1 d *0\r\n*1\r\n$4\r\nPING\r\n"))
	_, err = plain.Read(proxytest.RedisReply)
	require.Error(t, err)
}
