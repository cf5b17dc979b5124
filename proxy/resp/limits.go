package resp

import (
	"errors"
	"math"
	"strconv"
)

// ErrIncomplete means buf holds only the beginning of a request or reply.
// The n returned with it is a size hint (see [ParseRequest]).
var ErrIncomplete = errors.New("resp: incomplete message")

// Limits caps what the parsers accept. The zero value is not useful; start
// from [DefaultLimits].
type Limits struct {
	// MaxArrayLen is the largest argument count of a request, RESP array or
	// inline (Redis: 1024*1024 before 7.0).
	MaxArrayLen int64
	// MaxBulkLen is the largest bulk string, in requests and replies, in
	// bytes (Redis proto-max-bulk-len: 512 MB). In replies it also bounds a
	// simple string, error, double or big number line.
	MaxBulkLen int64
	// MaxInlineLen is the longest inline request line, in bytes, without its
	// line feed (Redis PROTO_INLINE_MAX_SIZE: 64 KB).
	MaxInlineLen int
	// MaxDepth is the deepest nesting of aggregates (and attributes) in a
	// reply. A plain array of bulk strings has depth 1. At most 1024.
	MaxDepth int
}

// DefaultLimits returns the limits of a stock Redis server, plus a reply
// nesting depth of 128.
func DefaultLimits() Limits {
	return Limits{
		MaxArrayLen:  1024 * 1024,
		MaxBulkLen:   512 << 20,
		MaxInlineLen: 64 << 10,
		MaxDepth:     128,
	}
}

// maxDepthCap bounds Limits.MaxDepth whatever its value.
const maxDepthCap = 1024

// maxBulkCap bounds Limits.MaxBulkLen whatever its value (2^61 bytes on
// 64-bit platforms), so that offset arithmetic cannot overflow.
const maxBulkCap = math.MaxInt / 4

// maxBulk is MaxBulkLen clamped to [0, maxBulkCap].
func (l *Limits) maxBulk() int64 { return min(max(l.MaxBulkLen, 0), maxBulkCap) }

// bulkEnd checks the size bytes of payload starting at buf[next] and the
// CRLF after them, and returns the payload's end. When buf stops short it
// returns ErrIncomplete and the offset just past the CRLF as a hint.
func bulkEnd(buf []byte, next int, size int64) (end, hint int, err error) {
	if size+2 > int64(len(buf)-next) {
		return 0, int(min(int64(next)+size+2, math.MaxInt)), ErrIncomplete
	}
	end = next + int(size)
	if buf[end] != '\r' || buf[end+1] != '\n' {
		return 0, 0, errBulkCRLF
	}
	return end, 0, nil
}

var defaultLimits = DefaultLimits()

// ProtocolError is malformed or over-limit input. Its text follows Redis's
// own wording (`Protocol error: invalid bulk length`), so the session can
// send `-ERR ` + Error() and close the connection, as Redis does. Errors
// for malformed input are shared values (rejecting input allocates nothing):
// compare them with errors.As, and do not modify them.
type ProtocolError struct {
	// Msg is the Redis wording, e.g. "Protocol error: invalid multibulk length".
	Msg string
	// Limit names the exceeded [Limits] field ("MaxBulkLen"), or is empty
	// when the input is malformed rather than too large.
	Limit string
	// Max is the value of that limit.
	Max int64
	// Value is the offending length, or -1 when it is not known yet
	// (an inline line without its line feed).
	Value int64
}

func (e *ProtocolError) Error() string {
	if e.Limit == "" {
		return e.Msg
	}
	b := make([]byte, 0, len(e.Msg)+48)
	b = append(b, e.Msg...)
	b = append(b, " ("...)
	if e.Value >= 0 {
		b = strconv.AppendInt(b, e.Value, 10)
		b = append(b, " > "...)
	} else {
		b = append(b, "> "...)
	}
	b = append(b, e.Limit...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Max, 10)
	b = append(b, ')')
	return string(b)
}

// Fixed protocol errors, shared so that rejecting input does not allocate.
var (
	errMultibulkLen    = &ProtocolError{Msg: "Protocol error: invalid multibulk length", Value: -1}
	errBulkLen         = &ProtocolError{Msg: "Protocol error: invalid bulk length", Value: -1}
	errBulkCRLF        = &ProtocolError{Msg: "Protocol error: bulk string not followed by CRLF", Value: -1}
	errUnbalanced      = &ProtocolError{Msg: "Protocol error: unbalanced quotes in request", Value: -1}
	errLineCRLF        = &ProtocolError{Msg: "Protocol error: CR not followed by LF", Value: -1}
	errInteger         = &ProtocolError{Msg: "Protocol error: invalid integer reply", Value: -1}
	errBoolean         = &ProtocolError{Msg: "Protocol error: invalid boolean reply", Value: -1}
	errNull            = &ProtocolError{Msg: "Protocol error: invalid null reply", Value: -1}
	errBigNumber       = &ProtocolError{Msg: "Protocol error: invalid big number reply", Value: -1}
	errStreamed        = &ProtocolError{Msg: "Protocol error: streamed RESP3 aggregates and strings are not supported", Value: -1}
	expectedDollarErrs [256]*ProtocolError
	replyTypeErrs      [256]*ProtocolError
)

func init() {
	for c := range 256 {
		// Redis prints the byte as a C char; keep the others readable.
		b := string(rune(c))
		if c < ' ' || c > '~' {
			b = `\x` + strconv.FormatUint(uint64(c)|0x100, 16)[1:]
		}
		expectedDollarErrs[c] = &ProtocolError{Msg: "Protocol error: expected '$', got '" + b + "'", Value: -1}
		replyTypeErrs[c] = &ProtocolError{Msg: "Protocol error: invalid reply type byte '" + b + "'", Value: -1}
	}
}

func limitError(msg, limit string, max, value int64) *ProtocolError {
	return &ProtocolError{Msg: msg, Limit: limit, Max: max, Value: value}
}

// parseInt parses b as Redis's string2ll does: an optional '-', then either
// a single "0" or a digit 1-9 followed by digits; no '+', no leading zeros,
// no "-0", no spaces, no overflow.
func parseInt(b []byte) (int64, bool) {
	digits := b
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		digits = b[1:]
	}
	switch {
	case len(digits) == 0 || len(digits) > 19: // 19 digits hold any int64
		return 0, false
	case digits[0] == '0':
		return 0, len(digits) == 1 && !neg
	}
	var v uint64 // at most 19 digits: cannot overflow
	for _, c := range digits {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true // v == 1<<63 wraps to MinInt64, as intended
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
