// Package dnsq is the DNS client the dns and dnssrv seed providers share:
// the server from their configuration (host[:port], port 53 by default, or
// the first nameserver of resolv.conf; [CheckServer], [NewClient]), and one
// question to that server over UDP, again over TCP when the UDP answer is
// truncated, with the answer's rcode turned into an error ([Client.Query]).
// The providers prefix its errors with their own setting names.
package dnsq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultResolvConf is where the default server is read from.
const DefaultResolvConf = "/etc/resolv.conf"

// DefaultTimeout bounds one exchange (UDP, then TCP if needed).
const DefaultTimeout = 2 * time.Second

// udpSize is the EDNS0 buffer size advertised (the DNS flag day 2020 value).
const udpSize = 1232

// ErrNotFound is returned for NXDOMAIN: the name does not exist.
var ErrNotFound = errors.New("name does not exist (NXDOMAIN)")

// Client queries one server.
type Client struct {
	// Server is host:port.
	Server string
	// Timeout bounds each exchange; 0 means DefaultTimeout.
	Timeout time.Duration
}

// ServerAddr returns addr with port 53 added when it has none. "" means
// the first nameserver of resolvConf ("" = /etc/resolv.conf).
func ServerAddr(addr, resolvConf string) (string, error) {
	if addr == "" {
		if resolvConf == "" {
			resolvConf = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", resolvConf, err)
		}
		if len(cc.Servers) == 0 {
			return "", fmt.Errorf("%s lists no nameserver", resolvConf)
		}
		port := cc.Port
		if port == "" {
			port = "53"
		}
		return net.JoinHostPort(cc.Servers[0], port), nil
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if h == "" || strings.ContainsAny(h, " /") {
		return "", fmt.Errorf("%q is not host[:port]", addr)
	}
	return net.JoinHostPort(h, "53"), nil
}

// CheckServer checks a configured server address as a Validate method
// does, without reading files or contacting anything: "" (the resolv.conf
// default) is valid, anything else must be host[:port] (see ServerAddr).
func CheckServer(addr string) error {
	if addr == "" {
		return nil
	}
	_, err := ServerAddr(addr, "")
	return err
}

// NewClient returns a Client asking the server addr (completed by
// ServerAddr: "" reads resolvConf now), each exchange bounded by timeout (0
// means DefaultTimeout). Its errors are ServerAddr's, for the caller to
// prefix with the setting at fault.
func NewClient(addr, resolvConf string, timeout time.Duration) (Client, error) {
	server, err := ServerAddr(addr, resolvConf)
	if err != nil {
		return Client{}, err
	}
	return Client{Server: server, Timeout: timeout}, nil
}

// Query asks for name (made fully qualified) of type qtype and returns the
// answer. UDP comes first with EDNS0; a truncated answer is asked again over
// TCP. NXDOMAIN is ErrNotFound; any other rcode but NOERROR is an error, as
// are network failures and timeouts. An empty answer section (NODATA) is not
// an error.
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(udpSize, false)
	m.RecursionDesired = true

	qname := fmt.Sprintf("%s %s", dns.Fqdn(name), dns.TypeToString[qtype])
	udp := &dns.Client{Net: "udp", Timeout: timeout, UDPSize: udpSize}
	r, _, err := udp.ExchangeContext(ctx, m, c.Server)
	if err == nil && r.Truncated {
		tcp := &dns.Client{Net: "tcp", Timeout: timeout}
		r, _, err = tcp.ExchangeContext(ctx, m, c.Server)
		if err == nil && r.Truncated {
			return nil, fmt.Errorf("%s: truncated answer over TCP from %s", qname, c.Server)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w", qname, c.Server, err)
	}
	if len(r.Question) > 0 && (!strings.EqualFold(r.Question[0].Name, m.Question[0].Name) || r.Question[0].Qtype != qtype) {
		return nil, fmt.Errorf("%s from %s: the answer is for another question", qname, c.Server)
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		return r, nil
	case dns.RcodeNameError:
		return nil, fmt.Errorf("%s: %w", qname, ErrNotFound)
	default:
		return nil, fmt.Errorf("%s from %s: %s", qname, c.Server, dns.RcodeToString[r.Rcode])
	}
}
