package ring

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Token is a position on a rack's ring: a node's token from the `tokens`
// config key, or a key's hash. Upstream's struct dyn_token is in practice a
// uint32 compared as unsigned (cmp_dyn_token), so Token is a uint32 and
// tokens compare with < and ==.
type Token uint32

// MaxToken is the largest token, 4294967295.
const MaxToken = Token(^uint32(0))

// ErrInvalidToken is wrapped by the errors of [ParseToken] and [ParseTokens].
var ErrInvalidToken = errors.New("invalid token")

// String returns t in decimal, the form [ParseToken] reads.
func (t Token) String() string { return strconv.FormatUint(uint64(t), 10) }

// ParseToken reads one token: ASCII decimal digits only, value 0..4294967295.
// Leading zeros are allowed ("007" is 7). Anything else is an error wrapping
// [ErrInvalidToken]: an empty string, a sign, spaces, or a value above
// 4294967295.
//
// Upstream is more forgiving and silently wrong (dyn_token.c parse_dyn_token):
// a value of up to 10 digits wraps modulo 2^32, a non-digit anywhere turns
// the whole value into 0, a leading '-' makes the token sort below every
// other token, and longer strings go through a broken multi-word path. Each
// of those configs places keys somewhere no operator intended, so we refuse
// them instead of reproducing them.
func ParseToken(s string) (Token, error) {
	t, reason := parseToken(s)
	if reason != "" {
		return 0, fmt.Errorf("ring: %w %q: %s", ErrInvalidToken, s, reason)
	}
	return t, nil
}

// parseToken returns the token in s, or a non-empty reason why s is not one.
func parseToken(s string) (Token, string) {
	if s == "" {
		return 0, "empty"
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, "not a decimal number"
		}
		v = v*10 + uint64(c-'0')
		if v > uint64(MaxToken) {
			return 0, "above 4294967295"
		}
	}
	return Token(v), ""
}

// ParseTokens reads upstream's `tokens` value: one or more tokens separated
// by commas, with nothing else (no spaces, no empty items). Each item follows
// [ParseToken]; the error names the first bad item and its position. Order
// and duplicates are kept as written; [NewTopology] rejects duplicates.
func ParseTokens(s string) ([]Token, error) {
	if s == "" {
		return nil, fmt.Errorf("ring: %w list: empty", ErrInvalidToken)
	}
	tokens := make([]Token, 0, strings.Count(s, ",")+1)
	for i, item := range strings.Split(s, ",") {
		tok, reason := parseToken(item)
		if reason != "" {
			return nil, fmt.Errorf("ring: %w %q (item %d of %q): %s", ErrInvalidToken, item, i+1, s, reason)
		}
		tokens = append(tokens, tok)
	}
	return tokens, nil
}

// FormatTokens writes tokens in the form [ParseTokens] reads.
func FormatTokens(tokens []Token) string {
	var b strings.Builder
	for i, t := range tokens {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.String())
	}
	return b.String()
}
