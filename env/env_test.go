package env_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/env"
)

func TestFill(t *testing.T) {
	tests := map[string]struct {
		i, from, want env.Info
	}{
		"empty takes everything": {
			from: env.Info{Datacenter: "d", Rack: "r", PrivateIP: "127.0.0.1", PublicIP: "127.0.0.2", PublicHostname: "h", Region: "x", Zone: "z"},
			want: env.Info{Datacenter: "d", Rack: "r", PrivateIP: "127.0.0.1", PublicIP: "127.0.0.2", PublicHostname: "h", Region: "x", Zone: "z"},
		},
		"set fields are kept": {
			i:    env.Info{Datacenter: "a", PrivateIP: "127.0.0.9"},
			from: env.Info{Datacenter: "b", Rack: "r", PrivateIP: "127.0.0.1"},
			want: env.Info{Datacenter: "a", Rack: "r", PrivateIP: "127.0.0.9"},
		},
		"nothing to take": {i: env.Info{Rack: "r"}, want: env.Info{Rack: "r"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.i.Fill(tc.from))
		})
	}
}

func TestMissing(t *testing.T) {
	require.Equal(t, []string{"datacenter", "rack", "private address"}, env.Info{}.Missing())
	require.Equal(t, []string{"private address"}, env.Info{Datacenter: "d", Rack: "r"}.Missing())
	require.Empty(t, env.Info{Datacenter: "d", Rack: "r", PrivateIP: "127.0.0.1"}.Missing())
}
