package seedprovider_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/seedprovider"
)

func seed(host string, port int, rack, dc string, tokens ...uint32) seedprovider.Seed {
	return seedprovider.Seed{Host: host, Port: port, Rack: rack, DC: dc, Tokens: tokens}
}

func TestParseList(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    []seedprovider.Seed
		bad     []string // substrings of the entry errors, in order
	}{
		"an empty payload has no seeds": {payload: ""},
		"only separators have no seeds": {payload: "| |\r\n|"},
		"one entry": {
			payload: "127.0.0.1:8101:r1:dc1:100",
			want:    []seedprovider.Seed{seed("127.0.0.1", 8101, "r1", "dc1", 100)},
		},
		"upstream's florida example with host names": {
			payload: "ec2-a.example:8101:dyno_pds--useast1e:us-east-1:1383429731|ec2-b.example:8101:dyno_pds--euwest1c:eu-west-1:1383429731",
			want: []seedprovider.Seed{
				seed("ec2-a.example", 8101, "dyno_pds--useast1e", "us-east-1", 1383429731),
				seed("ec2-b.example", 8101, "dyno_pds--euwest1c", "eu-west-1", 1383429731),
			},
		},
		"a trailing separator and a newline are ignored": {
			payload: "127.0.0.1:8101:r1:dc1:1|127.0.0.2:8101:r1:dc1:2|\n",
			want:    []seedprovider.Seed{seed("127.0.0.1", 8101, "r1", "dc1", 1), seed("127.0.0.2", 8101, "r1", "dc1", 2)},
		},
		"lines separate entries like pipes": {
			payload: "127.0.0.1:8101:r1:dc1:1\r\n127.0.0.2:8101:r1:dc1:2\n",
			want:    []seedprovider.Seed{seed("127.0.0.1", 8101, "r1", "dc1", 1), seed("127.0.0.2", 8101, "r1", "dc1", 2)},
		},
		"names, several tokens and IPv6 are kept": {
			payload: "[::1]:8101:r1:dc1:1,2 node-a | ::1:8102:r1:dc1:3",
			want: []seedprovider.Seed{
				{Host: "::1", Port: 8101, Rack: "r1", DC: "dc1", Tokens: []uint32{1, 2}, Name: "node-a"},
				seed("::1", 8102, "r1", "dc1", 3),
			},
		},
		"bad entries are skipped and the good ones kept": {
			payload: "127.0.0.1:8101:r1:dc1:1|garbage|127.0.0.2:99999:r1:dc1:2|127.0.0.3:8101:r1:dc1:4294967296|127.0.0.4:8101:r1:dc1:4",
			want:    []seedprovider.Seed{seed("127.0.0.1", 8101, "r1", "dc1", 1), seed("127.0.0.4", 8101, "r1", "dc1", 4)},
			bad:     []string{`"garbage"`, `"127.0.0.2:99999:r1:dc1:2"`, `"127.0.0.3:8101:r1:dc1:4294967296"`},
		},
		"an entry without a token is skipped": {
			payload: "127.0.0.1:8101:r1:dc1:",
			bad:     []string{"127.0.0.1:8101:r1:dc1:"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := seedprovider.ParseList(tc.payload)
			require.Equal(t, tc.want, got)
			if len(tc.bad) == 0 {
				require.NoError(t, err)
				return
			}
			require.True(t, seedprovider.Partial(err), "error %v is partial", err)
			entries := seedprovider.Entries(err)
			require.Len(t, entries, len(tc.bad))
			for i, sub := range tc.bad {
				require.Contains(t, entries[i].Error(), sub)
			}
		})
	}
}

func TestParseListCapsErrors(t *testing.T) {
	payload := strings.Repeat("x|", 1000)
	seeds, err := seedprovider.ParseList(payload)
	require.Empty(t, seeds)
	entries := seedprovider.Entries(err)
	require.Len(t, entries, seedprovider.MaxEntryErrors+1)
	require.Contains(t, entries[len(entries)-1].Error(), "968 more bad entries")
}

