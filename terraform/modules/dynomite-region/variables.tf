# --- Identity --------------------------------------------------------------

variable "cluster_name" {
  description = "Name of the Dynomite cluster, the same in every region. Written to the cluster tag that the EC2 seed provider and Prometheus filter on, and used in resource names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2 to 24 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

variable "datacenter" {
  description = "Datacenter name of this region's nodes in the ring (config key datacenter, datacenter tag). Null: the region's name, which is also what the EC2 seed provider assumes when the tag is missing."
  type        = string
  default     = null

  validation {
    condition     = var.datacenter == null || can(regex("^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$", var.datacenter))
    error_message = "datacenter must be 2 to 24 characters: lower-case letters, digits and '-' (it is part of seeds and resource names)."
  }
}

variable "remote_regions" {
  description = "Regions of the cluster's other datacenters. The EC2 seed provider searches this region and these; the instance profile may call ec2:DescribeInstances in exactly those regions."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.remote_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", r))])
    error_message = "remote_regions must hold region names such as us-west-2 or eu-central-1."
  }

  validation {
    condition     = length(distinct(var.remote_regions)) == length(var.remote_regions)
    error_message = "remote_regions must not repeat a region."
  }
}

variable "remote_peer_address" {
  description = "Which address of the other regions' nodes this region's nodes dial (config ec2_peer_address): private (VPC peering, as dynomite-peering sets up, or a transit gateway) or public (then open peer_cidrs to the other regions' public addresses). Peers in this region are always dialled on their private address."
  type        = string
  default     = "private"

  validation {
    condition     = contains(["private", "public"], var.remote_peer_address)
    error_message = "remote_peer_address must be private or public."
  }
}

# --- Network ---------------------------------------------------------------

variable "vpc_id" {
  description = "Existing VPC to place the nodes in. Null: the module creates a VPC (vpc_cidr) with an internet gateway and one public subnet per rack."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC the module creates (ignored with vpc_id). Must not overlap the other regions' VPCs, or peering is impossible."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = try(cidrsubnet(var.vpc_cidr, 0, 0) == var.vpc_cidr && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 CIDR (host bits zero) from /16 to /24 (AWS' limits for a VPC, and room for one subnet per rack)."
  }
}

