//go:build !linux

package netio

import "syscall"

// Hangups is Linux's (epoll); elsewhere Watch reports false.
type Hangups struct{}

// NewHangups returns a Hangups that watches nothing.
func NewHangups() (*Hangups, error) { return &Hangups{}, nil }

// Watch reports false: read as net.Conn.Read does.
func (h *Hangups) Watch(syscall.RawConn, func()) (uint64, bool) { return 0, false }

// Forget does nothing.
func (h *Hangups) Forget(uint64) {}

// Close does nothing.
func (h *Hangups) Close() error { return nil }
