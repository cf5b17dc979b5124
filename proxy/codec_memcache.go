package proxy

import (
	"bytes"
	"errors"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Memcache failures use SERVER_ERROR with upstream's texts (dyn_core.c dn_strerror,
// proto/dyn_memcache.c).
var (
	mcErrDatastoreDown    = []byte("SERVER_ERROR Storage: Datastore refused connection\r\n")
	mcErrDatastoreTimeout = []byte("SERVER_ERROR Storage: Datastore timed out\r\n")
	mcErrDatastoreClosed  = []byte("SERVER_ERROR Storage: Datastore connection closed with the request in flight\r\n")
	mcErrShutdown         = []byte("SERVER_ERROR Dynomite: node is shutting down\r\n")
	mcErrTooLarge         = []byte("SERVER_ERROR object too large for cache\r\n")
	mcErrUnknown          = []byte("SERVER_ERROR unknown: Unknown Error\r\n")
)

type memcacheCodec struct {
	lim memcache.Limits
	req sync.Pool // *memcache.Request scratch, one per parse
}

func newMemcacheCodec(maxRequest int) *memcacheCodec {
	return &memcacheCodec{lim: memcache.DefaultLimits}
}

func (c *memcacheCodec) scratch() *memcache.Request {
	if m, ok := c.req.Get().(*memcache.Request); ok {
		return m
	}
	return new(memcache.Request)
}

func (c *memcacheCodec) read(fr *msg.FrameReader, r *msg.Request) (action, int, error) {
	m := c.scratch()
	defer c.req.Put(m)
	buf := fr.Bytes()
	n, err := memcache.ParseRequest(buf, m, &c.lim)
	if err != nil {
		if errors.Is(err, memcache.ErrIncomplete) {
			return actMore, n, nil
		}
		return c.clientError(fr, r, err, n)
	}
	if m.Quiet {
		// sent on without q, so that memcached answers every outcome
		// (proxy/memcache meta.go); the key precedes q and keeps its offset
		r.KeepRaw(memcache.AppendWithoutQuiet(r.RawBuf(), buf[:n], m.QuietStart, m.QuietEnd))
	} else if n >= largeRequest {
		r.AdoptRaw(fr.Detach(n)) // keys already point into it
		c.fill(r, m)
		return c.classify(r, m)
	} else {
		r.SetRaw(buf[:n])
	}
	keys := append(r.ArgsBuf(), m.Keys...)
	rebase(r.Raw, buf, keys)
	r.SetArgs(keys)
	fr.Discard(n)
	c.fill(r, m)
	return c.classify(r, m)
}

// fill copies the parse result; Args (the keys) must already be set when
// Raw is a copy (rebased), and are set here when Raw is the parsed buffer.
func (c *memcacheCodec) fill(r *msg.Request, m *memcache.Request) {
	if r.Args == nil {
		r.SetArgs(append(r.ArgsBuf(), m.Keys...))
	}
	r.Cmd = uint16(m.Cmd)
	r.Class = m.Class
	r.Flags = m.Flags()
	r.NoReply = m.NoReply
	r.Retrieval = m.Retrieval
	if m.Quiet {
		r.Flags |= msg.FlagQuiet
	}
	if len(r.Args) > 0 {
		r.Key = r.Args[0]
	}
	if m.DecodedKey != nil {
		r.Key = m.DecodedKey
	}
}

var mcReplyMN = []byte("MN\r\n")

// quietHidden: r is a quiet meta command whose reply quiet mode hides.
func quietHidden(r *msg.Request) bool {
	return r.Flags.Has(msg.FlagQuiet) && r.Err == nil && memcache.QuietHides(memcache.Cmd(r.Cmd), r.Reply)
}

func (c *memcacheCodec) classify(r *msg.Request, m *memcache.Request) (action, int, error) {
	if m.Cmd == memcache.CmdMetaNoop {
		// MN follows every earlier reply: the session writes them in order
		r.AdoptReply(mcReplyMN)
		return actAnswered, 0, nil
	}
	if r.Class == msg.ClassProxy { // quit: memcached closes without a word
		r.NoReply = true
		r.CloseAfter = true
		return actAnswered, 0, nil
	}
	return actForward, 0, nil
}

// clientError answers malformed input exactly as memcached would: the reply
// line, then optionally swallowing the value that followed, or closing.
func (c *memcacheCodec) clientError(fr *msg.FrameReader, r *msg.Request, err error, consumed int) (action, int, error) {
	var ce *memcache.ClientError
	if !errors.As(err, &ce) {
		return actMore, 0, err
	}
	if !ce.Close {
		fr.Skip(max(consumed+ce.Skip, 0))
	}
	if ce.Reply == "" {
		r.NoReply = true
	} else {
		r.KeepReply(append(r.ReplyBuf(), ce.Reply...))
	}
	r.CloseAfter = ce.Close
	return actAnswered, 0, nil
}

func (c *memcacheCodec) parseReply(buf []byte, r *msg.Request) (int, int, bool, error) {
	var (
		n   int
		err error
	)
	if memcache.Cmd(r.Cmd).Meta() {
		n, err = memcache.ParseMetaReply(buf, &c.lim)
	} else {
		n, err = memcache.ParseReply(buf, r.Retrieval, &c.lim)
	}
	if err != nil {
		if errors.Is(err, memcache.ErrIncomplete) {
			return 0, n, false, nil
		}
		return 0, 0, false, err
	}
	return 0, n, true, nil
}

func (c *memcacheCodec) errorReply(err error) []byte {
	switch {
	case errors.Is(err, msg.ErrDatastoreDown):
		return mcErrDatastoreDown
	case errors.Is(err, msg.ErrDatastoreTimeout):
		return mcErrDatastoreTimeout
	case errors.Is(err, msg.ErrDatastoreClosed):
		return mcErrDatastoreClosed
	case errors.Is(err, msg.ErrShutdown):
		return mcErrShutdown
	case errors.Is(err, errRequestTooLarge):
		return mcErrTooLarge
	}
	return mcErrUnknown
}

func (c *memcacheCodec) errorLine(dst []byte, text string) []byte {
	dst = append(dst, "SERVER_ERROR "...)
	for i := 0; i < len(text); i++ {
		if b := text[i]; b != '\r' && b != '\n' {
			dst = append(dst, b)
		}
	}
	return append(dst, '\r', '\n')
}

// The keys of a memcache request are its Args; a retrieval's reply is its
// hits' VALUE blocks in key order, then END.

func (c *memcacheCodec) keys(r *msg.Request, dst [][]byte) [][]byte {
	return append(dst[:0], r.Args...)
}

func (c *memcacheCodec) keyCount(r *msg.Request) int { return len(r.Args) }

func (c *memcacheCodec) fragment(frag, r *msg.Request, keys [][]byte, idx []int) {
	fk := frag.ArgsBuf()
	for _, ki := range idx {
		fk = append(fk, keys[ki])
	}
	frag.SetArgs(fk)
	frag.KeepRaw(memcache.AppendFragment(frag.RawBuf(), memcache.Cmd(r.Cmd), r.Raw, fk))
	frag.Key = fk[0]
}

func (c *memcacheCodec) coalesce(dst []byte, co *coalescer) []byte {
	frags := make([][]byte, len(co.frags))
	for i, f := range co.frags {
		frags[i] = f.Reply
	}
	out, err := memcache.AppendCoalesced(dst, co.keys, frags)
	if err != nil {
		return c.errorLine(dst[:0], "Dynomite: "+err.Error())
	}
	return out
}

// splitReply reads the keys from r's Args: a fragment's are its own.
func (c *memcacheCodec) splitReply(reply []byte, r *msg.Request, dst []span) bool {
	return retrievalSpans(reply, r.Args, dst)
}

func (c *memcacheCodec) openElems(dst []byte, _ int) []byte { return dst }

func (c *memcacheCodec) closeElems(dst []byte) []byte { return append(dst, "END\r\n"...) }

// retrievalSpans sets dst[j] to the VALUE block of keys[j] in reply, empty
// for a miss. memcached answers the hits in the order of the keys asked for.
func retrievalSpans(reply []byte, keys [][]byte, dst []span) bool {
	pos := 0
	for j, k := range keys {
		key, next, ok := memcache.NextValue(reply, pos)
		if ok && bytes.Equal(key, k) {
			dst[j] = span{pos, next}
			pos = next
			continue
		}
		dst[j] = span{pos, pos}
	}
	return memcache.IsEnd(reply[pos:])
}
