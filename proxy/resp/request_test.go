package resp

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func strs(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func TestParseRequestParsesCompleteRequests(t *testing.T) {
	tests := map[string]struct {
		in   string
		n    int // -1: len(in)
		args []string
	}{
		"a GET is split into its arguments": {
			in: "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", n: -1, args: []string{"GET", "key"},
		},
		"a bulk may be empty": {
			in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", n: -1, args: []string{"SET", "k", ""},
		},
		"a bulk may hold CR, LF and NUL bytes": {
			in: "*2\r\n$4\r\nECHO\r\n$5\r\n\r\n\x00\r\n\r\n", n: -1, args: []string{"ECHO", "\r\n\x00\r\n"},
		},
		"only the first of two pipelined requests is taken": {
			in: "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", n: 14, args: []string{"PING"},
		},
		"an empty array is consumed with no arguments": {
			in: "*0\r\n*1\r\n$4\r\nPING\r\n", n: 4, args: []string{},
		},
		"a null array is consumed with no arguments": {
			in: "*-1\r\n", n: -1, args: []string{},
		},
		"any negative array length is skipped, as Redis does": {
			in: "*-5\r\nPING\r\n", n: 5, args: []string{},
		},
		"an inline command ends at LF and drops the CR": {
			in: "PING\r\nPING\r\n", n: 6, args: []string{"PING"},
		},
		"an inline command may end with a bare LF": {
			in: "get a\n", n: -1, args: []string{"get", "a"},
		},
		"inline arguments are split on runs of blanks": {
			in: " \t get \t  key   \r\n", n: -1, args: []string{"get", "key"},
		},
		"a blank line is consumed with no arguments": {
			in: "\r\nPING\r\n", n: 2, args: []string{},
		},
		"a line of blanks is consumed with no arguments": {
			in: "  \t \n", n: -1, args: []string{},
		},
		"double and single quotes group blanks": {
			in: "SET \"a b\" 'c d'\r\n", n: -1, args: []string{"SET", "a b", "c d"},
		},
		"double quotes understand Redis escapes": {
			in: "ECHO \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\"\r\n", n: -1, args: []string{"ECHO", "aA\n\r\t\b\a\\\""},
		},
		"an unknown escape stands for the escaped byte": {
			in: "ECHO \"\\q\\x4g\"\r\n", n: -1, args: []string{"ECHO", "qx4g"},
		},
		"single quotes only understand an escaped single quote": {
			in: "ECHO 'a\\'b\\n'\r\n", n: -1, args: []string{"ECHO", "a'b\\n"},
		},
		"a quote inside a token opens a quoted part of it": {
			in: "ECHO a\"b c\"\r\n", n: -1, args: []string{"ECHO", "ab c"},
		},
		"empty quotes are an empty argument": {
			in: "ECHO \"\" ''\r\n", n: -1, args: []string{"ECHO", "", ""},
		},
		"a CR inside an inline line separates arguments": {
			in: "ECHO a\rb\r\n", n: -1, args: []string{"ECHO", "a", "b"},
		},
		"a vertical tab is part of an unquoted token": {
			in: "ECHO a\vb\r\n", n: -1, args: []string{"ECHO", "a\vb"},
		},
		"a vertical tab is skipped between tokens": {
			in: "\vECHO ab\r\n", n: -1, args: []string{"ECHO", "ab"},
		},
		"a vertical tab may follow a closing quote": {
			in: "ECHO 'ab'\vc\r\n", n: -1, args: []string{"ECHO", "ab", "c"},
		},
		"a NUL byte is an ordinary inline byte": {
			in: "ECHO a\x00b\r\n", n: -1, args: []string{"ECHO", "a\x00b"},
		},
		"a line that does not start with a star is inline even if it looks like RESP": {
			in: "$0\rn\r\n", n: -1, args: []string{"$0", "n"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, args, err := ParseRequest([]byte(tc.in), nil, nil)
			require.NoError(t, err)
			want := tc.n
			if want < 0 {
				want = len(tc.in)
			}
			require.Equal(t, want, n)
			require.Equal(t, tc.args, strs(args))
			for _, a := range args {
				require.Equal(t, len(a), cap(a), "arguments are capped so appending cannot overwrite the buffer")
			}
		})
	}
}

func TestParseRequestReportsIncompleteInputWithSizeHint(t *testing.T) {
	tests := map[string]struct {
		in   string
		hint int
	}{
		"an empty buffer":                        {in: "", hint: 0},
		"a star alone":                           {in: "*", hint: 0},
		"an array header without LF":             {in: "*2\r", hint: 0},
		"an array header alone":                  {in: "*2\r\n", hint: 0},
		"a bulk header without CRLF":             {in: "*2\r\n$3", hint: 0},
		"a bulk header without LF":               {in: "*2\r\n$3\r", hint: 0},
		"a partial first bulk":                   {in: "*2\r\n$3\r\nGE", hint: 13},
		"a bulk without its CRLF":                {in: "*2\r\n$3\r\nGET", hint: 13},
		"a bulk without its LF":                  {in: "*2\r\n$3\r\nGET\r", hint: 13},
		"a missing second argument":              {in: "*2\r\n$3\r\nGET\r\n", hint: 0},
		"a large value announces the total size": {in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\nab", hint: 10000000 + 33},
		"an inline line without LF":              {in: "PING", hint: 0},
		"an inline line ending with CR":          {in: "PING\r", hint: 0},
		"an unterminated quote without LF":       {in: "ECHO \"abc", hint: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, args, err := ParseRequest([]byte(tc.in), nil, nil)
			require.ErrorIs(t, err, ErrIncomplete)
			require.Equal(t, tc.hint, n)
			require.Empty(t, args)
		})
	}
}

func TestParseRequestHintIsExactForTheLastArgument(t *testing.T) {
	full := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n" + strings.Repeat("v", 100) + "\r\n")
	n, _, err := ParseRequest(full[:40], nil, nil)
	require.ErrorIs(t, err, ErrIncomplete)
	require.Equal(t, len(full), n)

	got, args, err := ParseRequest(full[:n], nil, nil)
	require.NoError(t, err)
	require.Equal(t, len(full), got)
	require.Len(t, args, 3)
}

func TestParseRequestRejectsMalformedInput(t *testing.T) {
	big := strings.Repeat("x", 64<<10+1)
	tests := map[string]struct {
		in  string
		msg string
	}{
		"a non-numeric array length":              {in: "*x\r\n", msg: "Protocol error: invalid multibulk length"},
		"an empty array length":                   {in: "*\r\n", msg: "Protocol error: invalid multibulk length"},
		"a negative zero array length":            {in: "*-0\r\n", msg: "Protocol error: invalid multibulk length"},
		"a zero-padded array length":              {in: "*01\r\n", msg: "Protocol error: invalid multibulk length"},
		"a plus-signed array length":              {in: "*+1\r\n", msg: "Protocol error: invalid multibulk length"},
		"an array length with a trailing byte":    {in: "*1x", msg: "Protocol error: invalid multibulk length"},
		"an array length CR without LF":           {in: "*1\rX$4\r\nPING\r\n", msg: "Protocol error: invalid multibulk length"},
		"an array length ended by a bare LF":      {in: "*1\n", msg: "Protocol error: invalid multibulk length"},
		"an array length that overflows":          {in: "*99999999999999999999\r\n", msg: "Protocol error: invalid multibulk length"},
		"an array length that never ends":         {in: "*" + strings.Repeat("1", 21), msg: "Protocol error: invalid multibulk length"},
		"an argument that is not a bulk":          {in: "*1\r\nx4\r\nPING\r\n", msg: "Protocol error: expected '$', got 'x'"},
		"an argument that is a control byte":      {in: "*1\r\n\x01", msg: "Protocol error: expected '$', got '\\x01'"},
		"a null bulk argument":                    {in: "*1\r\n$-1\r\n", msg: "Protocol error: invalid bulk length"},
		"a bulk length with a trailing byte":      {in: "*1\r\n$4x\r\nPING\r\n", msg: "Protocol error: invalid bulk length"},
		"a bulk length ended by a bare LF":        {in: "*4\r\n$1\n", msg: "Protocol error: invalid bulk length"},
		"a bulk not followed by CRLF":             {in: "*1\r\n$4\r\nPINGxx", msg: "Protocol error: bulk string not followed by CRLF"},
		"a bulk longer than its length":           {in: "*1\r\n$3\r\nPING\r\n", msg: "Protocol error: bulk string not followed by CRLF"},
		"an unterminated double quote":            {in: "ECHO \"abc\r\n", msg: "Protocol error: unbalanced quotes in request"},
		"an unterminated single quote":            {in: "ECHO 'abc\r\n", msg: "Protocol error: unbalanced quotes in request"},
		"a closing quote followed by a byte":      {in: "ECHO \"ab\"c\r\n", msg: "Protocol error: unbalanced quotes in request"},
		"an escape at the end of a quoted string": {in: "ECHO \"ab\\\r\n", msg: "Protocol error: unbalanced quotes in request"},
		"a too long array": {
			in: "*2000000\r\n", msg: "Protocol error: invalid multibulk length (2000000 > MaxArrayLen 1048576)",
		},
		"a bulk over 512 MB": {
			in: "*1\r\n$600000000\r\n", msg: "Protocol error: invalid bulk length (600000000 > MaxBulkLen 536870912)",
		},
		"an inline line over 64 KB without LF": {
			in: big, msg: "Protocol error: too big inline request (> MaxInlineLen 65536)",
		},
		"an inline line over 64 KB with its LF": {
			in: big + "\r\n", msg: "Protocol error: too big inline request (> MaxInlineLen 65536)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, args, err := ParseRequest([]byte(tc.in), nil, nil)
			var perr *ProtocolError
			require.True(t, errors.As(err, &perr), "got %v", err)
			require.Equal(t, tc.msg, err.Error())
			require.Zero(t, n)
			require.Empty(t, args)
		})
	}
}

