#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, one at a time, growing corpus/<target>
# from seeds/<target>, and prints each target's executions. Needs `cargo install cargo-fuzz` and
# the nightly toolchain (for sanitizers); the product builds on stable.
#   SECONDS_EACH=600 ./run.sh              # all targets
#   SECONDS_EACH=60 ./run.sh rtp rtcp      # some
#   SANITIZER=address ./run.sh             # with AddressSanitizer (several times slower)
# ferrosoup-sfu has no `unsafe`: by default the targets run without a sanitizer (only the
# dependencies' unsafe code would gain from ASan), 2-10x more executions per second.
set -u
cd "$(dirname "$0")"
each=${SECONDS_EACH:-300}
sanitizer=${SANITIZER:-none}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=(stun webrtc_datagram dtls srtp rtp rtcp pipe framing router sctp)
fi
for t in "${targets[@]}"; do
	mkdir -p "corpus/$t" "seeds/$t"
	dict=()
	# rtc-sctp is ours to fuzz as the product builds it: without overflow checks (-O).
	opt=()
	[ "$t" = sctp ] && opt=(-O)
	[ "$t" = stun ] && [ -f stun.dict ] && dict=(-dict=stun.dict)
	out=$(cargo +nightly fuzz run "${opt[@]}" -s "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$each" -print_final_stats=1 "${dict[@]}" 2>&1)
	runs=$(printf '%s\n' "$out" | grep -o 'stat::number_of_executed_units: *[0-9]*' | grep -o '[0-9]*$' | tail -1)
	crash=$(printf '%s\n' "$out" | grep -E 'ERROR: libFuzzer|panicked|SUMMARY' | head -3)
	echo "$t ${runs:-0} ${crash:+FINDING: $crash}"
done
