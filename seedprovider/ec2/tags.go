package ec2

// EC2 tag keys read by ec2_provider. They are shared: the Terraform modules
// (terraform/, built in the Terraform issue) will write these same keys on
// the instances they launch, so they are kept in this one file for both to
// use. Never rename a key without a migration: running clusters carry them.
const (
	// TagCluster names the cluster an instance belongs to. Instances are
	// selected by TagCluster = ec2_cluster_tag_value (the key itself can be
	// changed with ec2_cluster_tag_key).
	TagCluster = "dynomite:cluster"
	// TagDatacenter overrides the instance's datacenter (default: its
	// region).
	TagDatacenter = "dynomite:datacenter"
	// TagRack overrides the instance's rack (default: its availability
	// zone).
	TagRack = "dynomite:rack"
	// TagTokens holds the instance's ring tokens, comma-separated decimal
	// numbers in 0..4294967295. Required: an instance without it is skipped.
	TagTokens = "dynomite:tokens"
	// TagPeerPort overrides the peer (dyn_listen) port, default
	// ec2_peer_port.
	TagPeerPort = "dynomite:peer_port"
)