func TestParseRequestNamesTheExceededLimit(t *testing.T) {
	lim := Limits{MaxArrayLen: 2, MaxBulkLen: 3, MaxInlineLen: 8, MaxDepth: 4}
	tests := map[string]struct {
		in    string
		limit string
		max   int64
		value int64
	}{
		"too many array arguments":   {in: "*3\r\n", limit: "MaxArrayLen", max: 2, value: 3},
		"too many inline arguments":  {in: "a b c\r\n", limit: "MaxArrayLen", max: 2, value: 3},
		"a too long bulk":            {in: "*1\r\n$4\r\n", limit: "MaxBulkLen", max: 3, value: 4},
		"a too long inline line":     {in: "123456789\r\n", limit: "MaxInlineLen", max: 8, value: -1},
		"a too long unfinished line": {in: "123456789", limit: "MaxInlineLen", max: 8, value: -1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseRequest([]byte(tc.in), nil, &lim)
			var perr *ProtocolError
			require.ErrorAs(t, err, &perr)
			require.Equal(t, tc.limit, perr.Limit)
			require.Equal(t, tc.max, perr.Max)
			require.Equal(t, tc.value, perr.Value)
		})
	}

	n, args, err := ParseRequest([]byte("12345678\n"), nil, &lim)
	require.NoError(t, err, "a line of exactly MaxInlineLen bytes is accepted")
	require.Equal(t, 9, n)
	require.Equal(t, []string{"12345678"}, strs(args))
}

