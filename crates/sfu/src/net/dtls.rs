//! DTLS 1.2 for one transport (RFC 6347, DTLS-SRTP RFC 5764), sans-IO over rtc-dtls.
//!
//! The role comes from `connect()` as mediasoup negotiates it. The peer's certificate must match
//! a fingerprint given in `connect()`; if the handshake finishes before `connect()` (role
//! `auto`), the check waits for it. A mismatch means `failed` and no SRTP keys.
//!
//! With `offload` set, the handshake's reads (ECDHE, certificate signatures: ~0.3 ms of CPU a
//! handshake, most in the client's second flight) go out as a [`HandshakeJob`] to run on
//! another thread; datagrams arriving meanwhile wait for it to come back. Once connected,
//! everything (SCTP as application data, close_notify) is done in place.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use rtc_dtls::cipher_suite::CipherSuiteId;
use rtc_dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig};
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::TransportProtocol;

use super::certificate::{fingerprint, LocalCertificate};
use super::srtp::{Profile, SrtpSession};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Auto,
    Client,
    Server,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "auto" => Some(Role::Auto),
            "client" => Some(Role::Client),
            "server" => Some(Role::Server),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Role::Auto => "auto",
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtlsState {
    New,
    Connecting,
    Connected,
    Failed,
    Closed,
}

impl DtlsState {
    pub fn name(self) -> &'static str {
        match self {
            DtlsState::New => "new",
            DtlsState::Connecting => "connecting",
            DtlsState::Connected => "connected",
            DtlsState::Failed => "failed",
            DtlsState::Closed => "closed",
        }
    }
}

/// A remote fingerprint from `connect()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub algorithm: String,
    pub value: String,
}

type SharedFingerprints = Arc<Mutex<Option<Vec<Fingerprint>>>>;

/// The association key inside our Endpoint. ICE owns addressing; DTLS sees one fixed peer so
/// that tuple changes do not start a new association.
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 9)), 9);

const PROFILES: [SrtpProtectionProfile; 4] = [
    SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
    SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
    SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
    SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
];

fn matches_any(der: &[u8], fps: &[Fingerprint]) -> bool {
    fps.iter().any(|f| fingerprint(&f.algorithm, der).is_some_and(|v| v.eq_ignore_ascii_case(&f.value)))
}

