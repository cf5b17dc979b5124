package tlsconf_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ioTimeout = 5 * time.Second

// echoServer accepts TLS connections on 127.0.0.1, reports each handshake's
// outcome on errs and echoes what an established connection sends.
type echoServer struct {
	ln   net.Listener
	cfg  *tls.Config
	errs chan error
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func startServer(tb testing.TB, cfg *tls.Config) *echoServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	s := &echoServer{ln: ln, cfg: cfg, errs: make(chan error, 256)}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *echoServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	tc := tls.Server(c, s.cfg)
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	err := tc.Handshake()
	select {
	case s.errs <- err:
	default: // nobody is reading the outcomes (a load test)
	}
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	buf := make([]byte, 256)
	for {
		n, err := tc.Read(buf)
		if err != nil {
			return
		}
		if _, err := tc.Write(buf[:n]); err != nil {
			return
		}
	}
}

// handshakeErr returns the outcome of the next handshake the server ran.
func (s *echoServer) handshakeErr(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-s.errs:
		return err
	case <-time.After(ioTimeout):
		tb.Fatal("the server never finished a handshake")
		return nil
	}
}

// dial connects to addr with cfg, completes the handshake and one echo
// round trip (in TLS 1.3 the server judges the client's certificate after
// the client's handshake has returned; the round trip surfaces its verdict).
// The connection is closed when the test ends.
func dial(tb testing.TB, addr string, cfg *tls.Config) (*tls.Conn, error) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, cfg)
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	err = tc.Handshake()
	if err == nil {
		err = roundTrip(tc)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	tb.Cleanup(func() { _ = tc.Close() })
	return tc, nil
}

func roundTrip(c *tls.Conn) error {
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	msg := []byte("ping\n")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo mismatch")
	}
	return nil
}

// peerSerial is the serial number of the certificate the other side
// presented.
func peerSerial(c *tls.Conn) *big.Int {
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// fixture is a CA and certificates issued for the tests.
type fixture struct {
	dir                string
	ca, otherCA        *tlstest.CA
	server, client     *tlstest.Leaf // from ca
	other              *tlstest.Leaf // from otherCA
	selfSigned         *tlstest.Leaf
	expired            *tlstest.Leaf // from ca, expired yesterday
	notYetValid        *tlstest.Leaf // from ca, valid from tomorrow
	expiredOther       *tlstest.Leaf // from otherCA, expired
	caFile, bundleFile string        // ca alone; ca and otherCA
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{dir: tb.TempDir()}
	var err error
	f.ca, err = tlstest.GenerateCA(f.dir)
	require.NoError(tb, err)
	f.otherCA, err = tlstest.GenerateCA(f.dir)
	require.NoError(tb, err)
	f.server = leaf(tb, f.ca, tlstest.Options{Names: []string{"localhost", "127.0.0.1"}})
	f.client = leaf(tb, f.ca, tlstest.Options{Names: []string{"client"}})
	f.other = leaf(tb, f.otherCA, tlstest.Options{})
	f.selfSigned, err = tlstest.SelfSigned(tlstest.Options{Dir: f.dir})
	require.NoError(tb, err)
	now := time.Now()
	f.expired = leaf(tb, f.ca, tlstest.Options{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	f.notYetValid = leaf(tb, f.ca, tlstest.Options{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)})
	f.expiredOther = leaf(tb, f.otherCA, tlstest.Options{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	f.caFile = f.ca.CertFile
	f.bundleFile = filepath.Join(f.dir, "bundle.pem")
	require.NoError(tb, tlstest.WriteCABundle(f.bundleFile, f.ca, f.otherCA))
	return f
}

func leaf(tb testing.TB, ca *tlstest.CA, opts tlstest.Options) *tlstest.Leaf {
	tb.Helper()
	l, err := ca.Issue(opts)
	require.NoError(tb, err)
	return l
}

// install copies l to fixed paths in dir, as an operator's configuration
// names them, and returns the paths.
func install(tb testing.TB, dir string, l *tlstest.Leaf) (certFile, keyFile string) {
	tb.Helper()
	certFile, keyFile = filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	require.NoError(tb, l.CopyTo(certFile, keyFile))
	return certFile, keyFile
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	require.NoError(tb, err)
	require.NoError(tb, tlstest.WriteFile(to, b, 0o644))
}
