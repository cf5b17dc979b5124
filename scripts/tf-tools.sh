#!/usr/bin/env bash
# Terraform tooling without the Terraform registry (for machines that reach
# only the Go module proxy):
# terraform and tflint are built from the Go module proxy with `go install`,
# and so is the AWS provider, into a local filesystem mirror. Everything lands
# in $TF_TOOLS_DIR and is reused while the versions below stay the same.
#
#   scripts/tf-tools.sh install    terraform and tflint into $TF_TOOLS_DIR/bin
#   scripts/tf-tools.sh check      install, terraform fmt -check, tflint, the Go test of terraform/
#                                  (tests/terraform, in the tests/ module)   (make tf-check)
#   scripts/tf-tools.sh provider   the AWS provider into $TF_TOOLS_DIR/mirror (20-30 min on 2 cores, once)
#   scripts/tf-tools.sh validate   provider, then terraform init + validate of every module and example
#                                  in a scratch copy of terraform/ (make tf-validate)
#   scripts/tf-tools.sh bin        print the bin directory: PATH="$(scripts/tf-tools.sh bin):$PATH"
#
# Environment: TF_TOOLS_DIR ($HOME/.cache/dynomite-tf), GO (go).
# Nothing here talks to HashiCorp: CHECKPOINT_DISABLE=1 turns off terraform's
# version check, and init only installs from the mirror.
set -euo pipefail
cd "$(dirname "$0")/.."

TERRAFORM_VERSION=v1.5.7
TFLINT_VERSION=v0.64.0
# The AWS provider's go.mod has no /v6 suffix, so the module proxy serves its
# release tags only as pseudo-versions of commits. This one is the main branch
# at 5f2286d6d836 (2026-06-02), whose version/VERSION says 6.47.1; the mirror
# offers it as that version, which the modules' "~> 6.0" and the example's
# "~> 6.47" accept.
AWS_PROVIDER_MODULE=github.com/hashicorp/terraform-provider-aws
AWS_PROVIDER_REV=v1.60.1-0.20260602190131-5f2286d6d836
AWS_PROVIDER_VERSION=6.47.1

GO=${GO:-go}
TF_TOOLS_DIR=${TF_TOOLS_DIR:-$HOME/.cache/dynomite-tf}
BIN=$TF_TOOLS_DIR/bin
BUILD=$TF_TOOLS_DIR/build
MIRROR=$TF_TOOLS_DIR/mirror
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 CGO_ENABLED=0

