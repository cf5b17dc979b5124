//go:build !linux

package netio

import "net"

// Hangups is Linux's; elsewhere readers read through net.Conn.Read.
type Hangups struct{}

// NewHangups returns a Hangups whose readers read through net.Conn.Read.
func NewHangups() (*Hangups, error) { return &Hangups{}, nil }

// Reader returns a reader of nc that reads through nc.Read.
func (h *Hangups) Reader(nc net.Conn) *Reader { return &Reader{nc: nc} }

func (h *Hangups) forget(uint64) {}

// Close does nothing.
func (h *Hangups) Close() error { return nil }

func (r *Reader) read(uintptr) bool { return true }
