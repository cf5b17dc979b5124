package antientropy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolve(t *testing.T) {
	a, b, c := valueOf("a"), valueOf("b"), valueOf("c")
	present := func(v Digest, added float64) Version {
		return Version{Present: true, Value: v, Expiry: NoExpiry, Added: added}
	}
	absent := func(removed float64) Version { return Version{Expiry: NoExpiry, Removed: removed} }
	dcs := []string{"dc1", "dc1", "dc2"}
	tests := map[string]struct {
		vs        []Version
		preferred string
		win       int
		rule      Rule
	}{
		"the newest write wins against a majority": {
			vs: []Version{present(a, 10), present(a, 10), present(b, 20)}, win: 2, rule: ByTimestamp},
		"a replica with a stamp beats ones without": {
			vs: []Version{present(a, 0), present(a, 0), present(b, 5)}, win: 2, rule: ByTimestamp},
		"a newer delete wins": {
			vs: []Version{present(a, 10), absent(30), present(a, 10)}, win: 1, rule: ByTimestamp},
		"an older delete loses": {
			vs: []Version{present(b, 40), absent(30), present(a, 10)}, win: 0, rule: ByTimestamp},
		"equal stamps: the delete wins": {
			vs: []Version{present(a, 10), absent(10), present(a, 10)}, win: 1, rule: ByTimestamp},
		"equal stamps: the greater value wins": {
			vs: []Version{present(a, 10), present(b, 10), present(c, 10)}, win: greatest(a, b, c), rule: ByTimestamp},
		"no stamp: the majority's value": {
			vs: []Version{present(a, 0), present(b, 0), present(b, 0)}, win: 1, rule: ByMajority},
		"no stamp: a key missing from the majority is deleted": {
			vs: []Version{present(a, 0), absent(0), absent(0)}, win: 1, rule: ByMajority},
		"no stamp: a key missing from one replica is copied": {
			vs: []Version{present(a, 0), absent(0), present(a, 0)}, win: 0, rule: ByMajority},
		"no majority: the preferred datacenter": {
			vs: []Version{present(a, 0), present(b, 0), present(c, 0)}, preferred: "dc2", win: 2, rule: ByPreferredDC},
		"no majority, no preferred datacenter": {
			vs: []Version{present(a, 0), present(b, 0), present(c, 0)}, win: -1, rule: Unresolved},
		"no majority, no replica in the preferred datacenter": {
			vs: []Version{present(a, 0), present(b, 0), present(c, 0)}, preferred: "dc9", win: -1, rule: Unresolved},
		"expiries within the tolerance are one version": {
			vs:  []Version{{Present: true, Value: a, Expiry: 1000}, {Present: true, Value: a, Expiry: 1400}, {Present: true, Value: a, Expiry: NoExpiry}},
			win: 0, rule: ByMajority},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			win, rule := Resolve(tc.vs, dcs, tc.preferred, 500)
			require.Equal(t, tc.rule, rule)
			require.Equal(t, tc.win, win)
		})
	}
}

func greatest(ds ...Digest) int {
	best := 0
	for i, d := range ds {
		if string(d[:]) > string(ds[best][:]) {
			best = i
		}
	}
	return best
}

func TestSame(t *testing.T) {
	v := Version{Present: true, Value: valueOf("a"), Expiry: 10_000}
	require.True(t, Same(v, v, 0))
	require.True(t, Same(Version{}, Version{Removed: 3}, 0), "absent is absent, whatever the metadata")
	w := v
	w.Expiry = 10_500
	require.True(t, Same(v, w, 500))
	require.False(t, Same(v, w, 499))
	w.Expiry = NoExpiry
	require.False(t, Same(v, w, 1<<40), "an expiry and none differ")
	w = v
	w.Value = valueOf("b")
	require.False(t, Same(v, w, 0))
	require.False(t, Same(v, Version{}, 0))
	require.False(t, Diverges([]Version{v, v, v}, 0))
	require.True(t, Diverges([]Version{v, v, {}}, 0))
}
