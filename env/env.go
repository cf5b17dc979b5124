// Package env tells a node where it runs: its datacenter, rack and the
// addresses it announces to peers. The configuration key env selects the
// implementation:
//
//	aws      env/aws      IMDSv2 (region, availability zone, addresses) and
//	                      upstream's EC2_* variables
//	network  env/network  the configuration file and the local interfaces;
//	                      never contacts anything
//
// Values in the configuration file always win over what an environment
// detects; an environment only fills what the file leaves out.
package env

import "context"

// Info is what an environment knows about the node. Empty fields are
// unknown.
type Info struct {
	// Datacenter is the node's datacenter (aws: its region).
	Datacenter string
	// Rack is the node's rack (aws: its availability zone).
	Rack string
	// PrivateIP is the address peers in the same datacenter dial. Under
	// env: network it may be a host name when dyn_listen names one.
	PrivateIP string
	// PublicIP is the address peers elsewhere may dial; empty when the node
	// has none.
	PublicIP string
	// PublicHostname is the node's public DNS name, when it has one.
	PublicHostname string
	// Region and Zone are the cloud region and availability zone the node
	// runs in, whatever Datacenter and Rack say; empty outside a cloud.
	// The ec2 seed provider uses Region to tell local peers from remote.
	Region, Zone string
}

// Env detects Info.
type Env interface {
	// Name is the env key's value, e.g. "aws".
	Name() string
	// Detect returns what the environment knows. It fails only when a
	// required value (datacenter, rack, private address) can be found
	// neither in the configuration nor in the environment; the error says
	// which and where it looked.
	Detect(ctx context.Context) (Info, error)
}

// Fill returns i with each empty field taken from from.
func (i Info) Fill(from Info) Info {
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&i.Datacenter, from.Datacenter)
	set(&i.Rack, from.Rack)
	set(&i.PrivateIP, from.PrivateIP)
	set(&i.PublicIP, from.PublicIP)
	set(&i.PublicHostname, from.PublicHostname)
	set(&i.Region, from.Region)
	set(&i.Zone, from.Zone)
	return i
}

// Missing lists the required fields (datacenter, rack, private address)
// that are empty, by their configuration names.
func (i Info) Missing() []string {
	var m []string
	if i.Datacenter == "" {
		m = append(m, "datacenter")
	}
	if i.Rack == "" {
		m = append(m, "rack")
	}
	if i.PrivateIP == "" {
		m = append(m, "private address")
	}
	return m
}
