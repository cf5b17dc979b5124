variable "name" {
  description = "Name of the peering connection (Name tag), e.g. the cluster name."
  type        = string

  validation {
    condition     = length(var.name) >= 1 && length(var.name) <= 200
    error_message = "name must be 1 to 200 characters."
  }
}

variable "requester" {
  description = "The side that requests the peering (provider aws.requester): its VPC, the VPC's CIDR, the route tables that get a route to the other side, and the nodes' security group that admits the other side. The dynomite-region outputs vpc_id, vpc_cidr, route_table_ids and security_group_id fit."
  type = object({
    vpc_id            = string
    cidr_block        = string
    route_table_ids   = list(string)
    security_group_id = string
  })

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.requester.vpc_id))
    error_message = "requester.vpc_id must look like vpc-0123456789abcdef0."
  }

  validation {
    condition     = can(cidrnetmask(var.requester.cidr_block))
    error_message = "requester.cidr_block must be an IPv4 CIDR."
  }
}

variable "accepter" {
  description = "The side that accepts the peering (provider aws.accepter); the same fields as requester."
  type = object({
    vpc_id            = string
    cidr_block        = string
    route_table_ids   = list(string)
    security_group_id = string
  })

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.accepter.vpc_id))
    error_message = "accepter.vpc_id must look like vpc-0123456789abcdef0."
  }

  validation {
    condition     = can(cidrnetmask(var.accepter.cidr_block))
    error_message = "accepter.cidr_block must be an IPv4 CIDR."
  }
}

variable "peer_port" {
  description = "Dynomite peer port opened to the other side's CIDR."
  type        = number
  default     = 8101

  validation {
    condition     = var.peer_port >= 1 && var.peer_port <= 65535 && floor(var.peer_port) == var.peer_port
    error_message = "peer_port must be a whole number from 1 to 65535."
  }
}

variable "gossip_port" {
  description = "Gossip port opened (TCP and UDP) to the other side's CIDR; null when gossip is off."
  type        = number
  default     = null

  validation {
    condition     = var.gossip_port == null || try(var.gossip_port >= 1 && var.gossip_port <= 65535 && floor(var.gossip_port) == var.gossip_port, false)
    error_message = "gossip_port must be null or a whole number from 1 to 65535."
  }
}

variable "security_group_rules" {
  description = "Add the ingress rules (peer port, gossip) to both sides' security groups. False when the dynomite-region modules already admit the other side through peer_cidrs."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to the peering connection on both sides."
  type        = map(string)
  default     = {}
}
