// Package tlstest writes throwaway certificate authorities, certificates and
// keys as PEM files, for tests (this package's and the end-to-end tests) and
// for trying TLS out by hand. Nothing here is meant for production keys.
//
// Keys are ECDSA P-256 (fast to generate, even under -race), written as
// PKCS#8 "PRIVATE KEY" blocks with mode 0600; certificates are written with
// mode 0644. Every file is written to a temporary name and renamed into
// place, so a concurrent reader (a Reload) sees the old file or the new one,
// never half of one. File names carry the serial number, so any number of
// CAs and certificates can share a directory.
//
//	ca, err := tlstest.GenerateCA(t.TempDir())
//	leaf, err := tlstest.GenerateLeaf(ca, "localhost", "127.0.0.1")
//	// leaf.CertFile, leaf.KeyFile, ca.CertFile are ready for the proxy's
//	// configuration; ca.Pool() and leaf.TLSCertificate() for a Go client.
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority whose certificate and key are PEM files.
type CA struct {
	// Dir is where GenerateLeaf writes the certificates this CA issues.
	Dir string
	// CertFile and KeyFile are the CA certificate and its private key.
	CertFile, KeyFile string
	Cert              *x509.Certificate
	Key               crypto.Signer
}

// Leaf is a certificate and its private key, both as PEM files.
type Leaf struct {
	CertFile, KeyFile string
	Cert              *x509.Certificate
	Key               crypto.Signer
}

// Options shape a certificate made by [CA.Issue] or [SelfSigned].
type Options struct {
	// Names become the subject alternative names: IP addresses when they
	// parse as one, DNS names otherwise. The first is also the common name.
	// Empty: localhost, 127.0.0.1 and ::1.
	Names []string
	// NotBefore and NotAfter bound the validity. Zero: one hour ago, and a
	// year from now. A NotAfter in the past makes an expired certificate.
	NotBefore, NotAfter time.Time
	// Serial is the serial number. Nil: a random positive 63-bit number.
	Serial *big.Int
	// Dir is where the files go. Empty: the CA's Dir ([CA.Issue]); required
	// for [SelfSigned].
	Dir string
}

// GenerateCA creates a self-signed CA valid for ten years and writes its
// certificate and key into dir, as ca-<serial>.crt and ca-<serial>.key.
func GenerateCA(dir string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dynomite test CA " + serial.Text(16), Organization: []string{"dynomite-go"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, err := create(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "ca-"+serial.Text(16))
	ca := &CA{Dir: dir, CertFile: base + ".crt", KeyFile: base + ".key", Cert: cert, Key: key}
	if err := writePair(ca.CertFile, ca.KeyFile, cert, key); err != nil {
		return nil, err
	}
	return ca, nil
}

// GenerateLeaf issues a certificate for names (see [Options.Names]) signed by
// ca, usable by servers and clients alike (extended key usages serverAuth
// and clientAuth, as a peer needs both), and writes it into ca.Dir as
// leaf-<serial>.crt and leaf-<serial>.key.
func GenerateLeaf(ca *CA, names ...string) (*Leaf, error) {
	return ca.Issue(Options{Names: names})
}

// Issue is [GenerateLeaf] with every option.
func (ca *CA) Issue(opts Options) (*Leaf, error) {
	if opts.Dir == "" {
		opts.Dir = ca.Dir
	}
	return issue(opts, ca.Cert, ca.Key)
}

// SelfSigned makes a leaf certificate signed by its own key: no CA trusts
// it. opts.Dir is required.
func SelfSigned(opts Options) (*Leaf, error) {
	if opts.Dir == "" {
		return nil, errors.New("tlstest: SelfSigned needs Options.Dir")
	}
	return issue(opts, nil, nil)
}

// Pool returns a pool holding only the CA's certificate, for a client's
// RootCAs or a server's ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// TLSCertificate returns the leaf as a [tls.Certificate], for a Go client's
// Certificates.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

// WriteCABundle writes the certificates of several CAs into one PEM file,
// as a CA file in the middle of a rotation holds the old and the new CA.
func WriteCABundle(path string, cas ...*CA) error {
	var b []byte
	for _, ca := range cas {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})...)
	}
	return WriteFile(path, b, 0o644)
}

// CopyTo writes the leaf's certificate and key to certPath and keyPath
// (each atomically, key first), as an operator replaces the files a running
// node reads.
func (l *Leaf) CopyTo(certPath, keyPath string) error {
	if err := writeKey(keyPath, l.Key); err != nil {
		return err
	}
	return writeCert(certPath, l.Cert)
}

// WriteRSAKey generates an RSA key of bits bits and writes it to path, as
// PKCS#1 ("RSA PRIVATE KEY", what upstream's conf/dynomite.pem holds) or,
// with pkcs8, as PKCS#8 ("PRIVATE KEY"). It is the shared key of
// secure_server_option in upstream's form (pem_key_file).
func WriteRSAKey(path string, bits int, pkcs8 bool) (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("tlstest: generate RSA key: %w", err)
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if pkcs8 {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("tlstest: marshal key: %w", err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	if err := WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// WriteFile writes data to path through a temporary file in the same
// directory and a rename, so readers never see a partial file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tlstest-*")
	if err != nil {
		return fmt.Errorf("tlstest: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("tlstest: write %s: %w", path, err)
	}
	return nil
}

func issue(opts Options, parent *x509.Certificate, parentKey crypto.Signer) (*Leaf, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial := opts.Serial
	if serial == nil {
		if serial, err = randomSerial(); err != nil {
			return nil, err
		}
	}
	names := opts.Names
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1", "::1"}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"dynomite-go"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if !opts.NotBefore.IsZero() {
		tmpl.NotBefore = opts.NotBefore
	}
	if !opts.NotAfter.IsZero() {
		tmpl.NotAfter = opts.NotAfter
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	cert, err := create(tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(opts.Dir, "leaf-"+serial.Text(16))
	l := &Leaf{CertFile: base + ".crt", KeyFile: base + ".key", Cert: cert, Key: key}
	if err := writePair(l.CertFile, l.KeyFile, cert, key); err != nil {
		return nil, err
	}
	return l, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlstest: generate key: %w", err)
	}
	return key, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, fmt.Errorf("tlstest: serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("tlstest: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlstest: parse certificate: %w", err)
	}
	return cert, nil
}

func writePair(certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	if err := writeCert(certPath, cert); err != nil {
		return err
	}
	return writeKey(keyPath, key)
}

func writeCert(path string, cert *x509.Certificate) error {
	return WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlstest: marshal key: %w", err)
	}
	return WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
