package resp

import "bytes"

// ParseRequest parses one client request from the start of buf.
//
// On success n is the number of bytes the request took and out holds its
// arguments, appended to args[:0]; out[0] is the command name. For a RESP
// array every argument is a slice of buf (capped, so appending to one cannot
// overwrite buf). For an inline request see [IsInline]: arguments that needed
// unquoting live in a buffer of their own.
//
// A request that carries no command is consumed and skipped, as Redis does:
// an empty or negative array (`*0\r\n`, `*-1\r\n`) and a blank inline line
// return n > 0 with zero arguments. The caller drops those n bytes and parses
// again.
//
// If buf holds only the beginning of a request, err is [ErrIncomplete] and n
// is a size hint: 0 when nothing is known yet, or, once the header of a bulk
// string has been read but not its payload, the offset just past that bulk's
// CRLF. The hint is a lower bound on the size of the whole request; it is
// exact when the bulk is the last argument (a large SET value). A session can
// use it to read a large value into one buffer of the right size, then parse
// again (and again, should the request still be incomplete).
//
// Malformed or over-limit input returns a *[ProtocolError]; the connection
// cannot be resynchronised and should be closed after replying.
//
// lim nil means [DefaultLimits]. ParseRequest allocates nothing for RESP
// arrays when args has enough capacity.
func ParseRequest(buf []byte, args [][]byte, lim *Limits) (n int, out [][]byte, err error) {
	if lim == nil {
		lim = &defaultLimits
	}
	out = args[:0]
	if len(buf) == 0 {
		return 0, out, ErrIncomplete
	}
	if buf[0] != '*' {
		return parseInline(buf, out, lim)
	}
	count, pos, st := readNumLine(buf, 1)
	switch st {
	case lineIncomplete:
		return 0, out, ErrIncomplete
	case lineInvalid:
		return 0, out, errMultibulkLen
	}
	if count <= 0 {
		return pos, out, nil
	}
	if count > lim.MaxArrayLen {
		return 0, out, limitError(errMultibulkLen.Msg, "MaxArrayLen", lim.MaxArrayLen, count)
	}
	for range count {
		if pos >= len(buf) {
			return 0, out[:0], ErrIncomplete
		}
		if buf[pos] != '$' {
			return 0, out[:0], expectedDollarErrs[buf[pos]]
		}
		size, next, st := readNumLine(buf, pos+1)
		switch st {
		case lineIncomplete:
			return 0, out[:0], ErrIncomplete
		case lineInvalid:
			return 0, out[:0], errBulkLen
		}
		if size < 0 {
			return 0, out[:0], errBulkLen
		}
		if max := lim.maxBulk(); size > max {
			return 0, out[:0], limitError(errBulkLen.Msg, "MaxBulkLen", max, size)
		}
		end, hint, err := bulkEnd(buf, next, size)
		if err != nil {
			return hint, out[:0], err
		}
		out = append(out, buf[next:end:end])
		pos = end + 2
	}
	return pos, out, nil
}

// IsInline reports whether the request at the start of buf is an inline
// (telnet-style) command rather than a RESP array. The session re-encodes
// inline requests with [AppendCommand] before forwarding them, so that
// datastores and peers only ever see RESP arrays.
func IsInline(buf []byte) bool { return len(buf) > 0 && buf[0] != '*' }

// readNumLine results.
const (
	lineOK = iota
	lineIncomplete
	lineInvalid
)

// readNumLine reads the decimal that starts at buf[i] and ends with CRLF. It
// rejects a byte that cannot belong to a number as soon as it sees it, and
// a CR not followed by LF (Redis tolerates both until a line is complete; we
// are stricter, see doc.go). next is the offset after the LF.
func readNumLine(buf []byte, i int) (v int64, next int, st int) {
	// Common case: a short positive decimal, accumulated while scanning.
	var acc uint64
	plain := true
	j := i
	for ; j < len(buf); j++ {
		c := buf[j]
		if c == '\r' {
			break
		}
		if j-i >= 20 {
			return 0, 0, lineInvalid
		}
		if d := c - '0'; d <= 9 {
			acc = acc*10 + uint64(d)
			continue
		}
		if c != '-' {
			return 0, 0, lineInvalid
		}
		plain = false
	}
	if j+1 >= len(buf) {
		return 0, 0, lineIncomplete
	}
	if buf[j+1] != '\n' {
		return 0, 0, lineInvalid
	}
	if plain && j > i && j-i <= 18 && buf[i] != '0' {
		return int64(acc), j + 2, lineOK
	}
	v, ok := parseInt(buf[i:j])
	if !ok {
		return 0, 0, lineInvalid
	}
	return v, j + 2, lineOK
}

