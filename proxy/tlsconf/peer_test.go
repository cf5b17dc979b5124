package tlsconf_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/tlsconf"
	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

// node is one side's pair of peer configurations.
type node struct{ server, client *tls.Config }

// link dials from a to b's peer listener and returns each side's error.
func link(t *testing.T, from, to node) (clientErr, serverErr error) {
	t.Helper()
	srv := startServer(t, to.server)
	_, clientErr = dial(t, srv.addr(), from.client)
	return clientErr, srv.handshakeErr(t)
}

func TestPeerConfigsClusterCA(t *testing.T) {
	f := newFixture(t)
	mk := func(l *tlstest.Leaf, caFile string) node {
		s, c, _, err := tlsconf.PeerConfigs(l.CertFile, l.KeyFile, caFile)
		require.NoError(t, err)
		require.Equal(t, uint16(tls.VersionTLS13), s.MinVersion)
		require.Equal(t, uint16(tls.VersionTLS13), c.MinVersion)
		return node{s, c}
	}
	a := mk(f.server, f.caFile)
	tests := []struct {
		name string
		// peer is the other node; it trusts both CAs, so that any
		// rejection is a's.
		peer  node
		allow bool
	}{
		{name: "a node with a certificate from the cluster CA is accepted both ways",
			peer: mk(f.client, f.bundleFile), allow: true},
		{name: "a node with a certificate from another CA is rejected both ways",
			peer: mk(f.other, f.bundleFile)},
		{name: "a node with a self-signed certificate is rejected both ways",
			peer: mk(f.selfSigned, f.bundleFile)},
		{name: "a node with an expired certificate from the cluster CA is rejected both ways",
			peer: mk(f.expired, f.bundleFile)},
		{name: "a node with a certificate from the cluster CA not valid yet is rejected both ways",
			peer: mk(f.notYetValid, f.bundleFile)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The peer dials a: a's server side judges.
			cerr, serr := link(t, tt.peer, a)
			if tt.allow {
				require.NoError(t, cerr)
				require.NoError(t, serr)
			} else {
				require.Error(t, cerr)
				require.ErrorIs(t, serr, tlsconf.ErrUntrusted)
			}
			// a dials the peer: a's client side judges.
			cerr, serr = link(t, a, tt.peer)
			if tt.allow {
				require.NoError(t, cerr)
				require.NoError(t, serr)
			} else {
				require.ErrorIs(t, cerr, tlsconf.ErrUntrusted)
				require.Error(t, serr)
			}
		})
	}

	t.Run("a client without a certificate is rejected", func(t *testing.T) {
		srv := startServer(t, a.server)
		_, err := dial(t, srv.addr(), &tls.Config{InsecureSkipVerify: true})
		require.Error(t, err)
		require.ErrorContains(t, srv.handshakeErr(t), "client didn't provide a certificate")
	})
	t.Run("a TLS 1.2 client is refused", func(t *testing.T) {
		srv := startServer(t, a.server)
		_, err := dial(t, srv.addr(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
			Certificates: []tls.Certificate{f.client.TLSCertificate()}})
		require.ErrorContains(t, err, "protocol version")
		require.ErrorContains(t, srv.handshakeErr(t), "unsupported versions")
	})
	t.Run("a CA file is required", func(t *testing.T) {
		_, _, _, err := tlsconf.PeerConfigs(f.server.CertFile, f.server.KeyFile, "")
		require.ErrorContains(t, err, "peer_tls_ca_file")
	})
}

// keyFiles writes the shared keys the tests use once: RSA generation is
// slow under -race.
type keyFiles struct {
	rsa1024, rsa2048, rsa2048PKCS8, other string
	key2048                               crypto.Signer
}

