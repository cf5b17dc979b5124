package tlsconf_test

import (
	"crypto/tls"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/tlsconf"
	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

// Replacing the files and calling Reload changes what new handshakes see,
// while a connection made before keeps working with the old certificate.
func TestReloadServesNewCertificateToNewHandshakesOnly(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	certFile, keyFile := install(t, dir, f.server)
	cfg, r, err := tlsconf.ClientListenerConfig(certFile, keyFile, "")
	require.NoError(t, err)
	srv := startServer(t, cfg)
	ccfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost"}

	old, err := dial(t, srv.addr(), ccfg)
	require.NoError(t, err)
	require.NoError(t, srv.handshakeErr(t))
	require.Equal(t, f.server.Cert.SerialNumber, peerSerial(old))

	next := leaf(t, f.ca, tlstest.Options{Names: []string{"localhost"}, Serial: big.NewInt(0xbeef)})
	require.NoError(t, next.CopyTo(certFile, keyFile))

	// Files replaced but not reloaded: nothing changes yet.
	c, err := dial(t, srv.addr(), ccfg)
	require.NoError(t, err)
	require.NoError(t, srv.handshakeErr(t))
	require.Equal(t, f.server.Cert.SerialNumber, peerSerial(c))

	require.NoError(t, r.Reload())
	require.Equal(t, big.NewInt(0xbeef), r.Certificate().Leaf.SerialNumber)

	c, err = dial(t, srv.addr(), ccfg)
	require.NoError(t, err)
	require.NoError(t, srv.handshakeErr(t))
	require.Equal(t, big.NewInt(0xbeef), peerSerial(c))

	// The connection made before the reload is untouched.
	require.NoError(t, roundTrip(old))
	require.Equal(t, f.server.Cert.SerialNumber, peerSerial(old))
}

// A reload that fails keeps the certificate (and CA pool) in use, and its
// error names the file at fault.
func TestFailedReloadKeepsOldMaterial(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		breakIt func(t *testing.T, certFile, keyFile, caFile string)
		wantErr func(certFile, keyFile, caFile string) string
	}{
		{name: "a certificate file that is not PEM",
			breakIt: func(t *testing.T, certFile, _, _ string) { write(t, certFile, "garbage\n") },
			wantErr: func(certFile, _, _ string) string {
				return "certificate file " + certFile + ": no PEM CERTIFICATE block"
			}},
		{name: "a certificate block that does not parse",
			breakIt: func(t *testing.T, certFile, _, _ string) {
				write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})))
			},
			wantErr: func(certFile, _, _ string) string { return "certificate file " + certFile + ": PEM block 1:" }},
		{name: "an empty certificate file (caught mid-write)",
			breakIt: func(t *testing.T, certFile, _, _ string) { write(t, certFile, "") },
			wantErr: func(certFile, _, _ string) string { return "certificate file " + certFile },
		},
		{name: "a missing key file",
			breakIt: func(t *testing.T, _, keyFile, _ string) { require.NoError(t, os.Remove(keyFile)) },
			wantErr: func(_, keyFile, _ string) string { return "key file " + keyFile + ": no such file or directory" }},
		{name: "a new certificate with the old key",
			breakIt: func(t *testing.T, certFile, _, _ string) { copyFile(t, f.client.CertFile, certFile) },
			wantErr: func(certFile, keyFile, _ string) string {
				return "key file " + keyFile + " (for certificate file " + certFile + "): tls: private key does not match public key"
			}},
		{name: "an unreadable CA file",
			breakIt: func(t *testing.T, _, _, caFile string) { require.NoError(t, os.Remove(caFile)) },
			wantErr: func(_, _, caFile string) string { return "CA file " + caFile + ": no such file or directory" }},
		{name: "a CA file without a certificate",
			breakIt: func(t *testing.T, _, keyFile, caFile string) { copyFile(t, keyFile, caFile) },
			wantErr: func(_, _, caFile string) string { return "CA file " + caFile + ": no PEM CERTIFICATE block" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := install(t, dir, f.server)
			caFile := filepath.Join(dir, "ca.pem")
			copyFile(t, f.caFile, caFile)
			cfg, r, err := tlsconf.ClientListenerConfig(certFile, keyFile, caFile)
			require.NoError(t, err)
			srv := startServer(t, cfg)
			ccfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{f.client.TLSCertificate()}}

			tt.breakIt(t, certFile, keyFile, caFile)
			err = r.Reload()
			require.ErrorContains(t, err, tt.wantErr(certFile, keyFile, caFile))
			require.Equal(t, f.server.Cert.SerialNumber, r.Certificate().Leaf.SerialNumber)
			require.NotNil(t, r.Roots())

			// New handshakes still get the old certificate, and client
			// certificates are still verified against the old CA.
			c, err := dial(t, srv.addr(), ccfg)
			require.NoError(t, err)
			require.NoError(t, srv.handshakeErr(t))
			require.Equal(t, f.server.Cert.SerialNumber, peerSerial(c))

			ccfg.Certificates = []tls.Certificate{f.other.TLSCertificate()}
			_, err = dial(t, srv.addr(), ccfg)
			require.Error(t, err)
			require.ErrorIs(t, srv.handshakeErr(t), tlsconf.ErrUntrusted)

			// Once the files are good again, Reload succeeds.
			install(t, dir, f.server)
			copyFile(t, f.caFile, caFile)
			require.NoError(t, r.Reload())
		})
	}
}

