output "datacenters" {
  description = "Each datacenter's region, VPC, security group and node auto scaling groups."
  value = {
    for m in [module.primary, module.secondary] : m.datacenter => {
      region            = m.region
      vpc_id            = m.vpc_id
      security_group_id = m.security_group_id
      asg_names         = m.asg_names
      node_private_ips  = m.node_private_ips
    }
  }
}

output "nodes" {
  description = "Every node of both datacenters (auto scaling group, rack, tokens, tags), by datacenter and node key."
  value = {
    (module.primary.datacenter)   = module.primary.nodes
    (module.secondary.datacenter) = module.secondary.nodes
  }
}

output "peering_connection_id" {
  description = "The VPC peering connection between the two regions."
  value       = module.peering.peering_connection_id
}

output "prometheus_config" {
  description = "prometheus.yml: EC2 service discovery of every node in both regions on the cluster tag (the series carry their own datacenter and rack labels), with the alert rules of grafana/alerts."
  value       = local.prometheus_config
}

output "prometheus_policy_arn" {
  description = "IAM policy for the Prometheus server's role (ec2_sd_configs)."
  value       = aws_iam_policy.prometheus_ec2_sd.arn
}

output "grafana_dashboards" {
  description = "The dashboards to load into Grafana: the JSON files of the repository's grafana/dashboards folder (referenced, not copied)."
  value       = sort([for f in fileset(local.grafana_dir, "dashboards/*.json") : "${local.grafana_dir}/${f}"])
}
