package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/tlsconf"
	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

func TestClientListener(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		serverCert *tlstest.Leaf
		clientCA   string        // client_tls_ca_file; empty: none
		clientCert *tlstest.Leaf // nil: the client has none
		roots      *tlstest.CA   // what the client trusts
		maxVersion uint16
		serverErr  string // "" means the handshake succeeds
		clientErr  string
		untrusted  bool // the server's error is tlsconf.ErrUntrusted
	}{
		{name: "without a client CA a client without a certificate connects",
			serverCert: f.server, roots: f.ca},
		{name: "without a client CA a client with a certificate connects too",
			serverCert: f.server, clientCert: f.other, roots: f.ca},
		{name: "with a client CA a certificate it issued is accepted",
			serverCert: f.server, clientCA: f.caFile, clientCert: f.client, roots: f.ca},
		{name: "with a CA bundle a certificate from either CA is accepted",
			serverCert: f.server, clientCA: f.bundleFile, clientCert: f.other, roots: f.ca},
		{name: "with a client CA a client without a certificate is rejected",
			serverCert: f.server, clientCA: f.caFile, roots: f.ca,
			serverErr: "client didn't provide a certificate", clientErr: "certificate required"},
		{name: "with a client CA a certificate from another CA is rejected",
			serverCert: f.server, clientCA: f.caFile, clientCert: f.other, roots: f.ca,
			serverErr: "unknown authority", clientErr: "bad certificate", untrusted: true},
		{name: "with a client CA a self-signed certificate is rejected",
			serverCert: f.server, clientCA: f.caFile, clientCert: f.selfSigned, roots: f.ca,
			serverErr: "unknown authority", clientErr: "bad certificate", untrusted: true},
		{name: "with a client CA an expired certificate it issued is rejected",
			serverCert: f.server, clientCA: f.caFile, clientCert: f.expired, roots: f.ca,
			serverErr: "expired", clientErr: "bad certificate", untrusted: true},
		{name: "with a client CA a certificate it issued that is not valid yet is rejected",
			serverCert: f.server, clientCA: f.caFile, clientCert: f.notYetValid, roots: f.ca,
			serverErr: "not yet valid", clientErr: "bad certificate", untrusted: true},
		{name: "a client that trusts another CA rejects the server",
			serverCert: f.server, roots: f.otherCA,
			serverErr: "bad certificate", clientErr: "unknown authority"},
		{name: "a client rejects an expired server certificate",
			serverCert: f.expired, roots: f.ca,
			serverErr: "bad certificate", clientErr: "expired"},
		{name: "a client rejects a self-signed server certificate",
			serverCert: f.selfSigned, roots: f.ca,
			serverErr: "bad certificate", clientErr: "unknown authority"},
		{name: "a TLS 1.1 client is refused",
			serverCert: f.server, roots: f.ca, maxVersion: tls.VersionTLS11,
			serverErr: "unsupported versions", clientErr: "protocol version"},
		{name: "a TLS 1.2 client is served",
			serverCert: f.server, clientCA: f.caFile, clientCert: f.client, roots: f.ca, maxVersion: tls.VersionTLS12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, r, err := tlsconf.ClientListenerConfig(tt.serverCert.CertFile, tt.serverCert.KeyFile, tt.clientCA)
			require.NoError(t, err)
			require.Equal(t, tt.serverCert.Cert.SerialNumber, r.Certificate().Leaf.SerialNumber)
			srv := startServer(t, cfg)

			ccfg := &tls.Config{RootCAs: tt.roots.Pool(), ServerName: "localhost", MaxVersion: tt.maxVersion}
			if tt.maxVersion != 0 {
				ccfg.MinVersion = tls.VersionTLS10
			}
			if tt.clientCert != nil {
				ccfg.Certificates = []tls.Certificate{tt.clientCert.TLSCertificate()}
			}
			conn, cerr := dial(t, srv.addr(), ccfg)
			serr := srv.handshakeErr(t)
			if tt.serverErr == "" {
				require.NoError(t, cerr)
				require.NoError(t, serr)
				require.Equal(t, tt.serverCert.Cert.SerialNumber, peerSerial(conn))
				return
			}
			require.ErrorContains(t, serr, tt.serverErr)
			require.ErrorContains(t, cerr, tt.clientErr)
			require.Equal(t, tt.untrusted, errors.Is(serr, tlsconf.ErrUntrusted), "server error: %v", serr)
			require.False(t, tlsconf.IsPlaintext(serr))
		})
	}
}

