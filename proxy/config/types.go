package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Hash is the key hash function that maps a key to a ring token (key hash).
// The zero value is the default, murmur.
type Hash uint8

// The hash functions upstream accepts (hashkit/dyn_hashkit.h HASH_CODEC).
const (
	HashMurmur     Hash = iota // murmur (default): MurmurHash2, 32 bits
	HashOneAtATime             // one_at_a_time
	HashMD5                    // md5
	HashCRC16                  // crc16
	HashCRC32                  // crc32 (libmemcached variant)
	HashCRC32a                 // crc32a (standard CRC32)
	HashFNV164                 // fnv1_64
	HashFNV1a64                // fnv1a_64
	HashFNV132                 // fnv1_32
	HashFNV1a32                // fnv1a_32
	HashHsieh                  // hsieh
	HashJenkins                // jenkins
	HashMurmur3                // murmur3 (a stub upstream; accepted)
)

// hashNames lists the names in upstream's order, which is the order error
// messages use.
var hashNames = []struct {
	h    Hash
	name string
}{
	{HashOneAtATime, "one_at_a_time"},
	{HashMD5, "md5"},
	{HashCRC16, "crc16"},
	{HashCRC32, "crc32"},
	{HashCRC32a, "crc32a"},
	{HashFNV164, "fnv1_64"},
	{HashFNV1a64, "fnv1a_64"},
	{HashFNV132, "fnv1_32"},
	{HashFNV1a32, "fnv1a_32"},
	{HashHsieh, "hsieh"},
	{HashMurmur, "murmur"},
	{HashJenkins, "jenkins"},
	{HashMurmur3, "murmur3"},
}

// String returns the name used in the file, e.g. "murmur".
func (h Hash) String() string {
	for _, n := range hashNames {
		if n.h == h {
			return n.name
		}
	}
	return "Hash(" + strconv.Itoa(int(h)) + ")"
}

func (h Hash) valid() bool { return h <= HashMurmur3 }

// ParseHash parses a hash name. Like upstream it is case-sensitive.
func ParseHash(s string) (Hash, error) {
	for _, n := range hashNames {
		if n.name == s {
			return n.h, nil
		}
	}
	names := make([]string, len(hashNames))
	for i, n := range hashNames {
		names[i] = n.name
	}
	return 0, fmt.Errorf("is not a valid hash (one of %s)", strings.Join(names, ", "))
}

// SecureOption says which peer links are encrypted (key secure_server_option).
// The zero value is none, the default.
type SecureOption uint8

const (
	// SecureNone encrypts no peer link.
	SecureNone SecureOption = iota
	// SecureDatacenter encrypts links to peers in other datacenters.
	SecureDatacenter
	// SecureRack encrypts links to peers in other racks or datacenters.
	SecureRack
	// SecureAll encrypts every peer link.
	SecureAll
)

var secureNames = [...]string{
	SecureNone:       "none",
	SecureDatacenter: "datacenter",
	SecureRack:       "rack",
	SecureAll:        "all",
}

// String returns the name used in the file, e.g. "datacenter".
func (o SecureOption) String() string {
	if int(o) < len(secureNames) {
		return secureNames[o]
	}
	return "SecureOption(" + strconv.Itoa(int(o)) + ")"
}

func (o SecureOption) valid() bool { return int(o) < len(secureNames) }

func parseSecureOption(s string) (SecureOption, error) {
	for i, n := range secureNames {
		if s == n {
			return SecureOption(i), nil
		}
	}
	return 0, errors.New("must be one of none, datacenter, rack, all")
}

// Endpoint is a listen address: a TCP host and port, or a unix socket path.
// Names are kept as written; nothing is resolved at load time.
type Endpoint struct {
	// Host is a host name or an IP literal (IPv6 without brackets); empty for
	// a unix socket.
	Host string
	// Port is 1..65535 for TCP, 0 for a unix socket.
	Port int
	// Path is the unix socket path (it starts with '/'); empty for TCP.
	Path string
}

// IsZero reports whether the endpoint is unset.
func (e Endpoint) IsZero() bool { return e == Endpoint{} }

// Network returns "unix" for a socket path and "tcp" otherwise, as net.Listen
// expects.
func (e Endpoint) Network() string {
	if e.Path != "" {
		return "unix"
	}
	return "tcp"
}

