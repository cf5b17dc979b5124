# One Dynomite datacenter in one AWS region: one rack per availability zone,
# nodes_per_rack nodes per rack. Each node is an auto scaling group of size one
# with its own launch template, so the instance that replaces a failed one
# comes back with the same rack, token and tags. Peers find each other through
# the EC2 seed provider (dyn_seed_provider: ec2_provider), which reads the tags
# in tags.tf.

data "aws_region" "current" {}

data "aws_ssm_parameter" "ami" {
  count = var.ami_id == null ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
}

data "aws_vpc" "existing" {
  count = var.vpc_id == null ? 0 : 1
  id    = var.vpc_id
}

data "aws_subnet" "existing" {
  for_each = { for r in var.racks : r.availability_zone => r.subnet_id if r.subnet_id != null }
  id       = each.value

  lifecycle {
    postcondition {
      condition     = self.availability_zone == each.key
      error_message = "Subnet ${each.value} is in ${self.availability_zone}, not in its rack's zone ${each.key}."
    }
    postcondition {
      condition     = self.vpc_id == var.vpc_id
      error_message = "Subnet ${each.value} is not in vpc_id."
    }
  }
}

locals {
  region     = data.aws_region.current.region
  datacenter = coalesce(var.datacenter, local.region)
  name       = "${var.cluster_name}-${local.datacenter}"
  create_vpc = var.vpc_id == null
  vpc_id     = local.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  vpc_cidr   = local.create_vpc ? aws_vpc.this[0].cidr_block : data.aws_vpc.existing[0].cidr_block
  public_ip  = coalesce(var.assign_public_ip, local.create_vpc)
  ami_id     = var.ami_id != null ? var.ami_id : data.aws_ssm_parameter.ami[0].insecure_value

  # The regions the seed provider searches, this one first.
  ec2_regions = distinct(concat([local.region], var.remote_regions))

  racks = [for i, r in var.racks : {
    name              = coalesce(r.name, r.availability_zone)
    availability_zone = r.availability_zone
    subnet_id         = local.create_vpc ? aws_subnet.rack[i].id : data.aws_subnet.existing[r.availability_zone].id
  }]

  # Token plan: entry i belongs to node i of every rack.
  node_tokens = length(var.tokens) > 0 ? var.tokens : [
    for i in range(var.nodes_per_rack) : format("%d", floor(i * 4294967296 / var.nodes_per_rack))
  ]

  nodes = merge([for r in local.racks : {
    for n in range(var.nodes_per_rack) : "${r.name}-${n}" => {
      name              = "${local.name}-${r.name}-${n}"
      rack              = r.name
      availability_zone = r.availability_zone
      subnet_id         = r.subnet_id
      tokens            = local.node_tokens[n]
    }
  }]...)

  # The tags of each node's auto scaling group, propagated to its instance.
  node_tags = { for k, n in local.nodes : k => merge(var.tags, {
    Name                        = n.name
    (local.tag_keys.cluster)    = var.cluster_name
    (local.tag_keys.datacenter) = local.datacenter
    (local.tag_keys.rack)       = n.rack
    (local.tag_keys.tokens)     = n.tokens
    (local.tag_keys.peer_port)  = tostring(var.peer_port)
  }) }

  datastore_command = {
    redis     = "redis-server --port ${var.datastore_port} --bind 127.0.0.1 --protected-mode no --save \"\" --appendonly no --maxmemory ${var.datastore_memory_mb}mb"
    memcached = "memcached --port=${var.datastore_port} --listen=127.0.0.1 --udp-port=0 --memory-limit=${var.datastore_memory_mb}"
  }[var.data_store]

  # The node configuration (upstream's YAML), one per node: only the rack and
  # the tokens differ. Everything else about the node's place (its address)
  # comes from the instance metadata (env: aws).
  node_config = { for k, n in local.nodes : k => templatefile("${path.module}/templates/dynomite.yml.tftpl", {
    node_name           = n.name
    cluster_name        = var.cluster_name
    datacenter          = local.datacenter
    rack                = n.rack
    tokens              = n.tokens
    client_port         = var.client_port
    peer_port           = var.peer_port
    stats_port          = var.stats_port
    datastore_port      = var.datastore_port
    data_store          = var.data_store == "redis" ? 0 : 1
    read_consistency    = var.read_consistency
    write_consistency   = var.write_consistency
    enable_gossip       = var.enable_gossip
    gossip_port         = var.gossip_port
    ec2_regions         = join(",", local.ec2_regions)
    remote_peer_address = var.remote_peer_address
  }) }
}

