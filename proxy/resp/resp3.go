package resp

import (
	"bytes"
	"strconv"
)

// Replies to RESP3 sessions. The datastore connections are shared and speak
// RESP2, so a client that sent HELLO 3 gets each reply converted into the
// RESP3 type Redis itself would send it (Redis's server.c addReplyMap,
// addReplySetLen, addReplyDouble, addReplyNull, addReplyVerbatim): the
// command table says which conversion applies ([Command.Reply3]), and
// [AppendRESP3] applies it. Every conversion turns RESP2 nulls ($-1, *-1),
// at any depth, into the RESP3 null "_".

// Shape is how a command's RESP2 reply becomes RESP3.
type Shape uint8

const (
	// ShapePlain: only nulls change.
	ShapePlain Shape = iota
	// ShapeMap: a flat array of 2n elements is a map of n pairs (HGETALL,
	// CONFIG GET).
	ShapeMap
	// ShapeSet: the array is a set (SMEMBERS, SINTER, SUNION, SDIFF).
	ShapeSet
	// ShapeDouble: the bulk string is a double (ZSCORE, ZINCRBY).
	ShapeDouble
	// ShapeDoubles: an array of bulk strings, each a double or null
	// (ZMSCORE).
	ShapeDoubles
	// ShapeWithScores: with a WITHSCORES argument, the flat array
	// member, score, ... is an array of [member, double] pairs (ZRANGE,
	// ZRANGEBYSCORE, ZRANDMEMBER...); without it, plain.
	ShapeWithScores
	// ShapePop: ZPOPMIN/ZPOPMAX: without a count, [member, double]; with
	// one, an array of such pairs.
	ShapePop
	// ShapeWithValues: HRANDFIELD ... WITHVALUES: the flat array field,
	// value, ... is an array of [field, value] pairs.
	ShapeWithValues
	// ShapeVerbatim: the bulk string is a verbatim text string (INFO).
	ShapeVerbatim
	// ShapeSetIfCount: SPOP with a count answers a set; without, plain.
	ShapeSetIfCount
)

// replyShapes gives the commands whose RESP3 reply is not ShapePlain; init
// copies it into the table (Command.Reply3).
var replyShapes = map[string]Shape{
	"hgetall": ShapeMap, "config": ShapeMap,
	"smembers": ShapeSet, "sinter": ShapeSet, "sunion": ShapeSet, "sdiff": ShapeSet,
	"spop":   ShapeSetIfCount,
	"zscore": ShapeDouble, "zincrby": ShapeDouble,
	"zmscore": ShapeDoubles,
	"zrange":  ShapeWithScores, "zrevrange": ShapeWithScores, "zrangebyscore": ShapeWithScores,
	"zrevrangebyscore": ShapeWithScores, "zrandmember": ShapeWithScores,
	"zpopmin": ShapePop, "zpopmax": ShapePop,
	"hrandfield": ShapeWithValues,
	"info":       ShapeVerbatim,
}

// AppendRESP3 appends to dst the RESP3 form of reply, one complete RESP2
// reply to a command of shape s called with args. ok is false when reply
// is not the RESP2 value the shape expects; dst then holds reply unchanged.
func AppendRESP3(dst, reply []byte, s Shape, args [][]byte) (_ []byte, ok bool) {
	start := len(dst)
	elem := ShapePlain
	switch s {
	case ShapeWithScores:
		s = ShapePlain
		if hasArg(args, "withscores") {
			s, elem = shapePairs, ShapeDouble
		}
	case ShapeWithValues:
		s = ShapePlain
		if hasArg(args, "withvalues") {
			s = shapePairs
		}
	case ShapePop:
		s, elem = shapePairs, ShapeDouble
		if len(args) <= 2 {
			s = shapeOnePair
		}
	case ShapeSetIfCount:
		if len(args) <= 2 {
			s = ShapePlain
		} else {
			s = ShapeSet
		}
	case ShapeDoubles:
		elem = ShapeDouble
	}
	out, n, ok := convert(dst, reply, 0, s, elem, 0)
	if !ok || n != len(reply) {
		return append(dst[:start], reply...), false
	}
	return out, true
}

// internal shapes of an array's top level
const (
	shapePairs   Shape = 100 + iota // flat array of 2n → n arrays of 2, the second of elem
	shapeOnePair                    // flat array of 2 → [first, second as elem]
)