// String returns the address as net.Listen and net.Dial expect it: the path,
// or host:port with IPv6 hosts in brackets. It is "" for the zero Endpoint.
func (e Endpoint) String() string {
	switch {
	case e.Path != "":
		return e.Path
	case e.IsZero():
		return ""
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
}

func (e Endpoint) check(unixOK bool) error {
	if e.Path != "" {
		if !unixOK {
			return errors.New("must be \"host:port\" (a unix socket path is only allowed for listen)")
		}
		if e.Path[0] != '/' || e.Host != "" || e.Port != 0 {
			return errors.New("is not a valid unix socket path (it must start with '/')")
		}
		return nil
	}
	if err := checkHost(e.Host); err != nil {
		return err
	}
	return checkPort(e.Port)
}

// parseEndpoint parses "host:port", "[ipv6]:port" or, when unixOK, "/path".
func parseEndpoint(s string, unixOK bool) (Endpoint, error) {
	if strings.HasPrefix(s, "/") {
		e := Endpoint{Path: s}
		return e, e.check(unixOK)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		if unixOK {
			return Endpoint{}, errors.New("is not \"host:port\" or a unix socket path starting with '/'")
		}
		return Endpoint{}, errors.New("is not \"host:port\"")
	}
	host, err := unbracket(s[:i])
	if err != nil {
		return Endpoint{}, err
	}
	port, err := parsePort(s[i+1:])
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Host: host, Port: port}
	return e, e.check(unixOK)
}

// unbracket strips the brackets of "[ipv6]" and checks what is inside.
func unbracket(h string) (string, error) {
	if !strings.HasPrefix(h, "[") {
		return h, nil
	}
	if !strings.HasSuffix(h, "]") || len(h) < 3 {
		return "", fmt.Errorf("has an invalid bracketed host %q", h)
	}
	inner := h[1 : len(h)-1]
	if a, err := netip.ParseAddr(inner); err != nil || !a.Is6() {
		return "", fmt.Errorf("has an invalid IPv6 address %q", h)
	}
	return inner, nil
}

func parsePort(s string) (int, error) {
	if !isDigits(s) || len(s) > 5 {
		return 0, fmt.Errorf("has an invalid port %q (want 1..65535)", s)
	}
	n, _ := strconv.Atoi(s)
	return n, checkPort(n)
}

func checkPort(n int) error {
	if n < 1 || n > 65535 {
		return fmt.Errorf("has an invalid port %d (want 1..65535)", n)
	}
	return nil
}

// checkHost accepts an IPv4 or IPv6 literal (without brackets) or a host name
// made of letters, digits, '-', '_' and dots. It never resolves anything.
func checkHost(h string) error {
	switch {
	case h == "":
		return errors.New("has an empty host (use 0.0.0.0 for every interface)")
	case strings.Contains(h, ":"):
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return fmt.Errorf("has an invalid IPv6 address %q", h)
		}
		return nil
	case strings.Trim(h, "0123456789.") == "":
		if a, err := netip.ParseAddr(h); err != nil || !a.Is4() {
			return fmt.Errorf("has an invalid IPv4 address %q", h)
		}
		return nil
	}
	name := strings.TrimSuffix(h, ".")
	if len(name) > 253 {
		return fmt.Errorf("has an invalid host name %q (longer than 253 characters)", h)
	}
	for _, label := range strings.Split(name, ".") {
		if !validLabel(label) {
			return fmt.Errorf("has an invalid host name %q", h)
		}
	}
	return nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Server is the local datastore (key servers): "host:port:weight [name]" or
// "/path:weight [name]".
type Server struct {
	Endpoint
	// Weight is parsed and otherwise ignored, as upstream does.
	Weight int
	// Name is the optional name after the address; "" when absent.
	Name string
}

// String returns the entry as it is written in the file.
func (s Server) String() string {
	out := s.Endpoint.String() + ":" + strconv.Itoa(s.Weight)
	if s.Name != "" {
		out += " " + s.Name
	}
	return out
}

// StatsName returns the name upstream gives the datastore in stats: the
// optional name, else the host alone when the port is 11211 (libmemcached
// compatibility), else host:port (or the socket path).
func (s Server) StatsName() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Path != "":
		return s.Path
	case s.Port == 11211:
		return s.Host
	}
	return s.Host + ":" + strconv.Itoa(s.Port)
}

func (s Server) check() error {
	if err := s.Endpoint.check(true); err != nil {
		return err
	}
	if s.Weight < 0 {
		return fmt.Errorf("has a negative weight %d", s.Weight)
	}
	return checkName(s.Name)
}

const serverFormat = `must be "host:port:weight [name]" or "/path:weight [name]"`

