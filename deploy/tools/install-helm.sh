#!/usr/bin/env bash
# Installs the tools the Helm chart's checks use (tests/deploy) into <repo>/.tools:
#
#   .tools/bin/helm                      helm.sh/helm/v3, built with `go install`
#   .tools/bin/kubeconform               github.com/yannh/kubeconform, built with `go install`
#   .tools/kubernetes-json-schema/       the Kubernetes JSON schemas kubeconform validates against
#
# kubeconform downloads its schemas from raw.githubusercontent.com by default, which CI cannot
# count on reaching; the same schemas (generated from the Kubernetes OpenAPI documents) ship in
# the `kubernetes-validate` wheel on PyPI. This script takes them from that wheel (pinned by
# hash, fetched with pip) and rewrites their cross-file references so kubeconform resolves them
# from disk, not from https://kubernetes.io/api/.
#
# Idempotent: each tool is skipped when it is already there at the pinned version.
# Needs: Go >= 1.21 (an older toolchain than a module asks for is replaced automatically through
# the Go module proxy, GOTOOLCHAIN=auto), and Python 3 with pip (the project's .venv if present).
set -euo pipefail

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
SCHEMAS_PACKAGE=kubernetes-validate
SCHEMAS_PACKAGE_VERSION=1.37.0
SCHEMAS_PACKAGE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# Kubernetes versions the chart is validated against: its oldest supported and the newest.
# tests/deploy/test_helm_chart.py reads this line.
KUBERNETES_VERSIONS="1.25.0 1.37.0"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$REPO/.tools"
BIN="$TOOLS/bin"
SCHEMAS="$TOOLS/kubernetes-json-schema"
mkdir -p "$BIN"

