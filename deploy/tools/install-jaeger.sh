#!/usr/bin/env bash
# Installs Jaeger v2, the all-in-one `jaeger` binary the local stack runs (ops/devstack/jaeger.py),
# into <repo>/.tools/bin/jaeger, built from its Go module through the Go module proxy:
#
#   module github.com/jaegertracing/jaeger, program cmd/jaeger, at JAEGER_VERSION below
#   (the Go module's v1.x version of the Jaeger v2 release: v1.76.0 is Jaeger v2.13.0)
#
# The version is stamped into the binary (`jaeger version` prints it), so a warm run builds
# nothing. The first build takes minutes (about 7 on two cores with cold Go caches; 120 MB).
#
# Why not `go install github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0`: the module's go.mod
# has a replace directive, which `go install <pkg>@<version>` refuses. So the module is
# downloaded (`go mod download`), copied into a temporary folder and installed from there as the
# main module, with its own go.mod, go.sum and replace directive: the build Jaeger releases.
#
# The Jaeger UI is NOT built in: its assets come from the jaeger-ui npm build, which this
# machine cannot get (npm has no jaeger-ui package versions here), and the Go module carries only
# a placeholder page. So the UI address serves that placeholder; the HTTP query API the tests use
# (/api/services, /api/traces?service=..., /api/traces/<trace id>) works without the UI.
#
# Idempotent: skipped when .tools/bin/jaeger already reports JAEGER_VERSION.
# Needs (only to build): Go >= 1.21 (a newer toolchain the module asks for is fetched through the
# Go module proxy, GOTOOLCHAIN=auto).
set -euo pipefail

JAEGER_MODULE=github.com/jaegertracing/jaeger
# ops/devstack/jaeger.py reads this line.
JAEGER_VERSION=v1.76.0

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$REPO/.tools"
BIN="$TOOLS/bin"
mkdir -p "$BIN"

TEMP=""
cleanup() { if [[ -n "$TEMP" ]]; then chmod -R u+w "$TEMP" 2>/dev/null || true; rm -rf "$TEMP"; fi; }
trap cleanup EXIT

say() { printf 'install-jaeger: %s\n' "$*"; }
die() { printf 'install-jaeger: error: %s\n' "$*" >&2; exit 1; }

# The version the installed binary reports ("" when missing or unstamped). `jaeger version`
# prints {"gitCommit":"...","gitVersion":"v1.76.0","buildDate":"..."} on stdout.
installed_version() {
  [[ -x "$BIN/jaeger" ]] || return 0
  "$BIN/jaeger" version 2>/dev/null | sed -n 's/.*"gitVersion":"\([^"]*\)".*/\1/p' || true
}

if [[ "$(installed_version)" == "$JAEGER_VERSION" ]]; then
  say "jaeger $JAEGER_VERSION already installed"
  exit 0
fi

command -v go >/dev/null || die "go not found: install Go >= 1.21 (https://go.dev/dl/); it builds jaeger"
export GOTOOLCHAIN=auto GOWORK=off CGO_ENABLED=0
# -mod=mod: the copy is the main module; let go complete go.sum itself if it must, never fail.
GOFLAGS="$(go env GOFLAGS) -mod=mod -trimpath"
export GOFLAGS

start=$SECONDS
# Under .tools (same filesystem as .tools/bin: the final mv is atomic).
TEMP="$(mktemp -d "$TOOLS/.jaeger-build.XXXXXX")"
say "building jaeger $JAEGER_VERSION with $(go version | awk '{print $3}') (minutes when the Go caches are cold)"
source_dir="$(go mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" | awk -F'"' '$2 == "Dir" { print $4 }')"
[[ -f "$source_dir/go.mod" ]] || die "could not download $JAEGER_MODULE@$JAEGER_VERSION through the Go module proxy"
cp -R "$source_dir" "$TEMP/src"
chmod -R u+w "$TEMP/src" # the module cache is read-only
mkdir "$TEMP/bin"
# Static binary (no C toolchain needed), stripped, stamped like Jaeger's release build stamps it.
(cd "$TEMP/src" && GOBIN="$TEMP/bin" go install \
  -ldflags "-s -w -X $JAEGER_MODULE/internal/version.latestVersion=$JAEGER_VERSION" ./cmd/jaeger) \
  || die "go install $JAEGER_MODULE/cmd/jaeger ($JAEGER_VERSION) failed"
mv -f "$TEMP/bin/jaeger" "$BIN/jaeger"
[[ "$(installed_version)" == "$JAEGER_VERSION" ]] || die "$BIN/jaeger does not report version $JAEGER_VERSION"
say "jaeger $JAEGER_VERSION installed in $((SECONDS - start))s"
