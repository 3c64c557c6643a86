//! Hostile peers for the hostile-load benchmark: what a participant of a room (or someone who
//! can spoof a connected peer's address) can throw at a WebRtcTransport. Each runs for a while
//! and reports what it sent and received, so the benchmark can tell amplification.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrosoup_sfu::net::ice::binding_request;
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::rtp::rtcp;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::peer::{ServerParams, TestPeer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// A connected viewer NACKing every sequence number of a stream, over and over.
    NackFlood { media_ssrc: u32 },
    /// A connected viewer asking for key frames as fast as it can.
    PliFlood { media_ssrc: u32 },
    /// A connected peer sending SRTP/SRTCP that does not authenticate, from ever new SSRCs.
    ForgedSrtp,
    /// A connected publisher whose sequence numbers jump by about half the space each packet.
    SequenceGaps { ssrc: u32 },
    /// A connected publisher whose transport-wide sequence numbers jump by thousands.
    TwccGaps { ssrc: u32, ext_id: u8 },
    /// An ICE-authenticated peer sending DTLS records (next epoch, garbage) instead of a handshake.
    DtlsFlood,
    /// Many TCP connections to the transport's TCP candidate that never send anything valid.
    TcpIdle { connections: u32 },
    /// Unauthenticated STUN and garbage from a stranger.
    Garbage,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttackResult {
    pub sent_packets: u64,
    pub sent_bytes: u64,
    pub received_packets: u64,
    pub received_bytes: u64,
    /// TCP connections the server still had open at the end.
    pub tcp_open: u32,
}

/// A NACK naming the 512 numbers up to `highest` (everything a server holds for a few seconds
/// of video): 31 items of 17 (PID + 16 bits set), 140 bytes.
fn nack_all(ssrc: u32, highest: u16) -> Vec<u8> {
    let n = 512u16;
    let all: Vec<u16> = (0..n).map(|i| highest.wrapping_sub(n - 1 - i)).collect();
    rtcp::marshal(&[rtcp::nack(1, ssrc, &all)]).unwrap_or_default()
}

async fn connect(server: ServerParams, timeout: Duration) -> Result<(UdpSocket, TestPeer), String> {
    let t0 = Instant::now();
    let sock = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let mut peer = TestPeer::new(t0, server, crate::certificate(), &mut Rng::from_os());
    let mut buf = vec![0u8; 65536];
    peer.handle_timeout(t0);
    loop {
        while let Some(d) = peer.poll_transmit() {
            let _ = sock.send_to(&d, peer.server_addr()).await;
        }
        if peer.is_connected() {
            return Ok((sock, peer));
        }
        if t0.elapsed() > timeout {
            return Err("attacker could not connect".into());
        }
        let wake = peer.poll_timeout().unwrap_or(t0 + timeout).min(t0 + timeout);
        match tokio::time::timeout_at(wake.into(), sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => peer.handle_datagram(Instant::now(), &buf[..n]),
            _ => peer.handle_timeout(Instant::now()),
        }
        while peer.poll_event().is_some() {}
    }
}

/// Runs `attack` against `server` for `duration`; attacks that need a connection first behave
/// for `warmup` (connected, receiving like any peer) before they start.
pub async fn run(server: ServerParams, attack: Attack, warmup: Duration, duration: Duration) -> Result<AttackResult, String> {
    let mut r = AttackResult::default();
    let connected = matches!(attack, Attack::NackFlood { .. } | Attack::PliFlood { .. } | Attack::ForgedSrtp | Attack::SequenceGaps { .. } | Attack::TwccGaps { .. });
    if !connected {
        tokio::time::sleep(warmup).await;
    }
    let mut end = Instant::now() + duration;
    match attack {
        Attack::TcpIdle { connections } => {
            let mut conns = Vec::new();
            for _ in 0..connections {
                if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(server.addr)).await {
                    conns.push(s);
                    r.sent_packets += 1;
                }
            }
            // Slow-loris: a byte now and then, never a frame.
            while Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(500)).await;
                for c in conns.iter_mut() {
                    if c.write_all(&[0]).await.is_ok() {
                        r.sent_bytes += 1;
                    }
                }
            }
            // Count the connections the server left open (a write to a closed one fails).
            for c in conns.iter_mut() {
                if c.write_all(&[0]).await.is_ok() && c.flush().await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    if c.write_all(&[0]).await.is_ok() {
                        r.tcp_open += 1;
                    }
                }
            }
            return Ok(r);
        }
        Attack::Garbage => {
            let sock = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
            let mut rng = Rng::from_os();
            let stun = binding_request(&server.ice_ufrag, "x", "not-the-password-not-the-password", true, false);
            let mut buf = vec![0u8; 2048];
            while Instant::now() < end {
                for i in 0..200 {
                    let mut d = vec![0u8; 200];
                    rng.fill(&mut d);
                    let data = if i % 2 == 0 { &stun[..] } else { &d[..] };
                    if sock.send_to(data, server.addr).await.is_ok() {
                        r.sent_packets += 1;
                        r.sent_bytes += data.len() as u64;
                    }
                }
                while let Ok((n, _)) = sock.try_recv_from(&mut buf) {
                    r.received_packets += 1;
                    r.received_bytes += n as u64;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            return Ok(r);
        }
        Attack::DtlsFlood => {
            // ICE only (a binding request with the real credentials), then DTLS junk records.
            let sock = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
            let stun = binding_request(&server.ice_ufrag, "x", &server.ice_pwd, true, false);
            sock.send_to(&stun, server.addr).await.map_err(|e| e.to_string())?;
            let mut rng = Rng::from_os();
            let mut buf = vec![0u8; 2048];
            while Instant::now() < end {
                for _ in 0..100 {
                    // A DTLS 1.2 record of epoch 1 (content type 23), random body.
                    let mut d = vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0x04, 0x00];
                    let mut body = vec![0u8; 1024];
                    rng.fill(&mut body);
                    d.extend_from_slice(&body);
                    d[5..11].copy_from_slice(&body[..6]);
                    if sock.send_to(&d, server.addr).await.is_ok() {
                        r.sent_packets += 1;
                        r.sent_bytes += d.len() as u64;
                    }
                }
                while let Ok((n, _)) = sock.try_recv_from(&mut buf) {
                    r.received_packets += 1;
                    r.received_bytes += n as u64;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            return Ok(r);
        }
        _ => {}
    }
    let (sock, mut peer) = connect(server, Duration::from_secs(10)).await?;
    let to = peer.server_addr();
    let mut rng = Rng::from_os();
    let mut buf = vec![0u8; 65536];
    // Behave first (only consent checks), so the server sees an ordinary peer.
    let calm = Instant::now() + warmup;
    while Instant::now() < calm {
        while sock.try_recv_from(&mut buf).is_ok() {}
        peer.handle_timeout(Instant::now());
        while let Some(d) = peer.poll_transmit() {
            let _ = sock.send_to(&d, to).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    end = Instant::now() + duration;
    let mut seq: u16 = 0;
    let mut twcc: u16 = 0;
    // The newest sequence number of the stream it receives (a NACK flood names what is
    // really held for retransmission).
    let mut highest: Option<u16> = None;
    while Instant::now() < end {
        match attack {
            Attack::NackFlood { media_ssrc } => {
                if let Some(h) = highest {
                    peer.send_rtcp(&nack_all(media_ssrc, h));
                }
            }
            Attack::PliFlood { media_ssrc } => {
                for _ in 0..10 {
                    peer.send_rtcp(&rtcp::marshal(&[rtcp::pli(1, media_ssrc)]).unwrap_or_default());
                }
            }
            Attack::ForgedSrtp => {
                for _ in 0..100 {
                    let mut d = vec![0u8; 300];
                    rng.fill(&mut d);
                    d[0] = 0x80;
                    d[1] = if rng.u32() % 2 == 0 { 96 } else { 200 };
                    if sock.send_to(&d, to).await.is_ok() {
                        r.sent_packets += 1;
                        r.sent_bytes += d.len() as u64;
                    }
                }
            }
            Attack::SequenceGaps { ssrc } | Attack::TwccGaps { ssrc, .. } => {
                for _ in 0..20 {
                    let mut p = vec![0x80, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0, 0];
                    p.extend_from_slice(&ssrc.to_be_bytes());
                    if let Attack::TwccGaps { ext_id, .. } = attack {
                        p[0] |= 0x10;
                        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, (ext_id << 4) | 1, (twcc >> 8) as u8, twcc as u8, 0]);
                        twcc = twcc.wrapping_add(3000);
                        seq = seq.wrapping_add(1);
                    } else {
                        seq = seq.wrapping_add(32_000);
                    }
                    p.extend_from_slice(&[0x10, 0x01, 0x9d, 0x01]);
                    p.extend(std::iter::repeat_n(0u8, 100));
                    peer.send_rtp(&p);
                }
            }
            _ => {}
        }
        while let Some(d) = peer.poll_transmit() {
            if sock.send_to(&d, to).await.is_ok() {
                r.sent_packets += 1;
                r.sent_bytes += d.len() as u64;
            }
        }
        while let Ok((n, from)) = sock.try_recv_from(&mut buf) {
            let _: SocketAddr = from;
            r.received_packets += 1;
            r.received_bytes += n as u64;
            peer.handle_datagram(Instant::now(), &buf[..n]);
        }
        while let Some(e) = peer.poll_event() {
            if let (Attack::NackFlood { media_ssrc }, crate::peer::PeerEvent::Rtp(d)) = (attack, e) {
                if let Some(p) = ferrosoup_sfu::rtp::parse(&d).filter(|p| p.header.ssrc == media_ssrc) {
                    let s = p.header.sequence_number;
                    if highest.is_none_or(|h| (s.wrapping_sub(h) as i16) > 0) {
                        highest = Some(s);
                    }
                }
            }
        }
        peer.handle_timeout(Instant::now());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_flood_nack_is_one_large_packet() {
        let n = super::nack_all(5, 100);
        assert!(n.len() > 100 && n.len() < 200, "{}", n.len());
    }
}
