package memcache

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// ErrIncomplete means buf does not yet hold a whole message. The n returned
// with it is 0 or a size hint; see [ParseRequest] and [ParseReply].
var ErrIncomplete = errors.New("memcache: incomplete message")

// MaxKeyLen is memcached's KEY_MAX_LENGTH.
const MaxKeyLen = 250

// The reply lines memcached 1.6 sends for malformed requests, with their CRLF.
const (
	ReplyError        = "ERROR\r\n"
	ReplyBadFormat    = "CLIENT_ERROR bad command line format\r\n"
	ReplyDeleteUsage  = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
	ReplyBadDelta     = "CLIENT_ERROR invalid numeric delta argument\r\n"
	ReplyBadExptime   = "CLIENT_ERROR invalid exptime argument\r\n"
	ReplyBadDataChunk = "CLIENT_ERROR bad data chunk\r\n"
	ReplyTooLarge     = "SERVER_ERROR object too large for cache\r\n"
)

// Limits are the sizes the parsers enforce. A nil *Limits, or a zero field,
// means the default from [DefaultLimits].
type Limits struct {
	// MaxLine is how many bytes memcached buffers while it waits for the
	// '\n' of a command line before it closes the connection (2048,
	// hard-coded in memcached's try_read_command_ascii). get/gets lines are
	// exempt, see MaxGetLine. Reply lines longer than this are malformed.
	MaxLine int
	// MaxGetLine caps get/gets command lines. memcached has no cap; this one
	// is ours, so that a client cannot make the proxy buffer without bound.
	// Default 1 MiB (about 4000 keys of 250 bytes).
	MaxGetLine int
	// MaxItemSize is memcached's -I (item_size_max), default 1 MiB. A
	// storage command whose item (value plus header) exceeds it is answered
	// SERVER_ERROR object too large for cache. It also caps the value size in
	// a VALUE reply.
	MaxItemSize int
	// NoCAS mirrors memcached's -C: items then carry no 8-byte CAS value,
	// which leaves 8 more bytes for the value.
	NoCAS bool
}

// DefaultLimits are memcached 1.6's defaults.
var DefaultLimits = Limits{MaxLine: 2048, MaxGetLine: 1 << 20, MaxItemSize: 1 << 20}

func (l *Limits) maxLine() int {
	if l == nil || l.MaxLine <= 0 {
		return DefaultLimits.MaxLine
	}
	return l.MaxLine
}

func (l *Limits) maxGetLine() int {
	if l == nil || l.MaxGetLine <= 0 {
		return DefaultLimits.MaxGetLine
	}
	return l.MaxGetLine
}

func (l *Limits) maxItemSize() int {
	if l == nil || l.MaxItemSize <= 0 {
		return DefaultLimits.MaxItemSize
	}
	return l.MaxItemSize
}

// itemHeader is sizeof(item) in memcached 1.6 on 64-bit platforms.
const itemHeader = 48

// tooLarge mirrors memcached's item_size_ok: header, key and its NUL, 4 bytes
// of flags when they are not 0, the value with its CRLF, and the CAS value.
func (l *Limits) tooLarge(nkey int, flags uint32, size int64) bool {
	total := itemHeader + int64(nkey) + 1 + size
	if flags != 0 {
		total += 4
	}
	if l == nil || !l.NoCAS {
		total += 8
	}
	return total > int64(l.maxItemSize())
}

// ClientError is a malformed request and how memcached 1.6 answers it. The
// session writes Reply (if not empty), then either closes the connection
// (Close) or discards the n bytes ParseRequest returned plus Skip more bytes
// and goes on with the next request.
type ClientError struct {
	// Reply is the exact reply memcached sends, with its CRLF. It is empty
	// when memcached sends nothing: the request had noreply, or memcached
	// closes the connection without a word.
	Reply string
	// Close: memcached closes the connection (after Reply).
	Close bool
	// Skip is how many bytes after the command line memcached swallows (the
	// data block of a storage command, with its CRLF). They may not have
	// arrived yet.
	Skip int
	// Reason is what went wrong, for logs and metrics; it is set even when
	// Reply is empty.
	Reason string
}

func (e *ClientError) Error() string {
	return fmt.Sprintf("memcache: malformed request: %s (reply %q, skip %d, close %t)", e.Reason, e.Reply, e.Skip, e.Close)
}

