package repair

// Op is a command read repair knows.
type Op uint8

// The commands with read-repair support (upstream's proto_cmd_info entries
// with has_repair_support or is_repairable).
const (
	None Op = iota
	Set
	Get
	Del
	HSet
	HMSet
	HGet
	HDel
	SAdd
	SRem
	SIsMember
	ZAdd
	ZRem
	ZScore
)

var opNames = [...]string{None: "", Set: "SET", Get: "GET", Del: "DEL", HSet: "HSET", HMSet: "HMSET", HGet: "HGET",
	HDel: "HDEL", SAdd: "SADD", SRem: "SREM", SIsMember: "SISMEMBER", ZAdd: "ZADD", ZRem: "ZREM", ZScore: "ZSCORE"}

// String is the command's name in capitals.
func (o Op) String() string { return opNames[o] }

// OpOf returns the Op of a command name in lower case (the proxy's command
// table names), None for any other.
func OpOf(lower string) Op {
	switch lower {
	case "set":
		return Set
	case "get":
		return Get
	case "del":
		return Del
	case "hset":
		return HSet
	case "hmset":
		return HMSet
	case "hget":
		return HGet
	case "hdel":
		return HDel
	case "sadd":
		return SAdd
	case "srem":
		return SRem
	case "sismember":
		return SIsMember
	case "zadd":
		return ZAdd
	case "zrem":
		return ZRem
	case "zscore":
		return ZScore
	}
	return None
}

// Read reports whether o is a repairable read.
func (o Op) Read() bool { return o == Get || o == HGet || o == SIsMember || o == ZScore }

// Delete reports whether o removes a key or fields: its tombstones are
// cleaned once every replica has it.
func (o Op) Delete() bool { return o == Del || o == HDel || o == SRem || o == ZRem }

// addOf and remOf: the write that makes a field read's value exist, and the
// one that removes it (upstream's repair_by_add and repair_by_rem).
func (o Op) addOf() Op {
	switch o {
	case Get:
		return Set
	case HGet:
		return HSet
	case SIsMember:
		return SAdd
	case ZScore:
		return ZAdd
	}
	return None
}

func (o Op) remOf() Op {
	switch o {
	case Get:
		return Del
	case HGet:
		return HDel
	case SIsMember:
		return SRem
	case ZScore:
		return ZRem
	}
	return None
}
