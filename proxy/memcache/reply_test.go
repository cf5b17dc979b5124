package memcache

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReplyValid(t *testing.T) {
	tests := map[string]struct {
		in        string
		retrieval bool
	}{
		"STORED":                             {in: "STORED\r\n"},
		"NOT_STORED":                         {in: "NOT_STORED\r\n"},
		"EXISTS":                             {in: "EXISTS\r\n"},
		"NOT_FOUND":                          {in: "NOT_FOUND\r\n"},
		"DELETED":                            {in: "DELETED\r\n"},
		"TOUCHED":                            {in: "TOUCHED\r\n"},
		"OK":                                 {in: "OK\r\n"},
		"an incr result":                     {in: "18446744073709551615\r\n"},
		"a version":                          {in: "VERSION 1.6.18\r\n"},
		"ERROR":                              {in: "ERROR\r\n"},
		"ERROR with a text":                  {in: "ERROR Too many open connections\r\n"},
		"a CLIENT_ERROR":                     {in: "CLIENT_ERROR bad data chunk\r\n"},
		"a SERVER_ERROR":                     {in: "SERVER_ERROR object too large for cache\r\n"},
		"a miss":                             {in: "END\r\n", retrieval: true},
		"a hit":                              {in: "VALUE k 0 3\r\nabc\r\nEND\r\n", retrieval: true},
		"a gets hit with its cas":            {in: "VALUE k 4294967295 3 18446744073709551615\r\nabc\r\nEND\r\n", retrieval: true},
		"an empty value":                     {in: "VALUE k 0 0\r\n\r\nEND\r\n", retrieval: true},
		"several hits":                       {in: "VALUE a 0 1\r\n1\r\nVALUE b 0 2\r\n22\r\nEND\r\n", retrieval: true},
		"a value that looks like the end":    {in: "VALUE k 0 7\r\nEND\r\n\r\n\r\nEND\r\n", retrieval: true},
		"a retrieval error":                  {in: "CLIENT_ERROR bad command line format\r\n", retrieval: true},
		"an error after hits ends the reply": {in: "VALUE a 0 1\r\n1\r\nSERVER_ERROR out of memory writing get response\r\n", retrieval: true},
		"a value of the largest item size":   {in: "VALUE k 0 1048576\r\n" + strings.Repeat("x", 1048576) + "\r\nEND\r\n", retrieval: true},
		"the largest reply line":             {in: "VERSION " + strings.Repeat("1", 2048-9) + "\r\n"},
		"a reply line of the largest value block": {in: "VALUE " + strings.Repeat("k", 250) + " 4294967295 1048576 18446744073709551615\r\n" + strings.Repeat("x", 1048576) + "\r\nEND\r\n", retrieval: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			buf := []byte(tc.in + "VALUE next 0 1\r\n") // pipelined bytes follow
			n, err := ParseReply(buf, tc.retrieval, nil)
			require.NoError(t, err)
			require.Equal(t, len(tc.in), n)
		})
	}
}

func TestParseReplyIncomplete(t *testing.T) {
	tests := map[string]struct {
		in        string
		retrieval bool
		n         int
	}{
		"an empty buffer":                       {in: "", n: 0},
		"a line without its LF":                 {in: "STORED\r", n: 0},
		"a retrieval line without its LF":       {in: "EN", retrieval: true, n: 0},
		"a VALUE line without its LF":           {in: "VALUE k 0 3\r", retrieval: true, n: 0},
		"a value without its data":              {in: "VALUE k 0 3\r\nab", retrieval: true, n: 13 + 5 + 5},
		"a value without the END":               {in: "VALUE k 0 3\r\nabc\r\n", retrieval: true, n: 23},
		"a value with half of the END":          {in: "VALUE k 0 3\r\nabc\r\nEND\r", retrieval: true, n: 23},
		"a large value reports the size needed": {in: "VALUE k 0 1000000\r\n", retrieval: true, n: 19 + 1000002 + 5},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := ParseReply([]byte(tc.in), tc.retrieval, nil)
			require.ErrorIs(t, err, ErrIncomplete)
			require.Equal(t, tc.n, n)
		})
	}
}