variable "racks" {
  description = <<-EOT
    The racks of this datacenter, one per availability zone; every rack holds a full copy of the data.
    availability_zone: the zone (e.g. us-east-1a).
    name: the rack name in the ring (default: the zone name, which is also the EC2 seed provider's default).
    subnet_id: an existing subnet in that zone; required with vpc_id, not allowed without.
    subnet_cidr: the subnet to create in the module's VPC (default: cidrsubnet(vpc_cidr, 4, index)).
  EOT
  type = list(object({
    availability_zone = string
    name              = optional(string)
    subnet_id         = optional(string)
    subnet_cidr       = optional(string)
  }))

  validation {
    condition     = length(var.racks) >= 1 && length(var.racks) <= 16
    error_message = "racks must hold 1 to 16 racks."
  }

  validation {
    condition     = alltrue([for r in var.racks : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$", r.availability_zone))])
    error_message = "Every rack's availability_zone must be a zone name such as us-east-1a."
  }

  validation {
    condition     = length(distinct([for r in var.racks : r.availability_zone])) == length(var.racks)
    error_message = "Each rack needs its own availability zone (one rack per zone)."
  }

  validation {
    condition     = alltrue([for r in var.racks : r.name == null || can(regex("^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$", r.name))])
    error_message = "A rack name must be 2 to 24 characters: lower-case letters, digits and '-'."
  }

  validation {
    condition     = length(distinct([for r in var.racks : coalesce(r.name, r.availability_zone)])) == length(var.racks)
    error_message = "Rack names must be distinct."
  }

  validation {
    condition     = alltrue([for r in var.racks : r.subnet_id == null || can(regex("^subnet-[0-9a-f]{8,17}$", r.subnet_id))])
    error_message = "subnet_id must look like subnet-0123456789abcdef0."
  }

  validation {
    condition     = alltrue([for r in var.racks : r.subnet_cidr == null || can(cidrnetmask(r.subnet_cidr))])
    error_message = "subnet_cidr must be an IPv4 CIDR."
  }
}

variable "assign_public_ip" {
  description = "Give the nodes public IPv4 addresses (they need a route to the image registry and the EC2 API). Null: true when the module creates the VPC (public subnets), false with an existing VPC (bring a NAT gateway or VPC endpoints)."
  type        = bool
  default     = null
}

variable "client_cidrs" {
  description = "IPv4 CIDRs allowed to the client port."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.client_cidrs : can(cidrnetmask(c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "client_cidrs must hold IPv4 CIDRs with the host bits zero, e.g. 10.0.0.0/8."
  }
}

variable "client_security_group_ids" {
  description = "Security groups (in this VPC) whose members are allowed to the client port."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for g in var.client_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", g))])
    error_message = "client_security_group_ids must hold ids such as sg-0123456789abcdef0."
  }
}

variable "peer_cidrs" {
  description = "IPv4 CIDRs of the cluster's other datacenters (their VPCs), allowed to the peer port and, with gossip, the gossip port. Peers in this region are allowed through the nodes' own security group. Leave empty when the dynomite-peering module adds these rules."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.peer_cidrs : can(cidrnetmask(c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "peer_cidrs must hold IPv4 CIDRs with the host bits zero, e.g. 10.20.0.0/16."
  }
}

variable "monitoring_cidrs" {
  description = "IPv4 CIDRs allowed to the stats port (/metrics, /info, admin endpoints): the Prometheus servers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.monitoring_cidrs : can(cidrnetmask(c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "monitoring_cidrs must hold IPv4 CIDRs with the host bits zero."
  }
}

variable "monitoring_security_group_ids" {
  description = "Security groups (in this VPC) whose members are allowed to the stats port."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for g in var.monitoring_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", g))])
    error_message = "monitoring_security_group_ids must hold ids such as sg-0123456789abcdef0."
  }
}

# --- Ports -----------------------------------------------------------------

variable "client_port" {
  description = "Client port (config listen)."
  type        = number
  default     = 8102

  validation {
    condition     = var.client_port >= 1024 && var.client_port <= 65535 && floor(var.client_port) == var.client_port
    error_message = "client_port must be a whole number from 1024 to 65535 (the image runs as an unprivileged user)."
  }
}

variable "peer_port" {
  description = "Peer port (config dyn_listen), also written to the peer-port tag."
  type        = number
  default     = 8101

  validation {
    condition     = var.peer_port >= 1024 && var.peer_port <= 65535 && floor(var.peer_port) == var.peer_port
    error_message = "peer_port must be a whole number from 1024 to 65535."
  }
}

variable "stats_port" {
  description = "Stats port (config stats_listen): /metrics, /info, /health and the admin endpoints."
  type        = number
  default     = 22222

  validation {
    condition     = var.stats_port >= 1024 && var.stats_port <= 65535 && floor(var.stats_port) == var.stats_port
    error_message = "stats_port must be a whole number from 1024 to 65535."
  }
}

variable "datastore_port" {
  description = "Port of the local Redis or Memcached on 127.0.0.1 (config servers). Never opened in the security group."
  type        = number
  default     = 22122

  validation {
    condition     = var.datastore_port >= 1024 && var.datastore_port <= 65535 && floor(var.datastore_port) == var.datastore_port
    error_message = "datastore_port must be a whole number from 1024 to 65535."
  }
}

variable "enable_gossip" {
  description = "Turn on gossip (config enable_gossip) and open gossip_port (TCP and UDP) between peers."
  type        = bool
  default     = false
}

variable "gossip_port" {
  description = "Gossip port (config gossip_listen, TCP and UDP), opened between peers when enable_gossip is true. The default is the node's own default, the peer port + 2."
  type        = number
  default     = 8103

  validation {
    condition     = var.gossip_port >= 1024 && var.gossip_port <= 65535 && floor(var.gossip_port) == var.gossip_port
    error_message = "gossip_port must be a whole number from 1024 to 65535."
  }
}

# --- Nodes -----------------------------------------------------------------

variable "nodes_per_rack" {
  description = "Nodes in every rack. Each node is an auto scaling group of size one, so a replaced instance keeps the node's token."
  type        = number
  default     = 1

  validation {
    condition     = var.nodes_per_rack >= 1 && var.nodes_per_rack <= 64 && floor(var.nodes_per_rack) == var.nodes_per_rack
    error_message = "nodes_per_rack must be a whole number from 1 to 64."
  }
}

variable "tokens" {
  description = "Token plan: entry i is the token(s) of node i of every rack (one uint32, or several comma-separated), so every rack holds a full copy. Empty: node i of n gets floor(i * 2^32 / n). Give exactly nodes_per_rack entries otherwise."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([for t in var.tokens : can(regex("^[0-9]{1,10}(,[0-9]{1,10})*$", t)) && alltrue([
      for x in split(",", t) : try(tonumber(x) <= 4294967295, false)
    ])])
    error_message = "Every token plan entry must be one or more comma-separated whole numbers from 0 to 4294967295."
  }

  validation {
    condition     = length(distinct(var.tokens)) == length(var.tokens)
    error_message = "Token plan entries must be distinct: two nodes of a rack cannot own the same token."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the nodes."
  type        = string
  default     = "m6i.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type such as m6i.large."
  }
}

variable "architecture" {
  description = "CPU architecture of instance_type and of the images: x86_64 or arm64. Chooses the default AMI."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "ami_id" {
  description = "AMI of the nodes. Null: the latest Amazon Linux 2023 for architecture (public SSM parameter). The user data installs Docker with dnf; another AMI needs dnf and the docker package, or Docker preinstalled."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "root_volume_size" {
  description = "Size of each node's root volume (gp3, encrypted) in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 16384 && floor(var.root_volume_size) == var.root_volume_size
    error_message = "root_volume_size must be a whole number of GiB from 8 to 16384."
  }
}

# --- Containers ------------------------------------------------------------

variable "dynomite_image" {
  description = "Image reference of the dynomite image (the repository's Dockerfile, pushed to a registry the nodes can pull from, e.g. ECR)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", var.dynomite_image)) && !strcontains(var.dynomite_image, "://")
    error_message = "dynomite_image must be an image reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/dynomite:v1 (no scheme, no spaces)."
  }
}

