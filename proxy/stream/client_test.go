package stream

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func decode(s string) (Value, error) {
	return readValue(bufio.NewReader(strings.NewReader(s)), 0)
}

func TestReadValue(t *testing.T) {
	v, err := decode("*3\r\n$3\r\nabc\r\n:-7\r\n*2\r\n+OK\r\n$-1\r\n")
	require.NoError(t, err)
	require.Equal(t, "abc", string(v.Array[0].Str))
	require.Equal(t, int64(-7), v.Array[1].Int)
	require.Equal(t, "OK", string(v.Array[2].Array[0].Str))
	require.True(t, v.Array[2].Array[1].Null)

	_, err = decode("-BUSYKEY Target key name already exists.\r\n")
	require.True(t, isBusy(err))

	big := strings.Repeat("x", 3<<20)
	v, err = decode("$" + "3145728" + "\r\n" + big + "\r\n")
	require.NoError(t, err)
	require.Equal(t, big, string(v.Str))

	for in, want := range map[string]string{
		"":                                      "EOF",
		"\r\n":                                  "empty line",
		"?x\r\n":                                "unexpected type byte",
		":x\r\n":                                "integer",
		"$-2\r\n":                               "bulk length",
		"$3\r\nabcde":                           "not ended by CRLF",
		"$9999999\r\nab":                        "unexpected EOF",
		"*99999999999\r\n":                      "array length",
		"*16777216\r\n:1\r\n":                   "EOF",
		"+OK\n":                                 "not ended by CRLF",
		strings.Repeat("*1\r\n", 40) + ":1\r\n": "nested too deep",
	} {
		_, err := decode(in)
		require.ErrorContains(t, err, want, "%q", in)
	}
}

func FuzzReadValue(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":12\r\n", "$3\r\nabc\r\n", "$-1\r\n",
		"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", "*-1\r\n", "$100000000\r\nab", "*100000000\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		v, err := readValue(r, 0)
		if err == nil && len(v.Str) > len(in) {
			t.Fatalf("a %d-byte value from %d bytes of input", len(v.Str), len(in))
		}
	})
}
