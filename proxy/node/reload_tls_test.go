package node_test

import (
	"crypto/tls"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

// The certificates are re-read by every configuration reload; one that
// fails to load refuses the reload and the one in use stays.
func TestReloadRereadsTheCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlstest.GenerateCA(dir)
	require.NoError(t, err)
	issue := func(serial int64) *tlstest.Leaf {
		l, err := ca.Issue(tlstest.Options{Serial: big.NewInt(serial)})
		require.NoError(t, err)
		return l
	}
	certFile, keyFile := filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	require.NoError(t, issue(1001).CopyTo(certFile, keyFile))

	log, _ := testLog(t, slog.LevelInfo)
	rd := proxytest.StartRedis(t)
	tlsAddr := proxytest.FreeAddr(t)
	f := startFileNode(t, log, append(singleNodeBase(t, rd.Addr), "client_tls_listen", tlsAddr,
		"client_tls_cert_file", certFile, "client_tls_key_file", keyFile)...)
	served := func() int64 {
		c, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
		require.NoError(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	require.EqualValues(t, 1001, served())

	require.NoError(t, issue(1002).CopyTo(certFile, keyFile))
	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Empty(t, res.Changed, "the file is the same, the certificate is new")
	require.EqualValues(t, 1002, served())

	require.NoError(t, os.WriteFile(certFile, []byte("not a certificate"), 0o600))
	f.set("timeout", "2500")
	f.write(t)
	code, res = postReload(t, f.Node)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, res.Error, "TLS certificates")
	require.EqualValues(t, 1002, served(), "the certificate in use stays")
	require.EqualValues(t, 2000, f.Server().Backend().Tuning().Timeout.Milliseconds(), "nothing of the refused reload applies")
}
