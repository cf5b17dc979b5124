package network_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/env"
	"github.com/dynomite-go/dynomite/env/network"
)

func ipnet(s string) net.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestDetect(t *testing.T) {
	ifaces := []net.Addr{ipnet("127.0.0.1/8"), ipnet("::1/128"), ipnet("fe80::1/64"), ipnet("169.254.1.1/16"), ipnet("fd00::5/64"), ipnet("10.1.2.3/24"), ipnet("192.168.0.9/24")}
	tests := map[string]struct {
		cfg     network.Config
		vars    map[string]string
		addrs   []net.Addr
		addrErr error
		want    env.Info
		wantErr string
	}{
		"a specific dyn_listen address is announced": {
			cfg:  network.Config{Datacenter: "dc1", Rack: "r1", Listen: "127.0.0.5:8101"},
			want: env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "127.0.0.5"},
		},
		"an IPv6 dyn_listen address": {
			cfg:  network.Config{Datacenter: "dc1", Rack: "r1", Listen: "[::1]:8101"},
			want: env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "::1"},
		},
		"a dyn_listen host name is announced as the name": {
			cfg:  network.Config{Datacenter: "dc1", Rack: "r1", Listen: "node1.local:8101"},
			want: env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "node1.local"},
		},
		"0.0.0.0: the first global IPv4 interface address": {
			cfg:   network.Config{Datacenter: "dc1", Rack: "r1", Listen: "0.0.0.0:8101"},
			addrs: ifaces,
			want:  env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "10.1.2.3"},
		},
		"no dyn_listen: interfaces too": {
			cfg:   network.Config{Datacenter: "dc1", Rack: "r1"},
			addrs: ifaces,
			want:  env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "10.1.2.3"},
		},
		"IPv6 only": {
			cfg:   network.Config{Datacenter: "dc1", Rack: "r1", Listen: "[::]:8101"},
			addrs: []net.Addr{ipnet("::1/128"), ipnet("fe80::1/64"), ipnet("fd00::5/64")},
			want:  env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "fd00::5"},
		},
		"loopback only: 127.0.0.1": {
			cfg:   network.Config{Datacenter: "dc1", Rack: "r1", Listen: "0.0.0.0:8101"},
			addrs: []net.Addr{ipnet("127.0.0.1/8"), &net.UnixAddr{Name: "x"}},
			want:  env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "127.0.0.1"},
		},
		"the upstream variables win": {
			cfg:  network.Config{Datacenter: "dc1", Rack: "r1", Listen: "127.0.0.5:8101"},
			vars: map[string]string{network.EnvLocalIPv4: "127.0.0.7", network.EnvPublicIPv4: "127.0.1.7", network.EnvPublicHostname: "localhost"},
			want: env.Info{Datacenter: "dc1", Rack: "r1", PrivateIP: "127.0.0.7", PublicIP: "127.0.1.7", PublicHostname: "localhost"},
		},
		"no datacenter and no rack": {
			cfg:     network.Config{Listen: "127.0.0.5:8101"},
			wantErr: "datacenter is not set",
		},
		"a bad LOCAL_IPV4": {
			cfg:     network.Config{Datacenter: "dc1", Rack: "r1"},
			vars:    map[string]string{network.EnvLocalIPv4: "nope"},
			wantErr: `LOCAL_IPV4="nope"`,
		},
		"a bad dyn_listen": {
			cfg:     network.Config{Datacenter: "dc1", Rack: "r1", Listen: "nocolon"},
			wantErr: "dyn_listen",
		},
		"interfaces cannot be listed": {
			cfg:     network.Config{Datacenter: "dc1", Rack: "r1"},
			addrErr: errors.New("netlink: denied"),
			wantErr: "netlink: denied",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Getenv = func(k string) string { return tc.vars[k] }
			cfg.InterfaceAddrs = func() ([]net.Addr, error) { return tc.addrs, tc.addrErr }
			e := network.New(cfg)
			require.Equal(t, "network", e.Name())
			got, err := e.Detect(context.Background())
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRealInterfacesAreOnlyListed(t *testing.T) {
	// The default reads the local interface list (no traffic) and always
	// finds something to announce.
	got, err := network.New(network.Config{Datacenter: "dc1", Rack: "r1", Listen: "0.0.0.0:8101",
		Getenv: func(string) string { return "" }}).Detect(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, got.PrivateIP)
}
