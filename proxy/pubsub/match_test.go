package pubsub_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/pubsub"
)

var matchNames = []string{
	"", "a", "b", "ab", "abc", "news.art", "news.sport", "news.", "news", "h?llo", "hello", "hallo", "hxllo", "hllo",
	"heeeello", "a*b", "a\\b", "[x", "x]", "-", "a-c", "^", "b^", "news.art.figurative", "***", "aaaaaaaaaaaaaaaaaaaab",
}

var matchPatterns = []string{
	"*", "a", "?", "??", "a*", "*b", "*c*", "news.*", "news.?*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo",
	"h[b-a]llo", "h\\?llo", "a\\*b", "a\\\\b", "[x", "[", "x]", "[]]", "[-]", "[a-]", "a[-]c", "[\\]]", "[^]", "b[\\^]",
	"*a*a*a*a*a*a*a*b", "**", "*.*", "news.[as]*", "[^a-z]", "\\", "a\\", "[a-c", "[^a",
}

// TestMatchAgreesWithRedisKeys runs every pattern as KEYS over keys named
// matchNames in a real Redis (KEYS and PSUBSCRIBE share stringmatchlen).
func TestMatchAgreesWithRedisKeys(t *testing.T) {
	rd := proxytest.StartRedis(t)
	c := proxytest.Dial(t, rd.Addr)
	for _, n := range matchNames {
		require.Equal(t, "+OK\r\n", c.Do("SET", n, "1"))
	}
	for _, p := range matchPatterns {
		raw := c.Do("KEYS", p)
		var want []string
		for _, line := range strings.Split(raw, "\r\n")[1:] {
			if line != "" && !strings.HasPrefix(line, "$") {
				want = append(want, line)
			}
		}
		if strings.Contains(raw, "$0\r\n\r\n") {
			want = append(want, "")
		}
		var got []string
		for _, n := range matchNames {
			// KEYS * lists every key without matching (db.c keysCommand's
			// allkeys); stringmatchlen matches "" with "" only
			if pubsub.Match(p, n) || p == "*" && n == "" {
				got = append(got, n)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		require.Equal(t, want, got, "pattern %q (KEYS reply %q)", p, raw)
	}
}

// naiveMatch is glob matching without stringmatchlen's shortcut for
// stars, on the same rules, to check that the shortcut changes nothing.
// Like stringmatchlen, it matches an empty subject with the empty pattern
// only.
func naiveMatch(p, s string) bool {
	if s == "" {
		return p == ""
	}
	return naiveRest(p, s)
}

func naiveRest(p, s string) bool {
	if s == "" {
		return strings.Trim(p, "*") == ""
	}
	if p == "" {
		return s == ""
	}
	if p[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if naiveRest(p[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	// one byte of s against one element of p, by Match itself on a
	// star-free prefix: find the element's length
	n := elemLen(p)
	if !pubsub.Match(p[:n], s[:1]) {
		return false
	}
	return naiveRest(p[n:], s[1:])
}

// elemLen is the length of the pattern element at the start of p (no '*').
func elemLen(p string) int {
	switch p[0] {
	case '\\':
		return min(2, len(p))
	case '[':
		i := 1
		if i < len(p) && p[i] == '^' {
			i++
		}
		for i < len(p) {
			switch {
			case p[i] == '\\' && i+1 < len(p):
				i += 2
			case p[i] == ']':
				return i + 1
			case i+2 < len(p) && p[i+1] == '-':
				i += 3
			default:
				i++
			}
		}
		return len(p)
	}
	return 1
}

func FuzzMatch(f *testing.F) {
	for _, p := range matchPatterns {
		for _, n := range matchNames[:6] {
			f.Add(p, n)
		}
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		got := pubsub.Match(p, s)
		require.Equal(t, got, pubsub.Match([]byte(p), []byte(s)))
		if len(p) <= 12 && len(s) <= 12 && !strings.ContainsAny(p, "[\\") {
			require.Equal(t, naiveMatch(p, s), got, "pattern %q subject %q", p, s)
		}
	})
}