// TestParseRequestRejectsCodisInvalidInputs runs codis's decoder_test list of
// invalid inputs: each must be incomplete or a protocol error, except where
// Redis itself accepts the input (noted), which the proxy must match.
func TestParseRequestRejectsCodisInvalidInputs(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string // "incomplete", "error", or "skip"/"inline" for Redis-compatible successes
	}{
		"a word as array length":                      {in: "*hello\r\n", want: "error"},
		"a negative array length (Redis skips it)":    {in: "*-100\r\n", want: "skip"},
		"a non-bulk after the header":                 {in: "*3\r\nhi", want: "error"},
		"a non-bulk line after the header":            {in: "*3\r\nhi\r\n", want: "error"},
		"a bulk header cut short":                     {in: "*4\r\n$1", want: "incomplete"},
		"a bulk header cut at CR":                     {in: "*4\r\n$1\r", want: "incomplete"},
		"a bulk header ended by LF":                   {in: "*4\r\n$1\n", want: "error"},
		"a word as bulk length":                       {in: "*2\r\n$3\r\nget\r\n$what?\r\nx\r\n", want: "error"},
		"fewer arguments than announced":              {in: "*4\r\n$3\r\nget\r\n$1\r\nx\r\n", want: "incomplete"},
		"a bulk without CRLF":                         {in: "*2\r\n$3\r\nget\r\n$1\r\nx", want: "incomplete"},
		"a bulk without LF":                           {in: "*2\r\n$3\r\nget\r\n$1\r\nx\r", want: "incomplete"},
		"a bulk shorter than announced":               {in: "*2\r\n$3\r\nget\r\n$100\r\nx\r\n", want: "incomplete"},
		"a reply-style bulk without LF (inline)":      {in: "$6\r\nfoobar\r", want: "inline"},
		"a reply-style bulk with bad CRLF (inline)":   {in: "$0\rn\r\n", want: "inline"},
		"a reply-style null with bare LF (inline)":    {in: "$-1\n", want: "inline"},
		"an array header without CRLF":                {in: "*0", want: "incomplete"},
		"an array header ended by a letter":           {in: "*2n$3\r\nfoo\r\n$3\r\nbar\r\n", want: "error"},
		"a lone minus as array length":                {in: "*-\r\n", want: "error"},
		"a status reply with bare LF (inline)":        {in: "+OK\n", want: "inline"},
		"an error reply without LF (inline)":          {in: "-Error message\r", want: "inline"},
		"a CR alone":                                  {in: "\r", want: "incomplete"},
		"a LF alone (Redis skips the blank line)":     {in: "\n", want: "skip"},
		"a blank and LF (Redis skips the blank line)": {in: " \n", want: "skip"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, args, err := ParseRequest([]byte(tc.in), nil, nil)
			switch tc.want {
			case "incomplete":
				require.ErrorIs(t, err, ErrIncomplete)
			case "error":
				var perr *ProtocolError
				require.ErrorAs(t, err, &perr)
			case "skip":
				require.NoError(t, err)
				require.Positive(t, n)
				require.Empty(t, args)
			case "inline":
				require.True(t, IsInline([]byte(tc.in)))
				require.True(t, err == nil || errors.Is(err, ErrIncomplete), "got %v", err)
			}
		})
	}
}

