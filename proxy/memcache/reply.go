package memcache

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrBadReply is a datastore reply that is not memcached's ASCII protocol.
// The connection it came on is out of step and must be closed.
var ErrBadReply = errors.New("memcache: malformed reply")

const endLine = "END\r\n"

// ParseReply returns the length n of the first complete reply in buf.
//
// A retrieval reply (get, gets, gat, gats) is zero or more
// `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n` blocks ending in
// `END\r\n`, or ending in an error line (ERROR, CLIENT_ERROR ...,
// SERVER_ERROR ...). Any other reply is one line: STORED, NOT_STORED, EXISTS,
// NOT_FOUND, DELETED, TOUCHED, OK, a number (incr/decr), VERSION ..., or an
// error line. Lines end in CRLF.
//
// On ErrIncomplete n is 0, or a lower bound of the reply's total length when
// it is larger than len(buf) (inside a VALUE block: the end of its data plus
// len("END\r\n")), so the caller can grow its buffer before reading a large
// value. Any other error wraps ErrBadReply.
func ParseReply(buf []byte, retrieval bool, lim *Limits) (n int, err error) {
	if !retrieval {
		line, next, err := replyLine(buf, 0, lim)
		if err != nil {
			return 0, err
		}
		if !simpleReply(line) {
			return 0, badReply(line)
		}
		return next, nil
	}
	pos := 0
	for {
		line, next, err := replyLine(buf, pos, lim)
		if err == ErrIncomplete {
			return hint(pos, len(buf)), err
		}
		if err != nil {
			return 0, err
		}
		size, ok := valueLine(line, lim.maxItemSize())
		if !ok {
			if string(line) == "END" || errorReply(line) {
				return next, nil
			}
			return 0, badReply(line)
		}
		end := next + size + 2
		if len(buf) < end {
			return hint(end, len(buf)), ErrIncomplete
		}
		if buf[end-2] != '\r' || buf[end-1] != '\n' {
			return 0, fmt.Errorf("%w: data block of %q does not end in CRLF", ErrBadReply, line)
		}
		pos = end
	}
}

// hint is the size hint for an incomplete retrieval reply whose VALUE blocks
// end at pos: at least an END line must follow.
func hint(pos, have int) int {
	if pos == 0 || pos+len(endLine) <= have {
		return 0
	}
	return pos + len(endLine)
}

func badReply(line []byte) error {
	if len(line) > 64 {
		line = line[:64]
	}
	return fmt.Errorf("%w: unexpected line %q", ErrBadReply, line)
}

// replyLine returns the line at buf[pos:] without its CRLF, and the offset
// after it.
func replyLine(buf []byte, pos int, lim *Limits) (line []byte, next int, err error) {
	rest := buf[pos:]
	max := lim.maxLine()
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		if len(rest) > max {
			return nil, 0, fmt.Errorf("%w: line longer than %d bytes", ErrBadReply, max)
		}
		return nil, 0, ErrIncomplete
	}
	if i > max {
		return nil, 0, fmt.Errorf("%w: line longer than %d bytes", ErrBadReply, max)
	}
	if i == 0 || rest[i-1] != '\r' {
		return nil, 0, fmt.Errorf("%w: line %q does not end in CRLF", ErrBadReply, rest[:i])
	}
	return rest[:i-1], pos + i + 1, nil
}

// errorReply: ERROR, `ERROR <text>` (memcached says "ERROR Too many open
// connections" when it is out of connections), CLIENT_ERROR ..., SERVER_ERROR ...
func errorReply(line []byte) bool {
	return string(line) == "ERROR" ||
		bytes.HasPrefix(line, []byte("ERROR ")) ||
		bytes.HasPrefix(line, []byte("CLIENT_ERROR")) ||
		bytes.HasPrefix(line, []byte("SERVER_ERROR"))
}

// simpleReply: the one-line replies of storage, incr/decr, touch, delete,
// version and verbosity.
func simpleReply(line []byte) bool {
	switch string(line) {
	case "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK":
		return true
	}
	if bytes.HasPrefix(line, []byte("VERSION ")) || errorReply(line) {
		return true
	}
	return len(line) > 0 && allDigits(line)
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// valueLine parses `VALUE <key> <flags> <bytes> [<cas>]` and returns bytes.
func valueLine(line []byte, maxItem int) (size int, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte("VALUE "))
	if !found {
		return 0, false
	}
	var tok [5][]byte
	nt := 0
	for pos := 0; ; {
		s, e := token(rest, pos)
		if s == e {
			break
		}
		if nt == len(tok) {
			return 0, false
		}
		tok[nt] = rest[s:e]
		nt++
		pos = e
	}
	if nt != 3 && nt != 4 {
		return 0, false
	}
	if !digits(tok[1], 10) || !digits(tok[2], 10) || nt == 4 && !digits(tok[3], 20) {
		return 0, false
	}
	for _, c := range tok[2] {
		size = size*10 + int(c-'0')
	}
	if size > maxItem {
		return 0, false
	}
	return size, true
}