fn handshake_config(
    cert: &LocalCertificate,
    remote: SharedFingerprints,
    is_client: bool,
) -> Result<Arc<HandshakeConfig>, String> {
    let verifier: rtc_dtls::config::VerifyPeerCertificateFn = Arc::new(move |certs, _| {
        let leaf = certs.first().ok_or(rtc_shared::error::Error::ErrNoCertificates)?;
        match remote.lock().map(|g| g.clone()) {
            // Fingerprints not known yet: checked when connect() gives them.
            Ok(None) => Ok(()),
            Ok(Some(fps)) if matches_any(leaf, &fps) => Ok(()),
            _ => Err(rtc_shared::error::Error::Other("DTLS peer fingerprint mismatch".into())),
        }
    });
    ConfigBuilder::default()
        .with_crypto_provider(super::crypto().clone())
        .with_certificates(vec![cert.certificate.clone()])
        .with_cipher_suites(vec![
            CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256,
            CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_256_Cbc_Sha,
        ])
        .with_srtp_protection_profiles(PROFILES.to_vec())
        .with_extended_master_secret(ExtendedMasterSecretType::Require)
        .with_client_auth(ClientAuthType::RequireAnyClientCert)
        .with_insecure_skip_verify(true)
        .with_verify_peer_certificate(Some(verifier))
        .build(is_client, None)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

fn srtp_profile(p: SrtpProtectionProfile) -> Option<Profile> {
    Some(match p {
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => Profile::AesCm128HmacSha1_80,
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32 => Profile::AesCm128HmacSha1_32,
        SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => Profile::AeadAes128Gcm,
        SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm => Profile::AeadAes256Gcm,
        _ => return None,
    })
}

pub struct DtlsTransport {
    cert: Arc<LocalCertificate>,
    endpoint: Option<Endpoint>,
    running: Option<Role>,
    state: DtlsState,
    remote: SharedFingerprints,
    /// Handshake finished before the fingerprints were known.
    awaiting_verification: bool,
    srtp: Option<SrtpSession>,
    remote_cert_der: Option<Vec<u8>>,
    state_events: VecDeque<DtlsState>,
    outbox: VecDeque<BytesMut>,
    /// Application data received (SCTP packets), bounded by what one datagram carries.
    app_in: VecDeque<BytesMut>,
    /// Records that could not be processed (counted, otherwise ignored).
    pub dropped: u64,
    /// Handshake reads go out as jobs (see the module doc).
    offload: bool,
    /// Names this handshake's jobs: one from a transport started over is stale.
    epoch: u64,
    /// A job with the endpoint, not yet taken by the engine (more datagrams join it). Boxed:
    /// the endpoint is large, and a transport keeps this field all its life.
    job: Option<Box<HandshakeJob>>,
    /// The endpoint is away in a job; datagrams arriving meanwhile.
    away: bool,
    waiting: VecDeque<BytesMut>,
}

/// Handshake epochs, unique in the process (a job never finds a transport of another).
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// What one read of a job gave, applied when the job comes back.
enum ReadOutcome {
    Events(Vec<EndpointEvent>),
    /// The error's text, and whether the association was gone after it.
    Failed { error: String, association_gone: bool },
}

/// Handshake reads taken off the media thread: the endpoint with the datagrams to read.
/// `run()` anywhere, then `DtlsTransport::handshake_done()` on the transport's thread.
pub struct HandshakeJob {
    epoch: u64,
    endpoint: Endpoint,
    now: Instant,
    input: Vec<BytesMut>,
    outcomes: Vec<ReadOutcome>,
    transmits: Vec<BytesMut>,
    /// `run()` panicked: the endpoint cannot be trusted.
    broken: bool,
}

impl HandshakeJob {
    /// Reads the datagrams (the costly part: ECDHE, signatures, key derivation).
    pub fn run(&mut self) {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for data in std::mem::take(&mut self.input) {
                let outcome = match self.endpoint.read(self.now, PEER, None, data) {
                    Ok(events) => ReadOutcome::Events(events),
                    Err(e) => ReadOutcome::Failed { error: e.to_string(), association_gone: self.endpoint.get_connection_state(PEER).is_none() },
                };
                self.outcomes.push(outcome);
                while let Some(t) = self.endpoint.poll_transmit() {
                    self.transmits.push(t.message);
                }
            }
        }));
        self.broken = caught.is_err();
    }

    /// Datagrams in the job.
    pub fn len(&self) -> usize {
        self.input.len().max(self.outcomes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for HandshakeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HandshakeJob(epoch {}, {} datagrams)", self.epoch, self.len())
    }
}

impl PartialEq for HandshakeJob {
    fn eq(&self, o: &Self) -> bool {
        self.epoch == o.epoch && self.len() == o.len()
    }
}

impl DtlsTransport {
    /// Handshake reads as jobs for another thread when `offload`.
    pub fn with_offload(cert: Arc<LocalCertificate>, offload: bool) -> Self {
        DtlsTransport { offload, ..Self::new(cert) }
    }

    /// See `with_offload` (before the handshake starts).
    pub fn set_offload(&mut self, on: bool) {
        self.offload = on;
    }

    pub fn new(cert: Arc<LocalCertificate>) -> Self {
        DtlsTransport {
            offload: false,
            epoch: EPOCHS.fetch_add(1, Ordering::Relaxed),
            job: None,
            away: false,
            waiting: VecDeque::new(),
            cert,
            endpoint: None,
            running: None,
            state: DtlsState::New,
            remote: Arc::new(Mutex::new(None)),
            awaiting_verification: false,
            srtp: None,
            remote_cert_der: None,
            state_events: VecDeque::new(),
            outbox: VecDeque::new(),
            app_in: VecDeque::new(),
            dropped: 0,
        }
    }

    pub fn state(&self) -> DtlsState {
        self.state
    }
    pub fn running_role(&self) -> Option<Role> {
        self.running
    }

    fn set_state(&mut self, s: DtlsState) {
        if self.state != s {
            self.state = s;
            self.state_events.push_back(s);
        }
    }

    pub fn poll_state(&mut self) -> Option<DtlsState> {
        self.state_events.pop_front()
    }

