package stream

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// maxMemcacheKey is memcached's KEY_MAX_LENGTH.
const maxMemcacheKey = 250

// MetaItem is one line of memcached's `lru_crawler metadump`, as memcached
// 1.6 prints it (doc/protocol.txt, "lru_crawler metadump"):
//
//	key=user%3A1 exp=1796473409 la=1796473309 cas=1 fetch=no cls=1 size=69
//
// The key is URL-encoded; exp is the absolute expiry in memcached's clock
// (unix seconds), or -1 for an item that never expires; la the last access;
// size the item's total size in memory. Fields this parser does not know
// are ignored, since later versions add some.
type MetaItem struct {
	Key        []byte
	Exp        int64
	LastAccess int64
	CAS        uint64
	Fetched    bool
	Class      int
	Size       int
}

var errMetadump = errors.New("malformed metadump line")

// ParseMetaItem parses one metadump line, without its line ending. Every
// problem is an error naming the field: the line comes from a datastore
// that may be a newer or a broken one.
func ParseMetaItem(line []byte) (MetaItem, error) {
	var it MetaItem
	var haveKey, haveExp bool
	for f := range bytes.FieldsSeq(line) {
		name, val, ok := bytes.Cut(f, []byte("="))
		if !ok {
			return it, fmt.Errorf("%w: field %q has no '='", errMetadump, f)
		}
		var err error
		switch string(name) {
		case "key":
			s, uerr := url.PathUnescape(string(val))
			switch {
			case uerr != nil:
				err = uerr
			case s == "" || len(s) > maxMemcacheKey:
				err = fmt.Errorf("key length %d", len(s))
			}
			it.Key, haveKey = []byte(s), true
		case "exp":
			it.Exp, err = strconv.ParseInt(string(val), 10, 64)
			if err == nil && it.Exp < -1 {
				err = errors.New("negative")
			}
			haveExp = true
		case "la":
			it.LastAccess, err = strconv.ParseInt(string(val), 10, 64)
		case "cas":
			it.CAS, err = strconv.ParseUint(string(val), 10, 64)
		case "fetch":
			switch string(val) {
			case "yes":
				it.Fetched = true
			case "no":
			default:
				err = errors.New("not yes or no")
			}
		case "cls":
			it.Class, err = strconv.Atoi(string(val))
		case "size":
			it.Size, err = strconv.Atoi(string(val))
		}
		if err != nil {
			return it, fmt.Errorf("%w: field %s=%q: %v", errMetadump, name, val, err)
		}
	}
	if !haveKey || !haveExp {
		return it, fmt.Errorf("%w: %q lacks key= or exp=", errMetadump, line)
	}
	return it, nil
}
