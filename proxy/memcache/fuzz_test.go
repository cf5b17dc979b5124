package memcache

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallLimits lets the fuzzer reach every limit with short inputs.
var smallLimits = &Limits{MaxLine: 64, MaxGetLine: 160, MaxItemSize: 200}

func fuzzLimits(small bool) *Limits {
	if small {
		return smallLimits
	}
	return nil
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"get k\r\n", "gets a b c\r\n", "gat 10 a b\r\n", "gats 1\r\n",
		"set k 0 0 3\r\nabc\r\n", "cas k 1 2 3 4 noreply\r\nabc\r\n", "append k 0 0 1\nx\r\n",
		"incr k 1\r\n", "decr k 5 noreply\r\n", "touch k 10\r\n", "delete k 0 noreply\r\n",
		"version\r\n", "quit\r\n", "get k\r\nget j\r\n", "set k 0 0 3\r\nabc\r\nget k\r\n",
		"mg k v f t c s k O123\r\n", "mg k q v\r\nmn\r\n", "ms k 3 T0 F5 q\r\nabc\r\n", "ms Zm9v 2 b\r\nhi\r\n",
		"md k q I T30\r\n", "ma k N0 J5 D2 MD v\r\n", "me k\r\n", "mn\r\n", "mg !!!! b\r\n", "ms k 2 q q\r\nhi\r\n",
		"mg viv N30 v\r\n", "ms k -1\r\n", "ms k 2\r\nhiX\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	for _, tc := range malformedCases {
		if len(tc.in) < 4096 {
			f.Add([]byte(tc.in), tc.lim != nil)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		lim := fuzzLimits(small)
		var req Request
		n, err := ParseRequest(data, &req, lim)
		var ce *ClientError
		switch {
		case err == nil:
			require.Positive(t, n)
			require.LessOrEqual(t, n, len(data))
			require.Equal(t, byte('\n'), data[n-1])
			for _, k := range req.Keys {
				require.NotEmpty(t, k)
				require.LessOrEqual(t, len(k), MaxKeyLen)
				require.True(t, within(data[:n], k), "key %q is not a slice of the request", k)
			}
			if req.Cmd.Storage() || req.Cmd == CmdMetaSet {
				require.Equal(t, n, req.DataStart+req.DataLen+2)
			}
			if req.Quiet {
				require.Equal(t, " q", string(data[req.QuietStart:req.QuietEnd]), "the q flag's place")
				stripped := AppendWithoutQuiet(nil, data[:n], req.QuietStart, req.QuietEnd)
				var plain Request
				n3, err := ParseRequest(stripped, &plain, lim)
				require.NoError(t, err, "%q without q", stripped)
				require.Equal(t, len(stripped), n3)
				require.False(t, plain.Quiet)
				require.Equal(t, req.Cmd, plain.Cmd)
				require.Equal(t, req.Class, plain.Class)
				require.Equal(t, string(req.Keys[0]), string(plain.Keys[0]))
				require.Equal(t, req.DataLen, plain.DataLen)
			}
			if req.DecodedKey != nil {
				require.Equal(t, string(req.Keys[0]), base64.StdEncoding.EncodeToString(req.DecodedKey))
			}
			// The request alone parses the same.
			var again Request
			n2, err := ParseRequest(data[:n], &again, lim)
			require.NoError(t, err)
			require.Equal(t, n, n2)
			require.Equal(t, gotReq(&req), gotReq(&again))
		case errors.As(err, &ce):
			require.GreaterOrEqual(t, n, 0)
			require.LessOrEqual(t, n, len(data))
			require.GreaterOrEqual(t, ce.Skip, 0)
			if ce.Close {
				require.Zero(t, n)
				require.Empty(t, ce.Reply)
			} else {
				require.Equal(t, byte('\n'), data[n-1])
			}
			if ce.Reply != "" {
				require.True(t, bytes.HasSuffix([]byte(ce.Reply), []byte("\r\n")))
			}
		case errors.Is(err, ErrIncomplete):
			require.True(t, n == 0 || n > len(data), "hint %d for %d bytes", n, len(data))
		default:
			t.Fatalf("unexpected error %v", err)
		}
		checkSomePrefixes(t, data, lim)
	})
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []struct {
		in        string
		retrieval bool
	}{
		{"STORED\r\n", false}, {"42\r\n", false}, {"VERSION 1.6.18\r\n", false}, {"ERROR\r\n", false},
		{"END\r\n", true}, {"VALUE k 0 3\r\nabc\r\nEND\r\n", true}, {"VALUE k 0 3 7\r\nabc\r\nVALUE j 1 0\r\n\r\nEND\r\n", true},
		{"VALUE a 0 1\r\n1\r\nSERVER_ERROR out of memory\r\n", true}, {"CLIENT_ERROR bad command line format\r\n", true},
		{"VALUE k 0 300\r\n", true}, {"VALUE k 0 1\r\nxy\r\nEND\r\n", true},
	} {
		f.Add([]byte(s.in), s.retrieval, false)
		f.Add([]byte(s.in), s.retrieval, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, retrieval, small bool) {
		lim := fuzzLimits(small)
		n, err := ParseReply(data, retrieval, lim)
		switch {
		case err == nil:
			require.Positive(t, n)
			require.LessOrEqual(t, n, len(data))
			n2, err := ParseReply(data[:n], retrieval, lim)
			require.NoError(t, err)
			require.Equal(t, n, n2)
			if retrieval {
				checkCoalesceIdentity(t, data[:n])
			}
		case errors.Is(err, ErrIncomplete):
			require.True(t, n == 0 || n > len(data), "hint %d for %d bytes", n, len(data))
		case errors.Is(err, ErrBadReply):
			require.Zero(t, n)
		default:
			t.Fatalf("unexpected error %v", err)
		}
		checkSomeReplyPrefixes(t, data, retrieval, lim)
	})
}

