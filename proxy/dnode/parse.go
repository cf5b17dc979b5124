package dnode

import (
	"errors"
	"math/bits"
	"strconv"
)

// ErrIncomplete means buf holds only the beginning of a frame header: read
// more bytes and call ParseHeader again from the same offset.
var ErrIncomplete = errors.New("dnode: incomplete frame header")

// Limits caps what ParseHeader accepts. A nil *Limits, or a field that is
// zero or negative, means the default of [DefaultLimits]; values over 256 MiB
// count as 256 MiB.
type Limits struct {
	// MaxDataLen is the largest data field, in bytes (default 1 MiB).
	// Upstream writes one byte, or RSA_size of the shared key (128 bytes
	// for a 1024-bit key, 512 for 4096 bits) on a secured connection's first
	// frame.
	MaxDataLen int
	// MaxHeaderLen caps the header bytes other than the data field: leading
	// spaces, numbers and separators (default 4 KiB). A header as upstream
	// writes it has fewer than 64 of them. ParseHeader fails, rather than
	// asking for more input, once a header runs past MaxHeaderLen plus its
	// data_len, so garbage cannot make the caller buffer without bound.
	MaxHeaderLen int
}

// DefaultLimits returns the limits used when none are given.
func DefaultLimits() Limits {
	return Limits{MaxDataLen: 1 << 20, MaxHeaderLen: 4 << 10}
}

// limitCap bounds each limit (256 MiB), so that offset arithmetic cannot
// overflow even where int has 32 bits.
const limitCap = 1 << 28

func (l *Limits) resolve() (maxData, maxHeader int) {
	d := DefaultLimits()
	maxData, maxHeader = d.MaxDataLen, d.MaxHeaderLen
	if l != nil {
		if l.MaxDataLen > 0 {
			maxData = min(l.MaxDataLen, limitCap)
		}
		if l.MaxHeaderLen > 0 {
			maxHeader = min(l.MaxHeaderLen, limitCap)
		}
	}
	return maxData, maxHeader
}

// FrameError is a malformed or over-limit frame header. The stream cannot be
// resynchronised safely, so the caller closes that peer connection.
type FrameError struct {
	// Reason says what is wrong, naming the field: "expected a digit in
	// msg_id", "data_len over MaxDataLen 1048576".
	Reason string
	// Offset is the offset in the input of the offending byte.
	Offset int
	// Seen is the input up to and including the offending byte, quoted and
	// escaped (strconv.QuoteToASCII), its middle cut out when it is long.
	Seen string
}

func (e *FrameError) Error() string {
	return "dnode: bad frame header: " + e.Reason + " at offset " + strconv.Itoa(e.Offset) + ", after " + e.Seen
}

// seenHead and seenTail bound the bytes a FrameError quotes.
const (
	seenHead = 24
	seenTail = 40
)

func quoteSeen(b []byte) string {
	if len(b) <= seenHead+seenTail {
		return strconv.QuoteToASCII(string(b))
	}
	return strconv.QuoteToASCII(string(b[:seenHead])) + "..." + strconv.QuoteToASCII(string(b[len(b)-seenTail:]))
}

// Field names used in FrameError reasons, as upstream's documentation and
// the package documentation call them.
const (
	fieldMsgID      = "msg_id"
	fieldType       = "type"
	fieldFlags      = "flags"
	fieldVersion    = "version"
	fieldSameDC     = "same_dc"
	fieldDataLen    = "data_len"
	fieldPayloadLen = "payload_len"
)

// parser walks one header. Bytes at offsets from max on are past the header
// cap; bytes from len(buf) on have not arrived. view is buf cut at max, the
// bytes the parser may read.
type parser struct {
	view []byte
	buf  []byte
	i    int
	max  int
}

// setMax sets the header cap.
func (p *parser) setMax(max int) {
	p.max = max
	p.view = p.buf[:min(len(p.buf), max)]
}

// fail returns a FrameError for the byte at offset off.
func (p *parser) fail(off int, reason string) error {
	return &FrameError{Reason: reason, Offset: off, Seen: quoteSeen(p.buf[:min(off+1, len(p.buf))])}
}

// short is the error for needing the byte at p.i when it is not available.
func (p *parser) short() error {
	if p.i >= p.max {
		// Quote exactly the bytes up to the cap, however many have arrived,
		// so that every read size yields the same error.
		off := p.max - 1
		return &FrameError{
			Reason: "header longer than its limit (MaxHeaderLen plus data_len) of " + strconv.Itoa(p.max) + " bytes",
			Offset: off, Seen: quoteSeen(p.buf[:off+1]),
		}
	}
	return ErrIncomplete
}

// peek returns the byte at p.i, or ok false when it is not available.
func (p *parser) peek() (c byte, ok bool) {
	if p.i >= len(p.view) {
		return 0, false
	}
	return p.view[p.i], true
}

// skipSpaces consumes a run of spaces, possibly empty.
func (p *parser) skipSpaces() error {
	for {
		c, ok := p.peek()
		if !ok {
			return p.short()
		}
		if c != ' ' {
			return nil
		}
		p.i++
	}
}

// expect consumes the byte want, or fails naming what it stands for:
// "expected " + what + where. The two parts are joined only on failure, so
// that success does not allocate.
func (p *parser) expect(want byte, what, where string) error {
	c, ok := p.peek()
	if !ok {
		return p.short()
	}
	if c != want {
		return p.fail(p.i, "expected "+what+where+", got "+strconv.QuoteRuneToASCII(rune(c)))
	}
	p.i++
	return nil
}

