package tlstest_test

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

func TestGenerateLeafChainsToCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlstest.GenerateCA(dir)
	require.NoError(t, err)
	require.True(t, ca.Cert.IsCA)
	l, err := tlstest.GenerateLeaf(ca, "node1.example", "10.0.0.1")
	require.NoError(t, err)
	require.Equal(t, []string{"node1.example"}, l.Cert.DNSNames)
	require.Len(t, l.Cert.IPAddresses, 1)
	require.Equal(t, "10.0.0.1", l.Cert.IPAddresses[0].String())

	_, err = l.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "node1.example",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)

	// The files are what the fields say, and load with crypto/tls.
	pair, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
	require.NoError(t, err)
	require.Equal(t, l.Cert.Raw, pair.Certificate[0])
	st, err := os.Stat(l.KeyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.Equal(t, dir, filepath.Dir(l.CertFile))
}

func TestIssueOptions(t *testing.T) {
	ca, err := tlstest.GenerateCA(t.TempDir())
	require.NoError(t, err)
	other := t.TempDir()
	nb, na := time.Now().Add(-2*time.Hour).Truncate(time.Second), time.Now().Add(-time.Hour).Truncate(time.Second)
	l, err := ca.Issue(tlstest.Options{Serial: big.NewInt(7), NotBefore: nb, NotAfter: na, Dir: other})
	require.NoError(t, err)
	require.Equal(t, big.NewInt(7), l.Cert.SerialNumber)
	require.True(t, l.Cert.NotAfter.Equal(na))
	require.Equal(t, other, filepath.Dir(l.CertFile))
	require.Equal(t, []string{"localhost"}, l.Cert.DNSNames, "default names")
	_, err = l.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()})
	require.ErrorContains(t, err, "expired")

	s, err := tlstest.SelfSigned(tlstest.Options{Dir: other})
	require.NoError(t, err)
	_, err = s.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()})
	require.ErrorContains(t, err, "unknown authority")
	_, err = tlstest.SelfSigned(tlstest.Options{})
	require.Error(t, err)
}
