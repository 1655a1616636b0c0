#!/usr/bin/env bash
# seeds.sh ir|bundle SOURCE_DIR OUT_DIR: the seed inputs of one fuzz target.
#
# ir: every lit input under test/Dialect, test/Transforms, test/Conversion
#     and test/Target, split at `// -----` into one file per case.
# bundle: bundles from test/Import/Inputs/make_bundle.py (float, each
#     quantization, int8 embeddings, sensitivity.json, and the broken forms
#     it can write), packed by pack_bundle.py.
set -euo pipefail
kind=$1 src=$2 out=$3
mkdir -p "$out"
case $kind in
  ir)
    find "$src/test/Dialect" "$src/test/Transforms" "$src/test/Conversion" \
         "$src/test/Target" -name '*.mlir' | sort | while read -r file; do
      base=$(echo "${file#$src/test/}" | tr '/' '_')
      awk -v out="$out/$base" '
        BEGIN { n = 0; f = out "." n }
        /^\/\/ -----/ { close(f); n++; f = out "." n; next }
        /^\/\/ *RUN:/ { next }
        { print > f }' "$file"
    done
    ;;
  bundle)
    make="$src/test/Import/Inputs/make_bundle.py"
    pack="$src/test/Fuzz/pack_bundle.py"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    small=(--layers 2 --hidden 16 --heads 2 --intermediate 32 --vocab 40
           --positions 16 --labels 3)
    i=0
    for variant in "" "--quant sensimix --mp-layers 1" "--quant q8bert" \
                   "--quant ternary" "--quant index" \
                   "--quant sensimix --int8-embeddings --sensitivity" \
                   "--break missing-tensor" "--break wrong-shape" \
                   "--break bad-config" "--break truncated"; do
      # shellcheck disable=SC2086
      python3 "$make" "$tmp/b$i" "${small[@]}" $variant >/dev/null
      python3 "$pack" "$tmp/b$i" "$out/bundle-$i"
      i=$((i + 1))
    done
    ;;
  *)
    echo "seeds.sh: unknown kind '$kind'" >&2
    exit 1
    ;;
esac
