package static_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/static"
)

func TestNewCopiesAndReturnsTheList(t *testing.T) {
	in := []seedprovider.Seed{{Host: "127.0.0.1", Port: 8101, Rack: "r1", DC: "dc1", Tokens: []uint32{1}}}
	p := static.New(in)
	require.Equal(t, "simple_provider", p.Name())
	in[0].Tokens[0] = 99 // the provider kept its own copy
	got, err := p.Seeds(context.Background())
	require.NoError(t, err)
	require.Equal(t, []uint32{1}, got[0].Tokens)
	got[0].Host = "changed" // callers get copies
	again, err := p.Seeds(context.Background())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", again[0].Host)
}

func TestEmptyListIsNotAnError(t *testing.T) {
	got, err := static.New(nil).Seeds(context.Background())
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestParse(t *testing.T) {
	tests := map[string]struct {
		entries []string
		want    []string
		bad     []string
	}{
		"nothing":      {},
		"good entries": {entries: []string{"127.0.0.1:8101:r1:dc1:1", "127.0.0.2:8101:r1:dc1:2 b"}, want: []string{"127.0.0.1:8101:r1:dc1:1", "127.0.0.2:8101:r1:dc1:2 b"}},
		"a bad entry":  {entries: []string{"127.0.0.1:8101:r1:dc1:1", "nope"}, want: []string{"127.0.0.1:8101:r1:dc1:1"}, bad: []string{`"nope"`}},
		"a pipe is no list separator in dyn_seeds": {entries: []string{"127.0.0.1:8101:r1:dc1:1|127.0.0.2:8101:r1:dc1:2"}, bad: []string{"127.0.0.1:8101:r1:dc1:1|"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := static.Parse(tc.entries)
			require.NotNil(t, p)
			got, serr := p.Seeds(context.Background())
			require.NoError(t, serr)
			var strs []string
			for _, s := range got {
				strs = append(strs, s.String())
			}
			require.Equal(t, tc.want, strs)
			if len(tc.bad) == 0 {
				require.NoError(t, err)
				return
			}
			require.True(t, seedprovider.Partial(err))
			for i, e := range seedprovider.Entries(err) {
				require.Contains(t, e.Error(), tc.bad[i])
			}
		})
	}
}
