package resp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hello3 is redis-server 7.0's answer to HELLO 3.
const hello3 = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n" +
	"$2\r\nid\r\n:42\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"

func TestParseReplyFramesEveryType(t *testing.T) {
	tests := map[string]string{
		"a simple string":                         "+OK\r\n",
		"a simple string with a bare LF":          "+a\nb\r\n",
		"an error":                                "-ERR unknown command 'x'\r\n",
		"an integer":                              ":1000\r\n",
		"a negative integer":                      ":-1\r\n",
		"a bulk string":                           "$3\r\nfoo\r\n",
		"a bulk string holding CRLF":              "$4\r\n\r\n\r\n\r\n",
		"an empty bulk string":                    "$0\r\n\r\n",
		"a null bulk string":                      "$-1\r\n",
		"a null array":                            "*-1\r\n",
		"an empty array":                          "*0\r\n",
		"an array of mixed values":                "*3\r\n$1\r\na\r\n:1\r\n$-1\r\n",
		"nested arrays":                           "*2\r\n*1\r\n:1\r\n*0\r\n",
		"an EVAL result with nested tables":       "*3\r\n:1\r\n:2\r\n*2\r\n:3\r\n$12\r\nHello World!\r\n",
		"a RESP3 null":                            "_\r\n",
		"a RESP3 double":                          ",1.5\r\n",
		"a RESP3 infinite double":                 ",-inf\r\n",
		"a RESP3 true":                            "#t\r\n",
		"a RESP3 false":                           "#f\r\n",
		"a RESP3 blob error":                      "!21\r\nSYNTAX invalid syntax\r\n",
		"a RESP3 verbatim string":                 "=15\r\ntxt:Some string\r\n",
		"a RESP3 big number":                      "(3492890328409238509324850943850943825024385\r\n",
		"a RESP3 negative big number":             "(-1\r\n",
		"a RESP3 map":                             "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
		"a RESP3 set":                             "~2\r\n+a\r\n+b\r\n",
		"a RESP3 push":                            ">3\r\n+message\r\n+chan\r\n+hello\r\n",
		"a RESP3 empty map":                       "%0\r\n",
		"an attribute and the value it annotates": "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n+OK\r\n",
		"an attribute inside an array":            "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n",
		"an empty attribute before a value":       "|0\r\n:7\r\n",
		"redis 7.0's HELLO 3 reply":               hello3,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := ParseReply([]byte(in), nil)
			require.NoError(t, err)
			require.Equal(t, len(in), n)

			n, err = ParseReply([]byte(in+"+NEXT\r\n"), nil)
			require.NoError(t, err)
			require.Equal(t, len(in), n, "only the first reply is taken")
		})
	}
}

func TestParseReplyReportsIncompleteInputWithSizeHint(t *testing.T) {
	tests := map[string]struct {
		in   string
		hint int
	}{
		"an empty buffer":                  {in: "", hint: 0},
		"a status without CRLF":            {in: "+OK", hint: 0},
		"a status without LF":              {in: "+OK\r", hint: 0},
		"an integer without CRLF":          {in: ":12", hint: 0},
		"a partial bulk":                   {in: "$3\r\nfo", hint: 9},
		"a bulk without CRLF":              {in: "$3\r\nfoo", hint: 9},
		"an array missing an element":      {in: "*2\r\n:1\r\n", hint: 0},
		"a partial bulk inside an array":   {in: "*2\r\n:1\r\n$5\r\nab", hint: 19},
		"a boolean cut short":              {in: "#t", hint: 0},
		"a null cut short":                 {in: "_", hint: 0},
		"a map missing a value":            {in: "%1\r\n+k\r\n", hint: 0},
		"an attribute without its value":   {in: "|1\r\n+k\r\n+v\r\n", hint: 0},
		"a length line cut short":          {in: "*12", hint: 0},
		"a status with a bare LF only":     {in: "+OK\n", hint: 0},
		"an error without LF":              {in: "-Error message\r", hint: 0},
		"a large bulk announces its total": {in: "$1000000\r\nxy", hint: 1000000 + 12},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := ParseReply([]byte(tc.in), nil)
			require.ErrorIs(t, err, ErrIncomplete)
			require.Equal(t, tc.hint, n)
		})
	}
}

