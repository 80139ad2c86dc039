#!/usr/bin/env bash
# Compare tlsaudit with the read floor and with other tools on two large
# generated captures, side by side, and write the results into BENCHMARKS.md.
#
# What it does:
#   1. builds tlsaudit and the gencap/walk examples (release);
#   2. generates, once, into SCRATCH (default /tmp/tlsaudit-bench), from the
#      real handshakes in captures/: the default capture, SIZE (default 1G)
#      of port-5062 TLS plus other traffic (pcap, and a pcapng twin with the
#      same seed), and the tap capture (`gencap --tap`: about 10,700 flows
#      per GiB interleaved packet by packet, 4 % of segments retransmitted or
#      reordered, a quarter of the bytes other traffic);
#   3. warms the page cache, then times each command on each capture with
#      hyperfine (wall median, user+sys) and GNU time (peak RSS);
#   4. on the tap capture, times tlsaudit and the floor in alternation
#      (--pairs N each: floor, tlsaudit, floor, tlsaudit, ...) and takes the
#      median of the pair ratios: on a shared machine whose speed drifts
#      from minute to minute, a ratio of two runs taken back to back holds
#      far better than a ratio of two medians taken minutes apart;
#   5. checks that -j1 and -j2 give byte-identical JSON reports, and every
#      audited flow against the generator's truth, on both captures;
#   6. optionally (--stdin-10g) streams a 10 GB capture from the generator
#      through `tlsaudit check -` and records its peak RSS;
#   7. writes the table between the BEGIN/END markers of BENCHMARKS.md.
#
# Usage: bench/compare.sh [--size 1G] [--scratch DIR] [--runs N] [--pairs N]
#                         [--stdin-10g] [--from DIR] [--no-write] [--no-tshark]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=1G
scratch=/tmp/tlsaudit-bench
runs=5
pairs=11
stdin10g=0
from="$here/captures"
write=1
tshark=1
while (($#)); do
    case "$1" in
    --size) size="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --stdin-10g) stdin10g=1; shift ;;
    --from) from="$2"; shift 2 ;;
    --no-write) write=0; shift ;;
    --no-tshark) tshark=0; shift ;;
    *) echo "usage: $0 [--size 1G] [--scratch DIR] [--runs N] [--pairs N] [--stdin-10g] [--from DIR] [--no-write] [--no-tshark]" >&2; exit 2 ;;
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
tap="$scratch/tap-$size.pcap"
tap_truth="$scratch/tap-$size.truth.json"
if [[ ! -s "$pcap" || ! -s "$truth" ]]; then
    "$gencap" --from "$from" --size "$size" --seed 1 --out "$pcap" --truth "$truth"
fi
if [[ ! -s "$pcapng" ]]; then
    "$gencap" --from "$from" --size "$size" --seed 1 --format pcapng --out "$pcapng"
fi
if [[ ! -s "$tap" || ! -s "$tap_truth" ]]; then
    "$gencap" --tap --from "$from" --size "$size" --seed 1 --out "$tap" --truth "$tap_truth"
fi
gib() { awk -v b="$(stat -L -c %s "$1")" 'BEGIN { printf "%.3f", b / 2^30 }'; }
gb=$(gib "$pcap")
tap_gb=$(gib "$tap")
cat "$pcap" "$pcapng" "$tap" >/dev/null # page cache
load=$(cut -d" " -f1 /proc/loadavg)

# name | command with CAP for the capture (run through sh -c by hyperfine
# and time); rows marked "default only" run on the default capture alone.
cmds=(
    "floor: pcap-parser record walk|$walk CAP"
    "tlsaudit check -j 1 (json)|$bin check -q -j 1 --format json CAP"
    "tlsaudit check -j 1 (jsonl)|$bin check -q -j 1 --format jsonl CAP"
    "tlsaudit check -j 2 (json)|$bin check -q -j 2 --format json CAP"
    "tlsaudit check -j 2 (jsonl)|$bin check -q -j 2 --format jsonl CAP"
    "tlsaudit check - (stdin, json)|cat CAP | $bin check -q --format json -"
)
if command -v tcpdump >/dev/null; then
    cmds+=("tcpdump -r (BPF tcp port 5062)|tcpdump -r CAP -w /dev/null 'tcp port 5062'")
fi
if command -v ssldump >/dev/null; then
    cmds+=("ssldump -r|ssldump -n -r CAP")
fi
if ((tshark)) && command -v tshark >/dev/null; then
    cmds+=("tshark -Y tls|tshark -r CAP -Y tls -T fields -e tls.handshake.type")
fi