func parseServer(v string) (Server, error) {
	addr, name, err := splitName(v)
	if err != nil {
		return Server{}, errors.New(serverFormat)
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return Server{}, errors.New(serverFormat)
	}
	w := addr[i+1:]
	if !isDigits(w) || len(w) > 9 {
		return Server{}, fmt.Errorf("has an invalid weight %q (want a non-negative number)", w)
	}
	weight, _ := strconv.Atoi(w)
	rest := addr[:i]
	var e Endpoint
	if strings.HasPrefix(rest, "/") {
		e = Endpoint{Path: rest}
	} else {
		if !strings.Contains(rest, ":") {
			return Server{}, errors.New(serverFormat)
		}
		if e, err = parseEndpoint(rest, false); err != nil {
			return Server{}, err
		}
	}
	s := Server{Endpoint: e, Weight: weight, Name: name}
	return s, s.check()
}

// splitName splits "address [name]" at the whitespace.
func splitName(v string) (addr, name string, err error) {
	f := strings.Fields(v)
	switch len(f) {
	case 1:
		return f[0], "", nil
	case 2:
		return f[0], f[1], nil
	}
	return "", "", errors.New("bad format")
}

func checkName(n string) error {
	if strings.ContainsAny(n, " \t\r\n") {
		return fmt.Errorf("has a name %q with spaces", n)
	}
	return nil
}

// Seed is one static peer (key dyn_seeds): "host:port:rack:dc:tokens [name]".
type Seed struct {
	// Host is a host name or an IP literal (IPv6 without brackets).
	Host string
	// Port is the peer's dyn_listen port.
	Port int
	// Rack and DC place the peer in the cluster.
	Rack, DC string
	// Tokens are the peer's ring tokens (usually exactly one).
	Tokens []uint32
	// Name is the optional name after the address; "" when absent.
	Name string
}

// Addr returns host:port for dialling, with IPv6 hosts in brackets.
func (s Seed) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String returns the entry as it is written in the file.
func (s Seed) String() string {
	out := s.Addr() + ":" + s.Rack + ":" + s.DC + ":" + formatTokens(s.Tokens)
	if s.Name != "" {
		out += " " + s.Name
	}
	return out
}

func (s Seed) check() error {
	if err := checkHost(s.Host); err != nil {
		return err
	}
	if err := checkPort(s.Port); err != nil {
		return err
	}
	if err := checkSeedField("rack", s.Rack); err != nil {
		return err
	}
	if err := checkSeedField("datacenter", s.DC); err != nil {
		return err
	}
	if len(s.Tokens) == 0 {
		return errors.New("has no token")
	}
	return checkName(s.Name)
}

func checkSeedField(what, v string) error {
	if v == "" {
		return fmt.Errorf("has an empty %s", what)
	}
	if strings.ContainsAny(v, ": \t\r\n") {
		return fmt.Errorf("has an invalid %s %q", what, v)
	}
	return nil
}

const seedFormat = `must be "host:port:rack:dc:tokens [name]"`

// ParseSeed parses one seed as written in dyn_seeds and in seed-provider
// answers: "host:port:rack:dc:tokens [name]". Tokens may be comma-separated.
// Host may be a name, an IPv4 literal, or an IPv6 literal with or without
// brackets. Nothing is resolved.
func ParseSeed(v string) (Seed, error) {
	addr, name, err := splitName(v)
	if err != nil {
		return Seed{}, errors.New(seedFormat)
	}
	// Split from the right, as upstream does, so that an unbracketed IPv6
	// host keeps its colons.
	var parts [4]string // tokens, dc, rack, port
	rest := addr
	for i := range parts {
		j := strings.LastIndexByte(rest, ':')
		if j < 0 {
			return Seed{}, errors.New(seedFormat)
		}
		parts[i], rest = rest[j+1:], rest[:j]
	}
	host, err := unbracket(rest)
	if err != nil {
		return Seed{}, err
	}
	port, err := parsePort(parts[3])
	if err != nil {
		return Seed{}, err
	}
	tokens, err := ParseTokens(parts[0])
	if err != nil {
		return Seed{}, err
	}
	s := Seed{Host: host, Port: port, Rack: parts[2], DC: parts[1], Tokens: tokens, Name: name}
	return s, s.check()
}

// ParseTokens parses comma-separated decimal tokens in 0..4294967295,
// tolerating whitespace around each one.
func ParseTokens(s string) ([]uint32, error) {
	fields := strings.Split(s, ",")
	out := make([]uint32, 0, len(fields))
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, errors.New("has an empty token")
		}
		if !isDigits(f) {
			return nil, fmt.Errorf("has a token %q that is not a decimal number", f)
		}
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("has a token %s out of range 0..4294967295", f)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

func formatTokens(t []uint32) string {
	s := make([]string, len(t))
	for i, v := range t {
		s[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(s, ",")
}
