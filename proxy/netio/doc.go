// Package netio reads client sockets with the system calls an epoll loop
// makes, not the ones Go's net.Conn.Read makes.
//
// net.Conn.Read asks the kernel first and waits for readiness only when it
// is told EAGAIN. A proxy's reader at pipeline depth 1 gets one request per
// read, and its next read is nearly always that EAGAIN: two read system calls
// per request where an epoll loop (Redis's ae.c, twemproxy's
// nc_connection.c conn_recv) makes one, because after a read shorter than its
// buffer it goes back to epoll_wait. On machines where a system call is dear
// (virtual machines), the second read is a tenth of the proxy's CPU.
//
// [Reader] does the same: after a read that did not fill the caller's buffer,
// its next read waits for readiness first. Go's poller is edge-triggered,
// which makes one case wrong: a peer's FIN that arrives together with its last
// data is one readiness event, consumed by the wake-up that read the data, so
// a reader that then waits would wait forever for an end it was already told
// about (a client that sends its last requests and half-closes). Go's poller
// registers EPOLLRDHUP but keeps no record of it, so [Hangups] keeps its own:
// an epoll set of its own where each connection is registered for EPOLLRDHUP
// alone (one event, when the peer shuts its side down), and a goroutine that,
// on that event, marks the connection's reader and wakes it with a read
// deadline in the past. From then on the reader only reads, never waits,
// until the end of the stream.
//
// Deadlines keep their net.Conn meaning: a deadline set on the connection
// ends a wait with a timeout error, as it ends net.Conn.Read.
//
// Connections without a file descriptor (TLS, net.Pipe) and systems other
// than Linux get net.Conn.Read unchanged.
package netio
