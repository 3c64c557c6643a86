//! An SCTP association (the server end, as a WebRtcTransport's) driven by a real client end
//! whose packets the input delivers, drops, mutates (with a valid checksum, so the association
//! itself sees them) or replaces, with clock steps and client messages in between. Oracles: no
//! panic; no message beyond the receive limit is delivered.
#![no_main]
use std::time::{Duration, Instant};

use ferrosoup_sfu::net::sctp::{Reliability, SctpAssociation, SctpEvent, SctpOptions};
use libfuzzer_sys::fuzz_target;

/// Recomputes the SCTP checksum (CRC32c over the packet with the field zeroed, little-endian).
fn fix_checksum(p: &mut [u8]) {
    if p.len() < 12 {
        return;
    }
    p[8..12].fill(0);
    let crc = crc32c::crc32c(p);
    p[8..12].copy_from_slice(&crc.to_le_bytes());
}

fuzz_target!(|data: &[u8]| {
    let opts = SctpOptions { max_receive_message_size: 4096, ..SctpOptions::default() };
    let mut client = SctpAssociation::new(SctpOptions::default(), true);
    let mut server = SctpAssociation::new(opts, false);
    let mut now = Instant::now();
    client.connect(now);
    let mut input = data.iter().copied();
    let mut steps = 0;
    while let Some(op) = input.next() {
        steps += 1;
        if steps > 400 {
            break;
        }
        match op % 6 {
            // The client's next packet arrives as it is.
            0 | 1 => {
                if let Some(p) = client.poll_transmit() {
                    server.handle_packet(now, &p);
                }
            }
            // ... or changed at one place, checksum fixed.
            2 => {
                if let Some(mut p) = client.poll_transmit() {
                    let at = usize::from(input.next().unwrap_or(0));
                    let x = input.next().unwrap_or(0xff);
                    if !p.is_empty() {
                        let i = 12 + at % p.len().saturating_sub(12).max(1);
                        if i < p.len() {
                            p[i] ^= x;
                        }
                    }
                    fix_checksum(&mut p);
                    server.handle_packet(now, &p);
                }
            }
            // Raw bytes from the input.
            3 => {
                let n = usize::from(input.next().unwrap_or(0));
                let mut p: Vec<u8> = input.by_ref().take(n).collect();
                if op & 0x80 != 0 {
                    fix_checksum(&mut p);
                }
                server.handle_packet(now, &p);
            }
            // Time passes.
            4 => {
                now += Duration::from_millis(u64::from(input.next().unwrap_or(0)) * 20);
                client.handle_timeout(now);
                server.handle_timeout(now);
            }
            // The client sends a message (maybe beyond the server's limit).
            _ => {
                let size = usize::from(input.next().unwrap_or(0)) * 40;
                let _ = client.send(now, u16::from(op >> 4), 53, &vec![7u8; size.max(1)], Reliability::reliable());
            }
        }
        // The server's answers reach the client.
        while let Some(p) = server.poll_transmit() {
            client.handle_packet(now, &p);
        }
        while let Some(e) = server.poll_event() {
            if let SctpEvent::Message { data, .. } = e {
                assert!(data.len() <= 4096, "a message over the receive limit was delivered");
            }
        }
        while client.poll_event().is_some() {}
    }
});