// A client that does not speak TLS (redis-cli without --tls, a memcached
// client, an upstream peer) gets its connection closed: no reply, no hang,
// and the server can tell it apart from a failed TLS client.
func TestClientListenerPlainClientFailsCleanly(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		send      string
		plaintext bool // tlsconf.IsPlaintext(server's error)
	}{
		{name: "a RESP command", send: "*1\r\n$4\r\nPING\r\n", plaintext: true},
		{name: "an inline command", send: "PING\r\n", plaintext: true},
		{name: "a memcached command", send: "get foo\r\n", plaintext: true},
		{name: "an upstream peer frame", send: "   $2014$ 1 3 0 1 1 *1 d *0\r\n*1\r\n$4\r\nPING\r\n", plaintext: true},
		{name: "an HTTP request", send: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", plaintext: true},
		{name: "a client that closes without sending", send: "", plaintext: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := tlsconf.ClientListenerConfig(f.server.CertFile, f.server.KeyFile, f.caFile)
			require.NoError(t, err)
			srv := startServer(t, cfg)

			c, err := net.DialTimeout("tcp", srv.addr(), ioTimeout)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
			if tt.send == "" {
				require.NoError(t, c.(*net.TCPConn).CloseWrite())
			} else {
				_, err = io.WriteString(c, tt.send)
				require.NoError(t, err)
			}
			// The server closes the connection: the client reads at most
			// a TLS alert, then EOF, and never times out.
			got, err := io.ReadAll(c)
			require.NoError(t, err, "read until the server closed")
			require.NotContains(t, string(got), "PONG")
			require.NotContains(t, string(got), "HTTP/")

			serr := srv.handshakeErr(t)
			require.Error(t, serr)
			require.Equal(t, tt.plaintext, tlsconf.IsPlaintext(serr), "server error: %v", serr)
		})
	}
}

func TestClientListenerConfigErrors(t *testing.T) {
	f := newFixture(t)
	garbage := f.dir + "/garbage.pem"
	require.NoError(t, os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600))
	missing := f.dir + "/missing.pem"
	tests := []struct {
		name                      string
		certFile, keyFile, caFile string
		wantErr                   string
	}{
		{name: "a missing certificate file is named",
			certFile: missing, keyFile: f.server.KeyFile, wantErr: "certificate file " + missing + ": no such file"},
		{name: "a missing key file is named",
			certFile: f.server.CertFile, keyFile: missing, wantErr: "key file " + missing + ": no such file"},
		{name: "a missing CA file is named",
			certFile: f.server.CertFile, keyFile: f.server.KeyFile, caFile: missing, wantErr: "CA file " + missing + ": no such file"},
		{name: "a certificate file that is not PEM is named",
			certFile: garbage, keyFile: f.server.KeyFile, wantErr: "certificate file " + garbage + ": no PEM CERTIFICATE block"},
		{name: "a key file that is not PEM is named",
			certFile: f.server.CertFile, keyFile: garbage, wantErr: "key file " + garbage},
		{name: "a CA file that is not PEM is named",
			certFile: f.server.CertFile, keyFile: f.server.KeyFile, caFile: garbage, wantErr: "CA file " + garbage + ": no PEM CERTIFICATE block"},
		{name: "a key that does not match the certificate is named",
			certFile: f.server.CertFile, keyFile: f.client.KeyFile, wantErr: "key file " + f.client.KeyFile + " (for certificate file " + f.server.CertFile + "): tls: private key does not match public key"},
		{name: "a key file given as the certificate file is refused",
			certFile: f.server.KeyFile, keyFile: f.server.KeyFile, wantErr: "certificate file " + f.server.KeyFile + ": no PEM CERTIFICATE block"},
		{name: "an empty certificate path is refused",
			keyFile: f.server.KeyFile, wantErr: "a certificate file and a key file are both required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, r, err := tlsconf.ClientListenerConfig(tt.certFile, tt.keyFile, tt.caFile)
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, cfg)
			require.Nil(t, r)
		})
	}
}