// maxConvertDepth bounds the recursion; replies deeper than this are sent
// unchanged (the parser's limits admit no deeper replies by default).
const maxConvertDepth = 64

// convert converts the value at buf[pos:] with top-level shape s (and elem
// for the elements of an array), returning the position after it.
func convert(dst, buf []byte, pos int, s, elem Shape, depth int) ([]byte, int, bool) {
	if pos >= len(buf) || depth > maxConvertDepth {
		return dst, pos, false
	}
	switch buf[pos] {
	case '$':
		n, next, st := readNumLine(buf, pos+1)
		if st != lineOK {
			return dst, pos, false
		}
		if n < 0 {
			return append(dst, "_\r\n"...), next, true
		}
		end := next + int(n)
		if end+2 > len(buf) {
			return dst, pos, false
		}
		switch s {
		case ShapeDouble:
			if bytes.ContainsAny(buf[next:end], "\r\n") {
				return dst, pos, false // not a number Redis would send
			}
			dst = append(dst, ',')
			dst = append(dst, buf[next:end]...)
			return append(dst, "\r\n"...), end + 2, true
		case ShapeVerbatim:
			dst = append(dst, '=')
			dst = strconv.AppendInt(dst, n+4, 10)
			dst = append(dst, "\r\ntxt:"...)
			dst = append(dst, buf[next:end+2]...)
			return dst, end + 2, true
		}
		return append(dst, buf[pos:end+2]...), end + 2, true
	case '*':
		n, next, st := readNumLine(buf, pos+1)
		if st != lineOK {
			return dst, pos, false
		}
		if n < 0 {
			return append(dst, "_\r\n"...), next, true
		}
		var ok bool
		switch s {
		case ShapeMap:
			if n%2 != 0 {
				return dst, pos, false
			}
			dst = appendAggregate(dst, '%', n/2)
		case ShapeSet:
			dst = appendAggregate(dst, '~', n)
		case shapePairs:
			if n%2 != 0 {
				return dst, pos, false
			}
			dst = appendAggregate(dst, '*', n/2)
			for i := int64(0); i < n/2; i++ {
				dst = append(dst, "*2\r\n"...)
				if dst, next, ok = convert(dst, buf, next, ShapePlain, ShapePlain, depth+1); !ok {
					return dst, pos, false
				}
				if dst, next, ok = convert(dst, buf, next, elem, ShapePlain, depth+1); !ok {
					return dst, pos, false
				}
			}
			return dst, next, true
		case shapeOnePair:
			if n != 0 && n != 2 {
				return dst, pos, false
			}
			dst = appendAggregate(dst, '*', n)
			for i := int64(0); i < n; i++ {
				es := ShapePlain
				if i == 1 {
					es = elem
				}
				if dst, next, ok = convert(dst, buf, next, es, ShapePlain, depth+1); !ok {
					return dst, pos, false
				}
			}
			return dst, next, true
		default:
			dst = appendAggregate(dst, '*', n)
		}
		for i := int64(0); i < n; i++ {
			if dst, next, ok = convert(dst, buf, next, elem, ShapePlain, depth+1); !ok {
				return dst, pos, false
			}
		}
		return dst, next, true
	case '+', '-', ':':
		end, st := lineEnd(buf, pos+1, maxBulkCap)
		if st != lineOK {
			return dst, pos, false
		}
		return append(dst, buf[pos:end]...), end, true
	}
	// already RESP3 (a proxy-built reply) or unknown: copy one value
	n, err := ParseReply(buf[pos:], nil)
	if err != nil {
		return dst, pos, false
	}
	return append(dst, buf[pos:pos+n]...), pos + n, true
}

// AppendHeader appends the header of an aggregate of type t ('*', '%',
// '~', '>') with n elements (n pairs for a map).
func AppendHeader(dst []byte, t byte, n int) []byte { return appendAggregate(dst, t, int64(n)) }

func appendAggregate(dst []byte, t byte, n int64) []byte {
	dst = append(dst, t)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// hasArg reports whether an argument after the command name is word (a
// lowercase option name), in any letter case.
func hasArg(args [][]byte, word string) bool {
	for _, a := range args[min(1, len(args)):] {
		if equalFold(a, word) {
			return true
		}
	}
	return false
}
