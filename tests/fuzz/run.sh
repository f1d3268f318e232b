#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined)
# into build-fuzz/ and runs each for SECONDS.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET…]        (default: 60 s each, all targets)
#   make fuzz  (60 s each)      make test runs: tests/fuzz/run.sh 10
#
# Targets (tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus_<name>/):
#   http   raw HTTP request bytes through the real server (parser, router, handlers)
#   json   JSON bodies through the person/request validators (authenticated)
#   table  CSV and .xlsx import files (io/table_read)
#   std    ID numbers, dates, credit codes, GBK text, pinyin
# New inputs the fuzzer finds go to build-fuzz/corpus_<name>/ (the committed
# seeds are only read); a crash leaves build-fuzz/artifacts/<name>-crash-… and
# makes this script exit 1 after the other targets ran. Reproduce one with
#   build-fuzz/fuzz_<name> build-fuzz/artifacts/<name>-crash-…
# Environment: JOBS (build parallelism, 2), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-http json table std}
OUT=$ROOT/build-fuzz
JOBS=${JOBS:-2}

command -v clang >/dev/null || { echo "需要 clang：scripts/setup.sh --fuzz" >&2; exit 1; }

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# 1. The library, instrumented for coverage and sanitizers, with the project's
#    own CMake (same sources, generated files and dependencies as the real
#    build). -Wno-error goes last: clang warns about things gcc does not, and a
#    warning must not keep the fuzzers from running.
cmake -S "$ROOT" -B "$OUT" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $SAN -O1 -gline-tables-only" \
  "-DCMAKE_C_COMPILE_OBJECT=<CMAKE_C_COMPILER> <DEFINES> <INCLUDES> <FLAGS> -Wno-error -o <OBJECT> -c <SOURCE>" >/dev/null
cmake --build "$OUT" -j"$JOBS" --target vetscore >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }

# 2. Link flags: the pkg-config modules the CMakeLists names for vetscore.
MODS=$(sed -n '/pkg_check_modules(DEPS/,/)/p' "$ROOT/CMakeLists.txt" | tr '\n' ' ' | sed 's/.*IMPORTED_TARGET//; s/).*//')
CFLAGS="-fsanitize=fuzzer $SAN -O1 -g -std=c17 -D_GNU_SOURCE -I$ROOT/src -I$ROOT/tests/fuzz $(pkg-config --cflags $MODS)"
LIBS="$OUT/libvetscore.a $(pkg-config --libs $MODS) -lpthread -lm"

# 3. The targets. The in-process server targets take main.c itself (its main
#    renamed), so they run exactly `vets init` and `vets serve`.
build() {  # name sources…
  local name=$1; shift
  local bin=$OUT/fuzz_$name newer=0
  for f in "$@" "$OUT/libvetscore.a"; do [ "$f" -nt "$bin" ] && newer=1; done
  [ $newer = 1 ] || [ ! -x "$bin" ] || return 0
  echo "编译 fuzz_$name"
  clang $CFLAGS "$@" $LIBS -o "$bin"
}
INPROC=("$ROOT/tests/fuzz/inproc.c" "$OUT/main_inproc.o")
if [ "$ROOT/src/main.c" -nt "$OUT/main_inproc.o" ] || [ "$OUT/libvetscore.a" -nt "$OUT/main_inproc.o" ]; then
  clang $CFLAGS -Dmain=vets_main -DVETS_SOURCE_DIR="\"$ROOT\"" -c "$ROOT/src/main.c" -o "$OUT/main_inproc.o"
fi
for t in $TARGETS; do
  case $t in
    http|json) build "$t" "$ROOT/tests/fuzz/fuzz_$t.c" "${INPROC[@]}" ;;
    table)     build table "$ROOT/tests/fuzz/fuzz_table_read.c" ;;
    std)       build std "$ROOT/tests/fuzz/fuzz_std.c" ;;
    *) echo "未知目标：$t" >&2; exit 2 ;;
  esac
done

# 4. Run each for SECS. The in-process server's data folder lives in memory
#    (/dev/shm when there is one) and goes away with this script.
mkdir -p "$OUT/artifacts"
FUZZ_TMP=$(mktemp -d /dev/shm/vets-fuzz-run-XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$FUZZ_TMP"' EXIT
export VETS_FUZZ_TMP=$FUZZ_TMP
failed=()
for t in $TARGETS; do
  mkdir -p "$OUT/corpus_$t"
  dict=()
  [ -f "$ROOT/tests/fuzz/$t.dict" ] && dict=(-dict="$ROOT/tests/fuzz/$t.dict")
  max_len=65536
  [ "$t" = std ] && max_len=512
  [ "$t" = table ] && max_len=262144
  echo "== fuzz_$t: ${SECS}s"
  log=$OUT/fuzz_$t.log
  if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
     UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
     "$OUT/fuzz_$t" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=3072 -max_len=$max_len \
       -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" "${dict[@]}" ${FUZZ_ARGS:-} \
       "$OUT/corpus_$t" "$ROOT/tests/fuzz/corpus_$t" >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$log" | tr '\n' ' '; echo
  else
    echo "fuzz_$t 发现问题（日志 $log）："
    grep -E 'ERROR|SUMMARY|inproc:|check failed|Test unit written|deadly signal' "$log" | head -20
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "失败：${failed[*]}"; exit 1; }
