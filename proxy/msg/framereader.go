package msg

import (
	"errors"
	"io"
	"sync"
)

// FrameReader buffers a byte stream for incremental parsers that find frame
// boundaries themselves (RESP, memcache ASCII). It never copies a frame more
// than once: small frames are parsed in place, and a frame the parser says
// will be large is read into a buffer grown to its size and handed over
// ([FrameReader.Detach]).
//
// The zero value is not usable; call [NewFrameReader].
type FrameReader struct {
	rd io.Reader
	// src, when set, reads instead of rd, and the buffer is lent by pool:
	// see [NewLendingFrameReader]
	src     Source
	pool    *BufPool
	buf     []byte
	r, w    int
	max     int
	initial int
	skip    int // bytes still to discard as they arrive
}

// ErrFrameTooLarge is returned by Fill when a frame would exceed the reader's
// maximum buffered size.
var ErrFrameTooLarge = errors.New("frame larger than the buffer limit")

// NewFrameReader reads from rd with an initial buffer of size bytes. The
// buffer grows as needed up to max bytes for a single unparsed frame.
func NewFrameReader(rd io.Reader, size, max int) *FrameReader {
	if size < 512 {
		size = 512
	}
	if max < size {
		max = size
	}
	return &FrameReader{rd: rd, buf: make([]byte, size), max: max, initial: size}
}

// A Source fills a [FrameReader] from a connection, asking for the buffer
// ([FrameReader.Space]) only once bytes have arrived, and giving it back
// ([FrameReader.Idle]) before it waits for more: a reader waiting on an idle
// connection then holds no buffer (session.go's rawSource does this with
// syscall.RawConn). ReadTo reads once: it returns the bytes added, or the
// error (io.EOF at the end of the stream).
type Source interface {
	ReadTo(f *FrameReader) (int, error)
}

// PoolBufSize is the size of the buffers a [BufPool] lends.
const PoolBufSize = 4 << 10

// BufPool lends PoolBufSize-byte buffers to the frame readers of idle
// connections (a sync.Pool of arrays: putting one back allocates nothing).
type BufPool struct{ p sync.Pool }

func (bp *BufPool) get() []byte {
	if b, ok := bp.p.Get().(*[PoolBufSize]byte); ok {
		return b[:]
	}
	return make([]byte, PoolBufSize)
}

func (bp *BufPool) put(b []byte) { bp.p.Put((*[PoolBufSize]byte)(b)) }

// NewLendingFrameReader reads from src into buffers lent by pool while
// bytes are buffered; limit is max of [NewFrameReader], the initial size is
// PoolBufSize.
func NewLendingFrameReader(src Source, pool *BufPool, limit int) *FrameReader {
	return &FrameReader{src: src, pool: pool, max: max(limit, PoolBufSize), initial: PoolBufSize}
}

// Space is the free space at the end of the buffer, taking a buffer from
// the pool when the reader has none. For a [Source] only.
func (f *FrameReader) Space() []byte {
	if f.buf == nil {
		f.buf = f.pool.get()
	}
	return f.buf[f.w:]
}

// Idle gives a lent buffer back to the pool when it holds nothing (the
// Source is about to wait). For a [Source] only.
func (f *FrameReader) Idle() {
	if f.r == f.w && f.buf != nil && len(f.buf) == PoolBufSize && cap(f.buf) == PoolBufSize {
		f.pool.put(f.buf)
		f.buf, f.r, f.w = nil, 0, 0
	}
}

// Bytes returns the buffered, unconsumed bytes. The slice is valid until the
// next call to Fill, Discard or Detach.
func (f *FrameReader) Bytes() []byte { return f.buf[f.r:f.w] }

// Buffered reports how many unconsumed bytes are buffered.
func (f *FrameReader) Buffered() int { return f.w - f.r }

// Discard consumes n buffered bytes.
func (f *FrameReader) Discard(n int) {
	f.r += n
	if f.r == f.w {
		f.r, f.w = 0, 0
	}
}

// Fill reads at least once more, making room first. If need is larger than
// the buffered byte count it keeps reading until need bytes are buffered.
// It returns io.EOF (or the read error) when the stream ends.
func (f *FrameReader) Fill(need int) error {
	if need > f.max {
		return ErrFrameTooLarge
	}
	if f.buf != nil || need > f.initial {
		// (a lending reader with no buffer takes one once bytes are there)
		if f.buf == nil {
			f.buf = f.pool.get()
		}
		f.compact()
		f.grow(need)
	}
	for {
		if f.buf != nil && f.w == len(f.buf) { // a skip moved r, or the frame outgrew the buffer
			f.compact()
			f.grow(need)
		}
		var n int
		var err error
		if f.src != nil {
			n, err = f.src.ReadTo(f)
		} else {
			n, err = f.rd.Read(f.buf[f.w:])
		}
		f.w += n
		if f.skip > 0 {
			k := min(f.skip, f.w-f.r)
			f.skip -= k
			f.Discard(k)
			if f.skip > 0 || f.w == f.r {
				if err != nil {
					return err
				}
				continue
			}
		}
		if f.w-f.r >= need && n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// growAhead is how far beyond the bytes received the buffer may grow in one
// step towards a frame's announced size. A length is a promise, not data: a
// 20-byte header announcing 500 MB must not cost 500 MB before the bytes
// arrive (Redis fixed the same in CVE-2021-32675). Past it the buffer
// doubles as data fills it, so it stays under twice what was received.
const growAhead = 64 << 10

func (f *FrameReader) compact() {
	if f.r > 0 {
		copy(f.buf, f.buf[f.r:f.w])
		f.w -= f.r
		f.r = 0
	}
}

// grow makes room for at least one more byte by doubling the buffer. When
// need (the whole frame, once its size is known) is larger, it grows towards
// need, at most growAhead past what is buffered, so that the final buffer is
// exactly need bytes and the copies add up to less than the frame. Call it
// after compact.
func (f *FrameReader) grow(need int) {
	if max(need, f.w+1) <= len(f.buf) {
		return
	}
	size := 2 * len(f.buf)
	if need > f.w {
		size = min(need, max(size, f.w+growAhead))
	}
	if size > f.max {
		size = max(f.w+1, f.max)
	}
	nb := make([]byte, size)
	copy(nb, f.buf[:f.w])
	f.buf = nb
}

// Skip discards the next n bytes of the stream, whether already buffered or
// still to be read (memcached swallowing a rejected value, for instance).
func (f *FrameReader) Skip(n int) {
	k := min(n, f.w-f.r)
	f.Discard(k)
	f.skip += n - k
}

// Detach consumes the first n buffered bytes and hands them to the caller
// without copying: the reader continues on a new buffer (holding whatever
// followed the frame). Used for large frames, which Fill has already read
// straight into a buffer of their size.
func (f *FrameReader) Detach(n int) []byte {
	out := f.buf[f.r : f.r+n : f.r+n]
	rest := f.buf[f.r+n : f.w]
	nb := make([]byte, max(len(rest), f.initial))
	copy(nb, rest)
	f.buf, f.r, f.w = nb, 0, len(rest)
	return out
}

// Shrink drops an oversized buffer once it holds nothing, so that one large
// frame does not pin memory for the life of an idle connection.
func (f *FrameReader) Shrink(size int) {
	if f.r == f.w && len(f.buf) > 4*size {
		f.buf = make([]byte, size)
		f.r, f.w = 0, 0
	}
}
