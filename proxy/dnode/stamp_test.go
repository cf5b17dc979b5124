package dnode

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStampedHeaderRoundTripsAndUnstampedStaysUpstreamsD(t *testing.T) {
	tests := map[string]struct {
		stamp Stamp
		want  string
	}{
		"a copy carries s<timestamp>:<node>": {
			stamp: Stamp{TS: 7334567890123456, Node: 42},
			want:  "   $2014$ 7 3 0 1 1 *20 s7334567890123456:42 *0\r\n",
		},
		"a replayed hint carries h": {
			stamp: Stamp{TS: 1, Node: 18446744073709551615, Replay: true},
			want:  "   $2014$ 7 3 0 1 1 *23 h1:18446744073709551615 *0\r\n",
		},
		"a copy from another datacenter carries f": {
			stamp: Stamp{TS: 12, Node: 3, CrossDC: true},
			want:  "   $2014$ 7 3 0 1 1 *5 f12:3 *0\r\n",
		},
		"no stamp writes upstream's d": {
			want: "   $2014$ 7 3 0 1 1 *1 d *0\r\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			enc := AppendHeader(nil, Header{ID: 7, Type: TypeReq, SameDC: true, Stamp: tc.stamp})
			require.Equal(t, tc.want, string(enc))
			var h Header
			n, err := ParseHeader(enc, &h, nil)
			require.NoError(t, err)
			require.Equal(t, len(enc), n)
			require.Equal(t, tc.stamp, h.Stamp)
		})
	}
}

func TestMalformedStampIsAFrameErrorButEncryptedDataIsNotAStamp(t *testing.T) {
	for _, data := range []string{"s", "s:1", "s12", "s12:", "s0:1", "h12:x", "s99999999999999999999:1", "s1:2:3"} {
		frame := "   $2014$ 1 3 0 1 1 *" + itoa(len(data)) + " " + data + " *0\r\n"
		var h Header
		_, err := ParseHeader([]byte(frame), &h, nil)
		var fe *FrameError
		require.ErrorAs(t, err, &fe, "data %q", data)
		require.Contains(t, fe.Reason, "stamp", "data %q", data)
	}
	// on an encrypted frame the data is upstream's RSA-encrypted key
	var h Header
	_, err := ParseHeader([]byte("   $2014$ 1 3 1 1 1 *3 s:x *0\r\n"), &h, nil)
	require.NoError(t, err)
	require.Equal(t, Stamp{}, h.Stamp)
}

func TestAppendStampedHeaderDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	h := Header{ID: 1 << 60, Type: TypeReq, SameDC: true, Stamp: Stamp{TS: 1 << 62, Node: 1<<64 - 1, Replay: true}}
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = AppendHeader(buf[:0], h) }))
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStampNumbersUpToTheLargest64BitValue(t *testing.T) {
	for in, want := range map[string]bool{
		"18446744073709551615":        true,  // 2^64-1
		"18446744073709551616":        false, // 2^64
		"99999999999999999999":        false,
		"9999999999999999999":         true, // 19 digits never overflow
		"000000000000000000000000001": true,
		"184467440737095516150":       false,
	} {
		v, end, ok := stampNumber([]byte(in), 0)
		require.Equal(t, want, ok, in)
		if ok {
			require.Equal(t, len(in), end)
			require.Equal(t, strings.TrimLeft(in, "0"), strconv.FormatUint(v, 10))
		}
	}
}