// parseInline parses a telnet-style request: one line ended by LF (an
// optional CR before it is dropped), split like Redis's sdssplitargs.
func parseInline(buf []byte, out [][]byte, lim *Limits) (int, [][]byte, error) {
	limit := max(lim.MaxInlineLen, 0)
	window := buf
	if len(window)-1 > limit {
		window = window[:limit+1]
	}
	nl := bytes.IndexByte(window, '\n')
	if nl < 0 {
		if len(buf) > limit {
			return 0, out, limitError("Protocol error: too big inline request", "MaxInlineLen", int64(lim.MaxInlineLen), -1)
		}
		return 0, out, ErrIncomplete
	}
	line := buf[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	out, ok := splitArgs(line, out)
	if !ok {
		return 0, out[:0], errUnbalanced
	}
	if int64(len(out)) > lim.MaxArrayLen {
		return 0, out[:0], limitError(errMultibulkLen.Msg, "MaxArrayLen", lim.MaxArrayLen, int64(len(out)))
	}
	return nl + 1, out, nil
}

// isSpace is C's isspace in the C locale, which sdssplitargs uses to skip
// blanks and to check what follows a closing quote.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// endsToken is the set of bytes that end an unquoted token in sdssplitargs
// (it also stops at NUL, which we treat as an ordinary byte; see doc.go).
func endsToken(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// splitArgs splits an inline line into arguments with the rules of Redis's
// sdssplitargs. Plain tokens, and tokens that are wholly one quoted string
// without backslashes, are slices of line. Any other token (escapes, or a
// quote inside a token: a"b c" is `ab c`) is unquoted into one buffer
// allocated for this line. ok is false for unbalanced quotes, or a closing
// quote followed by something other than a blank.
func splitArgs(line []byte, out [][]byte) (_ [][]byte, ok bool) {
	var scratch []byte
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return out, true
		}
		start := i
		for i < len(line) && !endsToken(line[i]) && line[i] != '"' && line[i] != '\'' {
			i++
		}
		if i == len(line) || endsToken(line[i]) {
			out = append(out, line[start:i:i])
			continue
		}
		if i == start {
			// A token that opens with a quote: no copy if it closes without
			// any backslash before the closing quote.
			q := line[i]
			j := i + 1
			for j < len(line) && line[j] != q && line[j] != '\\' {
				j++
			}
			if j < len(line) && line[j] == q {
				if j+1 < len(line) && !isSpace(line[j+1]) {
					return out, false
				}
				out = append(out, line[i+1:j:j])
				i = j + 1
				continue
			}
		}
		if scratch == nil {
			scratch = make([]byte, 0, len(line))
		}
		tok := len(scratch)
		scratch = append(scratch, line[start:i]...)
		var good bool
		i, scratch, good = unquote(line, i, scratch)
		if !good {
			return out, false
		}
		out = append(out, scratch[tok:len(scratch):len(scratch)])
	}
}

// unquote continues a token at line[i], which is a quote, appending the
// unquoted bytes to dst until the token ends. scratch never grows beyond
// len(line), so earlier tokens stay valid.
func unquote(line []byte, i int, dst []byte) (next int, _ []byte, ok bool) {
	inDouble, inSingle := false, false
	for {
		switch {
		case inDouble:
			if i >= len(line) {
				return i, dst, false
			}
			c := line[i]
			switch {
			case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
				dst = append(dst, hexVal(line[i+2])<<4|hexVal(line[i+3]))
				i += 4
			case c == '\\' && i+1 < len(line):
				e := line[i+1]
				switch e {
				case 'n':
					e = '\n'
				case 'r':
					e = '\r'
				case 't':
					e = '\t'
				case 'b':
					e = '\b'
				case 'a':
					e = '\a'
				}
				dst = append(dst, e)
				i += 2
			case c == '"':
				if i+1 < len(line) && !isSpace(line[i+1]) {
					return i, dst, false
				}
				return i + 1, dst, true
			default:
				dst = append(dst, c)
				i++
			}
		case inSingle:
			if i >= len(line) {
				return i, dst, false
			}
			c := line[i]
			switch {
			case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
				dst = append(dst, '\'')
				i += 2
			case c == '\'':
				if i+1 < len(line) && !isSpace(line[i+1]) {
					return i, dst, false
				}
				return i + 1, dst, true
			default:
				dst = append(dst, c)
				i++
			}
		default:
			if i >= len(line) || endsToken(line[i]) {
				return i, dst, true
			}
			switch c := line[i]; c {
			case '"':
				inDouble = true
			case '\'':
				inSingle = true
			default:
				dst = append(dst, c)
			}
			i++
		}
	}
}