func TestEntryErrorTruncates(t *testing.T) {
	e := seedprovider.NewEntryError(strings.Repeat("a", 1000), errors.New("bad"))
	require.Len(t, e.Entry, 131)
	require.ErrorContains(t, e, "bad")
}

func TestPartial(t *testing.T) {
	entry := seedprovider.NewEntryError("x", errors.New("bad"))
	tests := map[string]struct {
		err  error
		want bool
	}{
		"nil is not partial":                            {nil, false},
		"a plain error is not partial":                  {errors.New("down"), false},
		"one entry error is partial":                    {entry, true},
		"joined entry errors are partial":               {errors.Join(entry, entry), true},
		"nested joins of entry errors are partial":      {errors.Join(errors.Join(entry), entry), true},
		"an entry error joined with a failure is not":   {errors.Join(entry, errors.New("down")), false},
		"a wrapped entry error is not (wrap = failure)": {fmt.Errorf("x: %w", entry), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, seedprovider.Partial(tc.err))
		})
	}
}

func TestNormalize(t *testing.T) {
	a := seed("127.0.0.1", 8101, "r1", "dc1", 10)
	b := seed("127.0.0.2", 8101, "r1", "dc1", 20)
	c := seed("127.0.0.3", 8101, "r2", "dc1", 10)
	tests := map[string]struct {
		in   []seedprovider.Seed
		want []seedprovider.Seed
		bad  []string
	}{
		"empty stays empty": {},
		"order does not matter": {
			in:   []seedprovider.Seed{c, b, a},
			want: []seedprovider.Seed{a, b, c},
		},
		"exact duplicates are dropped silently": {
			in:   []seedprovider.Seed{a, b, a, b},
			want: []seedprovider.Seed{a, b},
		},
		"the same token in another rack is fine": {
			in:   []seedprovider.Seed{a, c},
			want: []seedprovider.Seed{a, c},
		},
		"a duplicate token in one rack keeps the first address": {
			in:   []seedprovider.Seed{seed("127.0.0.9", 8101, "r1", "dc1", 10), a},
			want: []seedprovider.Seed{a},
			bad:  []string{"token 10 in dc1/r1 is already held by 127.0.0.1:8101"},
		},
		"one address listed twice keeps the first entry": {
			in:   []seedprovider.Seed{seed("127.0.0.1", 8101, "r1", "dc1", 99), a},
			want: []seedprovider.Seed{a},
			bad:  []string{"address 127.0.0.1:8101 is already listed"},
		},
		"one address in two racks keeps the first rack": {
			in:   []seedprovider.Seed{seed("127.0.0.1", 8101, "r2", "dc1", 99), a},
			want: []seedprovider.Seed{a},
			bad:  []string{"address 127.0.0.1:8101 is already listed"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := seedprovider.Clone(tc.in)
			got, err := seedprovider.Normalize(tc.in)
			require.Equal(t, in, tc.in, "input untouched")
			require.Equal(t, tc.want, got)
			if len(tc.bad) == 0 {
				require.NoError(t, err)
				return
			}
			require.True(t, seedprovider.Partial(err))
			entries := seedprovider.Entries(err)
			require.Len(t, entries, len(tc.bad))
			for i, sub := range tc.bad {
				require.Contains(t, entries[i].Error(), sub)
			}
		})
	}
}

func TestNormalizeHashIsOrderIndependent(t *testing.T) {
	a := seed("127.0.0.1", 8101, "r1", "dc1", 10)
	b := seed("127.0.0.2", 8101, "r1", "dc1", 20)
	x, err := seedprovider.Normalize([]seedprovider.Seed{a, b})
	require.NoError(t, err)
	y, err := seedprovider.Normalize([]seedprovider.Seed{b, a, b})
	require.NoError(t, err)
	require.Equal(t, seedprovider.Hash(x), seedprovider.Hash(y))
	z, err := seedprovider.Normalize([]seedprovider.Seed{a, seed("127.0.0.3", 8101, "r1", "dc1", 20)})
	require.NoError(t, err)
	require.NotEqual(t, seedprovider.Hash(x), seedprovider.Hash(z), "an address change changes the hash")
}