    /// The peer certificate in PEM, once connected.
    pub fn remote_cert_pem(&self) -> Option<String> {
        self.remote_cert_der.as_ref().map(|der| pem::encode(&pem::Pem::new("CERTIFICATE", der.clone())))
    }

    pub fn take_srtp(&mut self) -> Option<SrtpSession> {
        self.srtp.take()
    }

    pub fn set_remote_fingerprints(&mut self, now: Instant, fps: Vec<Fingerprint>) {
        if let Ok(mut g) = self.remote.lock() {
            *g = Some(fps);
        }
        // (Never away then: a finished handshake is not offloaded.)
        if self.awaiting_verification && self.endpoint.is_some() {
            self.awaiting_verification = false;
            self.finish_handshake(now);
        }
    }

    /// Starts the handshake in `role` (client sends its ClientHello now).
    pub fn run(&mut self, now: Instant, role: Role) {
        if self.running.is_some() || matches!(self.state, DtlsState::Closed | DtlsState::Failed) {
            return;
        }
        let config = match handshake_config(&self.cert, self.remote.clone(), role == Role::Client) {
            Ok(c) => c,
            Err(_) => {
                self.set_state(DtlsState::Failed);
                return;
            }
        };
        let local: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        self.running = Some(role);
        self.set_state(DtlsState::Connecting);
        match role {
            Role::Client => {
                let mut ep = Endpoint::new(local, TransportProtocol::UDP, None);
                if ep.connect(now, PEER, config, None).is_err() {
                    self.set_state(DtlsState::Failed);
                }
                self.endpoint = Some(ep);
            }
            _ => {
                self.endpoint = Some(Endpoint::new(local, TransportProtocol::UDP, Some(config)));
            }
        }
        self.drain();
    }

