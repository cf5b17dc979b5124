package proxy

import (
	"errors"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Error replies in upstream's wording (reference §8.2), so clients and
// runbooks written for Netflix Dynomite recognise them.
var (
	redisErrDatastoreDown    = []byte("-ERR Storage: Datastore refused connection\r\n")
	redisErrDatastoreTimeout = []byte("-ERR Storage: Datastore timed out\r\n")
	redisErrDatastoreClosed  = []byte("-ERR Storage: Datastore connection closed with the request in flight\r\n")
	redisErrShutdown         = []byte("-ERR Dynomite: node is shutting down\r\n")
	redisErrTooLarge         = []byte("-ERR Protocol error: request larger than the proxy's limit\r\n")
	redisErrUnknown          = []byte("-ERR unknown: Unknown Error\r\n")
	redisOK                  = []byte("+OK\r\n")
)

type redisCodec struct {
	lim resp.Limits
}

func newRedisCodec(maxRequest int) *redisCodec {
	lim := resp.DefaultLimits()
	return &redisCodec{lim: lim}
}

// largeRequest is the size from which a request is read into its own buffer.
const largeRequest = 256 << 10

func (c *redisCodec) read(fr *msg.FrameReader, r *msg.Request) (action, int, error) {
	buf := fr.Bytes()
	n, args, err := resp.ParseRequest(buf, r.ArgsBuf(), &c.lim)
	if err != nil {
		if errors.Is(err, resp.ErrIncomplete) {
			// n is 0 or a lower bound of the request's size: the session
			// grows the buffer to it, so a large value arrives in one piece.
			return actMore, n, nil
		}
		fr.Discard(fr.Buffered())
		return c.protocolError(r, err)
	}
	if len(args) == 0 {
		fr.Discard(n)
		return actSkip, 0, nil
	}
	switch {
	case resp.IsInline(buf):
		// Inline commands are re-encoded as arrays so the datastore and peers
		// only ever see RESP arrays.
		r.KeepRaw(resp.AppendCommand(r.RawBuf(), args))
		fr.Discard(n)
		_, args, err = resp.ParseRequest(r.Raw, args[:0], &c.lim)
		if err != nil {
			return c.protocolError(r, err)
		}
	case n >= largeRequest:
		// Tens of MB: hand the buffer over instead of copying it; the args
		// already point into it.
		r.AdoptRaw(fr.Detach(n))
	default:
		r.SetRaw(buf[:n])
		rebase(r.Raw, buf, args)
		fr.Discard(n)
	}
	r.SetArgs(args)
	return c.classify(r)
}

func (c *redisCodec) protocolError(r *msg.Request, err error) (action, int, error) {
	r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR "+err.Error()))
	r.CloseAfter = true
	return actAnswered, 0, nil
}

// classify looks the command up and answers what the proxy answers itself.
func (c *redisCodec) classify(r *msg.Request) (action, int, error) {
	id, cmd := resp.Lookup(r.Args[0])
	if cmd == nil {
		r.KeepReply(unsupported(r.ReplyBuf(), r.Args[0]))
		return actAnswered, 0, nil
	}
	if err := cmd.Allowed(r.Args); err != nil {
		r.KeepReply(resp.AppendError(r.ReplyBuf(), err.Error()))
		return actAnswered, 0, nil
	}
	r.Cmd, r.Class = id, cmd.Class
	r.Key = cmd.Key(r.Args)
	if cmd.Class == msg.ClassProxy {
		return c.answer(r, cmd)
	}
	return actForward, 0, nil
}

// answer handles the commands the proxy answers itself.
func (c *redisCodec) answer(r *msg.Request, cmd *resp.Command) (action, int, error) {
	switch cmd.Name {
	case "quit":
		r.AdoptReply(redisOK)
		r.CloseAfter = true
	case "echo":
		if len(r.Args) != 2 {
			r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR wrong number of arguments for 'echo' command"))
		} else {
			r.KeepReply(resp.AppendBulk(r.ReplyBuf(), r.Args[1]))
		}
	case "dyno_config:conn_consistency":
		return actConfig, 0, nil
	case "hello":
		// The datastore connections are shared and speak RESP2; a client may
		// not switch them to RESP3.
		if len(r.Args) > 1 && string(r.Args[1]) != "2" {
			r.KeepReply(resp.AppendError(r.ReplyBuf(), "NOPROTO this proxy supports RESP2 only"))
			return actAnswered, 0, nil
		}
		r.Class = msg.ClassLocal
		return actForward, 0, nil
	default:
		// COMMAND and its subcommands describe the local datastore.
		r.Class = msg.ClassLocal
		return actForward, 0, nil
	}
	return actAnswered, 0, nil
}

// unsupported renders `-ERR unsupported command 'NAME'`, with the name
// cut to 64 bytes and stripped of control characters.
func unsupported(dst, name []byte) []byte {
	dst = append(dst, "-ERR unsupported command '"...)
	for i, b := range name {
		if i == 64 {
			dst = append(dst, "..."...)
			break
		}
		if b < ' ' || b == 0x7f || b == '\'' {
			b = '?'
		}
		dst = append(dst, b)
	}
	return append(dst, "'\r\n"...)
}

func (c *redisCodec) parseReply(buf []byte, _ *msg.Request) (int, int, bool, error) {
	n, err := resp.ParseReply(buf, &c.lim)
	if err != nil {
		if errors.Is(err, resp.ErrIncomplete) {
			return 0, n, false, nil
		}
		return 0, 0, false, err
	}
	return 0, n, true, nil
}

func (c *redisCodec) errorReply(err error) []byte {
	switch {
	case errors.Is(err, msg.ErrDatastoreDown):
		return redisErrDatastoreDown
	case errors.Is(err, msg.ErrDatastoreTimeout):
		return redisErrDatastoreTimeout
	case errors.Is(err, msg.ErrDatastoreClosed):
		return redisErrDatastoreClosed
	case errors.Is(err, msg.ErrShutdown):
		return redisErrShutdown
	case errors.Is(err, errRequestTooLarge):
		return redisErrTooLarge
	}
	return redisErrUnknown
}

func (c *redisCodec) errorLine(dst []byte, text string) []byte {
	return resp.AppendError(dst, "ERR "+text)
}
