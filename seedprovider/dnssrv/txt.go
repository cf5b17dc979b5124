package dnssrv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dynomite-go/dynomite/seedprovider"
)

// Node is what the TXT record on an SRV target says about the node there.
//
// The record follows DNS-SD (RFC 6763 §6): each character-string is one
// key=value pair; for hand-written zones a string may also hold several
// pairs separated by spaces. Keys are case-insensitive:
//
//	dc=<datacenter>       required ("datacenter" is accepted too)
//	rack=<rack>           required
//	tokens=<t1,t2,...>    required, decimal 0..4294967295 ("token" too)
//	port=<port>           optional: the record applies only to the SRV
//	                      entry with this port (several nodes on one host)
//
// Unknown keys are ignored, so the record can carry more later; a key given
// twice is an error. Example zone:
//
//	_dynomite._tcp.prod.example.  60 IN SRV 0 0 8101 node1.prod.example.
//	node1.prod.example.           60 IN A   10.0.0.1
//	node1.prod.example.           60 IN TXT "dc=us-east-1" "rack=us-east-1a" "tokens=1383429731"
type Node struct {
	DC, Rack string
	Tokens   []uint32
	// Port is 0 when the record applies to every SRV entry of the target.
	Port int
}

// ParseTXT parses the character-strings of one TXT record.
func ParseTXT(strs []string) (Node, error) {
	var (
		n    Node
		seen = map[string]bool{}
	)
	for _, s := range strs {
		for _, pair := range strings.Fields(s) {
			k, v, ok := strings.Cut(pair, "=")
			if !ok {
				return Node{}, fmt.Errorf("%q is not key=value", pair)
			}
			k = strings.ToLower(k)
			switch k {
			case "datacenter":
				k = "dc"
			case "token":
				k = "tokens"
			}
			if seen[k] {
				return Node{}, fmt.Errorf("key %s is given twice", k)
			}
			seen[k] = true
			switch k {
			case "dc":
				n.DC = v
			case "rack":
				n.Rack = v
			case "tokens":
				t, err := seedprovider.ParseTokens(v)
				if err != nil {
					return Node{}, fmt.Errorf("tokens=%s: %w", v, err)
				}
				n.Tokens = t
			case "port":
				p, err := strconv.Atoi(v)
				if err != nil || p < 1 || p > 65535 {
					return Node{}, fmt.Errorf("port=%s is not a port 1..65535", v)
				}
				n.Port = p
			}
		}
	}
	var missing []string
	if n.DC == "" {
		missing = append(missing, "dc")
	}
	if n.Rack == "" {
		missing = append(missing, "rack")
	}
	if n.Tokens == nil {
		missing = append(missing, "tokens")
	}
	if len(missing) > 0 {
		return Node{}, fmt.Errorf("no %s", strings.Join(missing, ", "))
	}
	if strings.ContainsAny(n.DC+n.Rack, ":|") {
		return Node{}, errors.New("dc and rack must not contain ':' or '|'")
	}
	return n, nil
}

// String formats n as one TXT character-string list (DNS-SD style).
func (n Node) String() string {
	toks := make([]string, len(n.Tokens))
	for i, t := range n.Tokens {
		toks[i] = strconv.FormatUint(uint64(t), 10)
	}
	s := fmt.Sprintf("dc=%s rack=%s tokens=%s", n.DC, n.Rack, strings.Join(toks, ","))
	if n.Port != 0 {
		s += " port=" + strconv.Itoa(n.Port)
	}
	return s
}