results="$scratch/results.tsv"
: >"$results"
# measure CAPTURE_LABEL FILE NAME COMMAND
measure() {
    local label="$1" file="$2" name="$3" cmd="${4//CAP/$2}"
    echo "compare: $label: $name" >&2
    # Slow tools get one run and no warm-up; the floor and tlsaudit get $runs.
    local n="$runs" warmup=1
    case "$name" in tshark* | ssldump*) n=1 warmup=0 ;; esac
    local json="$scratch/hf.json"
    hyperfine --style none --warmup "$warmup" --runs "$n" --ignore-failure --export-json "$json" \
        "$cmd >/dev/null 2>&1" >/dev/null
    local median cpu rss_kb
    median=$(jq '.results[0].median' "$json")
    cpu=$(jq '[.results[0].user, .results[0].system] | add' "$json")
    rss_kb=$( { /usr/bin/time -v sh -c "$cmd >/dev/null 2>&1" || true; } 2>&1 >/dev/null |
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$name" "$median" "$cpu" "$rss_kb" "$cmd" >>"$results"
}
for entry in "${cmds[@]}"; do
    measure default "$pcap" "${entry%%|*}" "${entry#*|}"
    measure tap "$tap" "${entry%%|*}" "${entry#*|}"
done
measure default "$pcapng" "tlsaudit check -j 2 (json, pcapng)" "$bin check -q -j 2 --format json CAP"
measure default "$pcapng" "floor, pcapng" "$walk CAP"

