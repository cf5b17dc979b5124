package tlsconf

import (
	"fmt"
	"net"
)

// recordTypeHandshake is the first byte of every TLS connection (a
// handshake record holding the ClientHello). A dnode frame starts with a
// space, a RESP request with '*' or a letter, a memcached one with a
// letter: none can be mistaken for it.
const recordTypeHandshake = 0x16

// Peek reads the first byte a client sent on c and reports whether it opens
// a TLS handshake. The returned conn replays that byte and is the one to
// use from then on (wrap it with [tls.Server] when isTLS). Set a read
// deadline on c first: a client that sends nothing blocks Peek until then.
//
// It lets one peer listener take encrypted links (to peers that
// secure_server_option says to encrypt) and plain ones (to the others), as
// upstream's dyn_listen does. The acceptor must then decide whether a plain
// connection is acceptable: never under "all", and otherwise only from an
// address [Secure] says needs no encryption. An address it does not know
// must be refused in plain text, or an attacker gets a clear link just by
// not asking for TLS.
func Peek(c net.Conn) (conn net.Conn, isTLS bool, err error) {
	var b [1]byte
	for {
		n, err := c.Read(b[:])
		if n == 1 {
			return &peekedConn{Conn: c, first: b[0], pending: true}, b[0] == recordTypeHandshake, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("tlsconf: peek: %w", err)
		}
	}
}

// peekedConn is a net.Conn whose first byte was already read.
type peekedConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if !c.pending || len(p) == 0 {
		return c.Conn.Read(p)
	}
	p[0] = c.first
	c.pending = false
	return 1, nil
}