// clientError builds the error for reply; noreply suppresses the reply as
// memcached's out_string does.
func clientError(reply string, noreply bool, skip int) *ClientError {
	e := &ClientError{Reply: reply, Skip: skip, Reason: reply[:len(reply)-2]}
	if noreply {
		e.Reply = ""
	}
	return e
}

// Request is one parsed client request. The caller reuses it across calls;
// ParseRequest resets it first. Its fields are valid only when ParseRequest
// returned a nil error, and the byte slices alias buf.
type Request struct {
	Cmd Cmd
	// Class is how the request is routed: see the package documentation.
	Class msg.Class
	// Keys are the request's keys, in order (one for all but get, gets, gat
	// and gats, which may have several; gat/gats may have none).
	Keys [][]byte
	// Exptime is the exptime argument of gat/gats, to rebuild fragments.
	Exptime []byte
	// NoReply: the request ends in noreply, memcached sends no reply.
	NoReply bool
	// Retrieval: the reply is VALUE blocks ending in END (get, gets, gat, gats).
	Retrieval bool
	// DataStart and DataLen locate the data block of a storage command in
	// buf, without its trailing CRLF.
	DataStart int
	DataLen   int
	// Quiet: a meta command with the q flag, found at buf[QuietStart:QuietEnd]
	// (with the space before it); see meta.go.
	Quiet                bool
	QuietStart, QuietEnd int
	// DecodedKey is a meta command's key decoded from base64 (the b flag),
	// what it is routed by; nil otherwise.
	DecodedKey []byte
}

// Flags are the request's routing flags: its command's, but a meta get
// that changes the item (N, T) is routed as a write.
func (r *Request) Flags() msg.Flags {
	f := r.Cmd.Flags()
	if r.Cmd == CmdMetaGet && r.Class == msg.ClassWrite {
		f = f&^msg.FlagRead | msg.FlagWrite
	}
	return f
}

func (r *Request) reset() {
	*r = Request{Keys: r.Keys[:0]}
}

// ParseRequest parses the first request in buf into req.
//
// It returns n, the length of the request (command line plus, for storage
// commands, the data block and its CRLF), and a nil error. It is stateless:
// call it again with more bytes after ErrIncomplete.
//
// On ErrIncomplete n is the total length the request needs when it is known
// (a storage command whose line is complete: line + bytes + 2), otherwise 0.
//
// On a *ClientError n is the length of the malformed command line (0 when the
// line is too long and has no end yet); see ClientError for what to do next.
func ParseRequest(buf []byte, req *Request, lim *Limits) (n int, err error) {
	req.reset()
	nl := bytes.IndexByte(buf, '\n')
	lineLen := nl
	if nl < 0 {
		lineLen = len(buf)
	}
	if lineLen > lim.maxLine() {
		if err := longLine(buf[:lineLen], nl >= 0, lim); err != nil {
			return 0, err
		}
	}
	if nl < 0 {
		return 0, ErrIncomplete
	}
	n = nl + 1
	// memcached strips the '\r' before '\n' only when the line has at least
	// one other byte, and its tokenizer stops at the first NUL.
	end := nl
	if nl > 1 && buf[nl-1] == '\r' {
		end--
	}
	line := buf[:end]
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}

	s, pos := token(line, 0)
	var cmd Cmd
	switch string(line[s:pos]) {
	case "get":
		cmd = CmdGet
	case "gets":
		cmd = CmdGets
	case "gat":
		cmd = CmdGat
	case "gats":
		cmd = CmdGats
	case "set":
		cmd = CmdSet
	case "add":
		cmd = CmdAdd
	case "replace":
		cmd = CmdReplace
	case "append":
		cmd = CmdAppend
	case "prepend":
		cmd = CmdPrepend
	case "cas":
		cmd = CmdCas
	case "incr":
		cmd = CmdIncr
	case "decr":
		cmd = CmdDecr
	case "touch":
		cmd = CmdTouch
	case "delete":
		cmd = CmdDelete
	case "version":
		cmd = CmdVersion
	case "quit":
		cmd = CmdQuit
	default:
		var ok bool
		if cmd, ok = metaCommand(line[s:pos]); !ok {
			return n, clientError(ReplyError, false, 0)
		}
	}
	req.Cmd, req.Class = cmd, cmd.Command().Class
	if cmd.Meta() {
		return parseMeta(buf, line, pos, n, req)
	}
	if cmd.Flags().Has(msg.FlagKeyless) { // version, quit: nothing to parse
		return n, nil
	}
	if cmd.Retrieval() {
		return parseRetrieval(line, pos, n, req)
	}

	// The other commands have at most 6 arguments; count them all, keep 7.
	var args [7][]byte
	na := 0
	for {
		s, e := token(line, pos)
		if s == e {
			break
		}
		if na < len(args) {
			args[na] = line[s:e]
		}
		na++
		pos = e
	}
	switch cmd {
	case CmdCas:
		if na != 5 && na != 6 {
			return n, clientError(ReplyError, false, 0)
		}
		return parseStorage(buf, n, args[:na], na == 6, req, lim)
	case CmdIncr, CmdDecr, CmdTouch:
		if na != 2 && na != 3 {
			return n, clientError(ReplyError, false, 0)
		}
		noreply := na == 3 && string(args[2]) == "noreply"
		if len(args[0]) > MaxKeyLen {
			return n, clientError(ReplyBadFormat, noreply, 0)
		}
		if cmd == CmdTouch {
			if _, ok := parseInt32(args[1]); !ok {
				return n, clientError(ReplyBadExptime, noreply, 0)
			}
		} else if _, ok := parseUint64(args[1]); !ok {
			return n, clientError(ReplyBadDelta, noreply, 0)
		}
		req.Keys = append(req.Keys, args[0])
		req.NoReply = noreply
		return n, nil
	case CmdDelete:
		if na < 1 || na > 3 {
			return n, clientError(ReplyError, false, 0)
		}
		noreply := false
		if na > 1 {
			// memcached accepts `delete <key> 0 [noreply]` (a zero hold
			// time, from older protocol versions) and `delete <key> noreply`.
			zero := string(args[1]) == "0"
			noreply = string(args[na-1]) == "noreply"
			if !(na == 2 && (zero || noreply) || na == 3 && zero && noreply) {
				return n, clientError(ReplyDeleteUsage, noreply, 0)
			}
		}
		if len(args[0]) > MaxKeyLen {
			return n, clientError(ReplyBadFormat, noreply, 0)
		}
		req.Keys = append(req.Keys, args[0])
		req.NoReply = noreply
		return n, nil
	default: // set, add, replace, append, prepend
		if na != 4 && na != 5 {
			return n, clientError(ReplyError, false, 0)
		}
		return parseStorage(buf, n, args[:na], na == 5, req, lim)
	}
}

