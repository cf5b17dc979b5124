package dynomite

import (
	"fmt"
	"strings"
)

// Ports inside a node's container: the listeners NodeConfig writes.
const (
	ClientPort = "8102/tcp" // listen: clients, Redis or Memcached protocol
	PeerPort   = "8101/tcp" // dyn_listen: the other nodes
	StatsPort  = "22222/tcp"
)

// ConfigPath is where a node's configuration is written.
const ConfigPath = "/etc/dynomite/dynomite.yml"

// Token is every node's token: with one node per rack, each rack owns the
// whole ring and so holds a full copy of the data.
const Token = "437425602"

// NodeConfig is one node's configuration, written by YAML in upstream
// Dynomite's format (a dyn_o_mite pool; conf/*.yml in the repository).
type NodeConfig struct {
	Datacenter, Rack string
	Token            string    // default Token
	Server           string    // the datastore, host:port:weight
	Datastore        Datastore // data_store: 0 Redis, 1 Memcached
	// Seeds are the other nodes, host:port:rack:dc:token each.
	Seeds []string
	// ReadConsistency and WriteConsistency default to DC_ONE.
	ReadConsistency, WriteConsistency Consistency
	// Password, when set, is both requirepass (clients AUTH with it) and
	// datastore_password (what the node sends to its Redis).
	Password string
	// Extra keys, written in order after the others, values as given.
	Extra [][2]string
}

// YAML renders the configuration.
func (n NodeConfig) YAML() string {
	var b strings.Builder
	q := func(k, v string) { fmt.Fprintf(&b, "  %s: %s\n", k, v) }
	b.WriteString("dyn_o_mite:\n")
	q("datacenter", n.Datacenter)
	q("rack", n.Rack)
	q("listen", "0.0.0.0:"+strings.TrimSuffix(ClientPort, "/tcp"))
	q("dyn_listen", "0.0.0.0:"+strings.TrimSuffix(PeerPort, "/tcp"))
	q("stats_listen", "0.0.0.0:"+strings.TrimSuffix(StatsPort, "/tcp"))
	token := n.Token
	if token == "" {
		token = Token
	}
	q("tokens", "'"+token+"'")
	b.WriteString("  servers:\n  - " + n.Server + "\n")
	q("data_store", fmt.Sprint(int(n.Datastore)))
	read, write := n.ReadConsistency, n.WriteConsistency
	if read == "" {
		read = DCOne
	}
	if write == "" {
		write = DCOne
	}
	q("read_consistency", string(read))
	q("write_consistency", string(write))
	if n.Password != "" {
		q("requirepass", quote(n.Password))
		q("datastore_password", quote(n.Password))
	}
	if len(n.Seeds) > 0 {
		b.WriteString("  dyn_seeds:\n")
		for _, s := range n.Seeds {
			b.WriteString("  - " + s + "\n")
		}
	}
	for _, kv := range n.Extra {
		q(kv[0], kv[1])
	}
	return b.String()
}

// quote writes s as a single-quoted YAML scalar, so that any password
// (with ':', '#', leading spaces) is read back as it is.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// member names and configurations of the cluster o describes, in order:
// dc1 rack1, dc1 rack2, ..., dc2 rack1, ...
type plan struct {
	Member
	store Member
	conf  NodeConfig
}

func (o *options) plan() []plan {
	var out []plan
	for d := 1; d <= o.dcs; d++ {
		for r := 1; r <= o.racks; r++ {
			dc, rack := fmt.Sprintf("dc%d", d), fmt.Sprintf("rack%d", r)
			node := Member{Alias: fmt.Sprintf("dyn-%s-%s", dc, rack), Datacenter: dc, Rack: rack, Node: true}
			store := Member{Alias: fmt.Sprintf("%s-%s-%s", o.datastore, dc, rack), Datacenter: dc, Rack: rack}
			out = append(out, plan{Member: node, store: store, conf: NodeConfig{
				Datacenter: dc, Rack: rack, Token: Token,
				Server:          fmt.Sprintf("%s:%s:1", store.Alias, o.datastore.port()),
				Datastore:       o.datastore,
				ReadConsistency: o.read, WriteConsistency: o.write,
				Password: o.password,
				Extra:    o.extra,
			}})
		}
	}
	for i := range out {
		for j, p := range out {
			if i != j {
				out[i].conf.Seeds = append(out[i].conf.Seeds, fmt.Sprintf("%s:%s:%s:%s:%s",
					p.Alias, strings.TrimSuffix(PeerPort, "/tcp"), p.Rack, p.Datacenter, Token))
			}
		}
	}
	return out
}
