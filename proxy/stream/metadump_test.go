package stream

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseMetaItem(t *testing.T) {
	it, err := ParseMetaItem([]byte("key=a%25b%20c exp=1796473409 la=1796473309 cas=7 fetch=yes cls=3 size=69"))
	require.NoError(t, err)
	require.Equal(t, MetaItem{Key: []byte("a%b c"), Exp: 1796473409, LastAccess: 1796473309, CAS: 7,
		Fetched: true, Class: 3, Size: 69}, it)

	it, err = ParseMetaItem([]byte("key=plain exp=-1 la=1 cas=2 fetch=no cls=1 size=66 flags=0 future=x"))
	require.NoError(t, err)
	require.Equal(t, int64(-1), it.Exp)
	require.Equal(t, "plain", string(it.Key))

	for line, want := range map[string]string{
		"":                              "lacks key= or exp=",
		"exp=1":                         "lacks key= or exp=",
		"key=a":                         "lacks key= or exp=",
		"key=a exp":                     `field "exp" has no '='`,
		"key=a exp=x":                   `field exp="x"`,
		"key=a exp=-5":                  `field exp="-5": negative`,
		"key=%zz exp=1":                 `field key="%zz"`,
		"key= exp=1":                    `field key="": key length 0`,
		"key=a exp=1 fetch=maybe":       "not yes or no",
		"key=a exp=1 cas=-1":            `field cas="-1"`,
		"key=a exp=1 size=99999999999x": `field size=`,
	} {
		_, err := ParseMetaItem([]byte(line))
		require.ErrorIs(t, err, errMetadump, line)
		require.ErrorContains(t, err, want, line)
	}
}

func FuzzParseMetaItem(f *testing.F) {
	for _, s := range []string{
		"key=a%25b exp=1796473409 la=1796473309 cas=1 fetch=no cls=1 size=69",
		"key=plain exp=-1 la=1796473309 cas=2 fetch=no cls=1 size=66",
		"key=%E2%82%AC exp=0 la=0 cas=0 fetch=yes cls=63 size=1048576 flags=5",
		"key=a exp=x", "key=%", "=", "key==", "exp=1 key=k",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		it, err := ParseMetaItem(line)
		if err != nil {
			return
		}
		if len(it.Key) == 0 || len(it.Key) > maxMemcacheKey || it.Exp < -1 {
			t.Fatalf("accepted %q as %+v", line, it)
		}
	})
}
