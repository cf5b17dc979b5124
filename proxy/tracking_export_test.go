package proxy

// SetTrackingMaxKeys lowers the tracking table's bound
// (tracking-table-max-keys) so a test can fill it.
func SetTrackingMaxKeys(s *Server, n int) {
	s.tracking.mu.Lock()
	s.tracking.maxKeys = n
	s.tracking.mu.Unlock()
}