func TestParseRequestAppendsToTheCallersBuffer(t *testing.T) {
	buf := make([][]byte, 1, 8)
	buf[0] = []byte("stale")
	_, args, err := ParseRequest([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), buf, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"GET", "k"}, strs(args))
	require.Same(t, &buf[:1][0], &args[0], "the caller's backing array is reused")
}

func TestParseRequestDoesNotAllocate(t *testing.T) {
	req := []byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nval\r\n")
	inline := []byte("SET key 'val'\r\n")
	bad := []byte("*x\r\n")
	lim := DefaultLimits()
	args := make([][]byte, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		_, args, _ = ParseRequest(req, args, &lim)
		_, args, _ = ParseRequest(inline, args, &lim)
		_, args, _ = ParseRequest(req[:20], args, &lim)
		_, args, _ = ParseRequest(bad, args, &lim)
	})
	require.Zero(t, allocs)
}

func TestIsInlineTellsArraysFromInlineCommands(t *testing.T) {
	require.False(t, IsInline([]byte("*1\r\n$4\r\nPING\r\n")))
	require.True(t, IsInline([]byte("PING\r\n")))
	require.True(t, IsInline([]byte("\r\n")))
	require.False(t, IsInline(nil))
}

func TestParseRequestUnquotesIntoItsOwnBuffer(t *testing.T) {
	buf := []byte("SET \"k\\n\" \"v w\"\r\n")
	orig := string(buf)
	_, args, err := ParseRequest(buf, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"SET", "k\n", "v w"}, strs(args))
	require.Equal(t, orig, string(buf), "the input buffer is not modified")
	// Appending to one unquoted argument must not clobber the next one.
	_ = append(args[1], 'X')
	require.Equal(t, "v w", string(args[2]))
}
