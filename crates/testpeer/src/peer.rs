//! One browser-side WebRTC connection to a WebRtcTransport, sans-IO: ICE as controlling agent
//! (nominating at once, then consent checks), DTLS client with the server's fingerprint, SRTP
//! both ways. Fed datagrams and time; gives datagrams to send and events.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosoup_sfu::net::certificate::LocalCertificate;
use ferrosoup_sfu::net::dtls::{DtlsState, DtlsTransport, Fingerprint, Role};
use ferrosoup_sfu::net::ice::{binding_request, demux, Demux};
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::net::srtp::SrtpSession;
use serde_json::Value;

/// Where and how to reach a WebRtcTransport (from its `iceParameters`, `iceCandidates` and
/// `dtlsParameters`).
#[derive(Clone, Debug)]
pub struct ServerParams {
    pub addr: SocketAddr,
    pub ice_ufrag: String,
    pub ice_pwd: String,
    pub fingerprints: Vec<Fingerprint>,
}

impl ServerParams {
    /// From a transport's data as the API gives it (the first UDP candidate).
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let bad = |what: &str| format!("invalid {what}");
        let candidate = v["iceCandidates"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["protocol"] == "udp"))
            .ok_or_else(|| bad("iceCandidates"))?;
        let ip = candidate["address"].as_str().or(candidate["ip"].as_str()).ok_or_else(|| bad("candidate address"))?;
        let port = candidate["port"].as_u64().ok_or_else(|| bad("candidate port"))? as u16;
        let addr = format!("{ip}:{port}").parse().or_else(|_| format!("[{ip}]:{port}").parse()).map_err(|_| bad("candidate address"))?;
        let fingerprints = v["dtlsParameters"]["fingerprints"]
            .as_array()
            .ok_or_else(|| bad("dtlsParameters"))?
            .iter()
            .filter_map(|f| Some(Fingerprint { algorithm: f["algorithm"].as_str()?.to_string(), value: f["value"].as_str()?.to_string() }))
            .collect();
        Ok(ServerParams {
            addr,
            ice_ufrag: v["iceParameters"]["usernameFragment"].as_str().ok_or_else(|| bad("iceParameters"))?.to_string(),
            ice_pwd: v["iceParameters"]["password"].as_str().ok_or_else(|| bad("iceParameters"))?.to_string(),
            fingerprints,
        })
    }
}

/// The DTLS parameters a peer announces (`connect({ dtlsParameters })` on the server side).
pub fn dtls_parameters(cert: &LocalCertificate) -> Value {
    serde_json::json!({ "role": "client", "fingerprints": cert.fingerprints })
}

#[derive(Debug, Clone, PartialEq)]
pub enum PeerEvent {
    /// ICE answered: DTLS starts.
    IceConnected,
    /// DTLS done, SRTP keys in hand.
    Connected,
    Failed(String),
    /// Decrypted RTP.
    Rtp(Vec<u8>),
    /// Decrypted RTCP.
    Rtcp(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Checking,
    Handshaking,
    Connected,
    Failed,
}

/// How often binding requests go out while checking, and as consent checks once connected.
const CHECK_INTERVAL: Duration = Duration::from_millis(50);
const CONSENT_INTERVAL: Duration = Duration::from_secs(2);

pub struct TestPeer {
    server: ServerParams,
    dtls: DtlsTransport,
    srtp: Option<SrtpSession>,
    stun: Vec<u8>,
    state: State,
    next_stun: Instant,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<PeerEvent>,
    /// Datagrams that did not decrypt or parse.
    pub dropped: u64,
}

impl TestPeer {
    pub fn new(now: Instant, server: ServerParams, cert: Arc<LocalCertificate>, rng: &mut Rng) -> Self {
        let local_ufrag = rng.string(8);
        let stun = binding_request(&server.ice_ufrag, &local_ufrag, &server.ice_pwd, true, false);
        let mut dtls = DtlsTransport::new(cert);
        dtls.set_remote_fingerprints(now, server.fingerprints.clone());
        TestPeer {
            server,
            dtls,
            srtp: None,
            stun,
            state: State::Checking,
            next_stun: now,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            dropped: 0,
        }
    }

    pub fn server_addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Failed => None,
            _ => [Some(self.next_stun), self.dtls.poll_timeout()].into_iter().flatten().min(),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Failed {
            return;
        }
        if now >= self.next_stun {
            self.transmits.push_back(self.stun.clone());
            self.next_stun = now + if self.state == State::Checking { CHECK_INTERVAL } else { CONSENT_INTERVAL };
        }
        self.dtls.handle_timeout(now);
        self.drain_dtls(now);
    }

    /// A datagram from the server.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        match demux(data) {
            // A Binding success (class bits 0b10) completes ICE for us.
            Demux::Stun if self.state == State::Checking && data.len() >= 2 && (data[0] & 0x01) == 0x01 && (data[1] & 0x10) == 0 => {
                self.state = State::Handshaking;
                self.next_stun = now + CONSENT_INTERVAL;
                self.events.push_back(PeerEvent::IceConnected);
                self.dtls.run(now, Role::Client);
                self.drain_dtls(now);
            }
            Demux::Stun => {}
            Demux::Dtls => {
                self.dtls.handle_datagram(now, data);
                self.drain_dtls(now);
            }
            Demux::Rtp => match self.srtp.as_mut().map(|s| s.decrypt_rtp(data)) {
                Some(Ok(plain)) => self.events.push_back(PeerEvent::Rtp(plain.to_vec())),
                _ => self.dropped += 1,
            },
            Demux::Rtcp => match self.srtp.as_mut().map(|s| s.decrypt_rtcp(data)) {
                Some(Ok(plain)) => self.events.push_back(PeerEvent::Rtcp(plain.to_vec())),
                _ => self.dropped += 1,
            },
            Demux::Unknown => self.dropped += 1,
        }
    }

    fn drain_dtls(&mut self, _now: Instant) {
        while let Some(d) = self.dtls.poll_transmit() {
            self.transmits.push_back(d.to_vec());
        }
        while let Some(s) = self.dtls.poll_state() {
            match s {
                DtlsState::Connected if self.state != State::Connected => {
                    self.srtp = self.dtls.take_srtp();
                    self.state = State::Connected;
                    self.events.push_back(PeerEvent::Connected);
                }
                DtlsState::Failed | DtlsState::Closed if self.state != State::Failed => {
                    self.state = State::Failed;
                    self.events.push_back(PeerEvent::Failed(format!("DTLS {}", s.name())));
                }
                _ => {}
            }
        }
    }

    /// Protects and queues an RTP packet; `false` before SRTP is up.
    pub fn send_rtp(&mut self, plain: &[u8]) -> bool {
        match self.srtp.as_mut().map(|s| s.encrypt_rtp(plain)) {
            Some(Ok(sealed)) => {
                self.transmits.push_back(sealed.to_vec());
                true
            }
            _ => false,
        }
    }

    /// Protects and queues an RTCP packet; `false` before SRTP is up.
    pub fn send_rtcp(&mut self, plain: &[u8]) -> bool {
        match self.srtp.as_mut().map(|s| s.encrypt_rtcp(plain)) {
            Some(Ok(sealed)) => {
                self.transmits.push_back(sealed.to_vec());
                true
            }
            _ => false,
        }
    }

    /// The next datagram for the server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }
}
