package resp

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxArrayLen: 16, MaxBulkLen: 64, MaxInlineLen: 48, MaxDepth: 6}

// requestSeeds: valid requests, codis's decoder_test invalid inputs, and
// the edge cases of request_test.go.
var requestSeeds = []string{
	"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
	"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
	"*0\r\n", "*-1\r\n", "*-5\r\nPING\r\n",
	"PING\r\n", "get a\n", " \t get \t  key   \r\n", "\r\n", "  \t \n",
	"SET \"a b\" 'c d'\r\n", "ECHO \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\"\r\n", "ECHO 'a\\'b\\n'\r\n",
	"ECHO a\"b c\"\r\n", "ECHO \"\" ''\r\n", "ECHO a\rb\r\n", "ECHO a\vb\r\n", "ECHO 'ab'\vc\r\n",
	"ECHO a\x00b\r\n", "ECHO \"abc\r\n", "ECHO \"ab\"c\r\n", "ECHO \"ab\\\r\n",
	"*x\r\n", "*\r\n", "*-0\r\n", "*01\r\n", "*+1\r\n", "*1\rX$4\r\nPING\r\n", "*1\n",
	"*99999999999999999999\r\n", "*1\r\nx4\r\n", "*1\r\n$-1\r\n", "*1\r\n$4x\r\n",
	"*1\r\n$4\r\nPINGxx", "*1\r\n$3\r\nPING\r\n", "*20\r\n", "*1\r\n$65\r\n",
	// codis pkg/proxy/redis/decoder_test.go TestDecodeInvalidRequests
	"*hello\r\n", "*-100\r\n", "*3\r\nhi", "*3\r\nhi\r\n", "*4\r\n$1", "*4\r\n$1\r", "*4\r\n$1\n",
	"*2\r\n$3\r\nget\r\n$what?\r\nx\r\n", "*4\r\n$3\r\nget\r\n$1\r\nx\r\n", "*2\r\n$3\r\nget\r\n$1\r\nx",
	"*2\r\n$3\r\nget\r\n$1\r\nx\r", "*2\r\n$3\r\nget\r\n$100\r\nx\r\n", "$6\r\nfoobar\r", "$0\rn\r\n",
	"$-1\n", "*0", "*2n$3\r\nfoo\r\n$3\r\nbar\r\n", "*-\r\n", "+OK\n", "-Error message\r",
	"\r", "\n", " \n",
}

// replySeeds: every RESP2 and RESP3 type, codis's list, and malformed input.
var replySeeds = []string{
	"+OK\r\n", "+a\nb\r\n", "-ERR x\r\n", ":1000\r\n", ":-1\r\n", "$3\r\nfoo\r\n", "$0\r\n\r\n",
	"$-1\r\n", "*-1\r\n", "*0\r\n", "*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", "*2\r\n*1\r\n:1\r\n*0\r\n",
	"_\r\n", ",1.5\r\n", "#t\r\n", "#f\r\n", "!3\r\nERR\r\n", "=7\r\ntxt:abc\r\n", "(123\r\n",
	"%1\r\n+k\r\n:1\r\n", "~2\r\n:1\r\n:2\r\n", ">2\r\n+m\r\n+x\r\n", "|1\r\n+k\r\n+v\r\n+OK\r\n",
	"*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n", "|0\r\n:7\r\n", hello3,
	"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
	"?\r\n", "$-2\r\n", "!-1\r\n", "$3\r\nfooXY", "+OK\rX", ":abc\r\n", "#x\r\n", "_x\r\n",
	"(1.5\r\n", "$?\r\n", "*?\r\n", "$65\r\n",
	"*hello\r\n", "*-100\r\n", "*3\r\nhi", "*4\r\n$1", "*4\r\n$1\r", "*4\r\n$1\n",
	"*2\r\n$3\r\nget\r\n$what?\r\nx\r\n", "*4\r\n$3\r\nget\r\n$1\r\nx\r\n", "$6\r\nfoobar\r",
	"$0\rn\r\n", "$-1\n", "*0", "*2n$3\r\nfoo\r\n$3\r\nbar\r\n", "*-\r\n", "+OK\n", "-Error message\r",
}

type result struct {
	n    int
	args []string
	err  string
	kind int // 0 ok, 1 incomplete, 2 protocol error
}

func classify(t *testing.T, err error) (kind int, text string) {
	switch {
	case err == nil:
		return 0, ""
	case errors.Is(err, ErrIncomplete):
		return 1, ""
	}
	var perr *ProtocolError
	if !errors.As(err, &perr) {
		t.Fatalf("every error is ErrIncomplete or a *ProtocolError, got %T %v", err, err)
	}
	return 2, err.Error()
}