variable "data_store" {
  description = "The datastore behind every node: redis or memcached (config data_store 0 or 1)."
  type        = string
  default     = "redis"

  validation {
    condition     = contains(["redis", "memcached"], var.data_store)
    error_message = "data_store must be redis or memcached."
  }
}

variable "datastore_image" {
  description = "Image reference of the datastore: a Redis image for data_store = redis, a Memcached one for memcached. It is started with an explicit command (redis-server ... or memcached ...), so the upstream images (redis:7.2, memcached:1.6) and this repository's scripts/images.sh images both work."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", var.datastore_image)) && !strcontains(var.datastore_image, "://")
    error_message = "datastore_image must be an image reference such as redis:7.2 (no scheme, no spaces)."
  }
}

variable "datastore_memory_mb" {
  description = "Memory limit of the datastore in MiB: Redis --maxmemory, Memcached -m."
  type        = number
  default     = 1024

  validation {
    condition     = var.datastore_memory_mb >= 64 && floor(var.datastore_memory_mb) == var.datastore_memory_mb
    error_message = "datastore_memory_mb must be a whole number of at least 64."
  }
}

# --- Behaviour -------------------------------------------------------------

variable "read_consistency" {
  description = "Default read consistency (config read_consistency): DC_ONE, DC_QUORUM, DC_SAFE_QUORUM or DC_EACH_SAFE_QUORUM."
  type        = string
  default     = "DC_ONE"

  validation {
    condition     = contains(["DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM", "DC_EACH_SAFE_QUORUM"], var.read_consistency)
    error_message = "read_consistency must be DC_ONE, DC_QUORUM, DC_SAFE_QUORUM or DC_EACH_SAFE_QUORUM."
  }
}

variable "write_consistency" {
  description = "Default write consistency (config write_consistency): DC_ONE, DC_QUORUM, DC_SAFE_QUORUM or DC_EACH_SAFE_QUORUM."
  type        = string
  default     = "DC_ONE"

  validation {
    condition     = contains(["DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM", "DC_EACH_SAFE_QUORUM"], var.write_consistency)
    error_message = "write_consistency must be DC_ONE, DC_QUORUM, DC_SAFE_QUORUM or DC_EACH_SAFE_QUORUM."
  }
}

variable "tags" {
  description = "Tags added to every resource. The discovery tags (tag_keys output) and Name are set by the module and win over these."
  type        = map(string)
  default     = {}
}
