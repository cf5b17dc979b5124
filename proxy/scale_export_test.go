package proxy

// PeerPool is the connection pool of the peer called name in the current
// ring, or nil: a ring change must keep an unchanged peer's pool.
func (s *Server) PeerPool(name string) any {
	st := s.cluster.state.Load()
	i := st.nodeIndex(name)
	if i < 0 || st.pools[i] == nil {
		return nil
	}
	return st.pools[i]
}
