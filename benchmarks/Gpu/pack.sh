#!/usr/bin/env bash
# shellcheck disable=SC2012  # ls over version-named SDK folders
# Prepares .gpu-bundle/ at the repository root for a GPU machine that has no .NET (the device machines' 'cuda' image
# ships CUDA, PyTorch and Python, not dotnet, and cannot download): run it HERE, on a machine with the .NET SDK, then
# name .gpu-bundle in the device tool's carry. run-on-gpu.sh unpacks it there.
#
#   .gpu-bundle/dotnet.tar.xz  the .NET runtime (host, hostfxr, Microsoft.NETCore.App) + vstest.console from the SDK,
#                              enough to run a framework-dependent program and an already-built xunit test assembly
#   .gpu-bundle/apps.tar.xz    Release builds, at their repo-relative paths (the tests find tests/TestData by walking up):
#                              benchmarks/Gpu/bin/Release/net10.0 (gpu-bench) and tests/Interop.Tests/bin/Release/net10.0
#
# Not carried: the ASP.NET Core shared framework the `deepseek` CLI needs (the carry limit is 64 MiB with the working
# tree), so without an SDK on the GPU machine the end-to-end figure comes from gpu-bench's e2e section, which times the
# same Generator loop `deepseek bench` does.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bundle="$root/.gpu-bundle"
dotnet_root="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}"
fx="$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)"
fxr="$(ls -d "$dotnet_root"/host/fxr/* | sort -V | tail -1)"
sdk="$(ls -d "$dotnet_root"/sdk/10.* | sort -V | tail -1)"
echo "runtime $fx, hostfxr $fxr, vstest from $sdk"

if [[ "${PACK_NO_BUILD:-}" != 1 ]]; then
    dotnet build -c Release benchmarks/Gpu/Gpu.Benchmarks.csproj
    dotnet build -c Release tests/Interop.Tests/DeepSeek.Interop.Tests.csproj
fi

rm -rf "$bundle" && mkdir -p "$bundle"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App" "$stage/dotnet/host/fxr" "$stage/dotnet/vstest"
cp "$dotnet_root/dotnet" "$stage/dotnet/"
cp -r "$fxr" "$stage/dotnet/host/fxr/"
cp -r "$fx" "$stage/dotnet/shared/Microsoft.NETCore.App/"
# Debugger and crash-dump support only.
rm -f "$stage"/dotnet/shared/Microsoft.NETCore.App/*/{libmscordaccore.so,libmscordbi.so,createdump}
# vstest.console, what its deps.json names, and DependencyModel (loaded when it starts the test host; found missing by a
# FORCE_BUNDLE=1 run of run-on-gpu.sh); no localised resources, no .NET Framework test host.
(cd "$sdk" && cp -r vstest.console.* testhost* datacollector.* Newtonsoft.Json.dll Microsoft.Extensions.FileSystemGlobbing.dll Microsoft.Extensions.DependencyModel.dll \
    Microsoft.TestPlatform.*.dll Microsoft.VisualStudio.TestPlatform.*.dll Extensions "$stage/dotnet/vstest/")
tar -C "$stage" -cf - dotnet | xz -9 -T2 > "$bundle/dotnet.tar.xz"
# No symbols, XML docs, satellite resources, Windows natives, or the embedded chat model (the GPU tests use tests/TestData).
tar --exclude='*.pdb' --exclude='*.xml' --exclude='*/runtimes/win*' --exclude='*/models' \
    --exclude='*/'{cs,de,es,fr,it,ja,ko,pl,pt-BR,ru,tr,zh-Hans,zh-Hant} \
    -cf - benchmarks/Gpu/bin/Release/net10.0 tests/Interop.Tests/bin/Release/net10.0 | xz -9 -T2 > "$bundle/apps.tar.xz"

tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
bundle_bytes=$(du -cb "$bundle"/* | tail -1 | cut -f1)
limit=$((64 * 1024 * 1024))
printf 'bundle %.1f MiB + working tree %.1f MiB = %.1f MiB of the device tool'"'"'s 64 MiB\n' \
    "$(echo "$bundle_bytes/1048576" | bc -l)" "$(echo "$tree_bytes/1048576" | bc -l)" "$(echo "($bundle_bytes+$tree_bytes)/1048576" | bc -l)"
if (( bundle_bytes + tree_bytes > limit )); then
    echo "pack.sh: over the 64 MiB the device tool carries; nothing else can be left out of the bundle" >&2
    exit 1
fi
echo "carry: [\".gpu-bundle\"]"
