// Package config reads a node's configuration file in Netflix Dynomite's
// format, so that an operator can swap the C binary for this one without
// touching the file.
//
// # File format
//
// The file is one YAML document with exactly one root key, the pool name
// (any name; conventionally dyn_o_mite), whose value is a mapping of keys:
//
//	dyn_o_mite:
//	  listen: 0.0.0.0:8102          # client listener (RESP or memcache), or /unix/path
//	  dyn_listen: 10.0.0.1:8101     # peer listener; optional for a single node
//	  servers:
//	  - 127.0.0.1:6379:1            # the datastore: host:port:weight [name], exactly one
//	  data_store: 0                 # 0 redis, 1 memcache
//	  datacenter: dc1
//	  rack: rack1
//	  tokens: '101134286'           # comma-separated uint32 tokens
//	  dyn_seeds:                    # static peers: host:port:rack:dc:tokens [name]
//	  - 10.0.0.2:8101:rack2:dc1:101134286
//
// Values may be quoted or bare. Only servers and dyn_seeds are lists (a block
// sequence, or a single value for a one-entry list). Numbers are decimal
// digits; 0 means "use the default", as upstream's UNSET_NUM. Times are
// milliseconds. Booleans are exactly true or false. The consistency levels
// are matched case-insensitively by prefix, as upstream. The key table in
// keys.go lists every key with its default; Describe prints the effective
// values.
//
// # Strictness
//
// Parse reports every problem at once, each with its line, key and value, in
// an *Errors: unknown and duplicate keys, values of the wrong shape (a list or
// a mapping where a value goes, an empty value), more than one root key or
// document, anchors, aliases, tags and flow collections, and bad values.
// Deprecated keys (distribution, server_connections) and keys upstream
// ignores (client_connections, dyn_port) load with a warning in
// Config.Warnings. Validate is pure: host names are checked for syntax and
// never resolved, and no file is opened.
//
// # Compatibility choices
//
// Every file upstream accepts and that works there loads here with the same
// meaning. Where upstream silently misreads a value this package rejects it
// instead: an invalid secure_server_option (upstream falls back to none),
// a token outside uint32 or with non-digits (upstream wraps it or reads 0),
// a connection count above 255 (upstream keeps the low 8 bits), more than one
// servers entry (upstream asserts), an unknown dyn_seed_provider (upstream
// falls back to static seeds), and every duplicate key (upstream misses some).
// dyn_listen is optional for a single node (no peer listener) and, with tokens,
// required once the node has peers. Where upstream's behaviour is a defect the
// settings mean what its documentation promises: preconnect: false connects
// lazily, auto_eject_hosts ejects the datastore after server_failure_limit
// consecutive failures for server_retry_timeout, and env is compared
// literally. docs/compatibility.md lists each difference with its reason.
package config