// parseStorage parses `<cmd> <key> <flags> <exptime> <bytes> [<cas>] [noreply]`
// (args excludes the command) and its data block, in memcached's order of
// checks (process_update_command). last says the last argument may be noreply.
func parseStorage(buf []byte, n int, args [][]byte, last bool, req *Request, lim *Limits) (int, error) {
	noreply := last && string(args[len(args)-1]) == "noreply"
	key := args[0]
	if len(key) > MaxKeyLen {
		return n, clientError(ReplyBadFormat, noreply, 0)
	}
	flags, ok1 := parseUint32(args[1])
	_, ok2 := parseInt32(args[2])
	vlen, ok3 := parseInt32(args[3])
	if !ok1 || !ok2 || !ok3 {
		return n, clientError(ReplyBadFormat, noreply, 0)
	}
	if req.Cmd == CmdCas {
		if _, ok := parseUint64(args[4]); !ok {
			return n, clientError(ReplyBadFormat, noreply, 0)
		}
	}
	if vlen < 0 || vlen > math.MaxInt32-2 {
		return n, clientError(ReplyBadFormat, noreply, 0)
	}
	size := int64(vlen) + 2
	if lim.tooLarge(len(key), flags, size) {
		return n, clientError(ReplyTooLarge, noreply, int(size))
	}
	total := n + int(size)
	if len(buf) < total {
		return total, ErrIncomplete
	}
	if buf[total-2] != '\r' || buf[total-1] != '\n' {
		return n, clientError(ReplyBadDataChunk, noreply, int(size))
	}
	req.Keys = append(req.Keys, key)
	req.NoReply = noreply
	req.DataStart = n
	req.DataLen = int(vlen)
	return total, nil
}

