package proxy

import (
	"errors"
	"strconv"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Error replies in upstream's wording (dyn_core.c dn_strerror,
// dyn_message.c msg_get_error), so clients and
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

// readPeer is read for a peer's frame: a transaction unit (MULTI, the
// queued commands, EXEC, which the coordinator sends in one frame) is read
// whole into one request, to be run as one on the datastore; anything else
// is read as a client's request.
func (c *redisCodec) readPeer(fr *msg.FrameReader, r *msg.Request) (action, int, error) {
	buf := fr.Bytes()
	n, args, err := resp.ParseRequest(buf, r.ArgsBuf(), &c.lim)
	if err != nil || len(args) == 0 || resp.IsInline(buf) {
		return c.read(fr, r)
	}
	if _, cmd := resp.Lookup(args[0]); cmd == nil || cmd.Answer != resp.AnswerMulti {
		return c.read(fr, r)
	}
	end := n
	for {
		k, args, err := resp.ParseRequest(buf[end:], r.ArgsBuf(), &c.lim)
		if errors.Is(err, resp.ErrIncomplete) {
			return actMore, 0, nil
		}
		// every command an array: the replies are counted by arrays
		// (resp.CountCommands), and an inline one would desynchronise them
		if err != nil || len(args) == 0 || resp.IsInline(buf[end:]) {
			fr.Discard(fr.Buffered())
			return c.protocolError(r, errors.New("protocol error: malformed transaction unit"))
		}
		end += k
		if _, cmd := resp.Lookup(args[0]); cmd != nil && cmd.Answer == resp.AnswerExec {
			break
		}
	}
	r.SetRaw(buf[:end])
	fr.Discard(end)
	r.Cmd, r.Class, r.Flags, r.Key = unitCmd, msg.ClassWrite, msg.FlagWrite, nil
	// the routing key (for a forward to this datacenter's racks): the
	// first queued command's
	_, qargs, err := resp.ParseRequest(r.Raw[n:], r.ArgsBuf(), &c.lim)
	if err == nil {
		if cmd := resp.CommandByID(lookupID(qargs)); cmd != nil {
			r.Key = cmd.Key(qargs)
		}
	}
	r.SetArgs(qargs)
	return actForward, 0, nil
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
	r.Cmd, r.Class, r.Flags = id, cmd.Class, cmd.Flags
	r.Key = cmd.Key(r.Args)
	if cmd.Class == msg.ClassProxy {
		return c.answer(r, cmd)
	}
	return actForward, 0, nil
}

// answer handles the commands the proxy answers itself.
func (c *redisCodec) answer(r *msg.Request, cmd *resp.Command) (action, int, error) {
	switch cmd.Answer {
	case resp.AnswerQuit:
		r.AdoptReply(redisOK)
		r.CloseAfter = true
	case resp.AnswerEcho:
		if len(r.Args) != 2 {
			r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR wrong number of arguments for 'echo' command"))
		} else {
			r.KeepReply(resp.AppendBulk(r.ReplyBuf(), r.Args[1]))
		}
	case resp.AnswerConnConsistency:
		return actConfig, 0, nil
	case resp.AnswerPubSub:
		return actPubSub, 0, nil
	case resp.AnswerLocal:
		r.Class = msg.ClassLocal
		return actForward, 0, nil
	default:
		// HELLO, CLIENT, SELECT, transactions, COMMAND, the rack's
		// keyspace: the session's (session_redis.go)
		return actSession, 0, nil
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

func (c *redisCodec) parseReply(buf []byte, r *msg.Request) (int, int, bool, error) {
	if r.Cmd == unitCmd {
		// a transaction unit: one reply per command, MULTI's to EXEC's
		n, ok := resp.SkipReplies(buf, resp.CountCommands(r.Raw), &c.lim)
		if !ok {
			if _, err := resp.ParseReply(buf[n:], &c.lim); err != nil && !errors.Is(err, resp.ErrIncomplete) {
				return 0, 0, false, err
			}
			return 0, 0, false, nil
		}
		return 0, n, true, nil
	}
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

// keys, keyCount, fragment, coalesce, splitReply: where a command's keys
// are and how its replies look is in the command table (resp.Command).

func (c *redisCodec) keys(r *msg.Request, dst [][]byte) [][]byte {
	cmd := resp.CommandByID(r.Cmd)
	if cmd == nil {
		return dst[:0]
	}
	return cmd.Keys(r.Args, dst)
}

func (c *redisCodec) keyCount(r *msg.Request) int {
	cmd := resp.CommandByID(r.Cmd)
	if cmd == nil {
		return 0
	}
	return cmd.KeyCount(r.Args)
}

// fragment re-encodes r with the command name and, for each key, the
// arguments of its step (MSET: the key and its value).
func (c *redisCodec) fragment(frag, r *msg.Request, keys [][]byte, idx []int) {
	cmd := resp.CommandByID(r.Cmd)
	args := append(frag.ArgsBuf(), r.Args[0])
	for _, ki := range idx {
		a := cmd.FirstKey + ki*cmd.KeyStep
		args = append(args, r.Args[a:a+cmd.KeyStep]...)
	}
	frag.SetArgs(args)
	frag.KeepRaw(resp.AppendCommand(frag.RawBuf(), args))
	frag.Key = keys[idx[0]]
}

func (c *redisCodec) coalesce(dst []byte, co *coalescer) []byte {
	switch co.parent.Flags.Coalesce() {
	case msg.CoalesceSum:
		var sum int64
		for _, f := range co.frags {
			n, err := strconv.ParseInt(strings.TrimSpace(string(f.Reply[1:])), 10, 64)
			if f.Reply[0] != ':' || err != nil {
				return c.unexpectedFragment(dst, f.Reply)
			}
			sum += n
		}
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, sum, 10)
		return append(dst, '\r', '\n')
	case msg.CoalesceStatus:
		for _, f := range co.frags {
			if string(f.Reply) != "+OK\r\n" {
				return append(dst, f.Reply...)
			}
		}
		return append(dst, "+OK\r\n"...)
	default: // msg.CoalesceArray
		// element k of fragment i is spans[starts[i]+k]
		var (
			startBuf [16]int
			spans    []span
			ok       bool
		)
		starts := startBuf[:0]
		for _, f := range co.frags {
			starts = append(starts, len(spans))
			if spans, ok = arraySpans(f.Reply, -1, spans); !ok {
				return c.unexpectedFragment(dst, f.Reply)
			}
		}
		starts = append(starts, len(spans))
		dst = c.openElems(dst, len(co.keyFrag))
		for k, fi := range co.keyFrag {
			at := starts[fi] + co.keyPos[k]
			if at >= starts[fi+1] {
				return c.errorLine(dst[:0], "Dynomite: fragment reply has too few elements")
			}
			sp := spans[at]
			dst = append(dst, co.frags[fi].Reply[sp.start:sp.end]...)
		}
		return dst
	}
}

func (c *redisCodec) unexpectedFragment(dst, reply []byte) []byte {
	return c.errorLine(dst, "Dynomite: unexpected fragment reply "+strconv.Quote(string(reply[:min(len(reply), 32)])))
}

func (c *redisCodec) splitReply(reply []byte, _ *msg.Request, dst []span) bool {
	_, ok := arraySpans(reply, len(dst), dst[:0])
	return ok
}

func (c *redisCodec) openElems(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

func (c *redisCodec) closeElems(dst []byte) []byte { return dst }

// arraySpans appends to dst the spans of the elements of reply, which must
// be exactly one RESP array (of want elements unless want < 0).
func arraySpans(reply []byte, want int, dst []span) ([]span, bool) {
	if len(reply) < 4 || reply[0] != '*' {
		return dst, false
	}
	n, pos := 0, 1
	for ; pos < len(reply) && pos < 24 && reply[pos] >= '0' && reply[pos] <= '9'; pos++ {
		n = n*10 + int(reply[pos]-'0')
	}
	if pos == 1 || pos+1 >= len(reply) || reply[pos] != '\r' || reply[pos+1] != '\n' || want >= 0 && n != want {
		return dst, false
	}
	pos += 2
	lim := resp.DefaultLimits()
	for i := 0; i < n; i++ {
		k, err := resp.ParseReply(reply[pos:], &lim)
		if err != nil {
			return dst, false
		}
		dst = append(dst, span{pos, pos + k})
		pos += k
	}
	return dst, pos == len(reply)
}
