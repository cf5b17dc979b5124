// Package netio tells a reader that waits on Go's poller when its peer has
// shut its side of the connection down.
//
// An epoll loop (Redis's ae.c, twemproxy's nc_connection.c conn_recv) reads
// a socket once per readiness event and goes back to epoll_wait after a read
// shorter than its buffer. net.Conn.Read instead reads until the kernel
// answers EAGAIN, and only then waits: at pipeline depth 1 that is a second
// read system call per request, a third of a proxy's system calls. A reader
// that waits after a short read, as the loops do, must learn of a FIN some
// other way when the FIN came with the last bytes: Go's poller is
// edge-triggered, so data and FIN arriving together make one readiness
// event, consumed by the wake-up that read the data, and the reader would
// wait for an end it had already been told about. The poller registers
// EPOLLRDHUP but keeps no record of it.
//
// [Hangups] keeps one: an epoll set of its own in which each watched
// connection is registered for EPOLLRDHUP alone (one event, when the peer
// shuts down its side, or at once if it already has), and a goroutine that
// runs the connection's callback on that event. The callback typically
// marks the reader and sets a read deadline in the past to end its wait.
//
// On systems other than Linux, Watch reports false and the caller reads as
// net.Conn.Read does.
package netio