TEMP_DIRS=()
cleanup() { if ((${#TEMP_DIRS[@]})); then rm -rf "${TEMP_DIRS[@]}"; fi; }
trap cleanup EXIT
new_temp_dir() { # <prefix>: sets TEMP to a fresh folder under .tools (same filesystem: mv is atomic)
  TEMP="$(mktemp -d "$TOOLS/.$1.XXXXXX")"
  TEMP_DIRS+=("$TEMP")
}

say() { printf 'install-helm: %s\n' "$*"; }
die() { printf 'install-helm: error: %s\n' "$*" >&2; exit 1; }

# The version a tool reports ("" when missing). Both are stamped at build time (see below).
tool_version() { # <name>
  case $1 in
    helm) [[ -x "$BIN/helm" ]] && "$BIN/helm" version --template '{{ .Version }}' 2>/dev/null || true ;;
    kubeconform) [[ -x "$BIN/kubeconform" ]] && "$BIN/kubeconform" -v 2>/dev/null || true ;;
  esac
}

go_install() { # <name> <package> <version> [ldflags]
  local name=$1 package=$2 version=$3 ldflags=${4:-}
  if [[ "$(tool_version "$name")" == "$version" ]]; then
    say "$name $version already installed"
    return
  fi
  local tmp start=$SECONDS
  new_temp_dir go-install
  tmp=$TEMP
  say "building $name $version with $(go version | awk '{print $3}') (minutes when the Go caches are cold)"
  # Static binary (no C toolchain needed); -trimpath keeps build paths out of it.
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -trimpath" \
    go install -ldflags "-s -w $ldflags" "$package@$version" \
    || die "go install $package@$version failed"
  mv -f "$tmp/$name" "$BIN/$name"
  [[ "$(tool_version "$name")" == "$version" ]] || die "$BIN/$name does not report version $version"
  say "$name $version installed in $((SECONDS - start))s"
}

# The flags helm's own release build (its Makefile) sets. Without them a `go install`ed helm
# calls itself "v3.22" and, worse, assumes Kubernetes 1.20 for `helm template` and for lint's
# deprecation checks; with them it assumes the Kubernetes release its client-go matches.
helm_ldflags() {
  local gomod client_go major minor
  gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | awk -F'"' '$2 == "GoMod" { print $4 }')"
  [[ -f "$gomod" ]] || die "could not download helm.sh/helm/v3@$HELM_VERSION through the Go module proxy"
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$gomod")" # e.g. v0.37.0
  [[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || die "unexpected k8s.io/client-go version '$client_go' in $gomod"
  major=1 minor=${BASH_REMATCH[1]}
  local flags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major"
  flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major"
  flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  echo "$flags"
}

require_go() {
  command -v go >/dev/null || die "go not found: install Go >= 1.21 (https://go.dev/dl/); it builds helm and kubeconform"
}

python_with_pip() {
  local candidate
  for candidate in "$REPO/.venv/bin/python" python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -m pip --version >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
  die "no Python with pip found (run 'make setup' to create .venv, or install python3-pip)"
}

install_schemas() {
  local stamp="$SCHEMAS_PACKAGE==$SCHEMAS_PACKAGE_VERSION sha256:$SCHEMAS_PACKAGE_SHA256 kubernetes $KUBERNETES_VERSIONS"
  if [[ -f "$SCHEMAS/SOURCE" && "$(cat "$SCHEMAS/SOURCE")" == "$stamp" ]]; then
    say "Kubernetes JSON schemas ($KUBERNETES_VERSIONS) already installed"
    return
  fi
  local python tmp
  python="$(python_with_pip)"
  new_temp_dir schemas
  tmp=$TEMP
  say "fetching $SCHEMAS_PACKAGE $SCHEMAS_PACKAGE_VERSION from PyPI for its Kubernetes JSON schemas"
  printf '%s==%s --hash=sha256:%s\n' "$SCHEMAS_PACKAGE" "$SCHEMAS_PACKAGE_VERSION" \
    "$SCHEMAS_PACKAGE_SHA256" >"$tmp/requirements.txt"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    --dest "$tmp/wheel" -r "$tmp/requirements.txt" \
    || die "pip could not download $SCHEMAS_PACKAGE==$SCHEMAS_PACKAGE_VERSION"
  "$python" - "$tmp/wheel" "$tmp/out" $KUBERNETES_VERSIONS <<'PY'
"""Extract v<version>-local-strict schema folders from the wheel, made resolvable from disk."""
import json
import pathlib
import sys
import zipfile

wheel_dir, out, versions = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
(wheel,) = wheel_dir.glob("*.whl")
root = "kubernetes_validate/kubernetes-json-schema/"
with zipfile.ZipFile(wheel) as archive:
    for version in versions:
        # Strict flavour only (no properties beyond the API's): what `kubeconform -strict` reads.
        folder = f"v{version}-local-strict"
        names = [n for n in archive.namelist() if n.startswith(f"{root}{folder}/")]
        if not names:
            sys.exit(f"{wheel.name} has no schemas for Kubernetes {version}")
        target = out / folder
        target.mkdir(parents=True)
        for name in names:
            if not name.endswith(".json"):
                continue
            # Kind schemas point at "/api/_definitions.json#..." under their $id
            # https://kubernetes.io/api/<kind>; drop the $id and make the reference relative so
            # it resolves to the _definitions.json next to them.
            text = archive.read(name).decode()
            text = text.replace('"/api/_definitions.json#', '"_definitions.json#')
            schema = json.loads(text)
            if not name.endswith("/_definitions.json"):
                schema.pop("$id", None)
            (target / name.rsplit("/", 1)[1]).write_text(json.dumps(schema))
PY
  printf '%s\n' "$stamp" >"$tmp/out/SOURCE"
  rm -rf "$SCHEMAS"
  mv "$tmp/out" "$SCHEMAS"
  say "Kubernetes JSON schemas ($KUBERNETES_VERSIONS) installed in $SCHEMAS"
}

if [[ "$(tool_version helm)" != "$HELM_VERSION" || "$(tool_version kubeconform)" != "$KUBECONFORM_VERSION" ]]; then
  require_go
fi
if [[ "$(tool_version helm)" == "$HELM_VERSION" ]]; then
  say "helm $HELM_VERSION already installed"
else
  flags="$(helm_ldflags)" # an assignment, so that a failure stops the script (set -e)
  go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$flags"
fi
go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" \
  "-X main.version=$KUBECONFORM_VERSION"
install_schemas
