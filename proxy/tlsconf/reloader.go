package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// Errors a handshake can fail with on the verifying side. They are wrapped;
// test with [errors.Is].
var (
	// ErrNoPeerCertificate: the other side presented no certificate.
	ErrNoPeerCertificate = errors.New("tlsconf: no peer certificate")
	// ErrUntrusted: the other side's certificate does not chain to the CA
	// file, is expired or not yet valid, or has the wrong key usage.
	ErrUntrusted = errors.New("tlsconf: peer certificate not trusted")
	// ErrWrongKey: in shared-key mode, the other side's certificate is not
	// for the shared key.
	ErrWrongKey = errors.New("tlsconf: peer certificate is not for the shared key")
)

// Reloader holds a certificate, its private key and, optionally, a pool of
// CA certificates, all read from files, and serves them to [tls.Config]
// callbacks: [Reloader.GetCertificate], [Reloader.GetClientCertificate],
// [Reloader.VerifyClient] and [Reloader.VerifyServer]. [Reloader.Reload]
// re-reads the files and swaps everything at once; handshakes that start
// afterwards use the new material, connections already established are not
// touched. The zero value is not usable; make one with [NewReloader].
//
// Every method is safe for concurrent use. The handshake callbacks take no
// lock.
type Reloader struct {
	certFile, keyFile, caFile string

	mu  sync.Mutex // serialises Reload; readers use cur only
	cur atomic.Pointer[material]
}

// material is one consistent set of what the files held.
type material struct {
	cert  *tls.Certificate // Leaf is set
	roots *x509.CertPool   // nil without a CA file
}

// NewReloader reads certFile (a PEM certificate, optionally followed by its
// intermediates), keyFile (its PEM private key: PKCS#1, PKCS#8 or SEC 1)
// and, when caFile is not empty, caFile (one or more PEM CA certificates:
// during a CA rotation, the old and the new). An error names the file at
// fault.
func NewReloader(certFile, keyFile, caFile string) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tlsconf: a certificate file and a key file are both required")
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, caFile: caFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the files. On success the new certificate, key and CA
// pool replace the old ones together. On failure (a file missing or
// unreadable, not PEM, a key that does not match the certificate) nothing
// changes: the previous material stays in use, and the error names the
// file. The proxy calls it on SIGHUP.
//
// Replace the key file before the certificate file (or both before calling
// Reload): a Reload that reads a new certificate with the old key fails,
// harmlessly, with a key mismatch.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := load(r.certFile, r.keyFile, r.caFile)
	if err != nil {
		return err
	}
	r.cur.Store(m)
	return nil
}

// Certificate returns the certificate in use; its Leaf is set (the serial
// number and expiry, for logs and metrics). Do not modify it.
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load().cert }

// Roots returns the CA pool in use, nil without a CA file. Do not modify it.
func (r *Reloader) Roots() *x509.CertPool { return r.cur.Load().roots }

// GetCertificate is a [tls.Config.GetCertificate] that returns the current
// certificate whatever the client asks for.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// GetClientCertificate is a [tls.Config.GetClientCertificate] that returns
// the current certificate whatever the server asks for.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// VerifyClient is a server's [tls.Config.VerifyConnection]: the client's
// certificate must chain to the current CA pool, be valid now and allow
// client authentication. Host names are not checked. Use it with
// ClientAuth [tls.RequireAnyClientCert], so that crypto/tls asks for a
// certificate and leaves the verification to this function.
func (r *Reloader) VerifyClient(cs tls.ConnectionState) error {
	return verifyChain(r.cur.Load().roots, cs, x509.ExtKeyUsageClientAuth)
}

// VerifyServer is a client's [tls.Config.VerifyConnection]: the server's
// certificate must chain to the current CA pool, be valid now and allow
// server authentication. Host names are not checked: a certificate issued
// by the cluster CA is a cluster member. Use it with InsecureSkipVerify,
// which turns off crypto/tls's own verification (and only that).
func (r *Reloader) VerifyServer(cs tls.ConnectionState) error {
	return verifyChain(r.cur.Load().roots, cs, x509.ExtKeyUsageServerAuth)
}

func verifyChain(roots *x509.CertPool, cs tls.ConnectionState, usage x509.ExtKeyUsage) error {
	if roots == nil {
		// A configuration that verifies always has a CA file; fail closed.
		return fmt.Errorf("%w: no CA file configured", ErrUntrusted)
	}
	if len(cs.PeerCertificates) == 0 {
		return ErrNoPeerCertificate
	}
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}
	if len(cs.PeerCertificates) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("%w: subject %q, serial %s: %w", ErrUntrusted, leaf.Subject.String(), leaf.SerialNumber.Text(16), err)
	}
	return nil
}

func load(certFile, keyFile, caFile string) (*material, error) {
	certPEM, err := readFile("certificate", certFile)
	if err != nil {
		return nil, err
	}
	chain, err := parseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: certificate file %s: %w", certFile, err)
	}
	keyPEM, err := readFile("key", keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: key file %s (for certificate file %s): %w", keyFile, certFile, err)
	}
	cert.Leaf = chain[0]
	m := &material{cert: &cert}
	if caFile != "" {
		caPEM, err := readFile("CA", caFile)
		if err != nil {
			return nil, err
		}
		cas, err := parseCertificates(caPEM)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: CA file %s: %w", caFile, err)
		}
		m.roots = x509.NewCertPool()
		for _, c := range cas {
			m.roots.AddCert(c)
		}
	}
	return m, nil
}

// readFile reads a file; the error names what the file is and its path once.
func readFile(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("tlsconf: %s file %s: %w", what, path, err)
	}
	return b, nil
}

// parseCertificates returns every CERTIFICATE block of a PEM file, in order.
// Other blocks are skipped (a bundle may carry comments or keys); a
// CERTIFICATE block that does not parse is an error, and so is a file with
// none.
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}