type fakeProvider struct {
	seeds []seedprovider.Seed
	err   error
}

func (f fakeProvider) Name() string { return "fake" }

func (f fakeProvider) Seeds(context.Context) ([]seedprovider.Seed, error) {
	return seedprovider.Clone(f.seeds), f.err
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" {
		return nil, fmt.Errorf("unexpected network %q", network)
	}
	switch host {
	case "timeout.test":
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	addrs, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

func TestResolving(t *testing.T) {
	r := fakeResolver{
		"node-a.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.9"), netip.MustParseAddr("127.0.0.2")},
		"node-b.test": {netip.MustParseAddr("::2"), netip.MustParseAddr("::1")},
		"empty.test":  {},
	}
	tests := map[string]struct {
		seeds   []seedprovider.Seed
		perr    error
		want    []seedprovider.Seed
		bad     []string
		failure string
	}{
		"IP literals pass through": {
			seeds: []seedprovider.Seed{seed("127.0.0.1", 1, "r", "d", 1), seed("::1", 2, "r", "d", 2)},
			want:  []seedprovider.Seed{seed("127.0.0.1", 1, "r", "d", 1), seed("::1", 2, "r", "d", 2)},
		},
		"names resolve to the lowest IPv4 address and keep the name": {
			seeds: []seedprovider.Seed{seed("node-a.test", 1, "r", "d", 1), seed("node-b.test", 2, "r", "d", 2)},
			want: []seedprovider.Seed{
				{Host: "127.0.0.2", Port: 1, Rack: "r", DC: "d", Tokens: []uint32{1}, Name: "node-a.test"},
				{Host: "::1", Port: 2, Rack: "r", DC: "d", Tokens: []uint32{2}, Name: "node-b.test"},
			},
		},
		"an explicit name is kept": {
			seeds: []seedprovider.Seed{{Host: "node-a.test", Port: 1, Rack: "r", DC: "d", Tokens: []uint32{1}, Name: "a"}},
			want:  []seedprovider.Seed{{Host: "127.0.0.2", Port: 1, Rack: "r", DC: "d", Tokens: []uint32{1}, Name: "a"}},
		},
		"unknown and empty names are skipped": {
			seeds: []seedprovider.Seed{seed("gone.test", 1, "r", "d", 1), seed("127.0.0.1", 2, "r", "d", 2), seed("empty.test", 3, "r", "d", 3)},
			want:  []seedprovider.Seed{seed("127.0.0.1", 2, "r", "d", 2)},
			bad:   []string{"gone.test does not resolve", "empty.test has no address"},
		},
		"entry errors of the provider are kept": {
			seeds: []seedprovider.Seed{seed("127.0.0.1", 2, "r", "d", 2)},
			perr:  seedprovider.NewEntryError("junk", errors.New("bad")),
			want:  []seedprovider.Seed{seed("127.0.0.1", 2, "r", "d", 2)},
			bad:   []string{"junk"},
		},
		"a resolver timeout fails the call": {
			seeds:   []seedprovider.Seed{seed("timeout.test", 1, "r", "d", 1)},
			failure: "resolving timeout.test",
		},
		"a provider failure passes through": {
			perr:    errors.New("provider down"),
			failure: "provider down",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := seedprovider.Resolving(fakeProvider{seeds: tc.seeds, err: tc.perr}, r)
			require.Equal(t, "fake", p.Name())
			got, err := p.Seeds(context.Background())
			if tc.failure != "" {
				require.ErrorContains(t, err, tc.failure)
				require.False(t, seedprovider.Partial(err))
				require.Nil(t, got)
				return
			}
			require.Equal(t, tc.want, got)
			if len(tc.bad) == 0 {
				require.NoError(t, err)
				return
			}
			entries := seedprovider.Entries(err)
			require.True(t, seedprovider.Partial(err))
			require.Len(t, entries, len(tc.bad))
			for i, sub := range tc.bad {
				require.Contains(t, entries[i].Error(), sub)
			}
		})
	}
}

