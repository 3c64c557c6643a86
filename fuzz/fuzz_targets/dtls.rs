//! DTLS flights into a server whose peer fingerprint is one no certificate has: whatever the
//! flights, it never becomes connected.
#![no_main]
use std::time::Instant;

use ferrosoup_sfu::net::certificate::LocalCertificate;
use ferrosoup_sfu::net::dtls::{DtlsState, DtlsTransport, Fingerprint, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static CERT: std::sync::Arc<LocalCertificate> = LocalCertificate::generate().unwrap();
    }
    let now = Instant::now();
    let mut server = DtlsTransport::new(CERT.with(|c| c.clone()));
    server.set_remote_fingerprints(now, vec![Fingerprint { algorithm: "sha-256".into(), value: "00".repeat(32) }]);
    server.run(now, Role::Server);
    // The input is a sequence of datagrams, each prefixed by its length (one byte).
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        server.handle_datagram(now, &tail[..n]);
        while server.poll_transmit().is_some() {}
        rest = &tail[n..];
        assert_ne!(server.state(), DtlsState::Connected, "connected with a wrong fingerprint");
    }
    server.handle_timeout(now);
    assert_ne!(server.state(), DtlsState::Connected);
});
