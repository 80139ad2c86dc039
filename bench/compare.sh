#!/usr/bin/env bash
# Compare tlsaudit with the read floor and with other tools on one large
# generated capture, and write the results into BENCHMARKS.md.
#
# What it does:
#   1. builds tlsaudit and the gencap/walk examples (release);
#   2. generates SIZE (default 1G) of port-5062 TLS plus other traffic from
#      the real handshakes in captures/ (pcap, and a pcapng twin with the
#      same seed), once, into SCRATCH (default /tmp/tlsaudit-bench);
#   3. warms the page cache, then times each command with hyperfine (wall
#      median, user+sys) and GNU time (peak RSS);
#   4. checks that -j1 and -j2 give byte-identical JSON reports;
#   5. optionally (--stdin-10g) streams a 10 GB capture from the generator
#      through `tlsaudit check -` and records its peak RSS;
#   6. writes the table between the BEGIN/END markers of BENCHMARKS.md.
#
# Usage: bench/compare.sh [--size 1G] [--scratch DIR] [--runs N] [--stdin-10g]
#                         [--from DIR] [--no-write]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=1G
scratch=/tmp/tlsaudit-bench
runs=5
stdin10g=0
from="$here/captures"
write=1
while (($#)); do
    case "$1" in
    --size) size="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --stdin-10g) stdin10g=1; shift ;;
    --from) from="$2"; shift 2 ;;
    --no-write) write=0; shift ;;
    *) echo "usage: $0 [--size 1G] [--scratch DIR] [--runs N] [--stdin-10g] [--from DIR] [--no-write]" >&2; exit 2 ;;
    esac
done

for tool in hyperfine jq; do
    command -v "$tool" >/dev/null || { echo "compare: $tool is required" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "compare: GNU time (/usr/bin/time) is required" >&2; exit 2; }

cd "$here"
cargo build --release --quiet --bin tlsaudit --example gencap --example walk --example factsdump --example truthcheck
bin="$here/target/release/tlsaudit"
gencap="$here/target/release/examples/gencap"
walk="$here/target/release/examples/walk"
factsdump="$here/target/release/examples/factsdump"
truthcheck="$here/target/release/examples/truthcheck"

mkdir -p "$scratch"
pcap="$scratch/big-$size.pcap"
pcapng="$scratch/big-$size.pcapng"
truth="$scratch/big-$size.truth.json"
if [[ ! -s "$pcap" || ! -s "$truth" ]]; then
    "$gencap" --from "$from" --size "$size" --seed 1 --out "$pcap" --truth "$truth"
fi
if [[ ! -s "$pcapng" ]]; then
    "$gencap" --from "$from" --size "$size" --seed 1 --format pcapng --out "$pcapng"
fi
gb=$(awk -v b="$(stat -L -c %s "$pcap")" 'BEGIN { printf "%.3f", b / 2^30 }')
cat "$pcap" "$pcapng" >/dev/null # page cache
load=$(cut -d" " -f1 /proc/loadavg)

# name | command (run through sh -c by hyperfine and time)
cmds=(
    "floor: pcap-parser record walk|$walk $pcap"
    "tlsaudit check -j 1|$bin check -q -j 1 --format json $pcap"
    "tlsaudit check -j 2|$bin check -q -j 2 --format json $pcap"
    "tlsaudit check -j 2 (pcapng)|$bin check -q -j 2 --format json $pcapng"
    "tlsaudit check - (stdin)|cat $pcap | $bin check -q --format json -"
    "floor, pcapng|$walk $pcapng"
)
if command -v tcpdump >/dev/null; then
    cmds+=("tcpdump -r (BPF tcp port 5062)|tcpdump -r $pcap -w /dev/null 'tcp port 5062'")
fi
if command -v ssldump >/dev/null; then
    cmds+=("ssldump -r|ssldump -n -r $pcap")
fi
if command -v tshark >/dev/null; then
    cmds+=("tshark -Y tls|tshark -r $pcap -Y tls -T fields -e tls.handshake.type")
fi