func newKeyFiles(t *testing.T) keyFiles {
	t.Helper()
	dir := t.TempDir()
	var k keyFiles
	k.rsa1024 = filepath.Join(dir, "dynomite-1024.pem")
	_, err := tlstest.WriteRSAKey(k.rsa1024, 1024, false)
	require.NoError(t, err)
	k.rsa2048 = filepath.Join(dir, "dynomite.pem")
	key, err := tlstest.WriteRSAKey(k.rsa2048, 2048, false)
	require.NoError(t, err)
	k.key2048 = key
	// The same key as PKCS#8.
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	k.rsa2048PKCS8 = filepath.Join(dir, "dynomite-pkcs8.pem")
	require.NoError(t, os.WriteFile(k.rsa2048PKCS8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	k.other = filepath.Join(dir, "other.pem")
	_, err = tlstest.WriteRSAKey(k.other, 2048, true)
	require.NoError(t, err)
	return k
}

func sharedNode(t *testing.T, file string) node {
	t.Helper()
	s, c, err := tlsconf.SharedKeyConfigs(file)
	require.NoError(t, err)
	return node{s, c}
}

func TestSharedKeyConfigs(t *testing.T) {
	keys := newKeyFiles(t)
	f := newFixture(t)

	t.Run("nodes with the same key connect both ways", func(t *testing.T) {
		for _, tt := range []struct{ name, a, b string }{
			{"PKCS#1, 1024 bits (upstream's sample size)", keys.rsa1024, keys.rsa1024},
			{"PKCS#1, 2048 bits", keys.rsa2048, keys.rsa2048},
			{"PKCS#8", keys.rsa2048PKCS8, keys.rsa2048PKCS8},
			{"the same key as PKCS#1 on one node and PKCS#8 on the other", keys.rsa2048, keys.rsa2048PKCS8},
		} {
			t.Run(tt.name, func(t *testing.T) {
				a, b := sharedNode(t, tt.a), sharedNode(t, tt.b)
				cerr, serr := link(t, a, b)
				require.NoError(t, cerr)
				require.NoError(t, serr)
				cerr, serr = link(t, b, a)
				require.NoError(t, cerr)
				require.NoError(t, serr)
			})
		}
	})

	t.Run("a node with another key is rejected both ways", func(t *testing.T) {
		a, c := sharedNode(t, keys.rsa2048), sharedNode(t, keys.other)
		// c dials a: a's server rejects c's key (and c, whose own check
		// fails first on a's key, aborts as well).
		cerr, serr := link(t, c, a)
		require.Error(t, cerr)
		require.Error(t, serr)
		require.True(t, errors.Is(cerr, tlsconf.ErrWrongKey) || errors.Is(serr, tlsconf.ErrWrongKey))
		// a dials c: a's client rejects c's key.
		cerr, serr = link(t, a, c)
		require.ErrorIs(t, cerr, tlsconf.ErrWrongKey)
		require.Error(t, serr)
	})

	// Isolate each side's check: the other side is a plain Go TLS peer that
	// accepts anything.
	a := sharedNode(t, keys.rsa2048)
	anyServer := func(cert tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert}
	}
	anyClient := func(cert tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}
	}
	shared, err := tlsconf.SharedKeyCertificate(keys.key2048)
	require.NoError(t, err)
	// A certificate for the shared key with other names, dates and issuer:
	// only the key counts.
	odd := certFor(t, keys.key2048, "somebody else", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	tests := []struct {
		name    string
		cert    tls.Certificate
		wantErr error // nil: accepted
	}{
		{name: "the derived certificate is accepted", cert: *shared},
		{name: "another certificate for the shared key is accepted (names, dates and issuer are ignored)", cert: odd},
		{name: "a certificate from a CA for another key is rejected", cert: f.client.TLSCertificate(), wantErr: tlsconf.ErrWrongKey},
		{name: "a self-signed certificate for another key is rejected", cert: f.selfSigned.TLSCertificate(), wantErr: tlsconf.ErrWrongKey},
	}
	for _, tt := range tests {
		t.Run("as server: "+tt.name, func(t *testing.T) {
			srv := startServer(t, a.server)
			_, cerr := dial(t, srv.addr(), anyClient(tt.cert))
			serr := srv.handshakeErr(t)
			if tt.wantErr == nil {
				require.NoError(t, cerr)
				require.NoError(t, serr)
				return
			}
			require.Error(t, cerr)
			require.ErrorIs(t, serr, tt.wantErr)
		})
		t.Run("as client: "+tt.name, func(t *testing.T) {
			srv := startServer(t, anyServer(tt.cert))
			_, cerr := dial(t, srv.addr(), a.client)
			serr := srv.handshakeErr(t)
			if tt.wantErr == nil {
				require.NoError(t, cerr)
				require.NoError(t, serr)
				return
			}
			require.ErrorIs(t, cerr, tt.wantErr)
			require.Error(t, serr)
		})
	}
	t.Run("as server: a client without a certificate is rejected", func(t *testing.T) {
		srv := startServer(t, a.server)
		_, err := dial(t, srv.addr(), &tls.Config{InsecureSkipVerify: true})
		require.Error(t, err)
		require.ErrorContains(t, srv.handshakeErr(t), "client didn't provide a certificate")
	})
}

func TestSharedKeyCertificateIsDeterministic(t *testing.T) {
	keys := newKeyFiles(t)
	k1, err := os.ReadFile(keys.rsa2048)
	require.NoError(t, err)
	k8, err := os.ReadFile(keys.rsa2048PKCS8)
	require.NoError(t, err)
	key1, err := tlsconf.ParseSharedKey(k1)
	require.NoError(t, err)
	key8, err := tlsconf.ParseSharedKey(k8)
	require.NoError(t, err)
	c1, err := tlsconf.SharedKeyCertificate(key1)
	require.NoError(t, err)
	c8, err := tlsconf.SharedKeyCertificate(key8)
	require.NoError(t, err)
	require.True(t, bytes.Equal(c1.Certificate[0], c8.Certificate[0]), "the same key derives the same certificate, byte for byte")

	leaf := c1.Leaf
	require.Equal(t, tlsconf.SharedKeyCommonName, leaf.Subject.CommonName)
	require.Equal(t, leaf.Subject.String(), leaf.Issuer.String())
	require.Equal(t, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), leaf.NotBefore)
	require.Equal(t, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), leaf.NotAfter)
	require.ElementsMatch(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
	require.NoError(t, leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature), "self-signed")

	other, err := tlsconf.SharedKeyCertificate(mustKey(t, keys.other))
	require.NoError(t, err)
	require.NotEqual(t, leaf.SerialNumber, other.Leaf.SerialNumber)
}

