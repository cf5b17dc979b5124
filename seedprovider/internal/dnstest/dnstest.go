// Package dnstest runs an in-process DNS server on 127.0.0.1 (UDP and TCP
// on the same port) for the seed-provider tests. Its zone is a plain map
// that tests change between queries; it can truncate UDP answers, answer
// with an rcode, or answer slowly.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a DNS server for tests.
type Server struct {
	// Addr is 127.0.0.1:port, the same port for UDP and TCP.
	Addr string

	mu       sync.Mutex
	records  map[string][]dns.RR // by lower-case FQDN
	truncate map[string]bool     // names whose UDP answers are truncated
	rcodes   map[string]int      // names answered with an rcode
	delay    time.Duration
	glue     bool

	// UDP and TCP count the queries received over each transport.
	UDP, TCP atomic.Int64

	servers []*dns.Server
}

// Start starts a server; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{records: map[string][]dns.RR{}, truncate: map[string]bool{}, rcodes: map[string]int{}}
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	for range 20 { // find a port free for both UDP and TCP
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("dnstest: no port free for UDP and TCP: %v", err)
	}
	s.Addr = pc.LocalAddr().String()
	var started sync.WaitGroup
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: s.handler("udp")},
		{Listener: l, Handler: s.handler("tcp")},
	} {
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		s.servers = append(s.servers, srv)
		go func() { _ = srv.ActivateAndServe() }()
	}
	started.Wait()
	t.Cleanup(func() {
		for _, srv := range s.servers {
			_ = srv.Shutdown()
		}
	})
	return s
}

// Add adds records in zone-file syntax, e.g. "a.test. 60 IN A 127.0.0.1".
func (s *Server) Add(t testing.TB, rrs ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, text := range rrs {
		rr, err := dns.NewRR(text)
		if err != nil {
			t.Fatalf("dnstest: %q: %v", text, err)
		}
		name := strings.ToLower(rr.Header().Name)
		s.records[name] = append(s.records[name], rr)
	}
}

// AddRR adds records built in code.
func (s *Server) AddRR(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		name := strings.ToLower(rr.Header().Name)
		s.records[name] = append(s.records[name], rr)
	}
}

// Remove deletes every record of name.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, strings.ToLower(dns.Fqdn(name)))
}

// Truncate makes UDP answers for name truncated (TC bit, no records), so
// that only TCP gets the records.
func (s *Server) Truncate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate[strings.ToLower(dns.Fqdn(name))] = true
}

// Rcode makes queries for name answered with rcode (e.g. dns.RcodeServerFailure).
func (s *Server) Rcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[strings.ToLower(dns.Fqdn(name))] = rcode
}

// Delay makes every answer wait d.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Glue puts the A and AAAA records of SRV targets in the additional section.
func (s *Server) Glue(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.glue = on
}

func (s *Server) handler(network string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		if network == "udp" {
			s.UDP.Add(1)
		} else {
			s.TCP.Add(1)
		}
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		if len(req.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			_ = w.WriteMsg(m)
			return
		}
		q := req.Question[0]
		name := strings.ToLower(q.Name)

		s.mu.Lock()
		delay := s.delay
		rcode, hasRcode := s.rcodes[name]
		truncate := s.truncate[name] && network == "udp"
		rrs, exists := s.records[name]
		var answer, extra []dns.RR
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				answer = append(answer, dns.Copy(rr))
			}
		}
		if s.glue && q.Qtype == dns.TypeSRV {
			for _, rr := range answer {
				target := strings.ToLower(rr.(*dns.SRV).Target)
				for _, g := range s.records[target] {
					if t := g.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
						extra = append(extra, dns.Copy(g))
					}
				}
			}
		}
		s.mu.Unlock()

		if delay > 0 {
			time.Sleep(delay)
		}
		switch {
		case hasRcode:
			m.Rcode = rcode
		case !exists:
			m.Rcode = dns.RcodeNameError
		case truncate:
			m.Truncated = true
		default:
			m.Answer, m.Extra = answer, extra
		}
		_ = w.WriteMsg(m)
	}
}
