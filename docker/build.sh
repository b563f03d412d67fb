#!/usr/bin/env bash
# Build the images flexvpp-vtn and flexvpp-ven (docs/deploying.md):
#   docker/build.sh [--base IMAGE | --base debootstrap] [--tag TAG] [--services]
# 1. the base: IMAGE as it is (default python:3.11-slim, pulled by the build), or with
#    `debootstrap` a Debian bookworm made here and imported (`docker import`), for machines that
#    reach Debian's mirror but no image registry (CI). The root file system is cached as a tar
#    under the cache directory, keyed by a hash of its recipe; the image is tagged with that hash.
# 2. the wheels, on this machine (`pip wheel`, with this python3, which must be the base's Python
#    version): the dependencies' wheels cached by a hash of pyproject.toml, the project's wheel
#    every time. They land in docker/wheels/, the build context, so the image build is offline.
# 3. the two images, one after the other (CI runs this beside its tests: one build at a time);
#    with --services also flexvpp-postgres and flexvpp-mosquitto from Debian's packages on the same
#    base, compose.ci.yml's stand-ins for postgres:16 and eclipse-mosquitto:2 (their apt needs
#    Debian's mirror: those two builds use the host's network).
# Prints `BASE=<image>` last, the base the images were built on.
# Environment: FLEXVPP_DOCKER_CACHE (default ~/.cache/flexvpp/docker: outside the clone, so that a
# fresh clone on the same machine, as CI makes, finds the base and the wheels), PYTHON (python3),
# DEBIAN_MIRROR (http://deb.debian.org/debian).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
base=python:3.11-slim
tag=latest
services=0
while (($#)); do
  case $1 in
    --base) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --services) services=1; shift ;;
    *) echo "usage: $0 [--base IMAGE|debootstrap] [--tag TAG] [--services]" >&2; exit 2 ;;
  esac
done
cache=${FLEXVPP_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flexvpp/docker}
python=${PYTHON:-python3}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
say() { printf '[docker/build.sh %ss] %s\n' "$SECONDS" "$*" >&2; }

# The base's recipe. bookworm's python3 is 3.11, the wheels' Python; python3-venv makes the
# images' venv, tzdata serves zoneinfo, glpk-utils is the planner's second solver.
suite=bookworm
packages=python3,python3-venv,ca-certificates,tzdata,netbase,glpk-utils
recipe_version=1  # bump when debootstrap_base changes what it makes

