package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const minimal = `dyn_o_mite:
  listen: 127.0.0.1:8102
  servers:
  - 127.0.0.1:6379:1
`

func TestParseMinimalFileGivesUpstreamDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "min.yml")
	require.NoError(t, err)
	require.Equal(t, "dyn_o_mite", c.Pool)
	require.Equal(t, Endpoint{Host: "127.0.0.1", Port: 8102}, c.Listen)
	require.Equal(t, []Server{{Endpoint: Endpoint{Host: "127.0.0.1", Port: 6379}, Weight: 1}}, c.Servers)
	require.True(t, c.IsSet("listen"))
	require.False(t, c.IsSet("timeout"))
	require.Empty(t, c.Warnings)
	require.NoError(t, c.Validate())
	require.True(t, strings.Contains(minimal, "listen"))
}
