package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// The fixed fields of the certificate derived from a shared key. Only the
// key is ever checked; the rest is fixed so that every node derives the
// same certificate.
var (
	sharedNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// RFC 5280 §4.1.2.5: 99991231235959Z means "no well-defined expiration".
	sharedNotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// SharedKeyCommonName is the subject of the certificate derived from the
// shared key.
const SharedKeyCommonName = "dynomite shared key"

// SharedKeyConfigs returns the configurations of peer links in upstream's
// form: secure_server_option with only pem_key_file, one private key that
// every node holds. server is for the peer listener, client for dialing
// peers.
//
// The key is an RSA key in a PEM file, PKCS#1 ("RSA PRIVATE KEY", as
// upstream's conf/dynomite.pem) or PKCS#8 ("PRIVATE KEY"); ECDSA and
// Ed25519 keys in PKCS#8 or SEC 1 are accepted too. Encrypted PEM is not.
// From it each node derives the same self-signed certificate (see
// [SharedKeyCertificate]) and presents it on both sides of a link. Each
// side accepts the other exactly when the other's leaf certificate carries
// the shared public key (its SubjectPublicKeyInfo is byte for byte the
// shared key's); names, validity dates and chains are ignored, and anything
// else is rejected with [ErrWrongKey]. The TLS handshake itself proves that
// the other side holds the private key. TLS 1.3 only.
//
// The key cannot be reloaded: changing it means restarting every node
// (with the cluster CA mode, [PeerConfigs], certificates reload).
func SharedKeyConfigs(pemKeyFile string) (server, client *tls.Config, err error) {
	b, err := readFile("pem_key_file", pemKeyFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := ParseSharedKey(b)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: pem_key_file %s: %w", pemKeyFile, err)
	}
	cert, err := SharedKeyCertificate(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: pem_key_file %s: %w", pemKeyFile, err)
	}
	verify := sharedKeyVerifier(cert.Leaf.RawSubjectPublicKeyInfo)
	server = &tls.Config{
		MinVersion:       PeerMinVersion,
		Certificates:     []tls.Certificate{*cert},
		ClientAuth:       tls.RequireAnyClientCert,
		VerifyConnection: verify,
	}
	client = &tls.Config{
		MinVersion:   PeerMinVersion,
		Certificates: []tls.Certificate{*cert},
		// Not insecure: VerifyConnection accepts exactly the shared key,
		// which no chain or host name check could express.
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
	}
	return server, client, nil
}

func sharedKeyVerifier(spki []byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return ErrNoPeerCertificate
		}
		leaf := cs.PeerCertificates[0]
		if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, spki) {
			return fmt.Errorf("%w (subject %q)", ErrWrongKey, leaf.Subject.String())
		}
		return nil
	}
}

// ParseSharedKey parses the first private key block of a PEM file: PKCS#1
// "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" (RSA, ECDSA or Ed25519) or SEC 1
// "EC PRIVATE KEY". Other blocks before it (parameters, a certificate) are
// skipped.
func ParseSharedKey(pemBytes []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, pemBytes = pem.Decode(pemBytes)
		if block == nil {
			return nil, errors.New("no PEM private key block")
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			continue
		}
		if _, enc := block.Headers["DEK-Info"]; enc {
			return nil, errors.New("encrypted private keys are not supported")
		}
		if err != nil {
			return nil, fmt.Errorf("%s block: %w", block.Type, err)
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
	}
}

// SharedKeyCertificate derives the self-signed certificate every node
// presents in shared-key mode. Its fields depend on the key only: the
// serial number is the first 16 bytes of the SHA-256 of the public key
// (SubjectPublicKeyInfo, top bit cleared), the subject and issuer are
// [SharedKeyCommonName], the validity runs from 2000-01-01 to 9999-12-31
// (RFC 5280's "no expiration"), and the extended key usages are server and
// client authentication. With an RSA key the certificate is identical byte
// for byte on every node (PKCS#1 v1.5 signatures are deterministic).
func SharedKeyCertificate(key crypto.Signer) (*tls.Certificate, error) {
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	sum[0] &= 0x7f
	serial := new(big.Int).SetBytes(sum[:16])
	if serial.Sign() == 0 {
		serial.SetInt64(1)
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := key.(*rsa.PrivateKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	name := pkix.Name{CommonName: SharedKeyCommonName, Organization: []string{"dynomite"}}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		Issuer:                name,
		NotBefore:             sharedNotBefore,
		NotAfter:              sharedNotAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		// Fixed identifiers, rather than ones crypto/x509 would compute.
		SubjectKeyId: sum[16:],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("derive certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("derive certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
