package dnssrv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/dnssrv"
	"github.com/dynomite-go/dynomite/seedprovider/internal/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const srvName = "_dynomite._tcp.c.test."

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		cfg  dnssrv.Config
		want string
	}{
		"a name is enough":       {cfg: dnssrv.Config{Name: srvName}},
		"a resolver with a port": {cfg: dnssrv.Config{Name: srvName, Resolver: "127.0.0.1:5353", Timeout: time.Second}},
		"no name":                {cfg: dnssrv.Config{}, want: "dns_srv_name: required"},
		"a bad name":             {cfg: dnssrv.Config{Name: "a..b"}, want: "dns_srv_name"},
		"the root":               {cfg: dnssrv.Config{Name: "."}, want: "dns_srv_name"},
		"a bad resolver":         {cfg: dnssrv.Config{Name: srvName, Resolver: "a b"}, want: "dns_srv_resolver"},
		"a negative timeout":     {cfg: dnssrv.Config{Name: srvName, Timeout: -1}, want: "dns_srv_timeout"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			_, err = dnssrv.New(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestParseTXT(t *testing.T) {
	tests := map[string]struct {
		strs []string
		want dnssrv.Node
		err  string
	}{
		"DNS-SD: one pair per string": {
			strs: []string{"dc=dc1", "rack=r1", "tokens=123,456"},
			want: dnssrv.Node{DC: "dc1", Rack: "r1", Tokens: []uint32{123, 456}},
		},
		"several pairs in one string": {
			strs: []string{"dc=dc1 rack=r1 tokens=123 port=8102"},
			want: dnssrv.Node{DC: "dc1", Rack: "r1", Tokens: []uint32{123}, Port: 8102},
		},
		"aliases, any case, unknown keys ignored": {
			strs: []string{"DataCenter=dc1", "RACK=r1", "Token=7", "version=2"},
			want: dnssrv.Node{DC: "dc1", Rack: "r1", Tokens: []uint32{7}},
		},
		"missing keys are listed":   {strs: []string{"dc=dc1"}, err: "no rack, tokens"},
		"an empty record":           {strs: []string{""}, err: "no dc, rack, tokens"},
		"not key=value":             {strs: []string{"dc1 r1 1"}, err: "not key=value"},
		"a key given twice":         {strs: []string{"dc=a", "datacenter=b", "rack=r", "tokens=1"}, err: "twice"},
		"a bad token":               {strs: []string{"dc=a rack=r tokens=1,x"}, err: "tokens=1,x"},
		"a token out of range":      {strs: []string{"dc=a rack=r tokens=4294967296"}, err: "out of range"},
		"a bad port":                {strs: []string{"dc=a rack=r tokens=1 port=0"}, err: "port=0"},
		"a colon in the rack":       {strs: []string{"dc=a rack=r:1 tokens=1"}, err: "must not contain"},
		"an empty value is missing": {strs: []string{"dc= rack=r tokens=1"}, err: "no dc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := dnssrv.ParseTXT(tc.strs)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := dnssrv.ParseTXT([]string{got.String()})
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

func FuzzParseTXT(f *testing.F) {
	f.Add("dc=dc1", "rack=r1", "tokens=1,2")
	f.Add("dc=dc1 rack=r1 tokens=1 port=8101", "", "")
	f.Add("=", "==", "tokens=")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		n, err := dnssrv.ParseTXT([]string{a, b, c})
		if err != nil {
			return
		}
		require.NotEmpty(t, n.DC)
		require.NotEmpty(t, n.Rack)
		require.NotEmpty(t, n.Tokens)
	})
}

// zone builds a cluster: nodes n1..nN under c.test on 127.0.0.x.
func zone(t *testing.T, srv *dnstest.Server, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		host := fmt.Sprintf("n%d.c.test.", i)
		srv.Add(t,
			fmt.Sprintf("%s 60 IN SRV 0 0 8101 %s", srvName, host),
			fmt.Sprintf("%s 60 IN A 127.0.0.%d", host, i),
			fmt.Sprintf(`%s 60 IN TXT "dc=dc1" "rack=r%d" "tokens=%d"`, host, i%3+1, i*1000),
		)
	}
}

func provider(t *testing.T, srv *dnstest.Server) *dnssrv.Provider {
	t.Helper()
	p, err := dnssrv.New(dnssrv.Config{Name: srvName, Resolver: srv.Addr, Timeout: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, "dns_srv_provider", p.Name())
	require.Equal(t, srv.Addr, p.Server())
	return p
}

func strs(seeds []seedprovider.Seed) []string {
	var out []string
	for _, s := range seeds {
		out = append(out, s.String())
	}
	return out
}

func TestSeeds(t *testing.T) {
	three := []string{
		"127.0.0.1:8101:r2:dc1:1000 n1.c.test",
		"127.0.0.2:8101:r3:dc1:2000 n2.c.test",
		"127.0.0.3:8101:r1:dc1:3000 n3.c.test",
	}
	tests := map[string]struct {
		setup   func(t *testing.T, s *dnstest.Server)
		want    []string
		bad     []string
		failure string
		tcp     bool
	}{
		"three nodes without glue": {
			setup: func(t *testing.T, s *dnstest.Server) { zone(t, s, 3) },
			want:  three,
		},
		"three nodes with A glue": {
			setup: func(t *testing.T, s *dnstest.Server) { zone(t, s, 3); s.Glue(true) },
			want:  three,
		},
		"a truncated SRV answer is asked again over TCP": {
			setup: func(t *testing.T, s *dnstest.Server) { zone(t, s, 3); s.Truncate(srvName) },
			want:  three, tcp: true,
		},
		"a truncated TXT answer is asked again over TCP": {
			setup: func(t *testing.T, s *dnstest.Server) { zone(t, s, 3); s.Truncate("n2.c.test") },
			want:  three, tcp: true,
		},
		"round-robin addresses: the lowest IPv4 wins": {
			setup: func(t *testing.T, s *dnstest.Server) {
				zone(t, s, 1)
				s.Add(t, "n1.c.test. 60 IN A 127.0.0.200", "n1.c.test. 60 IN AAAA ::1")
			},
			want: []string{"127.0.0.1:8101:r2:dc1:1000 n1.c.test"},
		},
		"an IPv6-only target": {
			setup: func(t *testing.T, s *dnstest.Server) {
				s.Add(t, srvName+" 60 IN SRV 0 0 8101 v6.c.test.", "v6.c.test. 60 IN AAAA ::1", `v6.c.test. 60 IN TXT "dc=dc1 rack=r1 tokens=5"`)
			},
			want: []string{"[::1]:8101:r1:dc1:5 v6.c.test"},
		},
		"two nodes on one host told apart by port=": {
			setup: func(t *testing.T, s *dnstest.Server) {
				s.Add(t,
					srvName+" 60 IN SRV 0 0 8101 h.c.test.", srvName+" 60 IN SRV 0 0 8102 h.c.test.",
					"h.c.test. 60 IN A 127.0.0.1",
					`h.c.test. 60 IN TXT "dc=dc1" "rack=r1" "tokens=1" "port=8101"`,
					`h.c.test. 60 IN TXT "dc=dc1" "rack=r2" "tokens=1" "port=8102"`)
			},
			want: []string{"127.0.0.1:8101:r1:dc1:1 h.c.test", "127.0.0.1:8102:r2:dc1:1 h.c.test"},
		},
		"a missing, a TXT-less, a bad and an ambiguous target are skipped": {
			setup: func(t *testing.T, s *dnstest.Server) {
				zone(t, s, 1)
				s.Add(t,
					srvName+" 60 IN SRV 0 0 8101 gone.c.test.",
					srvName+" 60 IN SRV 0 0 8101 notxt.c.test.", "notxt.c.test. 60 IN A 127.0.0.2",
					srvName+" 60 IN SRV 0 0 8101 badtxt.c.test.", "badtxt.c.test. 60 IN A 127.0.0.3", `badtxt.c.test. 60 IN TXT "v=spf1 -all"`,
					srvName+" 60 IN SRV 0 0 8101 twice.c.test.", "twice.c.test. 60 IN A 127.0.0.4",
					`twice.c.test. 60 IN TXT "dc=dc1 rack=r1 tokens=1"`, `twice.c.test. 60 IN TXT "dc=dc1 rack=r1 tokens=2"`,
					srvName+" 60 IN SRV 0 0 8101 noaddr.c.test.", `noaddr.c.test. 60 IN TXT "dc=dc1 rack=r1 tokens=1"`,
				)
			},
			want: []string{"127.0.0.1:8101:r2:dc1:1000 n1.c.test"},
			bad: []string{
				`"gone.c.test:8101" skipped: gone.c.test. A: name does not exist`,
				`"notxt.c.test:8101" skipped: no TXT record`,
				`"badtxt.c.test TXT v=spf1 -all" skipped: "-all" is not key=value`,
				`"badtxt.c.test:8101" skipped: no valid TXT record for port 8101`,
				`"twice.c.test:8101" skipped: 2 TXT records match port 8101`,
				`"noaddr.c.test:8101" skipped: no A or AAAA record`,
			},
		},
		"duplicate tokens pass through to the refresher": {
			setup: func(t *testing.T, s *dnstest.Server) {
				s.Add(t, srvName+" 60 IN SRV 0 0 8101 a.c.test.", srvName+" 60 IN SRV 0 0 8101 b.c.test.",
					"a.c.test. 60 IN A 127.0.0.1", "b.c.test. 60 IN A 127.0.0.2",
					`a.c.test. 60 IN TXT "dc=d rack=r tokens=1"`, `b.c.test. 60 IN TXT "dc=d rack=r tokens=1"`)
			},
			want: []string{"127.0.0.1:8101:r:d:1 a.c.test", "127.0.0.2:8101:r:d:1 b.c.test"},
		},
		"a huge cluster over TCP": {
			setup: func(t *testing.T, s *dnstest.Server) { zone(t, s, 200); s.Truncate(srvName) },
			tcp:   true,
		},
		"NXDOMAIN for the SRV name fails": {
			setup:   func(t *testing.T, s *dnstest.Server) {},
			failure: "no seeds",
		},
		"no SRV record fails": {
			setup:   func(t *testing.T, s *dnstest.Server) { s.Add(t, srvName+" 60 IN TXT \"x\"") },
			failure: "no seeds",
		},
		"the target '.' (no service) fails": {
			setup:   func(t *testing.T, s *dnstest.Server) { s.Add(t, srvName+" 60 IN SRV 0 0 0 .") },
			failure: "no seeds",
		},
		"SERVFAIL for the SRV name fails": {
			setup:   func(t *testing.T, s *dnstest.Server) { zone(t, s, 3); s.Rcode(srvName, dns.RcodeServerFailure) },
			failure: "SERVFAIL",
		},
		"SERVFAIL for one target fails the whole poll": {
			setup:   func(t *testing.T, s *dnstest.Server) { zone(t, s, 3); s.Rcode("n2.c.test", dns.RcodeServerFailure) },
			failure: "n2.c.test. A from 127.0.0.1",
		},
		"a slow server times out": {
			setup:   func(t *testing.T, s *dnstest.Server) { zone(t, s, 3); s.Delay(time.Second) },
			failure: "timeout",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := dnstest.Start(t)
			tc.setup(t, srv)
			seeds, err := provider(t, srv).Seeds(context.Background())
			if tc.failure != "" {
				require.ErrorContains(t, err, tc.failure)
				require.False(t, seedprovider.Partial(err))
				require.Nil(t, seeds)
				return
			}
			if tc.want != nil {
				norm, nerr := seedprovider.Normalize(seeds)
				if nerr == nil {
					seeds = norm
				}
				require.ElementsMatch(t, tc.want, strs(seeds))
			}
			if name == "a huge cluster over TCP" {
				require.Len(t, seeds, 200)
			}
			var bad []string
			for _, e := range seedprovider.Entries(err) {
				bad = append(bad, e.Error())
			}
			require.Len(t, bad, len(tc.bad), "%v", bad)
			for _, want := range tc.bad {
				require.True(t, containsOne(bad, want), "%q not in %q", want, bad)
			}
			if tc.tcp {
				require.Positive(t, srv.TCP.Load())
			} else {
				require.Zero(t, srv.TCP.Load())
			}
		})
	}
}

// With gossip on, a target without a TXT record is kept with its address
// only; the node takes its datacenter, rack and tokens from gossip. A TXT
// record that is present but wrong still skips the target.
func TestAddressOnlyTargetsWithGossip(t *testing.T) {
	srv := dnstest.Start(t)
	zone(t, srv, 1)
	srv.Add(t,
		srvName+" 60 IN SRV 0 0 8101 notxt.c.test.", "notxt.c.test. 60 IN A 127.0.0.2",
		srvName+" 60 IN SRV 0 0 8111 notxt.c.test.",
		srvName+" 60 IN SRV 0 0 8101 badtxt.c.test.", "badtxt.c.test. 60 IN A 127.0.0.3", `badtxt.c.test. 60 IN TXT "v=spf1 -all"`,
		srvName+" 60 IN SRV 0 0 8101 gone.c.test.",
	)
	p, err := dnssrv.New(dnssrv.Config{Name: srvName, Resolver: srv.Addr, Timeout: 300 * time.Millisecond, AddressOnly: true})
	require.NoError(t, err)
	seeds, err := p.Seeds(context.Background())
	require.True(t, seedprovider.Partial(err), "%v", err)
	var bad []string
	for _, e := range seedprovider.Entries(err) {
		bad = append(bad, e.Entry)
	}
	require.ElementsMatch(t, []string{"badtxt.c.test TXT v=spf1 -all", "badtxt.c.test:8101", "gone.c.test:8101"}, bad)

	var full, addrOnly []string
	for _, s := range seeds {
		if seedprovider.AddressOnly(s) {
			addrOnly = append(addrOnly, s.Addr()+" "+s.Name)
		} else {
			full = append(full, s.String())
		}
	}
	require.Equal(t, []string{"127.0.0.1:8101:r2:dc1:1000 n1.c.test"}, full)
	require.ElementsMatch(t, []string{"127.0.0.2:8101 notxt.c.test", "127.0.0.2:8111 notxt.c.test"}, addrOnly)
	norm, err := seedprovider.Normalize(seeds)
	require.NoError(t, err, "address-only seeds pass the refresher's checks")
	require.Len(t, norm, 3)

	// without gossip the same target is skipped, as before
	seeds, err = provider(t, srv).Seeds(context.Background())
	require.True(t, seedprovider.Partial(err))
	for _, s := range seeds {
		require.False(t, seedprovider.AddressOnly(s), "%v", s)
	}
}

func containsOne(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestMembershipChanges follows a cluster through the refresher: a fourth
// node joins, a node changes address, a node leaves, the records vanish.
func TestMembershipChanges(t *testing.T) {
	srv := dnstest.Start(t)
	zone(t, srv, 3)
	r, err := seedprovider.NewRefresher(provider(t, srv), seedprovider.RefresherConfig{})
	require.NoError(t, err)
	view := func(wantChanged bool) []string {
		t.Helper()
		snap, changed, err := r.Refresh(context.Background())
		require.Equal(t, wantChanged, changed, "err %v", err)
		var hosts []string
		for _, s := range snap.Seeds {
			hosts = append(hosts, s.Name+"="+s.Host)
		}
		return hosts
	}
	require.Equal(t, []string{"n3.c.test=127.0.0.3", "n1.c.test=127.0.0.1", "n2.c.test=127.0.0.2"}, view(true))
	require.Len(t, view(false), 3)

	srv.Add(t, srvName+" 60 IN SRV 0 0 8101 n4.c.test.", "n4.c.test. 60 IN A 127.0.0.4", `n4.c.test. 60 IN TXT "dc=dc1 rack=r1 tokens=9"`)
	require.Contains(t, view(true), "n4.c.test=127.0.0.4")

	srv.Remove("n2.c.test")
	srv.Add(t, "n2.c.test. 60 IN A 127.0.0.22", `n2.c.test. 60 IN TXT "dc=dc1 rack=r3 tokens=2000"`)
	require.Contains(t, view(true), "n2.c.test=127.0.0.22")

	srv.Remove(srvName)
	srv.Add(t, srvName+" 60 IN SRV 0 0 8101 n1.c.test.", srvName+" 60 IN SRV 0 0 8101 n2.c.test.")
	require.Equal(t, []string{"n1.c.test=127.0.0.1", "n2.c.test=127.0.0.22"}, view(true))

	srv.Remove(srvName)
	require.Len(t, view(false), 2, "an empty answer keeps the view")
	require.EqualValues(t, 1, r.Metrics().Failures.Load())
}
