use super::*;

fn pair() -> (DtlsTransport, DtlsTransport, Vec<Fingerprint>, Vec<Fingerprint>) {
    let a = LocalCertificate::generate().unwrap();
    let b = LocalCertificate::generate().unwrap();
    let fp = |c: &LocalCertificate| {
        vec![Fingerprint {
            algorithm: "sha-256".into(),
            value: c.fingerprints[2]["value"].as_str().unwrap().to_string(),
        }]
    };
    let (fa, fb) = (fp(&a), fp(&b));
    (DtlsTransport::new(a), DtlsTransport::new(b), fa, fb)
}

/// Shuttles datagrams both ways, firing timers, until nothing moves.
fn pump(x: &mut DtlsTransport, y: &mut DtlsTransport, now: &mut Instant) {
    for _ in 0..200 {
        let mut moved = false;
        while let Some(d) = x.poll_transmit() {
            moved = true;
            y.handle_datagram(*now, &d);
        }
        while let Some(d) = y.poll_transmit() {
            moved = true;
            x.handle_datagram(*now, &d);
        }
        if moved {
            continue;
        }
        let next = [x.poll_timeout(), y.poll_timeout()].into_iter().flatten().min();
        match next {
            Some(t) if x.state() == DtlsState::Connecting || y.state() == DtlsState::Connecting => {
                *now = t.max(*now);
                x.handle_timeout(*now);
                y.handle_timeout(*now);
            }
            _ => break,
        }
    }
}

#[test]
fn handshake_then_srtp_round_trip_both_ways() {
    let (mut server, mut client, fs, fc) = pair();
    let mut now = Instant::now();
    server.set_remote_fingerprints(now, fc);
    client.set_remote_fingerprints(now, fs);
    server.run(now, Role::Server);
    client.run(now, Role::Client);
    pump(&mut server, &mut client, &mut now);
    assert_eq!(server.state(), DtlsState::Connected);
    assert_eq!(client.state(), DtlsState::Connected);
    assert_eq!(server.poll_state(), Some(DtlsState::Connecting));
    assert_eq!(server.poll_state(), Some(DtlsState::Connected));
    assert!(server.remote_cert_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    let mut s = server.take_srtp().unwrap();
    let mut c = client.take_srtp().unwrap();
    assert_eq!(s.profile, c.profile);
    // A minimal RTP packet: V=2, PT=96, seq=1, ts=0, ssrc=0x01020304, 100 bytes of payload.
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    rtp.extend(std::iter::repeat_n(7u8, 100));
    let protected = c.encrypt_rtp(&rtp).unwrap();
    assert_ne!(&protected[12..], &rtp[12..]);
    assert_eq!(&s.decrypt_rtp(&protected).unwrap()[..], &rtp[..]);
    // Replays are refused.
    assert!(s.decrypt_rtp(&protected).is_err());
    let back = s.encrypt_rtp(&rtp).unwrap();
    assert_eq!(&c.decrypt_rtp(&back).unwrap()[..], &rtp[..]);
    // RTCP receiver report, empty.
    let rtcp = vec![0x80, 201, 0, 1, 0, 0, 0, 1];
    let p = c.encrypt_rtcp(&rtcp).unwrap();
    assert_eq!(&s.decrypt_rtcp(&p).unwrap()[..], &rtcp[..]);
    // Tampering is detected.
    let mut bad = c.encrypt_rtp(&{
        let mut r = rtp.clone();
        r[3] = 2;
        r
    })
    .unwrap()
    .to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(s.decrypt_rtp(&bad).is_err());
}

#[test]
fn fingerprint_mismatch_fails_without_keys() {
    let (mut server, mut client, fs, _) = pair();
    let mut now = Instant::now();
    let wrong = vec![Fingerprint { algorithm: "sha-256".into(), value: "00:11:22".into() }];
    server.set_remote_fingerprints(now, wrong);
    client.set_remote_fingerprints(now, fs);
    server.run(now, Role::Server);
    client.run(now, Role::Client);
    pump(&mut server, &mut client, &mut now);
    assert_eq!(server.state(), DtlsState::Failed);
    assert!(server.take_srtp().is_none());
    assert_ne!(client.state(), DtlsState::Connected);
}

#[test]
fn late_fingerprints_are_checked_when_they_arrive() {
    for (good, offload) in [(true, false), (false, false), (true, true), (false, true)] {
        let (mut server, mut client, fs, fc) = pair();
        server.set_offload(offload);
        let mut now = Instant::now();
        client.set_remote_fingerprints(now, fs);
        server.run(now, Role::Server);
        client.run(now, Role::Client);
        if offload {
            pump_offloaded(&mut server, &mut client, &mut now);
        } else {
            pump(&mut server, &mut client, &mut now);
        }
        assert_eq!(server.state(), DtlsState::Connecting);
        // The handshake is done: what the peer sends now is read in place, never offloaded.
        assert!(client.write_app_data(now, b"early"));
        while let Some(d) = client.poll_transmit() {
            server.handle_datagram(now, &d);
        }
        assert!(server.take_job().is_none());
        let fps = if good { fc } else { vec![Fingerprint { algorithm: "sha-1".into(), value: "AA".into() }] };
        server.set_remote_fingerprints(now, fps);
        assert_eq!(server.state(), if good { DtlsState::Connected } else { DtlsState::Failed });
    }
}

#[test]
fn garbage_is_counted_not_fatal_once_connected() {
    let (mut server, mut client, fs, fc) = pair();
    let mut now = Instant::now();
    server.set_remote_fingerprints(now, fc);
    client.set_remote_fingerprints(now, fs);
    server.run(now, Role::Server);
    client.run(now, Role::Client);
    pump(&mut server, &mut client, &mut now);
    server.handle_datagram(now, &[23, 254, 253, 0, 1, 0, 0, 0, 0, 0, 5, 0, 3, 1, 2, 3]);
    assert_eq!(server.state(), DtlsState::Connected);
    // Before running, datagrams are dropped and counted.
    let (mut idle, _, _, _) = pair();
    idle.handle_datagram(now, &[22; 30]);
    assert_eq!(idle.dropped, 1);
    assert_eq!(idle.state(), DtlsState::New);
}

/// DTLS records of a datagram, each as a datagram of its own (legal: a peer may pack them
/// either way).
fn records(d: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 13 <= d.len() {
        let len = u16::from_be_bytes([d[at + 11], d[at + 12]]) as usize;
        out.push(d[at..at + 13 + len].to_vec());
        at += 13 + len;
    }
    out
}

/// Runs the server's handshake jobs on another thread, with the client's flights sent a record
/// per datagram: the first goes out in a job, the others arrive while it is away and must be
/// read when it is back. Returns (jobs, datagrams that waited).
fn pump_offloaded(server: &mut DtlsTransport, client: &mut DtlsTransport, now: &mut Instant) -> (usize, usize) {
    let (mut jobs, mut waited) = (0, 0);
    for _ in 0..50 {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            moved = true;
            let mut parts = records(&d).into_iter();
            server.handle_datagram(*now, &parts.next().unwrap());
            let job = server.take_job();
            for p in parts {
                server.handle_datagram(*now, &p);
            }
            waited += server.waiting.len();
            if let Some(mut job) = job {
                jobs += 1;
                assert_eq!(server.poll_timeout(), None, "no timers while the endpoint is away");
                let job = std::thread::spawn(move || {
                    job.run();
                    job
                })
                .join()
                .unwrap();
                server.handshake_done(*now, job);
                // What waited may have made another job.
                while let Some(mut job) = server.take_job() {
                    jobs += 1;
                    job.run();
                    server.handshake_done(*now, job);
                }
            }
        }
        while let Some(d) = server.poll_transmit() {
            moved = true;
            client.handle_datagram(*now, &d);
        }
        if !moved {
            break;
        }
    }
    (jobs, waited)
}