func TestParseReplyMalformed(t *testing.T) {
	tests := map[string]struct {
		in        string
		retrieval bool
		lim       *Limits
	}{
		"an unknown line":                     {in: "FOO\r\n"},
		"an empty line":                       {in: "\r\n"},
		"a line ending in LF only":            {in: "STORED\n"},
		"a VALUE for a storage command":       {in: "VALUE k 0 1\r\nx\r\nEND\r\n"},
		"END for a storage command":           {in: "END\r\n"},
		"STORED for a retrieval":              {in: "STORED\r\n", retrieval: true},
		"a number with a sign":                {in: "-1\r\n"},
		"a VALUE without bytes":               {in: "VALUE k 0\r\n", retrieval: true},
		"a VALUE with too many tokens":        {in: "VALUE k 0 1 2 3\r\n", retrieval: true},
		"a VALUE with non-numeric bytes":      {in: "VALUE k 0 x\r\n", retrieval: true},
		"a VALUE with non-numeric flags":      {in: "VALUE k x 1\r\n", retrieval: true},
		"a VALUE with non-numeric cas":        {in: "VALUE k 0 1 x\r\n", retrieval: true},
		"a VALUE larger than the item size":   {in: "VALUE k 0 1048577\r\n", retrieval: true},
		"a VALUE larger than a smaller limit": {in: "VALUE k 0 101\r\n", retrieval: true, lim: &Limits{MaxItemSize: 100}},
		"data not ending in CRLF":             {in: "VALUE k 0 1\r\nxy\r\nEND\r\n", retrieval: true},
		"a line longer than 2048 bytes":       {in: "VERSION " + strings.Repeat("1", 2048)},
		"a whole line longer than 2048 bytes": {in: "VERSION " + strings.Repeat("1", 2048) + "\r\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := ParseReply([]byte(tc.in), tc.retrieval, tc.lim)
			require.ErrorIs(t, err, ErrBadReply)
			require.Zero(t, n)
		})
	}
}

func TestParseReplyIsIncrementalOnEveryPrefix(t *testing.T) {
	for _, tc := range []struct {
		in        string
		retrieval bool
	}{
		{"VALUE a 0 1\r\n1\r\nVALUE b 0 2 9\r\n22\r\nEND\r\n", true},
		{"VALUE a 0 1\r\n1\r\nSERVER_ERROR x\r\n", true},
		{"VALUE a 0 1\r\nxy\r\nEND\r\n", true},
		{"NOT_FOUND\r\n", false},
	} {
		checkReplyPrefixes(t, []byte(tc.in), tc.retrieval, nil)
	}
}

// checkReplyPrefixes checks that every prefix of buf parses as ErrIncomplete
// with a consistent hint, or exactly as buf does.
func checkReplyPrefixes(t testing.TB, buf []byte, retrieval bool, lim *Limits) {
	n, err := ParseReply(buf, retrieval, lim)
	for i := 0; i < len(buf); i++ {
		pn, perr := ParseReply(buf[:i], retrieval, lim)
		if errors.Is(perr, ErrIncomplete) {
			if pn != 0 {
				require.Greater(t, pn, i, "the hint of prefix %d of %q is not more than the prefix", i, buf)
				if err == nil {
					require.LessOrEqual(t, pn, n, "the hint of prefix %d of %q is more than the reply", i, buf)
				}
			}
			continue
		}
		require.Equal(t, n, pn, "prefix %d of %q", i, buf)
		require.Equal(t, err == nil, perr == nil, "prefix %d of %q: %v / %v", i, buf, err, perr)
	}
}

func TestAppendFragmentKeepsTheCommandAndExptime(t *testing.T) {
	keys := [][]byte{[]byte("b"), []byte("d")}
	for name, tc := range map[string]struct {
		cmd       Cmd
		req, want string
	}{
		"get":                    {CmdGet, "get a b c d\r\n", "get b d\r\n"},
		"gets":                   {CmdGets, "gets a b c d\r\n", "gets b d\r\n"},
		"gat keeps its exptime":  {CmdGat, "gat 100 a b c d\r\n", "gat 100 b d\r\n"},
		"gats past extra spaces": {CmdGats, "gats   -1  a b\r\n", "gats -1 b d\r\n"},
		"gat without a CR":       {CmdGat, "gat 7 a b\n", "gat 7 b d\r\n"},
		"gat without an exptime": {CmdGat, "gat\r\n", "gat 0 b d\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, string(AppendFragment(nil, tc.cmd, []byte(tc.req), keys)))
		})
	}
}