// digits: 1 to max decimal digits.
func digits(b []byte, max int) bool {
	return len(b) > 0 && len(b) <= max && allDigits(b)
}

// valueBlock returns the key of the VALUE block at buf[pos:] and the offset
// after the block; ok is false at END or anything else. buf holds replies
// ParseReply accepted.
func valueBlock(buf []byte, pos int) (key []byte, next int, ok bool) {
	i := bytes.IndexByte(buf[pos:], '\n')
	if i < 1 {
		return nil, 0, false
	}
	line := buf[pos : pos+i-1]
	size, ok := valueLine(line, int(^uint(0)>>2))
	if !ok {
		return nil, 0, false
	}
	next = pos + i + 1 + size + 2
	if next > len(buf) {
		return nil, 0, false
	}
	s, e := token(line, len("VALUE "))
	return line[s:e], next, true
}

// AppendGet appends a get (cmd CmdGet) or gets (CmdGets) request for keys to
// dst: the command a fragment of a multi-key retrieval is sent as.
func AppendGet(dst []byte, cmd Cmd, keys [][]byte) []byte {
	if cmd == CmdGets {
		dst = append(dst, "gets"...)
	} else {
		dst = append(dst, "get"...)
	}
	for _, k := range keys {
		dst = append(dst, ' ')
		dst = append(dst, k...)
	}
	return append(dst, "\r\n"...)
}

// AppendGat appends a gat (cmd CmdGat) or gats (CmdGats) request with the
// given exptime (Request.Exptime) for keys to dst.
func AppendGat(dst []byte, cmd Cmd, exptime []byte, keys [][]byte) []byte {
	if cmd == CmdGats {
		dst = append(dst, "gats "...)
	} else {
		dst = append(dst, "gat "...)
	}
	dst = append(dst, exptime...)
	for _, k := range keys {
		dst = append(dst, ' ')
		dst = append(dst, k...)
	}
	return append(dst, "\r\n"...)
}

// AppendFragment appends to dst the request for keys only that is otherwise
// request (a get, gets, gat or gats ParseRequest accepted as cmd): a
// fragment of a multi-key retrieval. gat and gats keep request's exptime.
func AppendFragment(dst []byte, cmd Cmd, request []byte, keys [][]byte) []byte {
	if cmd != CmdGat && cmd != CmdGats {
		return AppendGet(dst, cmd, keys)
	}
	line := request
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	_, e := token(line, 0)
	s, e := token(line, e)
	exptime := line[s:e]
	if s == e {
		exptime = []byte("0")
	}
	return AppendGat(dst, cmd, exptime, keys)
}

// AppendCoalesced appends to dst the reply to a retrieval request for keys,
// built from the replies to its fragments (frags, each a complete retrieval
// reply as ParseReply delimits it): the fragments' VALUE blocks, unchanged,
// in the order of keys, then one END.
//
// Each fragment must have asked for a subsequence of keys, in their order,
// as memcached answers the hits of one request in its key order (a key
// repeated in keys is looked up again, like memcached does). If a fragment's
// reply is or ends in an error line, the whole reply is that line (the first
// such fragment wins), as upstream does. A VALUE block for a key that was not
// asked for, or out of order, is an ErrBadReply.
func AppendCoalesced(dst []byte, keys [][]byte, frags [][]byte) ([]byte, error) {
	orig := dst
	// Find each fragment's terminator: an error line makes the whole reply.
	for _, f := range frags {
		pos := 0
		for {
			_, next, ok := valueBlock(f, pos)
			if !ok {
				break
			}
			pos = next
		}
		rest := f[pos:]
		if bytes.Equal(rest, []byte(endLine)) {
			continue
		}
		if i := bytes.IndexByte(rest, '\n'); i > 0 && i == len(rest)-1 && errorReply(rest[:i-1]) {
			return append(dst, rest...), nil
		}
		return orig, fmt.Errorf("%w: fragment reply does not end in END", ErrBadReply)
	}

	// heads[i] is fragment i's next unused VALUE block.
	type head struct {
		key       []byte
		pos, next int
		ok        bool
	}
	var headBuf [16]head
	heads := headBuf[:0]
	if len(frags) > len(headBuf) {
		heads = make([]head, 0, len(frags))
	}
	for _, f := range frags {
		k, next, ok := valueBlock(f, 0)
		heads = append(heads, head{key: k, next: next, ok: ok})
	}
	for _, k := range keys {
		for i := range heads {
			h := &heads[i]
			if h.ok && bytes.Equal(h.key, k) {
				f := frags[i]
				dst = append(dst, f[h.pos:h.next]...)
				h.pos = h.next
				h.key, h.next, h.ok = valueBlock(f, h.pos)
				break
			}
		}
	}
	for i := range heads {
		if heads[i].ok {
			return orig, fmt.Errorf("%w: fragment %d has a VALUE block for a key not asked for or out of order", ErrBadReply, i)
		}
	}
	return append(dst, endLine...), nil
}