#[test]
fn an_offloaded_handshake_connects_and_reads_what_came_while_away() {
    let (mut server, mut client, fs, fc) = pair();
    server.set_offload(true);
    let mut now = Instant::now();
    server.set_remote_fingerprints(now, fc);
    client.set_remote_fingerprints(now, fs);
    server.run(now, Role::Server);
    client.run(now, Role::Client);
    let (jobs, waited) = pump_offloaded(&mut server, &mut client, &mut now);
    assert_eq!(server.state(), DtlsState::Connected);
    assert_eq!(client.state(), DtlsState::Connected);
    assert!(jobs >= 2, "{jobs} jobs");
    assert!(waited >= 4, "{waited} records waited for the job");
    let (mut s, mut c) = (server.take_srtp().unwrap(), client.take_srtp().unwrap());
    let rtp = [0x80, 96, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9];
    assert_eq!(&s.decrypt_rtp(&c.encrypt_rtp(&rtp).unwrap()).unwrap()[..], &rtp[..]);
    // Connected: application data is read in place, no job.
    assert!(client.write_app_data(now, b"sctp"));
    while let Some(d) = client.poll_transmit() {
        server.handle_datagram(now, &d);
    }
    assert!(server.take_job().is_none());
    assert_eq!(&server.poll_app_data().unwrap()[..], b"sctp");
}

#[test]
fn a_job_back_after_close_or_a_restart_or_a_panic_changes_nothing_it_should_not() {
    let start = |offload: bool| {
        let (mut server, mut client, fs, fc) = pair();
        server.set_offload(offload);
        let now = Instant::now();
        server.set_remote_fingerprints(now, fc);
        client.set_remote_fingerprints(now, fs);
        server.run(now, Role::Server);
        client.run(now, Role::Client);
        while let Some(d) = client.poll_transmit() {
            server.handle_datagram(now, &d);
        }
        let mut job = server.take_job().expect("the ClientHello went out as a job");
        job.run();
        (server, job, now)
    };
    // Closed meanwhile: the job is dropped; nothing goes out.
    let (mut server, job, now) = start(true);
    server.close(now);
    while server.poll_transmit().is_some() {}
    server.handshake_done(now, job);
    assert_eq!(server.state(), DtlsState::Closed);
    assert!(server.poll_transmit().is_none());
    // Another transport's (or a restarted handshake's) job is not taken.
    let (mut server, job, now) = start(true);
    let (mut other, other_job, _) = start(true);
    other.handshake_done(now, job);
    assert!(other.poll_transmit().is_none(), "a stranger's job sent nothing");
    server.handshake_done(now, other_job);
    assert!(server.poll_transmit().is_none());
    // A job whose run panicked fails the handshake.
    let (mut server, mut job, now) = start(true);
    job.broken = true;
    server.handshake_done(now, job);
    assert_eq!(server.state(), DtlsState::Failed);
}
