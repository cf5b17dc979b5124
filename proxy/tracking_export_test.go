package proxy

import "time"

// SetTrackingMaxKeys lowers the tracking table's bound
// (tracking-table-max-keys) so a test can fill it.
func SetTrackingMaxKeys(s *Server, n int) {
	s.tracking.mu.Lock()
	s.tracking.maxKeys = n
	s.tracking.mu.Unlock()
}

// SetTrackingHeartbeat sets how long the datastore tracking connection may
// stay silent before a PING, and then before it is taken for lost; it
// applies from the next (re)connection.
func SetTrackingHeartbeat(s *Server, d time.Duration) {
	s.tracking.mu.Lock()
	s.tracking.beat = d
	s.tracking.mu.Unlock()
}
