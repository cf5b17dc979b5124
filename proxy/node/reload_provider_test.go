package node_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// txtZone answers SRV names, each with one target carrying its peer's
// address (127.0.0.1), port, datacenter, rack and token in A and TXT
// records, as dns_srv_provider reads them.
type txtZone map[string]struct {
	target string
	port   uint16
	txt    []string
}

func (z txtZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 1}
	}
	known := false
	for name, e := range z {
		switch {
		case strings.EqualFold(q.Name, name):
			known = true
			if q.Qtype == dns.TypeSRV {
				m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(name, dns.TypeSRV), Target: e.target, Port: e.port})
			}
		case strings.EqualFold(q.Name, e.target):
			known = true
			switch q.Qtype {
			case dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(e.target, dns.TypeA), A: net.IPv4(127, 0, 0, 1)})
			case dns.TypeTXT:
				m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(e.target, dns.TypeTXT), Txt: e.txt})
			}
		}
	}
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// A reload that changes dns_srv_name makes the node poll the new name: its
// ring follows the new records, without a restart.
func TestReloadedSeedProviderSettingsApply(t *testing.T) {
	zone := txtZone{
		"_a._tcp.srv.test.": {"pa.srv.test.", 9001, []string{"dc=dc1", "rack=r2", "tokens=5"}},
		"_b._tcp.srv.test.": {"pb.srv.test.", 9002, []string{"dc=dc1", "rack=r3", "tokens=7"}},
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: zone}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	log, logs := testLog(t, slog.LevelInfo)
	rd := proxytest.StartRedis(t)
	f := startFileNode(t, log, append(singleNodeBase(t, rd.Addr),
		"dyn_listen", proxytest.FreeAddr(t), "datacenter", "dc1", "rack", "r1", "tokens", "'1'",
		"gos_interval", "100", "dyn_seed_provider", "dns_srv_provider",
		"dns_srv_name", "_a._tcp.srv.test", "dns_srv_resolver", pc.LocalAddr().String())...)
	ring := func() string { return fmt.Sprint(ringOf(f.Server())) }
	require.Eventually(t, func() bool { return ring() == "[127.0.0.1:9001 dc1/r2 [5]]" }, 10*time.Second, 20*time.Millisecond, "ring %s", ring())

	f.set("dns_srv_name", "_b._tcp.srv.test")
	f.set("dns_srv_timeout", "1000")
	f.write(t)
	code, res := postReload(t, f.Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Equal(t, []string{"dns_srv_name", "dns_srv_timeout"}, res.Changed)
	require.Eventually(t, func() bool { return ring() == "[127.0.0.1:9002 dc1/r3 [7]]" }, 10*time.Second, 20*time.Millisecond, "ring %s", ring())
	require.Contains(t, logs.String(), "seed provider settings reloaded")

	// the provider itself is restart-only
	f.set("dyn_seed_provider", "florida_provider")
	f.write(t)
	code, res = postReload(t, f.Node)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, res.Error, "dyn_seed_provider: dns_srv_provider → florida_provider")
}
