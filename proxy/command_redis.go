package proxy

import (
	"strings"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO, COMMAND DOCS and
// COMMAND GETKEYS, answered from the proxy's command table (proxy/resp):
// what a client learns is what the proxy routes, not what the datastore
// behind it has. Entries have Redis 7's ten fields (name, arity, flags,
// first key, last key, step, ACL categories, tips, key specifications,
// subcommands); the last four are empty.

func commandReply(dst []byte, args [][]byte, resp3 bool) []byte {
	if len(args) == 1 {
		all := resp.Commands()
		dst = resp.AppendArrayHeader(dst, len(all))
		for _, c := range all {
			dst = commandEntry(dst, c, resp3)
		}
		return dst
	}
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "count":
		return resp.AppendInt(dst, int64(len(resp.Commands())))
	case "list":
		all := resp.Commands()
		dst = resp.AppendArrayHeader(dst, len(all))
		for _, c := range all {
			dst = resp.AppendBulkString(dst, c.Name)
		}
		return dst
	case "info":
		names := args[2:]
		if len(names) == 0 {
			return commandReply(dst, args[:1], resp3)
		}
		dst = resp.AppendArrayHeader(dst, len(names))
		for _, n := range names {
			if _, c := resp.Lookup(n); c != nil {
				dst = commandEntry(dst, c, resp3)
			} else {
				dst = appendNullArray(dst, resp3)
			}
		}
		return dst
	case "docs":
		var cmds []*resp.Command
		if len(args) == 2 {
			cmds = resp.Commands()
		}
		for _, n := range args[2:] {
			if _, c := resp.Lookup(n); c != nil {
				cmds = append(cmds, c)
			}
		}
		dst = appendMapHeader(dst, len(cmds), resp3)
		for _, c := range cmds {
			dst = resp.AppendBulkString(dst, c.Name)
			dst = appendMapHeader(dst, 2, resp3)
			dst = resp.AppendBulkString(dst, "summary")
			dst = resp.AppendBulkString(dst, "routed by dynomite: "+routeSummary(c))
			dst = resp.AppendBulkString(dst, "group")
			dst = resp.AppendBulkString(dst, "dynomite")
		}
		return dst
	case "getkeys":
		if len(args) < 3 {
			return resp.AppendError(dst, "ERR wrong number of arguments for 'command|getkeys' command")
		}
		_, c := resp.Lookup(args[2])
		if c == nil {
			return resp.AppendError(dst, "ERR Invalid command specified")
		}
		if err := c.Allowed(args[2:]); err != nil {
			return resp.AppendError(dst, "ERR Invalid number of arguments specified for command")
		}
		keys := c.Keys(args[2:], nil)
		if len(keys) == 0 {
			return resp.AppendError(dst, "ERR The command has no key arguments")
		}
		dst = resp.AppendArrayHeader(dst, len(keys))
		for _, k := range keys {
			dst = resp.AppendBulk(dst, k)
		}
		return dst
	}
	return resp.AppendError(dst, "ERR unknown subcommand '"+safeText(args[1])+"'. Try COMMAND HELP.")
}

func commandEntry(dst []byte, c *resp.Command, resp3 bool) []byte {
	dst = resp.AppendArrayHeader(dst, 10)
	dst = resp.AppendBulkString(dst, c.Name)
	dst = resp.AppendInt(dst, int64(c.Arity))
	var flags []string
	switch {
	case c.Flags.Has(msg.FlagWrite):
		flags = append(flags, "write")
	case c.Flags.Has(msg.FlagRead):
		flags = append(flags, "readonly")
	}
	if c.NumKeysAt > 0 {
		flags = append(flags, "movablekeys")
	}
	if resp3 {
		dst = resp.AppendHeader(dst, '~', len(flags))
	} else {
		dst = resp.AppendArrayHeader(dst, len(flags))
	}
	for _, f := range flags {
		dst = resp.AppendSimple(dst, f)
	}
	dst = resp.AppendInt(dst, int64(c.FirstKey))
	dst = resp.AppendInt(dst, int64(c.LastKey))
	dst = resp.AppendInt(dst, int64(c.KeyStep))
	for range 4 {
		dst = resp.AppendArrayHeader(dst, 0)
	}
	return dst
}

func routeSummary(c *resp.Command) string {
	switch {
	case c.Class == msg.ClassProxy:
		return "answered by the proxy"
	case c.Flags.Has(msg.FlagScript):
		return "to the replicas of its keys, which must have one owner"
	case c.Class == msg.ClassMultiKey:
		return "split by key owner, replies joined"
	case c.Class == msg.ClassAllNodes:
		return "to every node"
	case c.Class == msg.ClassLocal:
		return "to the local datastore"
	case c.Class == msg.ClassWrite:
		return "a write, to every replica of its key"
	}
	return "a read, at the read consistency"
}

func appendMapHeader(dst []byte, n int, resp3 bool) []byte {
	if resp3 {
		return resp.AppendHeader(dst, '%', n)
	}
	return resp.AppendArrayHeader(dst, 2*n)
}

func appendNullArray(dst []byte, resp3 bool) []byte {
	if resp3 {
		return append(dst, "_\r\n"...)
	}
	return resp.AppendArrayHeader(dst, -1)
}
