package resp

// Transactions travel as one unit: the RESP arrays of MULTI, the queued
// commands and EXEC, back to back, answered by as many replies (see
// proxy/session_redis.go).

// CountCommands returns the number of RESP arrays at the start of raw, a
// unit the proxy encoded itself; it stops at the first byte that does not
// start a well-formed array.
func CountCommands(raw []byte) int {
	n := 0
	for len(raw) > 0 {
		var args [16][]byte
		k, _, err := ParseRequest(raw, args[:0], nil)
		if err != nil || k == 0 || raw[0] != '*' {
			break
		}
		raw = raw[k:]
		n++
	}
	return n
}

// SkipReplies returns the offset after the first n complete replies of buf,
// or ok false when buf does not hold them all.
func SkipReplies(buf []byte, n int, lim *Limits) (end int, ok bool) {
	for ; n > 0; n-- {
		k, err := ParseReply(buf[end:], lim)
		if err != nil {
			return end, false
		}
		end += k
	}
	return end, true
}

// ParseInt parses a decimal integer argument as Redis does (no spaces, no
// plus sign, no leading zeros but "0").
func ParseInt(b []byte) (int64, bool) { return parseInt(b) }
