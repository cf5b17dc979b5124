# The EC2 tag keys that seedprovider/ec2 reads (seedprovider/ec2/tags.go):
# every node's auto scaling group writes them onto its instance, the seed
# provider and Prometheus' ec2_sd_configs filter on them. One source of truth:
# tests/terraform/terraform_test.go fails when a key here differs from the Go
# constant of the same name (cluster = TagCluster, peer_port = TagPeerPort, ...).
locals {
  tag_keys = {
    cluster    = "dynomite:cluster"
    datacenter = "dynomite:datacenter"
    rack       = "dynomite:rack"
    tokens     = "dynomite:tokens"
    peer_port  = "dynomite:peer_port"
  }
}