// sep consumes the run of one or more spaces after a field.
func (p *parser) sep(after string) error {
	if err := p.expect(' ', "' ' after ", after); err != nil {
		return err
	}
	return p.skipSpaces()
}

// number consumes one or more decimal digits whose value is at most max.
// It stops before the first non-digit, which it leaves to the caller. limit
// names the Limits field behind max, if any, for the error.
func (p *parser) number(field string, max uint64, limit string) (uint64, error) {
	var v uint64
	start := p.i
	for {
		c, ok := p.peek()
		if !ok {
			return 0, p.short()
		}
		if c < '0' || c > '9' {
			if p.i == start {
				return 0, p.fail(p.i, "expected a digit in "+field+", got "+strconv.QuoteRuneToASCII(rune(c)))
			}
			return v, nil
		}
		// v*10 + digit, checked for uint64 overflow without a division.
		hi, lo := bits.Mul64(v, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi|carry != 0 || lo > max {
			if limit != "" {
				limit += " "
			}
			return 0, p.fail(p.i, field+" over "+limit+strconv.FormatUint(max, 10))
		}
		v = lo
		p.i++
	}
}

// ParseHeader parses the frame header at the start of buf into *h and
// returns its length n: the payload starts at buf[n].
//
// When buf holds only part of a header, err is [ErrIncomplete]; read more
// and call again with the same start (ParseHeader keeps no state, and a
// header is short). Malformed or over-limit input gives a *[FrameError], as
// soon as the bytes seen cannot start a valid header. h is written only when
// err is nil; h.Data then points into buf. lim may be nil.
//
// ParseHeader accepts what upstream writes and, like upstream's parser, runs
// of spaces before the magic and between fields. It is stricter elsewhere;
// see the package documentation. It does not allocate unless it fails.
func ParseHeader(buf []byte, h *Header, lim *Limits) (n int, err error) {
	maxData, maxHeader := lim.resolve()
	p := parser{buf: buf}
	p.setMax(maxHeader)

	if err := p.skipSpaces(); err != nil {
		return 0, err
	}
	for k := range len(magicToken) {
		c, ok := p.peek()
		if !ok {
			return 0, p.short()
		}
		if c != magicToken[k] {
			return 0, p.fail(p.i, "expected the magic "+strconv.Quote(magicToken)+" after leading spaces")
		}
		p.i++
	}
	if err := p.sep("the magic"); err != nil {
		return 0, err
	}

	var hdr Header
	id, err := p.number(fieldMsgID, 1<<64-1, "")
	if err != nil {
		return 0, err
	}
	hdr.ID = id
	if err := p.sep(fieldMsgID); err != nil {
		return 0, err
	}

	t, err := p.number(fieldType, 1<<8-1, "")
	if err != nil {
		return 0, err
	}
	hdr.Type = Type(t)
	if err := p.sep(fieldType); err != nil {
		return 0, err
	}

	f, err := p.number(fieldFlags, maxFlags, "")
	if err != nil {
		return 0, err
	}
	hdr.Flags = uint8(f)
	if err := p.sep(fieldFlags); err != nil {
		return 0, err
	}

	v, err := p.number(fieldVersion, 1<<8-1, "")
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, p.fail(p.i-1, "version 0 (upstream writes 1)")
	}
	hdr.Version = uint8(v)
	if err := p.sep(fieldVersion); err != nil {
		return 0, err
	}

	dc, err := p.number(fieldSameDC, 1, "")
	if err != nil {
		return 0, err
	}
	hdr.SameDC = dc == 1
	if err := p.sep(fieldSameDC); err != nil {
		return 0, err
	}

	if err := p.expect('*', "'*' before ", fieldDataLen); err != nil {
		return 0, err
	}
	dl, err := p.number(fieldDataLen, uint64(maxData), "MaxDataLen")
	if err != nil {
		return 0, err
	}
	if dl == 0 {
		return 0, p.fail(p.i-1, "data_len 0 (upstream writes at least 1)")
	}
	// Exactly one space: the data may itself start with spaces.
	if err := p.expect(' ', "' ' after ", fieldDataLen); err != nil {
		return 0, err
	}
	dataLen := int(dl)
	p.setMax(maxHeader + dataLen)
	if len(buf)-p.i < dataLen {
		return 0, ErrIncomplete
	}
	hdr.Data = buf[p.i : p.i+dataLen : p.i+dataLen]
	if hdr.Flags&FlagEncrypted == 0 {
		// an encrypted frame's data is an RSA-encrypted key, any bytes
		st, ok, reason := parseStamp(hdr.Data)
		if ok && reason != "" {
			return 0, p.fail(p.i, reason)
		}
		hdr.Stamp = st
	}
	p.i += dataLen
	if err := p.sep("the data"); err != nil {
		return 0, err
	}

	if err := p.expect('*', "'*' before ", fieldPayloadLen); err != nil {
		return 0, err
	}
	pl, err := p.number(fieldPayloadLen, 1<<32-1, "")
	if err != nil {
		return 0, err
	}
	hdr.PayloadLen = uint32(pl)
	if err := p.expect('\r', "CR after ", fieldPayloadLen); err != nil {
		return 0, err
	}
	if err := p.expect('\n', "LF after ", "CR"); err != nil {
		return 0, err
	}
	*h = hdr
	return p.i, nil
}