// parseFunc is parseReq or parseRep.
type parseFunc func(t *testing.T, buf []byte) result

// parseReq and parseRep run the parsers on buf; Go's bounds checks catch
// any read past len(buf), whatever its capacity.
func parseReq(t *testing.T, buf []byte) result {
	n, args, err := ParseRequest(buf, nil, &fuzzLimits)
	kind, text := classify(t, err)
	r := result{n: n, err: text, kind: kind}
	if kind == 0 {
		r.args = strs(args)
	} else if len(args) != 0 {
		t.Fatalf("arguments came back with %v", err)
	}
	return r
}

func parseRep(t *testing.T, buf []byte) result {
	n, err := ParseReply(buf, &fuzzLimits)
	kind, text := classify(t, err)
	return result{n: n, err: text, kind: kind}
}

func (r result) equal(o result) bool {
	return r.n == o.n && r.err == o.err && r.kind == o.kind && slices.Equal(r.args, o.args)
}

// splits returns the prefix lengths to try: all of them for short inputs.
func splits(n int) []int {
	step := 1
	if n > 256 {
		step = n / 256
	}
	var out []int
	for k := 0; k < n; k += step {
		out = append(out, k)
	}
	return append(out, n-1, n)
}

// checkPrefixes: feeding data to the parser as it arrives (any prefix, as
// if read in pieces) gives either ErrIncomplete, with a consistent size
// hint, or exactly the result of parsing all of data.
func checkPrefixes(t *testing.T, data []byte, full result, parse parseFunc) {
	for _, k := range splits(len(data)) {
		if k < 0 {
			continue
		}
		r := parse(t, data[:k])
		if r.kind != 1 {
			if !r.equal(full) {
				t.Fatalf("prefix of %d bytes gives %+v, the whole input %+v", k, r, full)
			}
			continue
		}
		if r.n == 0 {
			continue
		}
		if r.n <= k {
			t.Fatalf("prefix of %d bytes: a size hint (%d) must ask for more than the buffer holds", k, r.n)
		}
		if full.kind == 0 && full.n < r.n {
			t.Fatalf("prefix of %d bytes: the size hint %d exceeds the request's size %d", k, r.n, full.n)
		}
		if len(data) < r.n && full.kind != 1 {
			t.Fatalf("prefix of %d bytes: hint %d, yet the %d-byte input is not incomplete: %+v", k, r.n, len(data), full)
		}
	}
}

// fuzzParser seeds f and fuzzes parse with the properties both parsers
// share: a success consumes 1..len(data) bytes, ErrIncomplete hints a size
// beyond the buffer (or none), a protocol error consumes nothing, every
// prefix agrees (checkPrefixes), and the consumed bytes parse alone to the
// same result. Then, on a success, parsed checks what is particular to the
// parser; what names the parsed thing in messages.
func fuzzParser(f *testing.F, seeds []string, what string, parse parseFunc, parsed func(t *testing.T, data []byte, full result)) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		full := parse(t, data)
		switch full.kind {
		case 0:
			require.Positive(t, full.n)
			require.LessOrEqual(t, full.n, len(data))
		case 1:
			require.True(t, full.n == 0 || full.n > len(data), "hint %d", full.n)
		case 2:
			require.Zero(t, full.n)
		}
		checkPrefixes(t, data, full, parse)
		if full.kind != 0 {
			return
		}
		require.Equal(t, full, parse(t, data[:full.n]), "the consumed bytes parse alone to the same "+what)
		parsed(t, data, full)
	})
}

func FuzzParseRequest(f *testing.F) {
	fuzzParser(f, requestSeeds, "request", parseReq, func(t *testing.T, data []byte, full result) {
		if len(full.args) == 0 {
			return
		}
		enc := AppendCommand(nil, args(full.args...))
		re := parseReq(t, enc)
		require.Equal(t, result{n: len(enc), args: full.args}, re, "AppendCommand re-parses to the same arguments")
		if !IsInline(data) {
			require.Equal(t, data[:full.n], enc, "a RESP request has a single encoding")
		}
	})
}

func FuzzParseReply(f *testing.F) {
	fuzzParser(f, replySeeds, "reply", parseRep, func(t *testing.T, data []byte, full result) {
		one := data[:full.n]
		two := append(bytes.Clone(one), one...)
		require.Equal(t, full, parseRep(t, two), "a reply ends where the next one starts")
	})
}
