variable "cluster_name" {
  description = "Name of the cluster, the same in both regions (the cluster tag)."
  type        = string
  default     = "dynomite-demo"
}

variable "primary_region" {
  description = "Region of the first datacenter (it requests the VPC peering)."
  type        = string
  default     = "us-east-1"
}

variable "secondary_region" {
  description = "Region of the second datacenter."
  type        = string
  default     = "eu-west-1"
}

variable "primary_zones" {
  description = "The primary region's availability zones, one rack each."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "secondary_zones" {
  description = "The secondary region's availability zones, one rack each."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "primary_vpc_cidr" {
  description = "CIDR of the primary region's VPC (must not overlap the secondary's)."
  type        = string
  default     = "10.10.0.0/16"
}

variable "secondary_vpc_cidr" {
  description = "CIDR of the secondary region's VPC."
  type        = string
  default     = "10.20.0.0/16"
}

variable "nodes_per_rack" {
  description = "Nodes in every rack of both datacenters."
  type        = number
  default     = 1
}

variable "instance_type" {
  description = "EC2 instance type of the nodes."
  type        = string
  default     = "m6i.large"
}

variable "dynomite_image" {
  description = "The dynomite image in a registry both regions can pull from (e.g. ECR with replication). Build it with `make image`."
  type        = string
}

variable "data_store" {
  description = "redis or memcached."
  type        = string
  default     = "redis"
}

variable "datastore_image" {
  description = "The datastore image matching data_store."
  type        = string
  default     = "redis:7.2"
}

variable "client_cidrs" {
  description = "CIDRs of the applications allowed to the client port in both regions."
  type        = list(string)
  default     = []
}

variable "monitoring_cidrs" {
  description = "CIDRs of the Prometheus servers allowed to the stats port in both regions (a Prometheus in one VPC reaches the other through the peering)."
  type        = list(string)
  default     = []
}

variable "read_consistency" {
  description = "Default read consistency of every node."
  type        = string
  default     = "DC_QUORUM"
}

variable "write_consistency" {
  description = "Default write consistency of every node."
  type        = string
  default     = "DC_QUORUM"
}

variable "prometheus_scrape_interval" {
  description = "scrape_interval of the generated Prometheus configuration."
  type        = string
  default     = "15s"
}