# paired NAME COMMAND_A COMMAND_B: A and B run in alternation, $pairs times
# each after one warm-up pair, timed with bash's EPOCHREALTIME; appends
# "NAME <tab> median A/B <tab> median A <tab> median B <tab> lowest A/B <tab>
# highest A/B" to $paired_results.
paired_results="$scratch/paired.tsv"
: >"$paired_results"
paired() {
    local name="$1" a="$2" b="$3" i t0 t1 t2 times=""
    echo "compare: paired: $name" >&2
    for ((i = 0; i <= pairs; i++)); do
        t0=$EPOCHREALTIME
        sh -c "$a >/dev/null 2>&1" || true
        t1=$EPOCHREALTIME
        sh -c "$b >/dev/null 2>&1" || true
        t2=$EPOCHREALTIME
        ((i > 0)) && times+="$t0 $t1 $t2"$'\n'
    done
    printf '%s' "$times" | awk -v name="$name" '
        function median(v, n,   i, j, t) {
            for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        { n++; a[n] = $2 - $1; b[n] = $3 - $2; r[n] = a[n] / b[n] }
        END { ma = median(a, n); mb = median(b, n); mr = median(r, n)
              # sorted by median(): r[1] is the lowest ratio, r[n] the highest
              printf "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", name, mr, ma, mb, r[1], r[n] }' >>"$paired_results"
}
paired "json -j 2 / floor" "$bin check -q -j 2 --format json $tap" "$walk $tap"
paired "jsonl -j 2 / floor" "$bin check -q -j 2 --format jsonl $tap" "$walk $tap"
paired "json -j 1 / json -j 2" "$bin check -q -j 1 --format json $tap" "$bin check -q -j 2 --format json $tap"

# Identical output for any -j: the collected facts (every flow, in order)
# and the JSON report, byte for byte.
same_j() {
    local file="$1" tag="$2" result="no"
    "$factsdump" -j 1 "$file" >"$scratch/facts-$tag-j1.jsonl"
    "$factsdump" -j 2 "$file" >"$scratch/facts-$tag-j2.jsonl"
    if cmp -s "$scratch/facts-$tag-j1.jsonl" "$scratch/facts-$tag-j2.jsonl"; then
        result="facts identical ($(($(wc -l <"$scratch/facts-$tag-j1.jsonl") - 1)) flows)"
        "$bin" check -q -j 1 --format json "$file" >"$scratch/$tag-j1.json" 2>/dev/null || true
        "$bin" check -q -j 2 --format json "$file" >"$scratch/$tag-j2.json" 2>/dev/null || true
        if ! cmp -s "$scratch/$tag-j1.json" "$scratch/$tag-j2.json"; then
            result="no: facts identical but the JSON reports differ"
        elif [[ -s "$scratch/$tag-j1.json" ]]; then
            result="$result, JSON report identical ($(stat -c %s "$scratch/$tag-j1.json") bytes)"
        fi
        rm -f "$scratch/$tag-j1.json" "$scratch/$tag-j2.json"
    fi
    rm -f "$scratch/facts-$tag-j1.jsonl" "$scratch/facts-$tag-j2.jsonl"
    echo "$result"
}
same_default=$(same_j "$pcap" default)
same_tap=$(same_j "$tap" tap)

# Every audited clone's facts and verdicts against the generator's truth
# (the source captures' expectations were made with these CNs).
truth_of() {
    "$bin" check -q -j 2 --server-cn imp.example.com --client-cn ocs.example.com \
        --format json "$1" >"$scratch/report.json" 2>/dev/null || true
    "$truthcheck" "$2" "$scratch/report.json" 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g' || true
    rm -f "$scratch/report.json"
}
truth_default=$(truth_of "$pcap" "$truth")
truth_tap=$(truth_of "$tap" "$tap_truth")

stdin_rss=""
if ((stdin10g)); then
    echo "compare: 10 GB through stdin" >&2
    stdin_rss=$( { /usr/bin/time -v sh -c \
        "$gencap --from $from --size 10G --seed 2 --out - | $bin check -q --format jsonl - >/dev/null" || true; } 2>&1 |
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }')
fi

# field LABEL NAME COLUMN (3 wall, 4 user+sys, 5 peak RSS KiB)
field() { awk -F'\t' -v l="$1" -v n="$2" -v c="$3" '$1 == l && $2 == n { print $c }' "$results"; }
floor=$(field default "floor: pcap-parser record walk" 3)
tap_floor=$(field tap "floor: pcap-parser record walk" 3)

table="$scratch/table.md"
{
    echo "Measured $(date -u +%Y-%m-%d) (load average before the run: $load) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ { print $2 }') GB RAM; read from the page cache."
    echo "Default capture: \`gencap --size $size --seed 1\` ($gb GiB pcap, $(jq '.packets' "$truth") packets, $(jq '.flows | length' "$truth") audited flows)."
    echo "Tap capture: \`gencap --tap --size $size --seed 1\` ($tap_gb GiB pcap, $(jq '.packets' "$tap_truth") packets, $(jq '.flows | length' "$tap_truth") audited flows, $(jq '.units["retransmitted-segments"] + .units["reordered-segments"]' "$tap_truth") segments retransmitted or reordered)."
    echo "Command: \`bench/compare.sh --size $size --runs $runs --pairs $pairs$( ((stdin10g)) && echo ' --stdin-10g')\` (tlsaudit $(git -C "$here" rev-parse --short HEAD))."
    echo
    echo "| tool | default: wall | user+sys | peak RSS | / floor | tap: wall | user+sys | peak RSS | / floor |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v f="$floor" -v tf="$tap_floor" '
        { key = $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
          cell[$1, key] = sprintf("%.2f s | %.2f s | %.0f MiB | %.2f×", $3, $4, $5 / 1024, $3 / ($1 == "tap" ? tf : f)) }
        END { for (i = 1; i <= n; i++) { k = order[i]
                d = ((("default", k) in cell) ? cell["default", k] : "– | – | – | –")
                t = ((("tap", k) in cell) ? cell["tap", k] : "– | – | – | –")
                printf "| %s | %s | %s |\n", k, d, t } }' "$results"
    echo
    j1=$(field tap "tlsaudit check -j 1 (json)" 3)
    j1l=$(field tap "tlsaudit check -j 1 (jsonl)" 3)
    j2=$(field tap "tlsaudit check -j 2 (json)" 3)
    cpu1=$(field tap "tlsaudit check -j 1 (json)" 4)
    rss1=$(field tap "tlsaudit check -j 1 (json)" 5)
    rss1l=$(field tap "tlsaudit check -j 1 (jsonl)" 5)
    rss2=$(field tap "tlsaudit check -j 2 (json)" 5)
    rss2l=$(field tap "tlsaudit check -j 2 (jsonl)" 5)
    best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
    awk -v j1="$j1" -v j1l="$j1l" -v j2="$j2" -v f="$tap_floor" -v c="$cpu1" -v gb="$tap_gb" \
        -v r1="$rss1" -v r1l="$rss1l" -v r2="$rss2" -v r2l="$rss2l" \
        -v bj="$(best "$j1" "$j2")" -v bjl="$(best "$j1l" "$(field tap "tlsaudit check -j 2 (jsonl)" 3)")" 'BEGIN {
        printf "- tap: check --format json wall / floor: %.2f× (best of -j 1, -j 2; target ≤ 3×)\n", bj / f
        printf "- tap: check --format jsonl wall / floor: %.2f× (best of -j 1, -j 2; target ≤ 3×)\n", bjl / f
        printf "- tap: CPU (user+sys) per GiB, -j 1 json: %.2f s (target ≤ 0.8 s)\n", c / gb
        printf "- tap: peak RSS, json document: %.0f MiB at -j 1, %.0f MiB at -j 2 (target ≤ 64 MiB)\n", r1 / 1024, r2 / 1024
        printf "- tap: peak RSS, jsonl: %.0f MiB at -j 1, %.0f MiB at -j 2 (target ≤ 32 MiB)\n", r1l / 1024, r2l / 1024
        printf "- tap: -j 2 against -j 1 (json): %.2f× (target ≥ 1.3×)\n", j1 / j2
    }'
    awk -F'\t' -v p="$pairs" '{
        printf "- tap, paired (%d pairs in alternation, median of the pair ratios): %s: %.2f× (%.3f s against %.3f s; pairs from %.2f× to %.2f×)\n", p, $1, $2, $3, $4, $5, $6 }' "$paired_results"
    echo "- -j 1 and -j 2 reports identical: default: $same_default; tap: $same_tap"
    echo "- against the generator's truth: default: $truth_default; tap: $truth_tap"
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