func TestParseReplyRejectsMalformedInput(t *testing.T) {
	tests := map[string]struct {
		in  string
		msg string
	}{
		"an unknown type byte":              {in: "?\r\n", msg: "Protocol error: invalid reply type byte '?'"},
		"a request-like inline word":        {in: "hello\r\n", msg: "Protocol error: invalid reply type byte 'h'"},
		"a non-ASCII type byte":             {in: "\xff", msg: "Protocol error: invalid reply type byte '\\xff'"},
		"a word as array length":            {in: "*hello\r\n", msg: "Protocol error: invalid multibulk length"},
		"a negative array length below -1":  {in: "*-100\r\n", msg: "Protocol error: invalid multibulk length"},
		"a negative map length":             {in: "%-1\r\n", msg: "Protocol error: invalid multibulk length"},
		"a huge array length":               {in: "*99999999999999\r\n", msg: "Protocol error: invalid multibulk length"},
		"an element with a bad type":        {in: "*3\r\nhi", msg: "Protocol error: invalid reply type byte 'h'"},
		"a bulk length ended by LF":         {in: "*4\r\n$1\n", msg: "Protocol error: invalid bulk length"},
		"a word as bulk length":             {in: "$what?\r\nx\r\n", msg: "Protocol error: invalid bulk length"},
		"a negative bulk length below -1":   {in: "$-2\r\n", msg: "Protocol error: invalid bulk length"},
		"a null blob error":                 {in: "!-1\r\n", msg: "Protocol error: invalid bulk length"},
		"a bulk not followed by CRLF":       {in: "$3\r\nfooXY", msg: "Protocol error: bulk string not followed by CRLF"},
		"a bulk with a broken CRLF":         {in: "$0\rn\r\n", msg: "Protocol error: invalid bulk length"},
		"a null bulk with a bare LF":        {in: "$-1\n", msg: "Protocol error: invalid bulk length"},
		"an array length ended by a letter": {in: "*2n$3\r\nfoo\r\n", msg: "Protocol error: invalid multibulk length"},
		"a lone minus as array length":      {in: "*-\r\n", msg: "Protocol error: invalid multibulk length"},
		"a status with CR but no LF":        {in: "+OK\rX", msg: "Protocol error: CR not followed by LF"},
		"a non-numeric integer":             {in: ":abc\r\n", msg: "Protocol error: invalid integer reply"},
		"a fractional integer":              {in: ":1.5\r\n", msg: "Protocol error: invalid integer reply"},
		"a boolean other than t or f":       {in: "#x\r\n", msg: "Protocol error: invalid boolean reply"},
		"a boolean without CRLF":            {in: "#tt\r\n", msg: "Protocol error: invalid boolean reply"},
		"a null with content":               {in: "_x\r\n", msg: "Protocol error: invalid null reply"},
		"a fractional big number":           {in: "(1.5\r\n", msg: "Protocol error: invalid big number reply"},
		"an empty big number":               {in: "(\r\n", msg: "Protocol error: invalid big number reply"},
		"a streamed string":                 {in: "$?\r\n;4\r\nHell\r\n;0\r\n", msg: "Protocol error: streamed RESP3 aggregates and strings are not supported"},
		"a streamed array":                  {in: "*?\r\n:1\r\n.\r\n", msg: "Protocol error: streamed RESP3 aggregates and strings are not supported"},
		"a bulk over 512 MB": {
			in: "$600000000\r\n", msg: "Protocol error: invalid bulk length (600000000 > MaxBulkLen 536870912)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := ParseReply([]byte(tc.in), nil)
			var perr *ProtocolError
			require.ErrorAs(t, err, &perr)
			require.Equal(t, tc.msg, err.Error())
			require.Zero(t, n)
		})
	}
}

func TestParseReplyBoundsNestingDepth(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxDepth = 3
	ok := "*1\r\n*1\r\n*1\r\n:1\r\n"
	n, err := ParseReply([]byte(ok), &lim)
	require.NoError(t, err)
	require.Equal(t, len(ok), n)

	_, err = ParseReply([]byte("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"), &lim)
	require.EqualError(t, err, "Protocol error: reply nested too deeply (> MaxDepth 3)")

	_, err = ParseReply([]byte("*1\r\n%1\r\n|1\r\n*1\r\n"), &lim)
	require.Error(t, err, "maps and attributes count as levels")

	deep := strings.Repeat("*1\r\n", 100) + ":1\r\n"
	n, err = ParseReply([]byte(deep), nil)
	require.NoError(t, err, "the default depth allows deep Lua tables")
	require.Equal(t, len(deep), n)

	lim.MaxDepth = 1 << 30
	_, err = ParseReply([]byte(strings.Repeat("*1\r\n", maxDepthCap+1)), &lim)
	require.ErrorContains(t, err, "MaxDepth 1024", "MaxDepth is capped")
}

func TestParseReplyBoundsReplyLines(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBulkLen = 8
	_, err := ParseReply([]byte("+123456789"), &lim)
	require.EqualError(t, err, "Protocol error: too big reply line (> MaxBulkLen 8)")
	_, err = ParseReply([]byte("+123456789\r\n"), &lim)
	require.EqualError(t, err, "Protocol error: too big reply line (> MaxBulkLen 8)")
	n, err := ParseReply([]byte("+12345678\r\n"), &lim)
	require.NoError(t, err)
	require.Equal(t, 11, n)
}

func TestParseReplyDoesNotAllocate(t *testing.T) {
	replies := [][]byte{
		[]byte(hello3),
		[]byte("*2\r\n$3\r\nfoo\r\n$-1\r\n"),
		[]byte(strings.Repeat("*1\r\n", 32) + ":1\r\n"),
		[]byte("$3\r\nfo"),
		[]byte("?"),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range replies {
			_, _ = ParseReply(r, nil)
		}
	})
	require.Zero(t, allocs, "replies nested up to 32 levels are parsed without allocating")
}

func TestReplyIsErrorRecognisesBothErrorTypes(t *testing.T) {
	require.True(t, ReplyIsError([]byte("-ERR x\r\n")))
	require.True(t, ReplyIsError([]byte("!3\r\nERR\r\n")))
	require.False(t, ReplyIsError([]byte("+OK\r\n")))
	require.False(t, ReplyIsError([]byte("$4\r\n-ERR\r\n")))
	require.False(t, ReplyIsError(nil))
}
