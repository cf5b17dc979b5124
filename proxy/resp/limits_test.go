package resp

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseIntFollowsRedisString2ll(t *testing.T) {
	tests := map[string]struct {
		in string
		v  int64
		ok bool
	}{
		"zero":                        {"0", 0, true},
		"a small number":              {"42", 42, true},
		"a negative number":           {"-7", -7, true},
		"the largest int64":           {"9223372036854775807", 1<<63 - 1, true},
		"the smallest int64":          {"-9223372036854775808", -1 << 63, true},
		"one past the largest int64":  {"9223372036854775808", 0, false},
		"one past the smallest int64": {"-9223372036854775809", 0, false},
		"twenty digits":               {"10000000000000000000", 0, false},
		"an empty string":             {"", 0, false},
		"a lone minus":                {"-", 0, false},
		"minus zero":                  {"-0", 0, false},
		"a leading zero":              {"01", 0, false},
		"a plus sign":                 {"+1", 0, false},
		"a space":                     {" 1", 0, false},
		"a trailing letter":           {"1a", 0, false},
		"two minus signs":             {"--1", 0, false},
		"a minus in the middle":       {"1-1", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, ok := parseInt([]byte(tc.in))
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.v, v)
		})
	}
}

func TestReadNumLineAgreesWithParseInt(t *testing.T) {
	for _, s := range []string{"0", "1", "12", "123456789012345678", "1234567890123456789",
		"9223372036854775807", "9223372036854775808", "-1", "-0", "01", "", "-", "1-"} {
		v, next, st := readNumLine([]byte("*"+s+"\r\n"), 1)
		want, ok := parseInt([]byte(s))
		if !ok {
			require.Equal(t, lineInvalid, st, s)
			continue
		}
		require.Equal(t, lineOK, st, s)
		require.Equal(t, want, v, s)
		require.Equal(t, len(s)+3, next, s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			require.Equal(t, n, v, s)
		}
	}
}
