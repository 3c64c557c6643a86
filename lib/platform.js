'use strict';

/** This platform in napi-rs's names: `linux-x64-gnu`, `linux-arm64-musl`, `darwin-arm64`, … */
function platformKey() {
	const { platform, arch } = process;
	if (platform !== 'linux') return `${platform}-${arch}`;
	const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
	return `${platform}-${arch}-${glibc ? 'gnu' : 'musl'}`;
}

/** The platforms prebuilt packages exist for. */
const PREBUILT = ['linux-x64-gnu', 'linux-arm64-gnu'];

module.exports = { platformKey, PREBUILT };
