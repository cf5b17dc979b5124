output "peering_connection_id" {
  description = "The VPC peering connection."
  value       = aws_vpc_peering_connection.this.id
}

output "accept_status" {
  description = "The peering connection's status as the accepter saw it (active once routes can use it)."
  value       = aws_vpc_peering_connection_accepter.this.accept_status
}

output "requester_route_ids" {
  description = "Routes added to the requester's route tables."
  value       = aws_route.requester[*].id
}

output "accepter_route_ids" {
  description = "Routes added to the accepter's route tables."
  value       = aws_route.accepter[*].id
}

output "security_group_rule_ids" {
  description = "Ingress rules added on each side, by side and protocol-port."
  value = {
    requester = { for k, r in aws_vpc_security_group_ingress_rule.requester : k => r.id }
    accepter  = { for k, r in aws_vpc_security_group_ingress_rule.accepter : k => r.id }
  }
}
