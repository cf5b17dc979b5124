package proxy

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Client authentication (requirepass, client_users). Redis clients
// authenticate with AUTH <password> or AUTH default <password> (requirepass),
// AUTH <user> <password> (a client_users entry), or the same credentials in
// HELLO <ver> AUTH <user> <password>; until then every command but AUTH,
// HELLO and QUIT gets -NOAUTH. Passwords are compared in constant time, as
// SHA-256 digests, and never forwarded: the node authenticates to its own
// Redis with datastore_password. An unknown user and a wrong password get
// the same reply. Memcached has no authentication in its ASCII protocol:
// memcached clients authenticate with a TLS client certificate
// (client_tls_ca_file).

// User is a named user of client_users: its name and the SHA-256 digest of
// its password.
type User struct {
	Name   string
	Digest [sha256.Size]byte
}

var (
	replyNoAuth    = []byte("-NOAUTH Authentication required.\r\n")
	replyWrongPass = []byte("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	replyNoPass    = []byte("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n")
)

// authRequired: requirepass or client_users is set.
func (s *Server) authRequired() bool {
	l := s.live.Load()
	return l.defaultPW != nil || len(l.users) > 0
}

// credentialsOK checks a user (nil or "default": requirepass) and password.
func (s *Server) credentialsOK(user, pw []byte) bool {
	got := sha256.Sum256(pw)
	l := s.live.Load()
	want := l.defaultPW
	if user != nil && string(user) != "default" {
		if d, ok := l.users[string(user)]; ok {
			want = &d
		} else {
			want = nil
		}
	}
	if want == nil {
		// compare anyway, so that an unknown user costs what a known one does
		var none [sha256.Size]byte
		subtle.ConstantTimeCompare(none[:], got[:])
		return false
	}
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// checkAuth runs before a Redis request is dispatched. It answers AUTH,
// strips the AUTH clause of HELLO once verified, and refuses everything
// else on a connection that has not authenticated.
func (ss *session) checkAuth(r *msg.Request, act action) action {
	if len(r.Args) == 0 {
		return act
	}
	name := r.Args[0]
	on := ss.s.authRequired()
	switch {
	case strings.EqualFold(string(name), "auth"):
		var user, pw []byte
		switch len(r.Args) {
		case 2:
			pw = r.Args[1]
		case 3:
			user, pw = r.Args[1], r.Args[2]
		default:
			r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR wrong number of arguments for 'auth' command"))
			return actAnswered
		}
		switch {
		case !on:
			r.AdoptReply(replyNoPass)
		case ss.s.credentialsOK(user, pw):
			ss.authed = true
			r.AdoptReply(redisOK)
		default:
			r.AdoptReply(replyWrongPass)
		}
		r.Class = msg.ClassProxy
		return actAnswered
	case strings.EqualFold(string(name), "hello"):
		for i := 2; i < len(r.Args); i++ {
			if !strings.EqualFold(string(r.Args[i]), "auth") {
				continue
			}
			if i+2 >= len(r.Args) {
				r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR Syntax error in HELLO option 'auth'"))
				return actAnswered
			}
			user, pw := r.Args[i+1], r.Args[i+2]
			if !on || !ss.s.credentialsOK(user, pw) {
				r.AdoptReply(replyWrongPass)
				return actAnswered
			}
			ss.authed = true
			if act != actForward {
				return act
			}
			// forward HELLO without its AUTH clause
			args := append(append([][]byte{}, r.Args[:i]...), r.Args[i+3:]...)
			r.KeepRaw(resp.AppendCommand(nil, args))
			r.SetArgs(args)
			return act
		}
	case strings.EqualFold(string(name), "quit"):
		return act
	}
	if on && !ss.authed {
		r.AdoptReply(replyNoAuth)
		r.CloseAfter = false
		return actAnswered
	}
	return act
}

// datastoreAuth returns the Init hook that authenticates each new
// connection to the local Redis with datastore_password.
func datastoreAuth(password string) func(net.Conn) error {
	cmd := resp.AppendCommand(nil, [][]byte{[]byte("AUTH"), []byte(password)})
	return func(nc net.Conn) error {
		if _, err := nc.Write(cmd); err != nil {
			return err
		}
		line, err := bufio.NewReaderSize(nc, 256).ReadString('\n')
		if err != nil {
			return err
		}
		if line != "+OK\r\n" {
			return fmt.Errorf("datastore refused datastore_password: %s", strings.TrimSpace(line))
		}
		return nil
	}
}
