# Two datacenters in two regions, three racks (availability zones) each,
# joined by VPC peering; plus what Prometheus needs to find and scrape every
# node through the same EC2 tags the seed provider reads.

provider "aws" {
  alias  = "primary"
  region = var.primary_region
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
}

locals {
  tags = { Project = "dynomite", Cluster = var.cluster_name }
}

module "primary" {
  source    = "../../modules/dynomite-region"
  providers = { aws = aws.primary }

  cluster_name      = var.cluster_name
  remote_regions    = [var.secondary_region]
  vpc_cidr          = var.primary_vpc_cidr
  racks             = [for z in var.primary_zones : { availability_zone = z }]
  nodes_per_rack    = var.nodes_per_rack
  instance_type     = var.instance_type
  dynomite_image    = var.dynomite_image
  data_store        = var.data_store
  datastore_image   = var.datastore_image
  read_consistency  = var.read_consistency
  write_consistency = var.write_consistency
  client_cidrs      = var.client_cidrs
  monitoring_cidrs  = var.monitoring_cidrs
  tags              = local.tags
}

module "secondary" {
  source    = "../../modules/dynomite-region"
  providers = { aws = aws.secondary }

  cluster_name      = var.cluster_name
  remote_regions    = [var.primary_region]
  vpc_cidr          = var.secondary_vpc_cidr
  racks             = [for z in var.secondary_zones : { availability_zone = z }]
  nodes_per_rack    = var.nodes_per_rack
  instance_type     = var.instance_type
  dynomite_image    = var.dynomite_image
  data_store        = var.data_store
  datastore_image   = var.datastore_image
  read_consistency  = var.read_consistency
  write_consistency = var.write_consistency
  client_cidrs      = var.client_cidrs
  monitoring_cidrs  = var.monitoring_cidrs
  tags              = local.tags
}

module "peering" {
  source = "../../modules/dynomite-peering"
  providers = {
    aws.requester = aws.primary
    aws.accepter  = aws.secondary
  }

  name = var.cluster_name
  requester = {
    vpc_id            = module.primary.vpc_id
    cidr_block        = module.primary.vpc_cidr
    route_table_ids   = module.primary.route_table_ids
    security_group_id = module.primary.security_group_id
  }
  accepter = {
    vpc_id            = module.secondary.vpc_id
    cidr_block        = module.secondary.vpc_cidr
    route_table_ids   = module.secondary.route_table_ids
    security_group_id = module.secondary.security_group_id
  }
  peer_port = module.primary.ports.peer
  tags      = local.tags
}

# --- Monitoring --------------------------------------------------------------
# Prometheus discovers the nodes with ec2_sd_configs filtered on the cluster
# tag, in both regions, and scrapes /metrics on the stats port. Every series a
# node exports already carries its datacenter and rack labels (see
# grafana/prometheus.yml), so the targets get no labels of those names, only
# the cluster, the node's name and its instance id from the same tags.
# Write the configuration with
#   terraform output -raw prometheus_config > prometheus.yml
# and load the dashboards and alert rules from the repository's grafana/
# folder (see README).

locals {
  # Prometheus turns a tag key into a label name by replacing every character
  # that is not a letter, a digit or '_' with '_'.
  tag_label = { for role, key in module.primary.tag_keys : role => "__meta_ec2_tag_${replace(key, "/[^a-zA-Z0-9_]/", "_")}" }

  prometheus_config = yamlencode({
    global = {
      scrape_interval     = var.prometheus_scrape_interval
      evaluation_interval = var.prometheus_scrape_interval
    }
    # grafana/alerts/dynomite.rules.yml, mounted next to prometheus.yml.
    rule_files = ["dynomite.rules.yml"]
    scrape_configs = [{
      job_name     = "dynomite"
      metrics_path = "/metrics"
      ec2_sd_configs = [for region in [module.primary.region, module.secondary.region] : {
        region = region
        port   = module.primary.ports.stats
        filters = [
          { name = "tag:${module.primary.cluster_tag.key}", values = [module.primary.cluster_tag.value] },
          { name = "instance-state-name", values = ["running"] },
        ]
      }]
      relabel_configs = [
        { source_labels = [local.tag_label.cluster], target_label = "cluster" },
        { source_labels = ["__meta_ec2_tag_Name"], target_label = "node" },
        { source_labels = ["__meta_ec2_instance_id"], target_label = "instance_id" },
      ]
    }]
  })

  # The dashboards stay in grafana/dashboards (listed, not copied).
  grafana_dir = "${path.module}/../../../grafana"
}

# What Prometheus' ec2_sd_configs calls: DescribeInstances, and
# DescribeAvailabilityZones for the zone-id label. Attach it to the role of
# the Prometheus server.
data "aws_iam_policy_document" "prometheus_ec2_sd" {
  statement {
    sid       = "PrometheusEC2ServiceDiscovery"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [module.primary.region, module.secondary.region]
    }
  }
}

resource "aws_iam_policy" "prometheus_ec2_sd" {
  provider    = aws.primary
  name        = "${var.cluster_name}-prometheus-ec2-sd"
  description = "Prometheus ec2_sd_configs for the Dynomite cluster ${var.cluster_name}"
  policy      = data.aws_iam_policy_document.prometheus_ec2_sd.json
  tags        = local.tags
}
