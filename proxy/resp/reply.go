package resp

import "bytes"

// ParseReply returns the length of the one complete reply at the start of
// buf. It understands every RESP2 type (+ - : $ *) and the RESP3 ones
// (_ , # ! = ( % ~ > and | attributes, which are counted with the value
// they annotate), nested up to lim.MaxDepth. It does not allocate.
//
// The incomplete contract is [ParseRequest]'s: err is [ErrIncomplete] and n
// is 0, or, inside the payload of a bulk, blob error or verbatim string, the
// offset just past that string's CRLF (a lower bound on the reply's size).
//
// Strictness: every line must end with CRLF; integers, lengths, booleans
// and nulls must be well formed; only `$-1` and `*-1` may be negative. A
// simple string or error may contain a bare LF (Redis can emit one from a
// Lua status reply). Streamed RESP3 strings and aggregates (`$?`), which
// Redis never sends, are rejected.
//
// lim nil means [DefaultLimits].
func ParseReply(buf []byte, lim *Limits) (n int, err error) {
	if lim == nil {
		lim = &defaultLimits
	}
	maxDepth := min(lim.MaxDepth, maxDepthCap)
	// pending[d] is how many values are still expected by the aggregate
	// open at depth d+1. Shallow replies keep it on the stack.
	var small [32]int64
	pending := small[:0]
	pos := 0
	for {
		if pos >= len(buf) {
			return 0, ErrIncomplete
		}
		t := buf[pos]
		switch t {
		case '+', '-', ',':
			end, st := lineEnd(buf, pos+1, lim.maxBulk())
			if st != lineOK {
				return 0, lineErr(st, lim)
			}
			pos = end
		case ':':
			_, next, st := readNumLine(buf, pos+1)
			if st != lineOK {
				return 0, numErr(st, errInteger)
			}
			pos = next
		case '(':
			end, st := lineEnd(buf, pos+1, lim.maxBulk())
			if st != lineOK {
				return 0, lineErr(st, lim)
			}
			if !isBigNumber(buf[pos+1 : end-2]) {
				return 0, errBigNumber
			}
			pos = end
		case '#':
			if len(buf) < pos+4 {
				if len(buf) > pos+1 && buf[pos+1] != 't' && buf[pos+1] != 'f' ||
					len(buf) > pos+2 && buf[pos+2] != '\r' {
					return 0, errBoolean
				}
				return 0, ErrIncomplete
			}
			if buf[pos+1] != 't' && buf[pos+1] != 'f' || buf[pos+2] != '\r' || buf[pos+3] != '\n' {
				return 0, errBoolean
			}
			pos += 4
		case '_':
			if len(buf) < pos+3 {
				if len(buf) > pos+1 && buf[pos+1] != '\r' {
					return 0, errNull
				}
				return 0, ErrIncomplete
			}
			if buf[pos+1] != '\r' || buf[pos+2] != '\n' {
				return 0, errNull
			}
			pos += 3
		case '$', '!', '=':
			if pos+1 < len(buf) && buf[pos+1] == '?' {
				return 0, errStreamed
			}
			size, next, st := readNumLine(buf, pos+1)
			if st != lineOK {
				return 0, numErr(st, errBulkLen)
			}
			if size == -1 && t == '$' {
				pos = next
				break
			}
			if size < 0 {
				return 0, errBulkLen
			}
			if max := lim.maxBulk(); size > max {
				return 0, limitError(errBulkLen.Msg, "MaxBulkLen", max, size)
			}
			end, hint, err := bulkEnd(buf, next, size)
			if err != nil {
				return hint, err
			}
			pos = end + 2
		case '*', '%', '~', '>', '|':
			if pos+1 < len(buf) && buf[pos+1] == '?' {
				return 0, errStreamed
			}
			count, next, st := readNumLine(buf, pos+1)
			if st != lineOK {
				return 0, numErr(st, errMultibulkLen)
			}
			pos = next
			if count == -1 && t == '*' {
				break
			}
			// Counts are not capped by MaxArrayLen: a reply may legitimately
			// hold millions of elements and costs this parser nothing. The
			// cap below only keeps the arithmetic exact.
			if count < 0 || count > 1<<40 {
				return 0, errMultibulkLen
			}
			switch t {
			case '%':
				count *= 2
			case '|':
				// The attribute's pairs, then the value it annotates.
				count = count*2 + 1
			}
			if count == 0 {
				break
			}
			if len(pending) >= maxDepth {
				return 0, limitError("Protocol error: reply nested too deeply", "MaxDepth", int64(maxDepth), -1)
			}
			pending = append(pending, count)
			continue
		default:
			return 0, replyTypeErrs[t]
		}
		// One value is complete; close every aggregate it completes.
		for {
			if len(pending) == 0 {
				return pos, nil
			}
			top := len(pending) - 1
			pending[top]--
			if pending[top] > 0 {
				break
			}
			pending = pending[:top]
		}
	}
}

// lineEnd finds the CRLF that ends the line starting at buf[i] and returns
// the offset after it. Lines longer than limit bytes are an error.
func lineEnd(buf []byte, i int, limit int64) (end int, st int) {
	limit = max(limit, 0)
	window := buf[i:]
	if int64(len(window))-1 > limit {
		window = window[:limit+1]
	}
	cr := bytes.IndexByte(window, '\r')
	if cr < 0 {
		if int64(len(buf)-i) > limit {
			return 0, lineTooLong
		}
		return 0, lineIncomplete
	}
	j := i + cr
	if j+1 >= len(buf) {
		return 0, lineIncomplete
	}
	if buf[j+1] != '\n' {
		return 0, lineInvalid
	}
	return j + 2, lineOK
}

const lineTooLong = lineInvalid + 1

func lineErr(st int, lim *Limits) error {
	switch st {
	case lineIncomplete:
		return ErrIncomplete
	case lineTooLong:
		return limitError("Protocol error: too big reply line", "MaxBulkLen", lim.maxBulk(), -1)
	}
	return errLineCRLF
}

func numErr(st int, invalid error) error {
	if st == lineIncomplete {
		return ErrIncomplete
	}
	return invalid
}

// isBigNumber accepts an optional sign followed by one or more digits.
func isBigNumber(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ReplyIsError reports whether reply is an error: a RESP2 simple error
// (`-`) or a RESP3 blob error (`!`). Only the first byte is looked at, so an
// error annotated by a RESP3 attribute is not recognised; RESP2 connections,
// the only ones the proxy opens, never carry attributes.
func ReplyIsError(reply []byte) bool {
	return len(reply) > 0 && (reply[0] == '-' || reply[0] == '!')
}
