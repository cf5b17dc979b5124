package proxytest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

func TestGridPlacesDatacentersRacksAndSplitsTheRing(t *testing.T) {
	require.Equal(t, []proxytest.Placement{
		{DC: "dc1", Rack: "r1", Token: 1<<31 - 1}, {DC: "dc1", Rack: "r1", Token: 1<<32 - 1},
		{DC: "dc1", Rack: "r2", Token: 1<<31 - 1}, {DC: "dc1", Rack: "r2", Token: 1<<32 - 1},
		{DC: "dc2", Rack: "r1", Token: 1<<31 - 1}, {DC: "dc2", Rack: "r1", Token: 1<<32 - 1},
		{DC: "dc2", Rack: "r2", Token: 1<<31 - 1}, {DC: "dc2", Rack: "r2", Token: 1<<32 - 1},
	}, proxytest.Grid(2, 2, 2))
	require.Equal(t, proxytest.Grid(1, 2, 1), proxytest.Placements(t, "dc1/r1/4294967295", "dc1/r2/4294967295"))
}
