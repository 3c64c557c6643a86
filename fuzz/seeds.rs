//! Seed corpora for the fuzz targets, from real exchanges: STUN checks with the targets'
//! credentials, a DTLS client's flights, SRTP/SRTCP packets sealed with the targets' keys,
//! RTP and RTCP as the router sees them, framed TCP streams, and router op sequences.

use std::path::Path;
use std::time::Instant;

use ferrosoup_sfu::net::certificate::LocalCertificate;
use ferrosoup_sfu::net::dtls::{DtlsTransport, Role};
use ferrosoup_sfu::net::ice::{binding_request, IceServer};
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::net::srtp::{Profile, SrtpSession};
use ferrosoup_sfu::rtp::rtcp;

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new("seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

fn rtp(seq: u16, ssrc: u32, key: bool) -> Vec<u8> {
    let mut p = vec![0x90, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0x0b, 0xb8];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x02, 0x40, b'0', 0x31, 0x00, 0x07, 0, 0, 0]);
    p.extend_from_slice(&[0x90, 0x80, 0x12, if key { 0x00 } else { 0x01 }, 0x9d, 0x01, 0x2a]);
    p.extend(std::iter::repeat_n(0xAB, 200));
    p
}

fn main() {
    // STUN: the server's credentials come from the same seed as in the target.
    let ice = IceServer::new(30, &mut Rng::from_seed([1; 32]));
    for (i, (nominate, controlled)) in [(false, false), (true, false), (true, true)].into_iter().enumerate() {
        write("stun", &format!("binding{i}"), &binding_request(ice.username_fragment(), "peer", ice.password(), nominate, controlled));
    }
    std::fs::write("stun.dict", format!("\"{}\"\n\"{}\"\n\"{}:peer\"\n", ice.username_fragment(), ice.password(), ice.username_fragment())).unwrap();
    // DTLS: a client's first flight (and retransmissions), as the dtls target gets them.
    let now = Instant::now();
    let mut client = DtlsTransport::new(LocalCertificate::generate().unwrap());
    client.run(now, Role::Client);
    let mut flight = Vec::new();
    while let Some(d) = client.poll_transmit() {
        flight.push(d.len().min(255) as u8);
        flight.extend_from_slice(&d[..d.len().min(255)]);
    }
    write("dtls", "client_hello", &flight);
    write("webrtc_datagram", "dtls_client_hello", &[&[1u8][..], &flight[1..]].concat());
    // SRTP with the target's keys, every profile, RTP and RTCP.
    for (i, profile) in [Profile::AesCm128HmacSha1_80, Profile::AesCm128HmacSha1_32, Profile::AeadAes128Gcm, Profile::AeadAes256Gcm].into_iter().enumerate() {
        let key: Vec<u8> = (0..profile.master_len() as u8).collect();
        let mut s = SrtpSession::new(profile, &key, &key).unwrap();
        write("srtp", &format!("rtp{i}"), &[&[i as u8][..], &s.encrypt_rtp(&rtp(1, 1111, true)).unwrap()].concat());
        let rr = rtcp::marshal(&[rtcp::receiver_report(1, vec![])]).unwrap();
        write("srtp", &format!("rtcp{i}"), &[&[i as u8 | 4][..], &s.encrypt_rtcp(&rr).unwrap()].concat());
    }
    // RTP and RTCP.
    write("rtp", "vp8_key", &rtp(65535, 1111, true));
    write("rtp", "vp8_delta", &rtp(2, 1111, false));
    let compound = rtcp::marshal(&[
        rtcp::receiver_report(1, vec![]),
        rtcp::sdes(1, "cname"),
        rtcp::nack(1, 2, &[5, 6, 9, 40, 65535, 0]),
        rtcp::pli(1, 2),
        rtcp::fir(1, 3, 4),
        rtcp::remb(1, 500_000, vec![2]),
        rtcp::sender_report(9, 1 << 40, 1234, 10, 1000),
    ])
    .unwrap();
    write("rtcp", "compound", &compound);
    write("pipe", "plain_rtp", &[&[0u8][..], &rtp(7, 1111, true)].concat());
    write("pipe", "plain_rtcp", &[&[0u8][..], &compound].concat());
    // TCP: three frames.
    let mut stream = vec![7u8];
    for f in [&rtp(1, 1, true)[..], &compound[..], &[0u8; 20][..]] {
        stream.extend_from_slice(&ferrosoup_sfu::net::framing::frame(f).unwrap());
    }
    write("framing", "three_frames", &stream);
    // Router: a key frame and deltas, a viewer's PLI and NACK, time passing.
    let mut ops = Vec::new();
    let op = |ops: &mut Vec<u8>, kind: u8, payload: &[u8]| {
        ops.push(kind);
        ops.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        ops.extend_from_slice(payload);
    };
    for seq in 0..5u16 {
        op(&mut ops, 0, &rtp(seq, 1111, seq == 0));
    }
    op(&mut ops, 3, &[50]);
    op(&mut ops, 1, &rtcp::marshal(&[rtcp::pli(1, 0)]).unwrap());
    op(&mut ops, 1, &rtcp::marshal(&[rtcp::nack(1, 0, &[0, 1, 2])]).unwrap());
    op(&mut ops, 3, &[255]);
    write("router", "broadcast", &ops);
    println!("seeds written to seeds/");
}
