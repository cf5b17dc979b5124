# VPC peering between two datacenters of a Dynomite cluster, usually in two
# regions: the peering connection (requested on one side, accepted on the
# other), a route to the other VPC in each side's route tables, and rules that
# admit the other VPC's CIDR to the peer port (and gossip) of each side's
# nodes. Security groups cannot reference groups across regions, so the rules
# use CIDRs.

data "aws_region" "accepter" {
  provider = aws.accepter
}

data "aws_caller_identity" "accepter" {
  provider = aws.accepter
}

locals {
  # Ports opened to the other side: the peer port, and gossip (TCP and UDP).
  rules = merge(
    { "tcp-${var.peer_port}" = { protocol = "tcp", port = var.peer_port, description = "Dynomite peers" } },
    var.gossip_port == null ? {} : {
      "tcp-${var.gossip_port}" = { protocol = "tcp", port = var.gossip_port, description = "Dynomite gossip" }
      "udp-${var.gossip_port}" = { protocol = "udp", port = var.gossip_port, description = "Dynomite gossip" }
    },
  )
}

resource "aws_vpc_peering_connection" "this" {
  provider      = aws.requester
  vpc_id        = var.requester.vpc_id
  peer_vpc_id   = var.accepter.vpc_id
  peer_owner_id = data.aws_caller_identity.accepter.account_id
  peer_region   = data.aws_region.accepter.region
  auto_accept   = false
  tags          = merge(var.tags, { Name = var.name, Side = "requester" })

  lifecycle {
    precondition {
      condition     = var.requester.cidr_block != var.accepter.cidr_block
      error_message = "The two VPCs have the same CIDR; peered VPCs must not overlap."
    }
  }
}

resource "aws_vpc_peering_connection_accepter" "this" {
  provider                  = aws.accepter
  vpc_peering_connection_id = aws_vpc_peering_connection.this.id
  auto_accept               = true
  tags                      = merge(var.tags, { Name = var.name, Side = "accepter" })
}

resource "aws_route" "requester" {
  provider                  = aws.requester
  count                     = length(var.requester.route_table_ids)
  route_table_id            = var.requester.route_table_ids[count.index]
  destination_cidr_block    = var.accepter.cidr_block
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.this.id
}

resource "aws_route" "accepter" {
  provider                  = aws.accepter
  count                     = length(var.accepter.route_table_ids)
  route_table_id            = var.accepter.route_table_ids[count.index]
  destination_cidr_block    = var.requester.cidr_block
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.this.id
}

resource "aws_vpc_security_group_ingress_rule" "requester" {
  provider          = aws.requester
  for_each          = var.security_group_rules ? local.rules : {}
  security_group_id = var.requester.security_group_id
  description       = "${each.value.description} from ${var.accepter.cidr_block} (peering ${var.name})"
  ip_protocol       = each.value.protocol
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = var.accepter.cidr_block
}

resource "aws_vpc_security_group_ingress_rule" "accepter" {
  provider          = aws.accepter
  for_each          = var.security_group_rules ? local.rules : {}
  security_group_id = var.accepter.security_group_id
  description       = "${each.value.description} from ${var.requester.cidr_block} (peering ${var.name})"
  ip_protocol       = each.value.protocol
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = var.requester.cidr_block
}
