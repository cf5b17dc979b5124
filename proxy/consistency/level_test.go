package consistency

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLevelNames(t *testing.T) {
	t.Run("every level's name parses back to it", func(t *testing.T) {
		for l := Level(0); l < NumLevels; l++ {
			got, err := Parse(l.String())
			require.NoError(t, err)
			require.Equal(t, l, got)
		}
	})
	t.Run("Parse is exact and case-insensitive", func(t *testing.T) {
		for in, want := range map[string]Level{"DC_ONE": DCOne, "dc_one": DCOne, "Dc_Quorum": DCQuorum, "dc_safe_quorum": DCSafeQuorum, "DC_EACH_SAFE_QUORUM": DCEachSafeQuorum} {
			got, err := Parse(in)
			require.NoError(t, err, in)
			require.Equal(t, want, got, in)
		}
		for _, in := range []string{"DC_QUORUMX", "dc_on", "quorum", "", "DC_TWO"} {
			_, err := Parse(in)
			require.ErrorIs(t, err, ErrUnknownLevel, in)
			require.ErrorContains(t, err, "must be one of DC_ONE, DC_QUORUM, DC_SAFE_QUORUM, DC_EACH_SAFE_QUORUM")
		}
	})
	t.Run("ParsePrefix takes a level's name followed by anything, as upstream's configuration", func(t *testing.T) {
		l, rest, err := ParsePrefix("dc_quorum_please")
		require.NoError(t, err)
		require.Equal(t, DCQuorum, l)
		require.Equal(t, "_please", rest)
		l, rest, err = ParsePrefix("DC_EACH_SAFE_QUORUM")
		require.NoError(t, err)
		require.Equal(t, DCEachSafeQuorum, l)
		require.Empty(t, rest)
		_, _, err = ParsePrefix("dc_on")
		require.ErrorIs(t, err, ErrUnknownLevel)
	})
	t.Run("an invalid level names its number", func(t *testing.T) {
		require.Equal(t, "Level(9)", Level(9).String())
		require.False(t, Level(NumLevels).Valid())
		require.True(t, DCEachSafeQuorum.Valid())
	})
}
