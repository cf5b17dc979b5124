// Package tlsconf builds the crypto/tls configurations of a node: the
// optional TLS client listener, and the peer links that
// secure_server_option selects. It reads certificates and keys from files,
// reloads them on demand (the proxy calls [Reloader.Reload] on SIGHUP) and
// imports nothing but the standard library. Sockets, deadlines, SIGHUP and
// metrics belong to the caller; [Peek] and [IsPlaintext] help it sort
// connections.
//
// # Client listener
//
// [ClientListenerConfig]: TLS 1.2 or later, the node's certificate from
// client_tls_cert_file and client_tls_key_file. With client_tls_ca_file,
// every client must present a certificate issued by that CA (and valid
// now); it is how Memcached clients, whose protocol has no AUTH,
// authenticate, and Redis clients may be asked for both a certificate and
// AUTH. A client that does not speak TLS fails its handshake
// ([IsPlaintext] tells it apart) and is disconnected.
//
// # Peer links
//
// secure_server_option keeps upstream's values and meaning ([Secure]):
// none, datacenter (links between datacenters), rack (links between racks
// or datacenters), all. An encrypted link is TLS 1.3 with mutual
// authentication, in one of two trust modes:
//
//   - Cluster CA ([PeerConfigs]; peer_tls_cert_file, peer_tls_key_file,
//     peer_tls_ca_file): each node has its own certificate issued by a CA
//     dedicated to the cluster, and accepts any peer whose certificate
//     chains to it. Certificates and the CA file reload without a restart,
//     and the CA file may hold the old and the new CA during a rotation.
//     One node's key leaking exposes that node only, until its certificate
//     expires or the CA is rotated.
//   - Shared key ([SharedKeyConfigs]; pem_key_file alone, upstream's form):
//     every node holds the same private key. Each derives from it the same
//     self-signed certificate and accepts a peer exactly when the peer's
//     certificate carries that public key; names, dates and chains play no
//     part. The handshake proves the peer holds the private key. A file
//     that works with upstream (a PKCS#1 RSA key, 1024 bits in upstream's
//     sample conf/dynomite.pem) works here, unchanged; 2048 bits or more is
//     advised, and Go refuses RSA keys under 1024 bits.
//
// When peer_tls_* are set they win; otherwise pem_key_file is used, as
// upstream does.
//
// A node that has TLS material should accept TLS on dyn_listen whatever
// its own option (see [Peek]): the dialer decides, so a rolling change of
// secure_server_option does not break links. A plain connection is
// accepted only from a peer [Secure] says needs no encryption.
//
// # Why TLS replaces upstream's RSA+AES
//
// Upstream (dyn_crypto.c) has each dialer pick a random key, send it
// RSA-OAEP-encrypted under the shared key in the first frame, and then
// encrypt payloads with AES-128-CBC. The scheme does not give what
// encryption on a shared network is for:
//
//   - No integrity. CBC without a MAC lets anyone on the path flip chosen
//     bits of the next plaintext block by flipping bits of the ciphertext
//     (turning a GET into a DEL, changing a value), drop, replay or reorder
//     whole chunks, and, where padding errors show, decrypt by probing. The
//     frame header (message id, type, flags, same_dc) is not protected at
//     all, and it is the frame's own flag that says whether its payload is
//     encrypted, so an attacker can also inject plain frames.
//   - IV = key. The IV is the first 16 bytes of the key itself and the same
//     for every chunk of the connection: equal plaintext chunks give equal
//     ciphertexts (repeated commands show), and the key-as-IV construction
//     lets an attacker who can see the victim's decryption of a crafted
//     ciphertext recover the key.
//   - Per-mbuf chunks. Each 16 KiB buffer is encrypted on its own, so the
//     chunking (and with it wire compatibility) depends on the build's mbuf
//     size, and chunk boundaries are visible.
//   - No forward secrecy. The session key travels encrypted under the one
//     long-lived RSA key that every node holds on disk: whoever gets that
//     key later (one node, a backup, an image) decrypts every recorded
//     session of the whole cluster.
//   - No authentication. The acceptor takes a session key from anyone who
//     has the public key, which is not a secret, and the dialer gets no
//     proof that it talks to a node.
//
// TLS 1.3 fixes each point: AEAD ciphers (integrity of every record and of
// the order of records), fresh keys per connection from an ephemeral
// (EC)DH exchange (forward secrecy), and both sides proving possession of
// their private key. The implementation is Go's crypto/tls, maintained and
// reviewed, instead of a hand-written protocol. The shared-key mode keeps
// upstream's operational model (one key file, copied to every node) while
// using the key only to authenticate, never to carry session keys.
//
// # Mixed clusters with C nodes
//
// A Go node and a C node cannot encrypt the link between them: the Go node
// speaks TLS, the C node its RSA+AES frames, and neither understands the
// other. (The proxy must close a peer connection whose frames carry
// upstream's encrypted flag, dnode.FlagEncrypted, rather than read
// ciphertext as a command.) Plain links between them work,
// since the dnode framing is the same. So during a migration every link
// between a C node and a Go node must be plain, which a per-node,
// per-link-class option can only express as secure_server_option: none on
// every node; in a Dynomite cluster every node links to every rack and
// every datacenter, so any other value reaches some C node. The practical
// paths:
//
//   - Keep none everywhere during the migration (on a shared network, carry
//     the cross-datacenter traffic in a VPN or IPsec tunnel meanwhile), then
//     roll out the TLS material, then the option, once the last C node is
//     gone.
//   - Migrate a datacenter at a time, and use datacenter (or rack, all) only
//     among nodes whose every peer is already a Go node, that is only once
//     no C node remains in any datacenter they replicate with.
//
// A misconfigured link then fails at once and loudly (handshake or framing
// errors in the logs, the peer marked down) instead of carrying data in the
// clear where encryption was asked for.
package tlsconf