# --- Network (only without vpc_id) -----------------------------------------

resource "aws_vpc" "this" {
  count                = local.create_vpc ? 1 : 0
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = local.name })
}

resource "aws_internet_gateway" "this" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = local.name })
}

resource "aws_route_table" "public" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${local.name}-public" })
}

resource "aws_route" "internet" {
  count                  = local.create_vpc ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_subnet" "rack" {
  count             = local.create_vpc ? length(var.racks) : 0
  vpc_id            = aws_vpc.this[0].id
  availability_zone = var.racks[count.index].availability_zone
  cidr_block        = coalesce(var.racks[count.index].subnet_cidr, cidrsubnet(var.vpc_cidr, 4, count.index))
  tags              = merge(var.tags, { Name = "${local.name}-${coalesce(var.racks[count.index].name, var.racks[count.index].availability_zone)}" })
}

resource "aws_route_table_association" "rack" {
  count          = local.create_vpc ? length(var.racks) : 0
  subnet_id      = aws_subnet.rack[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# --- Security group ----------------------------------------------------------

resource "aws_security_group" "node" {
  name        = "${local.name}-node"
  description = "Dynomite nodes of ${var.cluster_name} in ${local.datacenter}"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${local.name}-node" })

  lifecycle {
    precondition {
      condition     = local.create_vpc ? alltrue([for r in var.racks : r.subnet_id == null]) : alltrue([for r in var.racks : r.subnet_id != null])
      error_message = "With vpc_id every rack needs a subnet_id; without vpc_id (the module creates the VPC) no rack may have one."
    }
    precondition {
      condition     = length(var.tokens) == 0 || length(var.tokens) == var.nodes_per_rack
      error_message = "The token plan (tokens) needs exactly nodes_per_rack entries, or none for the even default."
    }
    precondition {
      condition     = !contains(var.remote_regions, local.region)
      error_message = "remote_regions must not contain this module's own region."
    }
  }
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.node.id
  description       = "Image registry, EC2 API, peers"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

# Ingress: who may reach which port. A source is an IPv4 CIDR, a security
# group, or "self", the nodes' own group (the peers in this datacenter); each
# port gets one rule per protocol and source.
locals {
  ingress = {
    client = {
      description = "Dynomite clients"
      port        = var.client_port
      protocols   = ["tcp"]
      sources     = concat(var.client_cidrs, var.client_security_group_ids)
    }
    peer = {
      description = "Dynomite peers"
      port        = var.peer_port
      protocols   = ["tcp"]
      sources     = concat(["self"], var.peer_cidrs)
    }
    gossip = {
      description = "Dynomite gossip"
      port        = var.gossip_port
      protocols   = var.enable_gossip ? ["tcp", "udp"] : []
      sources     = concat(["self"], var.peer_cidrs)
    }
    stats = {
      description = "Dynomite stats (Prometheus)"
      port        = var.stats_port
      protocols   = ["tcp"]
      sources     = concat(var.monitoring_cidrs, var.monitoring_security_group_ids)
    }
  }

  # What each source name stands for in a rule.
  ingress_sources = merge(
    { for c in distinct(concat(var.client_cidrs, var.peer_cidrs, var.monitoring_cidrs)) : c => { cidr_ipv4 = c, security_group = null, from = c } },
    { for g in distinct(concat(var.client_security_group_ids, var.monitoring_security_group_ids)) : g => { cidr_ipv4 = null, security_group = g, from = g } },
    { self = { cidr_ipv4 = null, security_group = aws_security_group.node.id, from = "this datacenter" } },
  )

  # One rule per port, protocol and source, keyed <port>-<protocol>-<source>
  # (e.g. peer-tcp-self, client-tcp-10.0.0.0/8).
  ingress_rules = merge([for name, r in local.ingress : {
    for p in setproduct(r.protocols, distinct(r.sources)) : "${name}-${p[0]}-${p[1]}" => {
      description    = "${r.description} from ${local.ingress_sources[p[1]].from}"
      protocol       = p[0]
      port           = r.port
      cidr_ipv4      = local.ingress_sources[p[1]].cidr_ipv4
      security_group = local.ingress_sources[p[1]].security_group
    }
  }]...)
}

resource "aws_vpc_security_group_ingress_rule" "node" {
  for_each                     = local.ingress_rules
  security_group_id            = aws_security_group.node.id
  description                  = each.value.description
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port
  cidr_ipv4                    = each.value.cidr_ipv4
  referenced_security_group_id = each.value.security_group
}

# --- Instance profile: ec2:DescribeInstances, nothing else -----------------
# The seed provider's only AWS call. Credentials come from the instance
# metadata (IMDSv2), which needs no permission; DescribeInstances has no
# resource-level permissions, so the statement is limited by region instead.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "seed_provider" {
  statement {
    sid       = "SeedProviderDescribeInstances"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = local.ec2_regions
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${local.name}-node"
  description        = "Dynomite nodes of ${var.cluster_name} in ${local.datacenter}: EC2 seed provider"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "seed_provider" {
  name   = "dynomite-ec2-seed-provider"
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.seed_provider.json
}

resource "aws_iam_instance_profile" "node" {
  name = "${local.name}-node"
  role = aws_iam_role.node.name
  tags = var.tags
}

# --- Nodes: one launch template and one auto scaling group of size one each --

resource "aws_launch_template" "node" {
  for_each               = local.nodes
  name                   = each.value.name
  description            = "Dynomite node ${each.value.name} (rack ${each.value.rack}, tokens ${each.value.tokens})"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  update_default_version = true

  user_data = base64encode(templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    dynomite_config_b64 = base64encode(local.node_config[each.key])
    dynomite_image      = var.dynomite_image
    datastore_image     = var.datastore_image
    datastore_command   = local.datastore_command
    data_store          = var.data_store
    stats_port          = var.stats_port
  }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.node.arn
  }

  network_interfaces {
    device_index                = 0
    associate_public_ip_address = local.public_ip
    security_groups             = [aws_security_group.node.id]
    delete_on_termination       = true
  }

  # IMDSv2 only. The containers use the host's network, so one hop is enough.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = each.value.name })
  }

  tags = merge(var.tags, { Name = each.value.name })
}

resource "aws_autoscaling_group" "node" {
  for_each                  = local.nodes
  name                      = each.value.name
  min_size                  = 1
  max_size                  = 1
  desired_capacity          = 1
  vpc_zone_identifier       = [each.value.subnet_id]
  health_check_type         = "EC2"
  health_check_grace_period = 300

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  dynamic "tag" {
    for_each = local.node_tags[each.key]
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}

# The nodes' instances as they are when the apply ends (the groups wait for
# their instance to be in service). A replaced instance shows up here at the
# next apply or refresh; the seed provider sees it at once.
data "aws_instances" "nodes" {
  instance_tags = {
    (local.tag_keys.cluster)    = var.cluster_name
    (local.tag_keys.datacenter) = local.datacenter
  }
  instance_state_names = ["pending", "running"]

  depends_on = [aws_autoscaling_group.node]
}