// A CA file reloaded takes effect on the next handshake, on both sides of
// a peer link, without rebuilding the tls.Config: here node A first trusts
// only its own CA, then a bundle with node B's CA (a CA rotation).
func TestReloadedCAAppliesToNextHandshake(t *testing.T) {
	f := newFixture(t)
	dirA := t.TempDir()
	certA, keyA := install(t, dirA, f.server)
	caA := filepath.Join(dirA, "ca.pem")
	copyFile(t, f.caFile, caA)
	serverA, clientA, rA, err := tlsconf.PeerConfigs(certA, keyA, caA)
	require.NoError(t, err)

	// B has a certificate from the other CA and trusts both.
	serverB, clientB, _, err := tlsconf.PeerConfigs(f.other.CertFile, f.other.KeyFile, f.bundleFile)
	require.NoError(t, err)
	srvA, srvB := startServer(t, serverA), startServer(t, serverB)

	_, err = dial(t, srvA.addr(), clientB)
	require.Error(t, err)
	require.ErrorIs(t, srvA.handshakeErr(t), tlsconf.ErrUntrusted, "A, as server, rejects B")
	_, err = dial(t, srvB.addr(), clientA)
	require.ErrorIs(t, err, tlsconf.ErrUntrusted, "A, as client, rejects B")
	require.Error(t, srvB.handshakeErr(t))

	copyFile(t, f.bundleFile, caA)
	require.NoError(t, rA.Reload())

	_, err = dial(t, srvA.addr(), clientB)
	require.NoError(t, err)
	require.NoError(t, srvA.handshakeErr(t))
	_, err = dial(t, srvB.addr(), clientA)
	require.NoError(t, err)
	require.NoError(t, srvB.handshakeErr(t))

	// Dropping the old CA from A's file: B (other CA) still gets in, and a
	// node with a certificate from the dropped CA no longer does.
	copyFile(t, f.otherCA.CertFile, caA)
	require.NoError(t, rA.Reload())
	_, err = dial(t, srvA.addr(), clientB)
	require.NoError(t, err)
	require.NoError(t, srvA.handshakeErr(t))
	_, clientC, _, err := tlsconf.PeerConfigs(f.client.CertFile, f.client.KeyFile, f.bundleFile)
	require.NoError(t, err)
	_, err = dial(t, srvA.addr(), clientC)
	require.Error(t, err)
	require.ErrorIs(t, srvA.handshakeErr(t), tlsconf.ErrUntrusted)
}

// Reloads racing with handshakes (run with -race): every handshake gets one
// of the two certificates, whole.
func TestReloadConcurrentWithHandshakes(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	certFile, keyFile := install(t, dir, f.server)
	cfg, r, err := tlsconf.ClientListenerConfig(certFile, keyFile, f.caFile)
	require.NoError(t, err)
	srv := startServer(t, cfg)
	second := leaf(t, f.ca, tlstest.Options{Names: []string{"localhost"}})
	serials := map[string]bool{f.server.Cert.SerialNumber.String(): true, second.Cert.SerialNumber.String(): true}

	stop := make(chan struct{})
	var reloads sync.WaitGroup
	reloads.Add(1)
	go func() {
		defer reloads.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l := f.server
			if i%2 == 1 {
				l = second
			}
			// Key first, then certificate: a Reload between the two
			// fails with a mismatch and keeps the previous pair.
			if err := l.CopyTo(certFile, keyFile); err != nil {
				t.Error(err)
				return
			}
			if err := r.Reload(); err != nil && !strings.Contains(err.Error(), "private key does not match") {
				t.Error(err)
				return
			}
		}
	}()

	var clients sync.WaitGroup
	for range 4 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			ccfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{f.client.TLSCertificate()}}
			for range 10 {
				c, err := dial(t, srv.addr(), ccfg)
				if err != nil {
					t.Error(err)
					return
				}
				if s := peerSerial(c).String(); !serials[s] {
					t.Errorf("unexpected serial %s", s)
				}
				_ = c.Close()
			}
		}()
	}
	clients.Wait()
	close(stop)
	reloads.Wait()
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, tlstest.WriteFile(path, []byte(content), 0o644))
}

// A client that resumes a TLS session is judged again against the CA pool
// in use: dropping a CA from the file shuts out its clients even when they
// skip the full handshake.
func TestReloadedCAAppliesToResumedSessions(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	copyFile(t, f.bundleFile, caFile)
	cfg, r, err := tlsconf.ClientListenerConfig(f.server.CertFile, f.server.KeyFile, caFile)
	require.NoError(t, err)
	srv := startServer(t, cfg)
	ccfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost",
		Certificates:       []tls.Certificate{f.other.TLSCertificate()},
		ClientSessionCache: tls.NewLRUClientSessionCache(4)}

	c, err := dial(t, srv.addr(), ccfg)
	require.NoError(t, err)
	require.NoError(t, srv.handshakeErr(t))
	require.False(t, c.ConnectionState().DidResume)
	c, err = dial(t, srv.addr(), ccfg)
	require.NoError(t, err)
	require.NoError(t, srv.handshakeErr(t))
	require.True(t, c.ConnectionState().DidResume, "the client resumes its session")

	copyFile(t, f.caFile, caFile)
	require.NoError(t, r.Reload())
	_, err = dial(t, srv.addr(), ccfg)
	require.Error(t, err)
	require.ErrorIs(t, srv.handshakeErr(t), tlsconf.ErrUntrusted)
}