results="$scratch/results.tsv"
: >"$results"
for entry in "${cmds[@]}"; do
    name="${entry%%|*}"
    cmd="${entry#*|}"
    echo "compare: $name" >&2
    # Slow tools get fewer runs; the floor and tlsaudit get $runs.
    n="$runs"
    case "$name" in tshark* | ssldump*) n=1 ;; esac
    json="$scratch/hf.json"
    hyperfine --style none --warmup 1 --runs "$n" --ignore-failure --export-json "$json" \
        "$cmd >/dev/null 2>&1" >/dev/null
    median=$(jq '.results[0].median' "$json")
    cpu=$(jq '[.results[0].user, .results[0].system] | add' "$json")
    rss_kb=$( { /usr/bin/time -v sh -c "$cmd >/dev/null 2>&1" || true; } 2>&1 >/dev/null |
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$median" "$cpu" "$rss_kb" "$cmd" >>"$results"
done

# Identical output for any -j: the collected facts (every flow, in order)
# and the JSON report, byte for byte.
same_j="no"
"$factsdump" -j 1 "$pcap" >"$scratch/facts-j1.jsonl"
"$factsdump" -j 2 "$pcap" >"$scratch/facts-j2.jsonl"
if cmp -s "$scratch/facts-j1.jsonl" "$scratch/facts-j2.jsonl"; then
    same_j="facts identical ($(($(wc -l <"$scratch/facts-j1.jsonl") - 1)) flows)"
    "$bin" check -q -j 1 --format json "$pcap" >"$scratch/j1.json" 2>/dev/null || true
    "$bin" check -q -j 2 --format json "$pcap" >"$scratch/j2.json" 2>/dev/null || true
    if ! cmp -s "$scratch/j1.json" "$scratch/j2.json"; then
        same_j="no: facts identical but the JSON reports differ"
    elif [[ -s "$scratch/j1.json" ]]; then
        same_j="$same_j, JSON report identical ($(stat -c %s "$scratch/j1.json") bytes)"
    fi
fi

# Every audited clone's facts and verdicts against the generator's truth
# (the source captures' expectations were made with these CNs).
"$bin" check -q -j 2 --server-cn imp.example.com --client-cn ocs.example.com \
    --format json "$pcap" >"$scratch/report.json" 2>/dev/null || true
truth_result=$("$truthcheck" "$truth" "$scratch/report.json" 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g') || true

stdin_rss=""
if ((stdin10g)); then
    echo "compare: 10 GB through stdin" >&2
    stdin_rss=$( { /usr/bin/time -v sh -c \
        "$gencap --from $from --size 10G --seed 2 --out - | $bin check -q --format jsonl - >/dev/null" || true; } 2>&1 |
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }')
fi

floor=$(awk -F'\t' 'NR == 1 { print $2 }' "$results")
floor_ng=$(awk -F'\t' '$1 == "floor, pcapng" { print $2 }' "$results")
j1=$(awk -F'\t' '$1 == "tlsaudit check -j 1" { print $2 }' "$results")
j2=$(awk -F'\t' '$1 == "tlsaudit check -j 2" { print $2 }' "$results")
ng=$(awk -F'\t' '$1 == "tlsaudit check -j 2 (pcapng)" { print $2 }' "$results")
cpu1=$(awk -F'\t' '$1 == "tlsaudit check -j 1" { print $3 }' "$results")

table="$scratch/table.md"
{
    echo "Measured $(date -u +%Y-%m-%d) (load average before the run: $load) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ { print $2 }') GB RAM;"
    echo "input: \`gencap --size $size --seed 1\` ($gb GiB pcap, $(jq '.packets' "$truth") packets, $(jq '.flows | length' "$truth") audited flows), read from the page cache."
    echo "Command: \`bench/compare.sh --size $size --runs $runs$( ((stdin10g)) && echo ' --stdin-10g')\` (tlsaudit $(git -C "$here" rev-parse --short HEAD))."
    echo
    echo "| tool | wall (median) | user+sys | peak RSS | wall / floor |"
    echo "|---|---:|---:|---:|---:|"
    while IFS=$'\t' read -r name median cpu rss cmd; do
        awk -v n="$name" -v m="$median" -v c="$cpu" -v r="$rss" -v f="$floor" 'BEGIN {
            printf "| %s | %.2f s | %.2f s | %.0f MiB | %.2f× |\n", n, m, c, r / 1024, m / f }'
    done <"$results"
    echo
    awk -v j1="$j1" -v j2="$j2" -v ng="$ng" -v f="$floor" -v fng="$floor_ng" -v c="$cpu1" -v gb="$gb" 'BEGIN {
        printf "- tlsaudit -j 2 / floor: %.2f× (target ≤ 3×, stretch 2×)\n", j2 / f
        printf "- CPU (user+sys) of -j 1 per GiB: %.2f s (target ≤ 0.8 s)\n", c / gb
        printf "- -j 1 / -j 2 speed-up: %.2f× (target ≥ 1.5×)\n", j1 / j2
        printf "- pcapng / pcap (-j 2): %.2f× (target ≤ 1.35×; the floor alone: %.2f×)\n", ng / j2, fng / f
    }'
    echo "- -j 1 and -j 2 reports identical: $same_j"
    echo "- against the generator's truth: $truth_result"
    if [[ -n "$stdin_rss" ]]; then
        awk -v r="$stdin_rss" 'BEGIN { printf "- 10 GB generated into a pipe through `tlsaudit check -`: peak RSS %.0f MiB (target ≤ 64 MiB)\n", r / 1024 }'
    fi
} >"$table"
cat "$table"

if ((write)); then
    md="$here/BENCHMARKS.md"
    python3 - "$md" "$table" <<'PY'
import sys
md, table = sys.argv[1], open(sys.argv[2]).read()
text = open(md).read()
begin, end = "<!-- BEGIN compare.sh -->", "<!-- END compare.sh -->"
a, b = text.index(begin) + len(begin), text.index(end)
open(md, "w").write(text[:a] + "\n" + table + text[b:])
PY
    echo "compare: wrote $md" >&2
fi
