#!/usr/bin/env bash
# Regenerates the src/ packages' public API files (PublicAPI.Shipped.txt / PublicAPI.Unshipped.txt) from the code,
# so the build's RS0016/RS0017 checks pass again after an intended API change (docs/public-api.md). Review the diff of
# the .txt files: it is the API change.
#
#   scripts/public-api.sh                 Unshipped.txt from scratch: what the code has beyond Shipped.txt
#   scripts/public-api.sh --rebaseline    both from scratch, everything into Shipped.txt (until the first release this
#                                         is the command to run after a merge, or when an API was removed or renamed)
#   scripts/public-api.sh [--rebaseline] src/Postbox/Postbox.csproj ...   only these packages
#
# It runs the analyzer's own code fix (dotnet format analyzers --diagnostics RS0016), a minute or more per package.
set -euo pipefail
cd "$(dirname "$0")/.."

rebaseline=false
projects=()
for arg in "$@"; do
  case "$arg" in
    --rebaseline) rebaseline=true ;;
    -*) echo "unknown option $arg" >&2; exit 2 ;;
    *) projects+=("$arg") ;;
  esac
done
[[ ${#projects[@]} -gt 0 ]] || projects=(src/*/*.csproj)

for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  if $rebaseline || [[ ! -f "$dir/PublicAPI.Shipped.txt" ]]; then
    printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
  fi
  # From scratch, so entries the code no longer has do not linger; the code fix adds what is missing.
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  echo "== $project"
  dotnet format analyzers "$project" --diagnostics RS0016 --severity warn
  if $rebaseline; then
    { printf '#nullable enable\n'; grep -v '^#nullable' "$dir/PublicAPI.Unshipped.txt" | LC_ALL=C sort -u || true; } > "$dir/PublicAPI.Shipped.txt"
    printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  fi
done
echo "Review: git diff -- 'src/*/PublicAPI.*.txt'"