debootstrap_base() {
  local key image tarball root
  key=$(printf '%s\n' "$suite" "$mirror" "$packages" "$recipe_version" | sha256sum | cut -c1-12)
  image=flexvpp-base:$suite-$key
  tarball=$cache/base-$suite-$key.tar
  if docker image inspect "$image" >/dev/null 2>&1; then
    say "base $image: present"
  else
    if [[ ! -s $tarball ]]; then
      say "base $image: debootstrap $suite ($packages)"
      root=$(mktemp -d)
      # The variant without apt's recommends and docs; apt stays usable (its sources are the mirror).
      debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
        { tail -n 30 "$root.log" >&2; rm -rf "$root" "$root.log"; return 1; }
      rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/locale/*
      tar --numeric-owner -C "$root" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
      rm -rf "$root" "$root.log"
      # Older recipes' tars are dead weight.
      find "$cache" -maxdepth 1 -name "base-$suite-*.tar" ! -name "$(basename "$tarball")" -delete
    fi
    say "base $image: docker import $(du -h "$tarball" | cut -f1)"
    docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
  fi
  echo "$image"
}

# The sources the wheels are built from: a copy, because setuptools builds in the tree (build/,
# *.egg-info) and CI runs other builds of this tree at the same time (.ci/run).
source_copy() {
  local src
  src=$(mktemp -d)
  tar -C "$repo" --exclude=./.git --exclude=./.cache --exclude=./docker/wheels --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='.*_cache' --exclude=./.venv -cf - . |
    tar -C "$src" -xf -
  echo "$src"
}

# project_wheel SOURCES DIR: the project's wheel, built fresh into DIR.
project_wheel() {
  (cd "$1" && "$python" -m pip wheel -q --no-deps -w "$2" .) 2>&1 |
    grep -v -E '^WARNING: Location .* is ignored' >&2 || true
  ls "$2"/flexvpp-*.whl
}

# requirements DEPS WHEEL EXTRA: the extra's closure, name==version a line, without the project.
# pip alone, without this machine's pip settings (they may add other wheels' locations).
requirements() {
  local report
  report=$(mktemp)
  PIP_CONFIG_FILE=/dev/null "$python" -m pip --isolated install -q --dry-run --ignore-installed \
    --no-index --find-links "$1" --report "$report" "$2[$3]" >/dev/null
  "$python" - "$report" <<'PY'
import json, sys
for item in json.load(open(sys.argv[1]))["install"]:
    meta = item["metadata"]
    if meta["name"] != "flexvpp":
        print(f"{meta['name']}=={meta['version']}")
PY
  rm -f "$report"
}

# wheels: docker/wheels/{deps/,requirements-server.txt,requirements-ven.txt,flexvpp-*.whl}. The
# dependencies and each image's list of them (the extra's closure: an image's dependency stage
# installs only these, so that stage does not change with the project's code) are cached by a
# hash of pyproject.toml and the Python version.
wheels() {
  local key deps out wheel extra src
  key=$(cat "$repo/pyproject.toml" <("$python" -c 'import sys; print(sys.version_info[:2])') |
    sha256sum | cut -c1-12)
  deps=$cache/wheels-$key
  out=$here/wheels
  rm -rf "$out" && mkdir -p "$out"
  src=$(source_copy)
  say "the project's wheel"
  wheel=$(project_wheel "$src" "$out")
  if [[ ! -d $deps ]]; then
    say "wheels of the dependencies: pip wheel '.[server,ven]'"
    # Older keys' wheels are dead weight (and so is a build that was interrupted).
    find "$cache" -maxdepth 1 -name 'wheels-*' -exec rm -rf {} +
    mkdir -p "$deps.partial"
    (cd "$src" && "$python" -m pip wheel -q -w "$deps.partial/deps" '.[server,ven]') 2>&1 |
      grep -v -E '^WARNING: Location .* is ignored' >&2 || true
    rm -f "$deps.partial"/deps/flexvpp-*.whl
    for extra in server ven; do
      requirements "$deps.partial/deps" "$wheel" "$extra" >"$deps.partial/requirements-$extra.txt"
    done
    mv "$deps.partial" "$deps"
  else
    say "wheels of the dependencies: cached ($deps)"
  fi
  cp -al "$deps/deps" "$out/deps" 2>/dev/null || cp -a "$deps/deps" "$out/deps"
  cp "$deps"/requirements-*.txt "$out/"
  rm -rf "$src"
  say "wheels ready: $(ls "$out/deps" | wc -l) dependencies, $(du -sh "$out" | cut -f1)"
}

if [[ $base == debootstrap ]]; then
  base=$(debootstrap_base)
fi
# build DIR IMAGE [DOCKER BUILD OPTIONS]: flexvpp-IMAGE:TAG from DIR/Dockerfile.IMAGE, context DIR
build() {
  local dir=$1 image=$2
  shift 2
  say "image flexvpp-$image:$tag on $base"
  docker build -q "$@" --build-arg "BASE=$base" -f "$dir/Dockerfile.$image" -t "flexvpp-$image:$tag" "$dir" \
    2> >(grep -v -E 'legacy builder is deprecated|Install the buildx|docs.docker.com/go/buildx|^ *$' >&2) >/dev/null
}
# The wheels are for this python3: it must be the base's Python (a venv of the base's python3
# installs them).
want=$(docker run --rm --network none --entrypoint python3 "$base" -c 'import sys; print(*sys.version_info[:2])')
have=$("$python" -c 'import sys; print(*sys.version_info[:2])')
if [[ $want != "$have" ]]; then
  echo "$base has Python ${want/ /.}, $python is ${have/ /.}: set PYTHON to a python${want/ /.}" >&2
  exit 1
fi
wheels
build "$here" vtn
build "$here" ven
built="flexvpp-vtn:$tag flexvpp-ven:$tag"
if ((services)); then
  # Their own context (docker/services/), without the wheels.
  build "$here/services" postgres --network host
  build "$here/services" mosquitto --network host
  built+=" flexvpp-postgres:$tag flexvpp-mosquitto:$tag"
fi
say "built $built"
echo "BASE=$base"
