package tlsconf

// The values of secure_server_option.
const (
	OptionNone       = "none"
	OptionDatacenter = "datacenter"
	OptionRack       = "rack"
	OptionAll        = "all"
)

// Secure reports whether the link between the local node and a peer is
// encrypted under secure_server_option option, with upstream's meaning
// (is_secure): "datacenter" encrypts links to peers in another datacenter,
// "rack" links to peers in another rack or another datacenter (two racks
// of the same name in different datacenters are different racks), "all"
// every link and "none" none. Names are compared exactly, as upstream
// does. Any other option encrypts nothing, as upstream falls back to none;
// the config package rejects such a value before it gets here.
//
// Both ends of a link compute the same answer, since the comparison is
// symmetric: the dialer uses TLS exactly when the acceptor expects it.
func Secure(option string, localDC, localRack, peerDC, peerRack string) bool {
	switch option {
	case OptionAll:
		return true
	case OptionDatacenter:
		return localDC != peerDC
	case OptionRack:
		return localDC != peerDC || localRack != peerRack
	default:
		return false
	}
}
