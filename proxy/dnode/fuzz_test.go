package dnode

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzLimits are small so that the fuzzer reaches both limits, yet large
// enough for any header AppendHeader writes with data within MaxDataLen.
var fuzzLimits = Limits{MaxDataLen: 64, MaxHeaderLen: 96}

// headerSeeds: upstream's frames (dynomite-test.sh, including its broken
// ones), the forms the parser tolerates, and each malformed case.
var headerSeeds = []string{
	"   $2014$ 1 3 0 1 1 *1 d *0\r\n" + setFoo1,
	"   $2014$ 1344 5 0 1 0 *1 d *0\r\n+OK\r\n",
	"   $2014$ 2 7 0 1 1 *1 a *3\r\nabc",
	"   $2014$ 9 3 1 1 1 *1 d *48\r\n",
	"   $2014$ 1 3 1 1 1 *16  *0\r\n\x00\xff $2014$ *32\r\n",
	"$2014$ 1 3 0 1 1 *1 d *0\r\n",
	"      $2014$   1  3  0  1  1   *1 d   *0\r\n",
	"   $2014$ 0001 03 00 01 01 *01 d *00\r\n",
	"   $2014$ 18446744073709551615 255 15 255 1 *1 d *4294967295\r\n",
	"   $2014$ 18446744073709551616 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 1 256 16 0 2 *0  *4294967296\r\n",
	"   $201  $2014$ 4 3 0 1 1 *1 d *0\r\n",
	"   $2014$   $2014$ 7 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 9  $2014$ 10 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 18 3 0 1 $2014$ 19 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 21 3 0 1 1 * $2014$ 22 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 24 3 0 1 1 *1    $2014$ 25 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 30 3 0 1 1 *1 d *   $2014$ 31 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 33 3 0 1 1 *1 d *0  $2014$ 34 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 36 3 0 1 1 *1 d *0\r  $2014$ 37 3 0 1 1 *1 d *0\r\n",
	"   $2014$ 39 3 0 1 1 *1 d *0\r\n$3  $2014$ 40 3 0 1 1 *1 d *0\r\n",
	"2014 1344 1 11 1\r\n*4 minh\r\n*2\r\n$3\r\nget\r\n$3\r\nfoo\r\n",
	"   $2014$ 1 3 0 1\r\n*1 d *0\r\n",
	"   $2014$ 1 3 0 1 1 *65 ",
	"   $2014$ 1                                                                                        ",
	"*1\r\n$4\r\nPING\r\n", "", " ", "$", "\x00",
	// write stamps (stamp.go), well formed and not
	"   $2014$ 7 3 0 1 1 *20 s7334567890123456:42 *0\r\n",
	"   $2014$ 7 4 0 1 0 *5 h12:3 *0\r\n",
	"   $2014$ 7 3 0 1 1 *4 s12: *0\r\n",
	"   $2014$ 7 3 1 1 1 *4 s12: *0\r\n",
}

type parsed struct {
	n      int
	h      Header
	kind   int // 0 header, 1 incomplete, 2 frame error
	errMsg string
}

func parseFuzz(t *testing.T, buf []byte) parsed {
	t.Helper()
	// Capacity equal to length: slicing past len(buf) would panic.
	buf = buf[:len(buf):len(buf)]
	var h Header
	n, err := ParseHeader(buf, &h, &fuzzLimits)
	switch {
	case err == nil:
		require.Positive(t, n)
		require.LessOrEqual(t, n, len(buf))
		require.Equal(t, len(h.Data), cap(h.Data))
		h.Data = bytes.Clone(h.Data) // independent of buf, for comparisons
		return parsed{n: n, h: h}
	case errors.Is(err, ErrIncomplete):
		require.Zero(t, n)
		require.Equal(t, Header{}, h)
		return parsed{kind: 1}
	}
	var fe *FrameError
	require.ErrorAs(t, err, &fe, "every error is ErrIncomplete or a *FrameError")
	require.Zero(t, n)
	require.Equal(t, Header{}, h)
	require.GreaterOrEqual(t, fe.Offset, 0)
	require.Less(t, fe.Offset, len(buf))
	return parsed{kind: 2, errMsg: err.Error()}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		full := parseFuzz(t, data)

		// Any prefix, as if the bytes arrived in pieces, is incomplete or
		// gives exactly the same result.
		var h Header
		for k := range len(data) {
			if _, err := ParseHeader(data[:k:k], &h, &fuzzLimits); err == ErrIncomplete {
				continue
			}
			require.Equal(t, full, parseFuzz(t, data[:k]), "prefix of %d bytes", k)
		}
		if full.kind != 0 {
			return
		}
		require.Equal(t, full, parseFuzz(t, data[:full.n]), "the header parses alone")

		// Writing the parsed header gives the canonical form, which parses
		// to the same header and is a fixed point.
		enc := AppendHeader(nil, full.h)
		re := parseFuzz(t, enc)
		require.Equal(t, parsed{n: len(enc), h: full.h}, re, "AppendHeader re-parses to the same header: %q", enc)
		require.Equal(t, enc, AppendHeader(nil, re.h))
		require.LessOrEqual(t, len(enc), full.n+len("   "), "only the magic's leading spaces can make the canonical form longer")
	})
}
