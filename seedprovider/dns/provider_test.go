package dns_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/dns"
	"github.com/dynomite-go/dynomite/seedprovider/internal/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		want    dns.Config
		wantErr string
	}{
		"upstream's default name":   {want: dns.Config{Name: "_dynomite.ec2-internal"}},
		"a name and a resolver":     {env: map[string]string{dns.EnvName: "_seeds.example.com.", dns.EnvResolver: "127.0.0.1:5353"}, want: dns.Config{Name: "_seeds.example.com.", Resolver: "127.0.0.1:5353"}},
		"DYNOMITE_DNS_TYPE ignored": {env: map[string]string{dns.EnvType: "A"}, want: dns.Config{Name: "_dynomite.ec2-internal"}},
		"a bad name":                {env: map[string]string{dns.EnvName: "a..b"}, wantErr: "DYNOMITE_DNS_NAME"},
		"a bad resolver":            {env: map[string]string{dns.EnvResolver: "a b"}, wantErr: "DYNOMITE_DNS_RESOLVER"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := dns.ConfigFromEnv(env(tc.env))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	require.ErrorContains(t, dns.Config{Name: "x", Timeout: -1}.Validate(), "timeout")
}

func TestResolverDefaultsFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(conf, []byte("search example.com\nnameserver 127.0.0.53\nnameserver 127.0.0.54\n"), 0o600))
	p, err := dns.New(dns.Config{Name: "x.test", ResolvConf: conf})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.53:53", p.Server())

	p, err = dns.New(dns.Config{Name: "x.test", Resolver: "127.0.0.9"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.9:53", p.Server())

	_, err = dns.New(dns.Config{Name: "x.test", ResolvConf: filepath.Join(dir, "missing")})
	require.ErrorContains(t, err, "DYNOMITE_DNS_RESOLVER")
	empty := filepath.Join(dir, "empty.conf")
	require.NoError(t, os.WriteFile(empty, []byte("search x\n"), 0o600))
	_, err = dns.New(dns.Config{Name: "x.test", ResolvConf: empty})
	require.ErrorContains(t, err, "no nameserver")
}

func txt(name string, strs ...string) mdns.RR {
	return &mdns.TXT{Hdr: mdns.RR_Header{Name: mdns.Fqdn(name), Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 60}, Txt: strs}
}

func TestSeeds(t *testing.T) {
	long := make([]string, 0, 20)
	for i := range 20 {
		long = append(long, "127.0.0."+strconv.Itoa(i+1)+":8101:rack1:dc1:"+strconv.Itoa(i*1000))
	}
	longPayload := strings.Join(long, "|")
	// split the payload into 255-byte strings, anywhere (mid-entry)
	var chunks []string
	for p := longPayload; p != ""; {
		n := min(255, len(p))
		chunks = append(chunks, p[:n])
		p = p[n:]
	}

	tests := map[string]struct {
		records  []mdns.RR
		truncate bool
		rcode    int
		delay    time.Duration
		want     int // seeds
		first    string
		bad      int
		failure  string
		tcp      bool
	}{
		"one record": {
			records: []mdns.RR{txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100|127.0.0.2:8101:rack2:dc1:200")},
			want:    2, first: "127.0.0.1:8101:rack1:dc1:100",
		},
		"strings of one record are joined as Go does": {
			records: []mdns.RR{txt("_dynomite.test", chunks...)},
			want:    20, first: "127.0.0.1:8101:rack1:dc1:0",
		},
		"several records each add entries": {
			records: []mdns.RR{txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100"), txt("_dynomite.test", "127.0.0.2:8101:rack2:dc1:200")},
			want:    2,
		},
		"a truncated UDP answer is asked again over TCP": {
			records: []mdns.RR{txt("_dynomite.test", chunks...)}, truncate: true,
			want: 20, tcp: true,
		},
		"bad entries are skipped": {
			records: []mdns.RR{txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100|v=spf1 -all|")},
			want:    1, bad: 1,
		},
		"duplicate tokens pass through to the refresher": {
			records: []mdns.RR{txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100|127.0.0.2:8101:rack1:dc1:100")},
			want:    2,
		},
		"an empty record fails":   {records: []mdns.RR{txt("_dynomite.test", "")}, failure: "no seeds"},
		"no TXT record fails":     {records: []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "_dynomite.test.", Rrtype: mdns.TypeA, Class: mdns.ClassINET}, A: []byte{127, 0, 0, 1}}}, failure: "no seeds"},
		"NXDOMAIN fails":          {failure: "NXDOMAIN"},
		"SERVFAIL fails":          {records: []mdns.RR{txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100")}, rcode: mdns.RcodeServerFailure, failure: "SERVFAIL"},
		"a slow server times out": {records: []mdns.RR{txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100")}, delay: 500 * time.Millisecond, failure: "timeout"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := dnstest.Start(t)
			srv.AddRR(tc.records...)
			if tc.truncate {
				srv.Truncate("_dynomite.test")
			}
			if tc.rcode != 0 {
				srv.Rcode("_dynomite.test", tc.rcode)
			}
			srv.Delay(tc.delay)
			p, err := dns.New(dns.Config{Name: "_dynomite.test", Resolver: srv.Addr, Timeout: 200 * time.Millisecond})
			require.NoError(t, err)
			require.Equal(t, "dns_provider", p.Name())
			seeds, err := p.Seeds(context.Background())
			if tc.failure != "" {
				require.ErrorContains(t, err, tc.failure)
				require.False(t, seedprovider.Partial(err))
				require.Nil(t, seeds)
				return
			}
			require.Len(t, seeds, tc.want)
			if tc.first != "" {
				require.Equal(t, tc.first, seeds[0].String())
			}
			require.Len(t, seedprovider.Entries(err), tc.bad)
			if tc.bad == 0 {
				require.NoError(t, err)
			}
			if tc.tcp {
				require.EqualValues(t, 1, srv.TCP.Load())
			} else {
				require.EqualValues(t, 0, srv.TCP.Load())
			}
		})
	}
}

func TestSeedsThroughTheRefresher(t *testing.T) {
	srv := dnstest.Start(t)
	srv.AddRR(txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100|127.0.0.2:8101:rack2:dc1:200"))
	p, err := dns.New(dns.Config{Name: "_dynomite.test", Resolver: srv.Addr})
	require.NoError(t, err)
	r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{})
	require.NoError(t, err)
	snap, changed, err := r.Refresh(context.Background())
	require.NoError(t, err)
	require.True(t, changed)
	require.Len(t, snap.Seeds, 2)

	// The record loses a node: a removal.
	srv.Remove("_dynomite.test")
	srv.AddRR(txt("_dynomite.test", "127.0.0.1:8101:rack1:dc1:100"))
	snap, changed, err = r.Refresh(context.Background())
	require.NoError(t, err)
	require.True(t, changed)
	require.Len(t, snap.Seeds, 1)

	// The record disappears: the view is kept.
	srv.Remove("_dynomite.test")
	snap, changed, err = r.Refresh(context.Background())
	require.ErrorIs(t, err, seedprovider.ErrNoSeeds)
	require.False(t, changed)
	require.Len(t, snap.Seeds, 1)
}