// parseRetrieval parses the arguments of get, gets (`<key>+`), gat and gats
// (`<exptime> <key>*`), in memcached's order of checks.
func parseRetrieval(line []byte, pos, n int, req *Request) (int, error) {
	req.Retrieval = true
	gat := req.Cmd == CmdGat || req.Cmd == CmdGats
	if gat {
		s, e := token(line, pos)
		if s == e {
			return n, clientError(ReplyError, false, 0)
		}
		if _, ok := parseInt32(line[s:e]); !ok {
			return n, clientError(ReplyBadExptime, false, 0)
		}
		req.Exptime = line[s:e]
		pos = e
	}
	for {
		s, e := token(line, pos)
		if s == e {
			break
		}
		if e-s > MaxKeyLen {
			return n, clientError(ReplyBadFormat, false, 0)
		}
		req.Keys = append(req.Keys, line[s:e])
		pos = e
	}
	switch {
	case len(req.Keys) > 1:
		req.Class = msg.ClassMultiKey
	case len(req.Keys) == 1:
		// the table's class: gat also sets the expiry time, a write, so
		// every replica's expiry stays the same
	case gat:
		// `gat <exptime>` with no key is valid; memcached answers END.
		req.Class = msg.ClassLocal
	default:
		return n, clientError(ReplyError, false, 0)
	}
	return n, nil
}

// longLine applies memcached's rule for a buffer that holds more than MaxLine
// bytes without a '\n': it waits for more only for get/gets lines (after at
// most 100 leading spaces), and closes the connection otherwise. We apply it
// to the line's length whether or not its '\n' has arrived, so the answer
// does not depend on how the bytes were split into reads. (With a MaxLine
// below 105 an incomplete line may end before "gets " is decided: it waits.)
func longLine(line []byte, complete bool, lim *Limits) error {
	sp := 0
	for sp < len(line) && line[sp] == ' ' {
		sp++
	}
	if sp <= 100 {
		rest := line[sp:]
		get := bytes.HasPrefix(rest, []byte("get ")) || bytes.HasPrefix(rest, []byte("gets "))
		if !get && !complete && len(rest) < len("gets ") &&
			(bytes.HasPrefix([]byte("get "), rest) || bytes.HasPrefix([]byte("gets "), rest)) {
			return nil
		}
		if get {
			if len(line) <= lim.maxGetLine() {
				return nil
			}
			return &ClientError{Close: true, Reason: "get line longer than the proxy's limit"}
		}
	}
	return &ClientError{Close: true, Reason: "line too long"}
}

// token returns the bounds of the first space-separated token of line at or
// after i (s == e when there is none). memcached separates tokens by spaces
// only; tabs and other control bytes are part of a token.
func token(line []byte, i int) (s, e int) {
	for i < len(line) && line[i] == ' ' {
		i++
	}
	s = i
	// Tokens are short: a plain loop beats bytes.IndexByte's call overhead.
	for i < len(line) && line[i] != ' ' {
		i++
	}
	return s, i
}

// The number parsers mirror memcached's safe_strtoul, safe_strtol and
// safe_strtoull (util.c) on 64-bit Linux, quirks included: C strtol accepts
// leading whitespace (tabs...), a sign, and any whitespace after the digits
// ends the number ("5\tjunk" is 5); long values are truncated to 32 bits
// ("4294967299" bytes is 3); "-1" is rejected for unsigned values but
// "-18446744073709551615" is 1.

// cSpace is C isspace in the C locale.
func cSpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r'
}

// strtou is C strtoull(s, &end, 10): ok is false when there are no digits or
// the magnitude overflows 64 bits (ERANGE).
func strtou(s []byte) (v uint64, neg bool, end int, ok bool) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start, overflow := i, false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		}
		v = v*10 + d
	}
	if i == start || overflow {
		return 0, false, 0, false
	}
	if neg {
		v = -v
	}
	return v, neg, i, true
}

// parseUint64 is safe_strtoull (cas unique, incr/decr delta).
func parseUint64(s []byte) (uint64, bool) {
	v, neg, end, ok := strtou(s)
	if !ok || end < len(s) && !cSpace(s[end]) {
		return 0, false
	}
	if int64(v) < 0 && neg {
		return 0, false
	}
	return v, true
}

// parseUint32 is safe_strtoul (flags): unsigned long, stored in 32 bits.
func parseUint32(s []byte) (uint32, bool) {
	v, ok := parseUint64(s)
	return uint32(v), ok
}

// parseInt32 is safe_strtol (exptime, bytes): long, stored in 32 bits.
func parseInt32(s []byte) (int32, bool) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var mag uint64
	start, overflow := i, false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if mag > (limit-d)/10 {
			overflow = true
		} else {
			mag = mag*10 + d
		}
	}
	if i == start || overflow {
		return 0, false
	}
	if i < len(s) && !cSpace(s[i]) {
		return 0, false
	}
	v := int64(mag)
	if neg {
		v = -v
	}
	return int32(v), true
}
