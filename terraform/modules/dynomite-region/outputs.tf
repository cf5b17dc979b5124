output "region" {
  description = "The region of this datacenter."
  value       = local.region
}

output "datacenter" {
  description = "The datacenter name of this region's nodes in the ring."
  value       = local.datacenter
}

output "vpc_id" {
  description = "The VPC of the nodes (created or given)."
  value       = local.vpc_id
}

output "vpc_cidr" {
  description = "The VPC's CIDR, for the other regions' peer rules and routes."
  value       = local.vpc_cidr
}

output "route_table_ids" {
  description = "The route tables the module created (one, shared by the racks' subnets); empty with an existing VPC, whose route tables the caller knows."
  value       = aws_route_table.public[*].id
}

output "rack_subnet_ids" {
  description = "Subnet of each rack, by rack name."
  value       = { for r in local.racks : r.name => r.subnet_id }
}

output "security_group_id" {
  description = "The nodes' security group: add rules to it, or reference it from clients' and Prometheus' groups."
  value       = aws_security_group.node.id
}

output "iam_role_name" {
  description = "The nodes' IAM role (ec2:DescribeInstances only). Attach a registry read policy to it if the images live in a private ECR repository."
  value       = aws_iam_role.node.name
}

output "instance_profile_arn" {
  description = "The nodes' instance profile."
  value       = aws_iam_instance_profile.node.arn
}

output "tag_keys" {
  description = "The EC2 tag keys the nodes carry (the constants of seedprovider/ec2), by role: cluster, datacenter, rack, tokens, peer_port."
  value       = local.tag_keys
}

output "cluster_tag" {
  description = "The tag that selects this cluster's instances (key and value), e.g. for Prometheus' ec2_sd_configs filters."
  value       = { key = local.tag_keys.cluster, value = var.cluster_name }
}

output "nodes" {
  description = "Every node by key (<rack>-<index>): its auto scaling group, launch template, rack, zone, subnet, tokens and the tags its instance carries."
  value = { for k, n in local.nodes : k => {
    asg_name           = aws_autoscaling_group.node[k].name
    launch_template_id = aws_launch_template.node[k].id
    rack               = n.rack
    availability_zone  = n.availability_zone
    subnet_id          = n.subnet_id
    tokens             = n.tokens
    tags               = local.node_tags[k]
  } }
}

output "asg_names" {
  description = "The nodes' auto scaling group names."
  value       = [for k in sort(keys(local.nodes)) : aws_autoscaling_group.node[k].name]
}

output "node_private_ips" {
  description = "Private IPv4 addresses of the nodes' instances when the apply ended (instances replaced since show up at the next refresh)."
  value       = data.aws_instances.nodes.private_ips
}

output "node_public_ips" {
  description = "Public IPv4 addresses of the nodes' instances when the apply ended (empty without assign_public_ip)."
  value       = data.aws_instances.nodes.public_ips
}

output "node_configs" {
  description = "The configuration file each node runs (/etc/dynomite/dynomite.yml), by node key."
  value       = local.node_config
}

output "ports" {
  description = "The ports: client, peer, stats, datastore (127.0.0.1 only) and gossip (open only with enable_gossip)."
  value = {
    client    = var.client_port
    peer      = var.peer_port
    stats     = var.stats_port
    datastore = var.datastore_port
    gossip    = var.gossip_port
  }
}
