# tflint for terraform/ (make tf-check runs `tflint --recursive` here with this
# file). Only the bundled terraform ruleset: the AWS ruleset is a plugin from
# GitHub releases, which this project's machines cannot reach.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