func TestAppendGet(t *testing.T) {
	keys := [][]byte{[]byte("a"), []byte("bb")}
	require.Equal(t, "get a bb\r\n", string(AppendGet(nil, CmdGet, keys)))
	require.Equal(t, "x gets a bb\r\n", string(AppendGet([]byte("x "), CmdGets, keys)))
	require.Equal(t, "gat 10 a bb\r\n", string(AppendGat(nil, CmdGat, []byte("10"), keys)))
	require.Equal(t, "gats -1 a\r\n", string(AppendGat(nil, CmdGats, []byte("-1"), keys[:1])))

	// A rebuilt fragment parses back to its keys.
	var req Request
	buf := AppendGat(nil, CmdGats, []byte("5"), keys)
	n, err := ParseRequest(buf, &req, nil)
	require.NoError(t, err)
	require.Equal(t, len(buf), n)
	require.Equal(t, keys, req.Keys)
	require.Equal(t, "5", string(req.Exptime))
}

func TestAppendCoalesced(t *testing.T) {
	va := "VALUE a 0 1\r\n1\r\n"
	vb := "VALUE b 0 2 7\r\n22\r\n"
	vc := "VALUE c 5 3\r\n333\r\n"
	tests := map[string]struct {
		keys    string
		frags   []string
		want    string
		wantErr bool
	}{
		"hits come back in key order": {
			keys: "a b c", frags: []string{va + vc + "END\r\n", vb + "END\r\n"},
			want: va + vb + vc + "END\r\n",
		},
		"misses are left out": {
			keys: "a b c", frags: []string{vc + "END\r\n", "END\r\n"},
			want: vc + "END\r\n",
		},
		"all misses are one END": {
			keys: "a b", frags: []string{"END\r\n", "END\r\n"},
			want: "END\r\n",
		},
		"a repeated key is answered twice": {
			keys: "a b a", frags: []string{va + va + "END\r\n", vb + "END\r\n"},
			want: va + vb + va + "END\r\n",
		},
		"a fragment error is the whole reply": {
			keys: "a b", frags: []string{va + "END\r\n", "SERVER_ERROR Storage: Datastore refused connection\r\n"},
			want: "SERVER_ERROR Storage: Datastore refused connection\r\n",
		},
		"an error after hits is the whole reply": {
			keys: "a b", frags: []string{va + "SERVER_ERROR out of memory\r\n", vb + "END\r\n"},
			want: "SERVER_ERROR out of memory\r\n",
		},
		"a value for a key not asked for": {
			keys: "a", frags: []string{va + vb + "END\r\n"}, wantErr: true,
		},
		"values out of key order": {
			keys: "a b", frags: []string{vb + va + "END\r\n"}, wantErr: true,
		},
		"a fragment without END": {
			keys: "a", frags: []string{va}, wantErr: true,
		},
		"many fragments": {
			keys:  "a b c d e f g h i j k l m n o p q r",
			frags: append(strings.Split(strings.Repeat("END\r\n,", 17), ",")[:17], vb+"END\r\n"),
			want:  vb + "END\r\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var keys, frags [][]byte
			for _, k := range strings.Fields(tc.keys) {
				keys = append(keys, []byte(k))
			}
			for _, f := range tc.frags {
				frags = append(frags, []byte(f))
			}
			got, err := AppendCoalesced([]byte("prefix:"), keys, frags)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrBadReply)
				require.Equal(t, "prefix:", string(got), "dst is returned unchanged on error")
				return
			}
			require.NoError(t, err)
			require.Equal(t, "prefix:"+tc.want, string(got))
			if !strings.HasPrefix(tc.want, "SERVER_ERROR") {
				n, err := ParseReply(got[len("prefix:"):], true, nil)
				require.NoError(t, err)
				require.Equal(t, len(tc.want), n)
			}
		})
	}
}