func TestPickAddr(t *testing.T) {
	_, ok := seedprovider.PickAddr(nil)
	require.False(t, ok)
	_, ok = seedprovider.PickAddr([]netip.Addr{netip.IPv4Unspecified(), {}})
	require.False(t, ok)
	a, ok := seedprovider.PickAddr([]netip.Addr{netip.MustParseAddr("::ffff:127.0.0.5"), netip.MustParseAddr("127.0.0.7")})
	require.True(t, ok)
	require.Equal(t, "127.0.0.5", a.String())
}

// FuzzParseList checks the properties of the payload parser: it never
// panics, each seed it returns prints back to an entry that parses to the same
// seed, and it returns at most one result (seed or entry error) per entry.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"",
		"|",
		"127.0.0.1:8101:r1:dc1:1",
		"127.0.0.1:8101:r1:dc1:1|127.0.0.2:8101:r1:dc1:2|",
		"[::1]:8101:r1:dc1:1,2 name",
		"::1:8101:r1:dc1:1",
		"host:0:r:d:1",
		"host:65536:r:d:1",
		"host:8101:r:d:4294967296",
		"host:8101::d:1",
		"a:b:c:d:e:f:g",
		"\xff\xfe:1:r:d:1",
		"h:1:r:d:1 n extra",
		"h:1:r:d: 1 , 2 ",
		"[h]:1:r:d:1",
		"\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		seeds, err := seedprovider.ParseList(payload)
		if err != nil {
			require.True(t, seedprovider.Partial(err), "only entry errors: %v", err)
		}
		entries := strings.FieldsFunc(payload, func(r rune) bool { return r == '|' || r == '\n' || r == '\r' })
		require.LessOrEqual(t, len(seeds)+len(seedprovider.Entries(err)), len(entries)+1)
		for _, s := range seeds {
			again, err := seedprovider.ParseSeed(s.String())
			require.NoError(t, err, "re-parse %q", s.String())
			require.Equal(t, s, again)
		}
		norm, _ := seedprovider.Normalize(seeds)
		require.LessOrEqual(t, len(norm), len(seeds))
	})
}

func TestCheck(t *testing.T) {
	good := seedprovider.Seed{Host: "127.0.0.1", Port: 8101, Rack: "r1", DC: "dc1", Tokens: []uint32{1}, Name: "i-1"}
	require.NoError(t, seedprovider.Check(good))
	tests := map[string]struct {
		mod  func(*seedprovider.Seed)
		want string
	}{
		"empty rack":      {func(s *seedprovider.Seed) { s.Rack = "" }, "empty rack"},
		"rack with space": {func(s *seedprovider.Seed) { s.Rack = "a b" }, `invalid rack "a b"`},
		"dc with colon":   {func(s *seedprovider.Seed) { s.DC = "a:b" }, `invalid datacenter "a:b"`},
		"dc with pipe":    {func(s *seedprovider.Seed) { s.DC = "a|b" }, `invalid datacenter`},
		"name with space": {func(s *seedprovider.Seed) { s.Name = "a b" }, "invalid name"},
		"host with space": {func(s *seedprovider.Seed) { s.Host = "a b" }, "invalid host"},
		"no token":        {func(s *seedprovider.Seed) { s.Tokens = nil }, "no token"},
		"port 0":          {func(s *seedprovider.Seed) { s.Port = 0 }, "port"},
		"bad host name":   {func(s *seedprovider.Seed) { s.Host = "-x-.test" }, "host name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := good
			tc.mod(&s)
			require.ErrorContains(t, seedprovider.Check(s), tc.want)
		})
	}
}