// checkCoalesceIdentity: a retrieval reply ending in END, coalesced alone
// with the keys of its own VALUE blocks, comes back unchanged.
func checkCoalesceIdentity(t *testing.T, reply []byte) {
	if !bytes.HasSuffix(reply, []byte(endLine)) {
		return
	}
	var keys [][]byte
	for pos := 0; ; {
		k, next, ok := valueBlock(reply, pos)
		if !ok {
			break
		}
		keys = append(keys, k)
		pos = next
	}
	got, err := AppendCoalesced(nil, keys, [][]byte{reply})
	require.NoError(t, err)
	require.Equal(t, string(reply), string(got))
}

// within reports whether b is a sub-slice of buf.
func within(buf, b []byte) bool {
	if len(b) == 0 || len(buf) == 0 {
		return false
	}
	start := &buf[0]
	for i := range buf {
		if &buf[i] == &b[0] {
			return i+len(b) <= len(buf) && start == &buf[0]
		}
	}
	return false
}

// splits returns the prefix lengths the fuzz targets try: all of them for
// short inputs, else 64 spread over the input plus the few around each LF.
func splits(data []byte) []int {
	if len(data) <= 96 {
		out := make([]int, len(data))
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for i := 0; i < 64; i++ {
		out = append(out, i*len(data)/64)
	}
	for i, c := range data {
		if c == '\n' {
			for _, j := range []int{i - 1, i, i + 1, i + 2} {
				if j >= 0 && j < len(data) {
					out = append(out, j)
				}
			}
		}
	}
	return out
}

// checkSomePrefixes is checkPrefixes on the prefixes splits picks.
func checkSomePrefixes(t *testing.T, data []byte, lim *Limits) {
	var whole, part Request
	n, err := ParseRequest(data, &whole, lim)
	for _, i := range splits(data) {
		pn, perr := ParseRequest(data[:i], &part, lim)
		if errors.Is(perr, ErrIncomplete) {
			if pn != 0 {
				require.Greater(t, pn, i, "the size hint of prefix %d of %q is not more than the prefix", i, data)
				if !errors.Is(err, ErrIncomplete) {
					require.LessOrEqual(t, pn, len(data), "the size hint of prefix %d of %q", i, data)
				}
			}
			continue
		}
		require.Equal(t, n, pn, "prefix %d of %q", i, data)
		require.Equal(t, err, perr, "prefix %d of %q", i, data)
		if err == nil {
			require.Equal(t, gotReq(&whole), gotReq(&part), "prefix %d of %q", i, data)
		}
	}
}

// checkSomeReplyPrefixes is checkReplyPrefixes on the prefixes splits picks.
func checkSomeReplyPrefixes(t *testing.T, data []byte, retrieval bool, lim *Limits) {
	n, err := ParseReply(data, retrieval, lim)
	for _, i := range splits(data) {
		pn, perr := ParseReply(data[:i], retrieval, lim)
		if errors.Is(perr, ErrIncomplete) {
			if pn != 0 {
				require.Greater(t, pn, i, "the hint of prefix %d of %q is not more than the prefix", i, data)
				if err == nil {
					require.LessOrEqual(t, pn, n, "the hint of prefix %d of %q is more than the reply", i, data)
				}
			}
			continue
		}
		require.Equal(t, n, pn, "prefix %d of %q", i, data)
		require.Equal(t, err == nil, perr == nil, "prefix %d of %q: %v / %v", i, data, err, perr)
	}
}

func FuzzParseMetaReply(f *testing.F) {
	for _, s := range []string{
		"HD\r\n", "HD c5 kfoo\r\n", "VA 3 f0 t-1\r\nbar\r\n", "VA 0\r\n\r\n", "EN\r\n", "NF\r\n", "NS\r\n", "EX\r\n", "MN\r\n",
		"ME k exp=-1 la=0 cas=5 fetch=no cls=1 size=63\r\n", "CLIENT_ERROR bad data chunk\r\n", "VA 5\r\nab\r\n", "VA x\r\n", "XX\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		lim := fuzzLimits(small)
		n, err := ParseMetaReply(data, lim)
		switch {
		case err == nil:
			require.Positive(t, n)
			require.LessOrEqual(t, n, len(data))
			n2, err := ParseMetaReply(data[:n], lim)
			require.NoError(t, err)
			require.Equal(t, n, n2)
			for i := 0; i < n; i++ {
				_, err := ParseMetaReply(data[:i], lim)
				require.ErrorIs(t, err, ErrIncomplete, "prefix of %d bytes", i)
			}
		case errors.Is(err, ErrIncomplete):
			require.True(t, n == 0 || n > len(data), "hint %d for %d bytes", n, len(data))
		case errors.Is(err, ErrBadReply):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