    fn drain(&mut self) {
        if let Some(ep) = self.endpoint.as_mut() {
            while let Some(t) = ep.poll_transmit() {
                self.outbox.push_back(t.message);
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<BytesMut> {
        self.outbox.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            DtlsState::Connecting | DtlsState::Connected => self.endpoint.as_ref()?.poll_timeout(&PEER),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(ep) = self.endpoint.as_mut() {
            if ep.poll_timeout(&PEER).is_some_and(|t| t <= now) {
                let _ = ep.handle_timeout(PEER, now);
            }
        }
        self.drain();
    }

    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        if !matches!(self.state, DtlsState::Connecting | DtlsState::Connected) {
            self.dropped += 1;
            return;
        }
        if self.away {
            self.waiting.push_back(BytesMut::from(data));
            return;
        }
        if let Some(job) = self.job.as_mut() {
            job.input.push(BytesMut::from(data));
            return;
        }
        let Some(ep) = self.endpoint.as_mut() else {
            self.dropped += 1;
            return;
        };
        // Only the handshake's reads: once it is done (even if the peer's fingerprint is not
        // known yet), what comes is cheap and read in place.
        if self.offload && self.state == DtlsState::Connecting && !self.awaiting_verification {
            if let Some(endpoint) = self.endpoint.take() {
                self.job = Some(Box::new(HandshakeJob { epoch: self.epoch, endpoint, now, input: vec![BytesMut::from(data)], outcomes: Vec::new(), transmits: Vec::new(), broken: false }));
            }
            return;
        }
        let outcome = match ep.read(now, PEER, None, BytesMut::from(data)) {
            Ok(events) => ReadOutcome::Events(events),
            Err(e) => ReadOutcome::Failed { error: e.to_string(), association_gone: ep.get_connection_state(PEER).is_none() },
        };
        self.drain();
        self.apply(now, outcome);
    }

    /// A job to run elsewhere (taken once; the endpoint is away until `handshake_done`).
    pub fn take_job(&mut self) -> Option<Box<HandshakeJob>> {
        let job = self.job.take()?;
        self.away = true;
        Some(job)
    }

    /// A job back from its thread: its sends and events, as if read here, then the datagrams
    /// that came meanwhile. A job of an earlier handshake (started over, closed) is dropped.
    pub fn handshake_done(&mut self, now: Instant, job: Box<HandshakeJob>) {
        if job.epoch != self.epoch || !self.away {
            return;
        }
        self.away = false;
        if self.state != DtlsState::Connecting {
            // Closed or failed meanwhile (handshake deadline): nothing more to do.
            self.waiting.clear();
            return;
        }
        if job.broken {
            self.waiting.clear();
            self.set_state(DtlsState::Failed);
            return;
        }
        let job = *job;
        self.endpoint = Some(job.endpoint);
        self.outbox.extend(job.transmits);
        for outcome in job.outcomes {
            self.apply(now, outcome);
        }
        for data in std::mem::take(&mut self.waiting) {
            self.handle_datagram(now, &data);
        }
    }

    /// What a read gave: the handshake's end, application data, a fatal error.
    fn apply(&mut self, now: Instant, outcome: ReadOutcome) {
        match outcome {
            ReadOutcome::Events(events) => {
                for e in events {
                    match e {
                        EndpointEvent::HandshakeComplete => self.on_handshake_complete(now),
                        // Only once the peer is verified (SRTP keys exist): nothing before.
                        EndpointEvent::ApplicationData(d) if self.state == DtlsState::Connected => self.app_in.push_back(d),
                        EndpointEvent::ApplicationData(_) => self.dropped += 1,
                        EndpointEvent::PeerClosed => {
                            self.srtp = None;
                            self.set_state(DtlsState::Closed);
                        }
                        _ => {}
                    }
                }
            }
            ReadOutcome::Failed { error, association_gone } => {
                let fatal = self.state == DtlsState::Connecting
                    && (association_gone || error.contains("fingerprint") || error.to_lowercase().contains("alert"));
                if fatal {
                    self.set_state(DtlsState::Failed);
                } else {
                    self.dropped += 1;
                }
            }
        }
    }

    fn on_handshake_complete(&mut self, now: Instant) {
        let known = self.remote.lock().map(|g| g.is_some()).unwrap_or(false);
        if !known {
            self.awaiting_verification = true;
            return;
        }
        self.finish_handshake(now);
    }

    fn finish_handshake(&mut self, now: Instant) {
        let Some(state) = self.endpoint.as_ref().and_then(|ep| ep.get_connection_state(PEER)) else {
            self.set_state(DtlsState::Failed);
            return;
        };
        let der = state.peer_certificates.first().cloned();
        let fps = self.remote.lock().ok().and_then(|g| g.clone()).unwrap_or_default();
        let verified = der.as_ref().is_some_and(|d| matches_any(d, &fps));
        let keys = srtp_profile(state.srtp_protection_profile()).and_then(|profile| {
            let len = SrtpSession::keying_material_len(profile);
            let material = state.export_keying_material(SrtpSession::EXPORTER_LABEL, &[], len).ok()?;
            SrtpSession::from_keying_material(profile, material.as_ref(), state.is_client()).ok()
        });
        match (verified, keys) {
            (true, Some(session)) => {
                self.srtp = Some(session);
                self.remote_cert_der = der;
                self.set_state(DtlsState::Connected);
            }
            _ => self.fail_now(now),
        }
    }

    fn fail_now(&mut self, now: Instant) {
        if let Some(ep) = self.endpoint.as_mut() {
            let _ = ep.stop(now, PEER);
        }
        self.drain();
        self.set_state(DtlsState::Failed);
    }

    /// Application data (SCTP) that arrived, in order.
    pub fn poll_app_data(&mut self) -> Option<BytesMut> {
        self.app_in.pop_front()
    }

    /// Sends application data (an SCTP packet); `false` unless connected.
    pub fn write_app_data(&mut self, now: Instant, data: &[u8]) -> bool {
        if self.state != DtlsState::Connected {
            return false;
        }
        let Some(ep) = self.endpoint.as_mut() else { return false };
        let ok = ep.write(now, PEER, data).is_ok();
        self.drain();
        ok
    }

    /// Sends close_notify if connected; the state becomes `closed`.
    pub fn close(&mut self, now: Instant) {
        // A handshake job not yet sent goes with it; one away is dropped when it comes back.
        self.job = None;
        self.waiting.clear();
        if let Some(ep) = self.endpoint.as_mut() {
            let _ = ep.stop(now, PEER);
        }
        self.drain();
        self.srtp = None;
        self.state = DtlsState::Closed;
    }
}

#[cfg(test)]
mod tests;

// The job crosses threads.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<HandshakeJob>();
};
