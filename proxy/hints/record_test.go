package hints

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzParseRecord(f *testing.F) {
	good := appendRecord(nil, &Hint{Stamp: 1 << 40, Node: 7, PeerType: 1, Created: 1700000000000, Raw: []byte("*1\r\n$4\r\nPING\r\n")})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), good...))
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	f.Add(bad)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Hint
		n, err := parseRecord(b, &h)
		if err != nil {
			require.Zero(t, n)
			if !errors.Is(err, errShort) {
				require.NotEmpty(t, err.Error())
			}
			// a prefix of a truncated record is truncated too
			if errors.Is(err, errShort) && len(b) > 0 {
				_, err2 := parseRecord(b[:len(b)-1], &h)
				require.Error(t, err2)
			}
			return
		}
		require.Positive(t, n)
		require.LessOrEqual(t, n, len(b))
		// re-encoding gives the same bytes
		raw := bytes.Clone(h.Raw)
		h.Raw = raw
		require.Equal(t, b[:n], appendRecord(nil, &h))
		// every shorter prefix is incomplete
		for k := range n {
			_, err := parseRecord(b[:k], &h)
			require.ErrorIs(t, err, errShort, "prefix %d of %d", k, n)
		}
	})
}
