package tlsconf

import (
	"crypto/tls"
	"errors"
)

// Minimum protocol versions. Clients of the client listener include
// redis-cli and language drivers built on older OpenSSL, so TLS 1.2 stays
// allowed there; peer links join our own nodes only and use TLS 1.3.
const (
	ClientMinVersion = tls.VersionTLS12
	PeerMinVersion   = tls.VersionTLS13
)

// ClientListenerConfig returns the configuration of the TLS client listener
// (keys client_tls_cert_file, client_tls_key_file, client_tls_ca_file) and
// the Reloader behind it.
//
// The listener serves certFile and keyFile, TLS 1.2 and later, with
// crypto/tls's default cipher suites (forward-secret AEAD suites only).
// With an empty clientCAFile clients are not asked for a certificate. With
// one, every client must present a certificate that chains to a CA in
// clientCAFile, is valid now and allows client authentication; host names
// are not checked. A handshake without one fails. This is how Memcached
// clients, whose protocol has no AUTH, authenticate.
//
// The returned *tls.Config never changes: the certificate and the CA pool
// come from the Reloader at every handshake, so [Reloader.Reload] takes
// effect without rebuilding the configuration or the listener.
func ClientListenerConfig(certFile, keyFile, clientCAFile string) (*tls.Config, *Reloader, error) {
	r, err := NewReloader(certFile, keyFile, clientCAFile)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		MinVersion:     ClientMinVersion,
		GetCertificate: r.GetCertificate,
	}
	if clientCAFile != "" {
		// RequireAnyClientCert makes crypto/tls ask for a certificate and
		// insist on one; VerifyClient then checks it against the pool in
		// use at this handshake (ClientCAs would be fixed at construction).
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.VerifyConnection = r.VerifyClient
	}
	return cfg, r, nil
}

// PeerConfigs returns the configurations of peer links under a cluster CA
// (keys peer_tls_cert_file, peer_tls_key_file, peer_tls_ca_file): server for
// the peer listener (dyn_listen), client for dialing peers, and the
// Reloader both share.
//
// Both sides present certFile and require the other side's certificate to
// chain to a CA in caFile, be valid now and allow, respectively, client
// and server authentication (so a node's certificate needs both extended
// key usages, or none). Host names are not checked: membership of the
// cluster is a certificate from the cluster's CA, which must therefore be
// a CA dedicated to the cluster. TLS 1.3 only.
func PeerConfigs(certFile, keyFile, caFile string) (server, client *tls.Config, r *Reloader, err error) {
	if caFile == "" {
		return nil, nil, nil, errors.New("tlsconf: peer TLS needs a CA file (peer_tls_ca_file)")
	}
	r, err = NewReloader(certFile, keyFile, caFile)
	if err != nil {
		return nil, nil, nil, err
	}
	server = &tls.Config{
		MinVersion:       PeerMinVersion,
		GetCertificate:   r.GetCertificate,
		ClientAuth:       tls.RequireAnyClientCert,
		VerifyConnection: r.VerifyClient,
	}
	client = &tls.Config{
		MinVersion:           PeerMinVersion,
		GetClientCertificate: r.GetClientCertificate,
		// Not insecure: VerifyConnection verifies the chain against the
		// pool in use at this handshake, instead of a RootCAs fixed here.
		InsecureSkipVerify: true,
		VerifyConnection:   r.VerifyServer,
	}
	return server, client, r, nil
}

// IsPlaintext reports whether a server-side handshake failed because the
// client does not speak TLS (for example redis-cli without --tls on the TLS
// port), as opposed to a TLS client that failed to authenticate. The proxy
// can count the two apart; either way it closes the connection.
func IsPlaintext(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh)
}
