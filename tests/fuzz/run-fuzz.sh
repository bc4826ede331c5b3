#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined, every report
# fatal) and fuzzes each for a bounded time, both side by side:
#   bash tests/fuzz/run-fuzz.sh [SECONDS]
# SECONDS per target: the argument, else $LHC_FUZZ_SECONDS, else 20. Needs clang and
# libclang-rt-dev (tests/run installs them). Works in build-fuzz/ ($LHC_FUZZ_DIR); the
# corpus grown there is reused by the next run. A crash, leak or sanitizer report fails the
# run and leaves the input in build-fuzz/crashes/: keep it as a regression test with
#   cp build-fuzz/crashes/TARGET-crash-* tests/fuzz/regressions/TARGET/
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-${LHC_FUZZ_SECONDS:-20}}
out=${LHC_FUZZ_DIR:-build-fuzz}
targets=(table expand)
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
    # libFuzzer reads -max_total_time=0 as "no limit".
    echo "run-fuzz.sh: SECONDS must be a whole number >= 1, not '$seconds'" >&2
    exit 64
fi
mkdir -p "$out/crashes"

# The reader (lexer, values, parameters, loader), the model, the expander and the Logger;
# server_urls.cpp checks URLs with libldap, and the Logger sends its events to the journal
# through libsystemd.
sources=(src/table_file.cpp src/table_values.cpp src/server_urls.cpp src/ldap_table.cpp
    src/table_reader.cpp src/table_loader.cpp src/query_expand.cpp src/log.cpp)
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -Isrc)
for t in "${targets[@]}"; do
    clang++ "${flags[@]}" "tests/fuzz/fuzz_$t.cpp" "${sources[@]}" -lldap -llber -lsystemd -o "$out/fuzz-$t"
done

rm -rf "$out/seeds"
PYTHONPATH=tests/lib PYTHONDONTWRITEBYTECODE=1 python3 tests/fuzz/corpus.py write "$out/seeds" >/dev/null

pids=()
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t"
    # The first directory collects new inputs; the others are read only.
    "$out/fuzz-$t" "$out/corpus/$t" "$out/seeds/$t" "tests/fuzz/regressions/$t" \
        -dict="tests/fuzz/$t.dict" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" >"$out/$t.log" 2>&1 &
    pids+=($!)
done

status=0
for i in "${!targets[@]}"; do
    t=${targets[$i]}
    rc=0
    wait "${pids[$i]}" || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$out/$t.log")
    corpus=$(find "$out/corpus/$t" -type f | wc -l)
    if ((rc != 0)); then
        status=1
        echo "fuzz $t: FAILED (exit $rc) after ${runs:-?} executions; log follows" >&2
        tail -n 60 "$out/$t.log" >&2
        ls "$out/crashes/$t-"* 2>/dev/null >&2 || true
    else
        echo "fuzz $t: ${runs:-?} executions in ${secs:-?} s, corpus $corpus inputs, no crash, leak or sanitizer report"
    fi
done
exit "$status"
