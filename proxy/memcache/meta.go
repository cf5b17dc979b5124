package memcache

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// The meta commands (memcached 1.6 protocol.txt, "Meta Commands"):
//
//	mg <key> <flag>*                     get
//	ms <key> <datalen> <flag>*\r\n<data>\r\n  set
//	md <key> <flag>*                     delete
//	ma <key> <flag>*                     arithmetic
//	mn                                   no-op: MN
//	me <key>                             debug
//
// The proxy reads what routing needs and leaves the flags to memcached,
// which answers a bad flag with one error line (and swallows an ms data
// block, as the proxy frames it), so a malformed flag costs nothing here
// and its reply is memcached's own. What the proxy decides itself:
//
//   - the key: the second token, base64-decoded for routing when the
//     request has the b flag (so that `ms Zm9v 2 b` and `get foo` go to the
//     same node); a key longer than 250 bytes is CLIENT_ERROR bad command
//     line format (memcached then swallows nothing, and neither do we); no
//     key is ERROR (CLIENT_ERROR bad command line format for me);
//   - ms's datalen (missing, not a number or negative: CLIENT_ERROR bad
//     command line format, nothing swallowed) and its data block's CRLF
//     (CLIENT_ERROR bad data chunk, datalen+2 bytes swallowed);
//   - q (quiet): memcached sends nothing for the replies quiet mode hides
//     (mg: EN; ms, md: HD; ma: HD and VA), which would leave the datastore
//     connection's replies out of step with its requests. The q token is
//     therefore removed before the request is sent on ([Request.QuietStart],
//     [Request.QuietEnd]) and the reply is hidden from the client when
//     [QuietHides] says memcached would have hidden it. A second q is
//     memcached's CLIENT_ERROR duplicate flag, answered here. mn is answered
//     by the proxy (MN), after every earlier reply of the connection, as
//     memcached does.
//
// Routing: ms, md and ma are writes (every rack, every datacenter); mg is a
// read, except with N (vivify) or T (touch), which change the item like
// gat and are writes; me is a read of the local rack's owner only (its
// numbers are that replica's).

// metaCommands maps the meta command names onto their Cmd.
func metaCommand(name []byte) (Cmd, bool) {
	if len(name) != 2 || name[0] != 'm' {
		return CmdUnknown, false
	}
	switch name[1] {
	case 'g':
		return CmdMetaGet, true
	case 's':
		return CmdMetaSet, true
	case 'd':
		return CmdMetaDelete, true
	case 'a':
		return CmdMetaArith, true
	case 'n':
		return CmdMetaNoop, true
	case 'e':
		return CmdMetaDebug, true
	}
	return CmdUnknown, false
}

// ReplyDuplicateFlag is memcached's reply to a meta command that repeats a
// flag.
const ReplyDuplicateFlag = "CLIENT_ERROR duplicate flag\r\n"

