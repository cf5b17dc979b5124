package pubsub

// Match reports whether s matches the glob pattern as Redis matches
// channel patterns and KEYS (util.c stringmatchlen, case-sensitive): '*'
// any run of bytes, '?' any one byte, '[...]' a set with ranges ('a-z',
// reversed ranges allowed) and '^' negation, '\' quoting the next byte. An
// unterminated set keeps what it read, as Redis's does.
func Match[P, S ~string | ~[]byte](pattern P, s S) bool {
	skip := false
	return match(pattern, s, &skip)
}

// match is stringmatchlen_impl; skipLonger stops the '*' loop of every
// caller once a deeper '*' has tried every suffix of s without a match (no
// longer suffix can match either), which keeps patterns of many stars from
// taking exponential time.
func match[P, S ~string | ~[]byte](p P, s S, skipLonger *bool) bool {
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if match(p[1:], s, skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			matched := false
			for {
				if len(p) >= 2 && p[0] == '\\' {
					p = p[1:]
					if p[0] == s[0] {
						matched = true
					}
				} else if len(p) == 0 {
					// unterminated: Redis steps back onto the last byte
					// read, which the loop's step below consumes
					p = p[:0]
					break
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					lo, hi := p[0], p[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					p = p[2:]
					if s[0] >= lo && s[0] <= hi {
						matched = true
					}
				} else if p[0] == s[0] {
					matched = true
				}
				p = p[1:]
			}
			if not {
				matched = !matched
			}
			if !matched {
				return false
			}
			s = s[1:]
			if len(p) == 0 {
				// the unterminated set consumed the pattern
				return len(s) == 0
			}
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