log() { printf 'tf-tools: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# built_version BINARY MODULE prints the version of MODULE that BINARY was
# built from (empty when the file is missing or was built from something else).
built_version() {
  [ -x "$1" ] || return 0
  "$GO" version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m { print $3 }'
}

# go_install DIR MODULE VERSION: builds MODULE@VERSION into DIR unless DIR
# already holds that build.
go_install() {
  local dir=$1 module=$2 version=$3 name
  name=$(basename "$module")
  if [ "$(built_version "$dir/$name" "$module")" = "$version" ]; then
    return
  fi
  log "go install $module@$version (once; reused from $dir afterwards)"
  local t0=$SECONDS
  mkdir -p "$dir"
  GOBIN=$dir "$GO" install -trimpath -ldflags='-s -w' "$module@$version"
  log "built $name in $((SECONDS - t0))s"
}

# install_tools builds terraform and tflint unless present. A lock on the
# tools folder lets .ci/run start this in the background while the tests run:
# a later `check` waits for that build instead of starting a second one.
install_tools() {
  mkdir -p "$TF_TOOLS_DIR"
  exec 9>"$TF_TOOLS_DIR/.install.lock"
  if ! flock -n 9; then
    log "waiting for another tf-tools install to finish (lock $TF_TOOLS_DIR/.install.lock)"
    flock 9
  fi
  go_install "$BIN" github.com/hashicorp/terraform "$TERRAFORM_VERSION"
  go_install "$BIN" github.com/terraform-linters/tflint "$TFLINT_VERSION"
  flock -u 9
  exec 9>&-
}

check() {
  install_tools
  local t0=$SECONDS
  # fmt needs no CLI configuration; an empty one keeps terraform from
  # warning that ~/.terraformrc is missing.
  mkdir -p "$TF_TOOLS_DIR" && : >"$TF_TOOLS_DIR/empty.terraformrc"
  export TF_CLI_CONFIG_FILE=$TF_TOOLS_DIR/empty.terraformrc
  log "terraform fmt -check -recursive terraform/"
  "$BIN/terraform" fmt -check -recursive -diff terraform/
  log "tflint --recursive (bundled terraform rules, terraform/.tflint.hcl)"
  (cd terraform && "$BIN/tflint" --recursive --config "$PWD/.tflint.hcl" --format compact)
  log "go test ./terraform/ (in tests/)"
  (cd tests && "$GO" test -count=1 ./terraform/)
  log "tf-check passed in $((SECONDS - t0))s (after the tools)"
}

provider_path() {
  echo "$MIRROR/registry.terraform.io/hashicorp/aws/$AWS_PROVIDER_VERSION/$("$GO" env GOOS)_$("$GO" env GOARCH)/terraform-provider-aws_v${AWS_PROVIDER_VERSION}_x5"
}

provider() {
  local dest
  dest=$(provider_path)
  if [ "$(built_version "$dest" "$AWS_PROVIDER_MODULE")" = "$AWS_PROVIDER_REV" ]; then
    return
  fi
  go_install "$BUILD" "$AWS_PROVIDER_MODULE" "$AWS_PROVIDER_REV"
  mkdir -p "$(dirname "$dest")"
  cp "$BUILD/terraform-provider-aws" "$dest"
  log "AWS provider $AWS_PROVIDER_VERSION in the mirror: $dest"
}

# alias_shim DIR: terraform validate cannot check a module that declares
# configuration_aliases on its own (hashicorp/terraform#28490: "Provider
# configuration not present"), so the scratch copy gets an empty provider
# block per alias, standing in for what the caller passes.
alias_shim() {
  local a
  for a in $(sed -n 's/.*configuration_aliases *= *\[\(.*\)\].*/\1/p' "$1"/*.tf | tr ',' ' '); do
    printf 'provider "%s" {\n  alias = "%s"\n}\n' "${a%%.*}" "${a#*.}"
  done >"$1/zz_validate_aliases.tf"
}

validate() {
  install_tools
  provider
  local work rc=0 dir
  work=$(mktemp -d /tmp/dynomite-tf-validate.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  cat >"$work/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["*/*/*"]
  }
}
EOF
  export TF_CLI_CONFIG_FILE=$work/terraformrc
  # A scratch copy: init writes .terraform/ and a lock file next to the code,
  # and the example lists the dashboards of grafana/.
  mkdir -p "$work/tree"
  cp -r terraform "$work/tree/"
  [ -d grafana ] && cp -r grafana "$work/tree/"
  for dir in terraform/modules/*/ terraform/examples/*/; do
    dir=${dir%/}
    log "terraform init + validate: $dir"
    alias_shim "$work/tree/$dir"
    if (cd "$work/tree/$dir" &&
      "$BIN/terraform" init -backend=false -input=false -no-color >"$work/init.log" 2>&1 ||
      { cat "$work/init.log" >&2; exit 1; }) &&
      (cd "$work/tree/$dir" && "$BIN/terraform" validate -no-color); then
      printf '%s: valid\n' "$dir"
    else
      printf '%s: INVALID\n' "$dir"
      rc=1
    fi
    # The example calls the module with real providers: no shim there.
    rm -f "$work/tree/$dir/zz_validate_aliases.tf"
  done
  return $rc
}

case ${1:-} in
  install) install_tools ;;
  check) check ;;
  provider) provider ;;
  validate) validate ;;
  bin) echo "$BIN" ;;
  *) die "usage: $0 install|check|provider|validate|bin" ;;
esac