// parseMeta parses a meta command's arguments (line[pos:]) and, for ms,
// its data block; n is the length of the command line.
func parseMeta(buf, line []byte, pos, n int, req *Request) (int, error) {
	cmd := req.Cmd
	if cmd == CmdMetaNoop {
		return n, nil
	}
	ks, ke := token(line, pos)
	if ks == ke {
		if cmd == CmdMetaDebug {
			return n, clientError(ReplyBadFormat, false, 0)
		}
		return n, clientError(ReplyError, false, 0)
	}
	if ke-ks > MaxKeyLen {
		return n, clientError(ReplyBadFormat, false, 0)
	}
	key := line[ks:ke]
	pos = ke
	vlen := -1
	if cmd == CmdMetaSet {
		s, e := token(line, pos)
		v, ok := parseInt32(line[s:e])
		if s == e || !ok || v < 0 || int64(v) > int64(^uint32(0)>>1)-2 {
			return n, clientError(ReplyBadFormat, false, 0)
		}
		vlen = int(v)
		pos = e
	}
	b64, quiets := false, 0
	for {
		s, e := token(line, pos)
		if s == e {
			break
		}
		switch f := line[s:e]; {
		case string(f) == "q":
			quiets++
			// the token and the space before it
			req.QuietStart, req.QuietEnd = s-1, e
		case string(f) == "b":
			b64 = true
		case cmd == CmdMetaGet && (f[0] == 'N' || f[0] == 'T'):
			req.Class = msg.ClassWrite
		}
		pos = e
	}
	skip := 0
	if vlen >= 0 {
		skip = vlen + 2
	}
	if quiets > 1 {
		req.QuietStart, req.QuietEnd = 0, 0
		return n, clientError(ReplyDuplicateFlag, false, skip)
	}
	req.Quiet = quiets == 1
	req.Keys = append(req.Keys, key)
	if b64 {
		// the datastore checks the encoding and answers a bad one; such a
		// request goes where its raw key points
		if dec, err := base64.StdEncoding.AppendDecode(nil, key); err == nil {
			req.DecodedKey = dec
		}
	}
	if vlen < 0 {
		return n, nil
	}
	total := n + skip
	if len(buf) < total {
		return total, ErrIncomplete
	}
	if buf[total-2] != '\r' || buf[total-1] != '\n' {
		req.QuietStart, req.QuietEnd, req.Quiet = 0, 0, false
		return n, clientError(ReplyBadDataChunk, false, skip)
	}
	req.DataStart, req.DataLen = n, vlen
	return total, nil
}

// QuietHides reports whether memcached, asked cmd with the q flag, would
// have sent no reply where it sent reply without it: mg's miss (EN), ms's
// and md's success (HD), ma's success (HD, or VA with v). Errors and the
// other outcomes are always sent.
func QuietHides(cmd Cmd, reply []byte) bool {
	switch cmd {
	case CmdMetaGet:
		return hasCode(reply, "EN")
	case CmdMetaSet, CmdMetaDelete:
		return hasCode(reply, "HD")
	case CmdMetaArith:
		return hasCode(reply, "HD") || hasCode(reply, "VA")
	}
	return false
}

// hasCode: reply's first line starts with the two-letter meta code.
func hasCode(reply []byte, code string) bool {
	return len(reply) >= 4 && string(reply[:2]) == code && (reply[2] == ' ' || reply[2] == '\r')
}

// AppendWithoutQuiet appends the request raw (a meta command of n bytes
// with its data block) without the q flag at [start, end).
func AppendWithoutQuiet(dst, raw []byte, start, end int) []byte {
	dst = append(dst, raw[:start]...)
	return append(dst, raw[end:]...)
}

// metaCodes are the first tokens of memcached's meta replies (besides the
// error lines).
var metaCodes = [...]string{"HD", "NS", "EX", "NF", "EN", "MN", "ME"}

// ParseMetaReply returns the length of the meta reply at the start of buf:
// `VA <size> <flag>*\r\n<data>\r\n`, or one line (HD, NS, EX, NF, EN, MN,
// ME ..., or an error line).
//
// On ErrIncomplete n is 0, or the reply's total length once a VA line is
// complete. Any other error wraps ErrBadReply.
func ParseMetaReply(buf []byte, lim *Limits) (int, error) {
	line, next, err := replyLine(buf, 0, lim)
	if err != nil {
		return 0, err
	}
	if errorReply(line) {
		return next, nil
	}
	code, rest, _ := bytes.Cut(line, []byte(" "))
	for _, c := range metaCodes {
		if string(code) == c {
			return next, nil
		}
	}
	if string(code) != "VA" {
		return 0, badReply(line)
	}
	s, e := token(rest, 0)
	size, ok := parseInt32(rest[s:e])
	if s == e || !ok || size < 0 || int(size) > lim.maxItemSize() {
		return 0, badReply(line)
	}
	end := next + int(size) + 2
	if len(buf) < end {
		return end, ErrIncomplete
	}
	if buf[end-2] != '\r' || buf[end-1] != '\n' {
		return 0, fmt.Errorf("%w: data block of %q does not end in CRLF", ErrBadReply, line)
	}
	return end, nil
}