func TestSharedKeyConfigsErrors(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t)
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	pubDER, err := x509.MarshalPKIXPublicKey(f.ca.Key.Public())
	require.NoError(t, err)
	tests := []struct {
		name, path, wantErr string
	}{
		{name: "a missing file", path: filepath.Join(dir, "missing.pem"), wantErr: "missing.pem: no such file or directory"},
		{name: "a file that is not PEM", path: file("text.pem", "hello\n"), wantErr: "text.pem: no PEM private key block"},
		{name: "a public key only", path: file("pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))),
			wantErr: "pub.pem: no PEM private key block"},
		{name: "a certificate only", path: f.ca.CertFile, wantErr: ": no PEM private key block"},
		{name: "a corrupt PKCS#1 block", path: file("bad1.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("nope")}))),
			wantErr: "bad1.pem: RSA PRIVATE KEY block:"},
		{name: "a corrupt PKCS#8 block", path: file("bad8.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("nope")}))),
			wantErr: "bad8.pem: PRIVATE KEY block:"},
		{name: "a legacy encrypted PEM key", path: file("enc.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte("x")}))),
			wantErr: "enc.pem: encrypted private keys are not supported"},
		{name: "a PKCS#8 encrypted key", path: file("enc8.pem", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("x")}))),
			wantErr: "enc8.pem: encrypted private keys are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, err := tlsconf.SharedKeyConfigs(tt.path)
			require.ErrorContains(t, err, "pem_key_file")
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, s)
			require.Nil(t, c)
		})
	}
	t.Run("an ECDSA key in PKCS#8 works too", func(t *testing.T) {
		a := sharedNode(t, f.ca.KeyFile)
		cerr, serr := link(t, a, a)
		require.NoError(t, cerr)
		require.NoError(t, serr)
	})
}

func mustKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	k, err := tlsconf.ParseSharedKey(b)
	require.NoError(t, err)
	return k
}

// certFor makes a self-signed certificate for key with arbitrary fields.
func certFor(t *testing.T, key crypto.Signer, cn string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
