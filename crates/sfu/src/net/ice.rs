//! ICE-lite server (RFC 8445 §2.5), sans-IO: fed STUN datagrams with their tuple and the time,
//! it answers authenticated Binding requests, tracks the remote tuples, follows nomination
//! (USE-CANDIDATE) and consent freshness (RFC 7675), and reports state changes as events.
//!
//! States and transitions follow mediasoup's worker: `new → connected` on a valid check,
//! `→ completed` on a nominating one, `→ disconnected` when consent expires or the last tuple
//! goes away.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rng::Rng;
use super::{crypto, Tuple};

use rtc_stun::attributes::{
    ATTR_FINGERPRINT, ATTR_ICE_CONTROLLED, ATTR_MESSAGE_INTEGRITY, ATTR_PRIORITY,
    ATTR_USERNAME, ATTR_USE_CANDIDATE,
};
use rtc_stun::error_code::{ErrorCode, ErrorCodeAttribute};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{
    Message, MessageType, Setter, BINDING_SUCCESS, CLASS_ERROR_RESPONSE, CLASS_REQUEST,
    METHOD_BINDING,
};
use rtc_stun::textattrs::TextAttribute;
use rtc_stun::xoraddr::XorMappedAddress;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceState {
    New,
    Connected,
    Completed,
    Disconnected,
}

impl IceState {
    pub fn name(self) -> &'static str {
        match self {
            IceState::New => "new",
            IceState::Connected => "connected",
            IceState::Completed => "completed",
            IceState::Disconnected => "disconnected",
        }
    }
    pub fn is_connected(self) -> bool {
        matches!(self, IceState::Connected | IceState::Completed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IceEvent {
    State(IceState),
    SelectedTuple(Tuple),
    /// A tuple stopped being valid (consent lost): the transport forgets it.
    TupleRemoved(Tuple),
}

/// What became of a datagram handed to [`IceServer::handle_stun`].
#[derive(Debug, PartialEq, Eq)]
pub enum StunOutcome {
    /// Send these bytes back on the same tuple.
    Reply(Vec<u8>),
    /// Valid STUN that needs no answer (indications, responses).
    Ignored,
    /// Malformed or not for us: dropped (the caller counts it).
    Dropped(&'static str),
}

const CONSENT_MIN_SECS: u8 = 10;
const CONSENT_MAX_SECS: u8 = 60;

pub struct IceServer {
    ufrag: String,
    pwd: String,
    /// Credentials before the last `restart()`, accepted until the new ones are used.
    old: Option<(String, String)>,
    state: IceState,
    tuples: Vec<Tuple>,
    selected: Option<Tuple>,
    consent_timeout: Option<Duration>,
    consent_deadline: Option<Instant>,
    events: VecDeque<IceEvent>,
    /// Lengths of the username fragment and password it makes (also on restart).
    credential_lengths: (usize, usize),
    /// Tuples added (`true`) and removed since last taken, when someone routes by them (a
    /// WebRtcServer shares its sockets between transports).
    tuple_changes: Option<Vec<(Tuple, bool)>>,
}

impl IceServer {
    /// `consent_timeout_secs` 0 disables consent checks; others are clamped to 10..=60 s.
    pub fn new(consent_timeout_secs: u8, rng: &mut Rng) -> Self {
        Self::with_credential_lengths(consent_timeout_secs, (16, 32), rng)
    }

    /// As [`IceServer::new`], with credentials of these lengths (a WebRtcServer's transports
    /// use 32 and 32, as mediasoup's do, so ufrags stay unique across a shared socket).
    pub fn with_credential_lengths(consent_timeout_secs: u8, credential_lengths: (usize, usize), rng: &mut Rng) -> Self {
        let consent_timeout = match consent_timeout_secs {
            0 => None,
            s => Some(Duration::from_secs(s.clamp(CONSENT_MIN_SECS, CONSENT_MAX_SECS).into())),
        };
        IceServer {
            ufrag: rng.string(credential_lengths.0),
            pwd: rng.string(credential_lengths.1),
            old: None,
            state: IceState::New,
            tuples: Vec::new(),
            selected: None,
            consent_timeout,
            consent_deadline: None,
            events: VecDeque::new(),
            credential_lengths,
            tuple_changes: None,
        }
    }

    /// Starts recording tuple additions and removals (see [`IceServer::take_tuple_changes`]).
    pub fn track_tuples(&mut self) {
        self.tuple_changes.get_or_insert_with(Vec::new);
    }

    /// Tuples validated (`true`) or forgotten since the last call, in order.
    pub fn take_tuple_changes(&mut self) -> Vec<(Tuple, bool)> {
        self.tuple_changes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn tuple_changed(&mut self, t: Tuple, valid: bool) {
        if let Some(log) = &mut self.tuple_changes {
            log.push((t, valid));
        }
    }

    pub fn username_fragment(&self) -> &str {
        &self.ufrag
    }
    pub fn password(&self) -> &str {
        &self.pwd
    }
    pub fn state(&self) -> IceState {
        self.state
    }
    pub fn selected_tuple(&self) -> Option<Tuple> {
        self.selected
    }
    pub fn is_valid_tuple(&self, t: &Tuple) -> bool {
        self.tuples.contains(t)
    }
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// New credentials; the old ones keep working until the peer uses the new ones.
    pub fn restart(&mut self, now: Instant, rng: &mut Rng) {
        let (ufrag_len, pwd_len) = self.credential_lengths;
        let old_ufrag = std::mem::replace(&mut self.ufrag, rng.string(ufrag_len));
        let old_pwd = std::mem::replace(&mut self.pwd, rng.string(pwd_len));
        self.old = Some((old_ufrag, old_pwd));
        // Give the peer time to restart before consent runs out.
        if self.consent_deadline.is_some() {
            self.consent_deadline = Some(now + self.consent_timeout.unwrap_or_default());
        }
    }

    /// The previous username fragment while it is still accepted (after a restart).
    pub fn old_username_fragment(&self) -> Option<&str> {
        self.old.as_ref().map(|(u, _)| u.as_str())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.consent_deadline
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.consent_deadline {
            if now >= deadline && self.state.is_connected() {
                self.consent_deadline = None;
                self.disconnect();
            }
        }
    }

    fn disconnect(&mut self) {
        self.state = IceState::Disconnected;
        self.selected = None;
        for t in std::mem::take(&mut self.tuples) {
            self.tuple_changed(t, false);
            self.events.push_back(IceEvent::TupleRemoved(t));
        }
        self.events.push_back(IceEvent::State(IceState::Disconnected));
    }

    /// A connection-oriented tuple (TCP) went away.
    pub fn remove_tuple(&mut self, t: &Tuple) {
        let Some(pos) = self.tuples.iter().position(|x| x == t) else { return };
        self.tuples.remove(pos);
        self.tuple_changed(*t, false);
        if self.selected == Some(*t) {
            self.selected = None;
            if self.state.is_connected() {
                if let Some(first) = self.tuples.first().copied() {
                    self.set_selected(first);
                } else {
                    self.consent_deadline = None;
                    self.state = IceState::Disconnected;
                    self.events.push_back(IceEvent::State(IceState::Disconnected));
                }
            }
        }
    }

    /// Peers that nominate aggressively may move to another valid tuple by sending DTLS on it.
    pub fn may_force_selected_tuple(&mut self, t: &Tuple) {
        if self.state.is_connected() && self.tuples.contains(t) {
            self.set_selected(*t);
        }
    }

    fn set_selected(&mut self, t: Tuple) {
        if self.selected != Some(t) {
            self.selected = Some(t);
            self.events.push_back(IceEvent::SelectedTuple(t));
        }
    }

    fn add_tuple(&mut self, t: Tuple) {
        if !self.tuples.contains(&t) {
            self.tuples.push(t);
            self.tuple_changed(t, true);
        }
    }

    /// Handles one STUN datagram received on `tuple`.
    pub fn handle_stun(&mut self, now: Instant, tuple: Tuple, data: &[u8]) -> StunOutcome {
        let mut msg = Message::new();
        if msg.unmarshal_binary(data).is_err() {
            return StunOutcome::Dropped("malformed STUN");
        }
        if msg.typ.class != CLASS_REQUEST {
            return StunOutcome::Ignored;
        }
        if FINGERPRINT.check(&msg).is_err() {
            return StunOutcome::Dropped("missing or bad FINGERPRINT");
        }
        // Authenticate before anything else: unauthenticated requests get no answer at all.
        let username = match TextAttribute::get_from_as(&msg, ATTR_USERNAME) {
            Ok(u) => u.text,
            Err(_) => return StunOutcome::Dropped("no USERNAME"),
        };
        if !msg.contains(ATTR_MESSAGE_INTEGRITY) {
            return StunOutcome::Dropped("no MESSAGE-INTEGRITY");
        }
        let local_ufrag = username.split(':').next().unwrap_or_default();
        let pwd = if local_ufrag == self.ufrag {
            self.pwd.clone()
        } else if self.old.as_ref().map(|(u, _)| u.as_str()) == Some(local_ufrag) {
            self.old.as_ref().map(|(_, p)| p.clone()).unwrap_or_default()
        } else {
            return StunOutcome::Dropped("unknown USERNAME");
        };
        let crypto = crypto().crypto();
        if MessageIntegrity::check(&mut msg, pwd.as_bytes(), crypto).is_err() {
            return StunOutcome::Dropped("bad MESSAGE-INTEGRITY");
        }
        if local_ufrag == self.ufrag {
            // The peer uses the current credentials: the old ones are done.
            self.old = None;
        }
        if msg.typ.method != METHOD_BINDING {
            return StunOutcome::Reply(error_response(&msg, 400, "unknown method", &pwd));
        }
        if !msg.contains(ATTR_PRIORITY) {
            return StunOutcome::Reply(error_response(&msg, 400, "missing PRIORITY", &pwd));
        }
        // As ICE-lite we are controlled: the peer must be controlling.
        if msg.contains(ATTR_ICE_CONTROLLED) {
            return StunOutcome::Reply(error_response(&msg, 487, "role conflict", &pwd));
        }
        let mut resp = Message::new();
        let built = resp.build(&[
            Box::new(BINDING_SUCCESS) as Box<dyn Setter>,
            Box::new(msg.transaction_id),
            Box::new(XorMappedAddress { ip: tuple.remote.ip(), port: tuple.remote.port() }),
            Box::new(MessageIntegrity::new_short_term_integrity_with_provider(pwd, crypto)),
            Box::new(FINGERPRINT),
        ]);
        if built.is_err() {
            return StunOutcome::Dropped("cannot build response");
        }
        self.handle_tuple(tuple, msg.contains(ATTR_USE_CANDIDATE));
        if self.state.is_connected() {
            if let Some(timeout) = self.consent_timeout {
                self.consent_deadline = Some(now + timeout);
            }
        }
        StunOutcome::Reply(resp.raw)
    }

    fn handle_tuple(&mut self, tuple: Tuple, use_candidate: bool) {
        self.add_tuple(tuple);
        match self.state {
            IceState::New | IceState::Disconnected => {
                self.state = if use_candidate { IceState::Completed } else { IceState::Connected };
                self.set_selected(tuple);
                self.events.push_back(IceEvent::State(self.state));
            }
            IceState::Connected => {
                if use_candidate {
                    self.state = IceState::Completed;
                    self.set_selected(tuple);
                    self.events.push_back(IceEvent::State(IceState::Completed));
                }
            }
            IceState::Completed => {
                if use_candidate {
                    self.set_selected(tuple);
                }
            }
        }
    }
}

fn error_response(req: &Message, code: u16, reason: &str, pwd: &str) -> Vec<u8> {
    let mut resp = Message::new();
    let typ = MessageType::new(METHOD_BINDING, CLASS_ERROR_RESPONSE);
    let _ = resp.build(&[
        Box::new(typ) as Box<dyn Setter>,
        Box::new(req.transaction_id),
        Box::new(ErrorCodeAttribute { code: ErrorCode(code), reason: reason.as_bytes().to_vec() }),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            pwd.to_string(),
            crypto().crypto(),
        )),
        Box::new(FINGERPRINT),
    ]);
    resp.raw
}

/// Tells STUN, DTLS, RTP/RTCP apart by the first byte (RFC 7983).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demux {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    Unknown,
}

pub fn demux(data: &[u8]) -> Demux {
    match data.first() {
        Some(0..=3) if data.len() >= 20 => Demux::Stun,
        Some(20..=63) if data.len() >= 13 => Demux::Dtls,
        Some(128..=191) if data.len() >= 12 => {
            // RTCP packet types 192..=223 sit in the second byte (RFC 5761).
            match data[1] {
                192..=223 => Demux::Rtcp,
                _ => Demux::Rtp,
            }
        }
        _ => Demux::Unknown,
    }
}

/// The local (our) username fragment a STUN request names in its USERNAME (`local:remote`),
/// read without authenticating it: what a shared socket routes the request by.
pub fn request_local_ufrag(data: &[u8]) -> Option<String> {
    let mut msg = Message::new();
    msg.unmarshal_binary(data).ok()?;
    if msg.typ.class != CLASS_REQUEST {
        return None;
    }
    let username = TextAttribute::get_from_as(&msg, ATTR_USERNAME).ok()?.text;
    username.split(':').next().filter(|u| !u.is_empty()).map(String::from)
}

/// Builds Binding requests as a controlling ICE agent (a browser) would: for tests and the
/// native benchmark client.
pub fn binding_request(
    remote_ufrag: &str,
    local_ufrag: &str,
    remote_pwd: &str,
    use_candidate: bool,
    controlled: bool,
) -> Vec<u8> {
    use rtc_stun::attributes::{ATTR_ICE_CONTROLLING, RawAttribute};
    use rtc_stun::message::{TransactionId, BINDING_REQUEST};
    let mut m = Message::new();
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(TextAttribute::new(ATTR_USERNAME, format!("{remote_ufrag}:{local_ufrag}"))),
        Box::new(RawAttribute {
            typ: if controlled { ATTR_ICE_CONTROLLED } else { ATTR_ICE_CONTROLLING },
            length: 8,
            value: vec![1, 2, 3, 4, 5, 6, 7, 8],
        }),
        Box::new(RawAttribute { typ: ATTR_PRIORITY, length: 4, value: 0x6e7f_00ffu32.to_be_bytes().to_vec() }),
    ];
    if use_candidate {
        setters.push(Box::new(RawAttribute { typ: ATTR_USE_CANDIDATE, length: 0, value: vec![] }));
    }
    setters.push(Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
        remote_pwd.to_string(),
        crypto().crypto(),
    )));
    setters.push(Box::new(FINGERPRINT));
    m.build(&setters).expect("binding request");
    let _ = ATTR_FINGERPRINT;
    m.raw
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::net::{Protocol, SocketId};
    use std::net::SocketAddr;

    fn tuple(port: u16) -> Tuple {
        Tuple {
            socket: SocketId(1),
            protocol: Protocol::Udp,
            local: "127.0.0.1:40000".parse().unwrap(),
            remote: format!("127.0.0.1:{port}").parse().unwrap(),
        }
    }

    fn request(ice: &IceServer, use_candidate: bool) -> Vec<u8> {
        binding_request(ice.username_fragment(), "peer", ice.password(), use_candidate, false)
    }

    #[test]
    fn answers_only_authenticated_requests() {
        let mut ice = IceServer::new(30, &mut Rng::from_seed([1; 32]));
        let now = Instant::now();
        let t = tuple(5000);
        // Wrong password: dropped, no answer, no state change.
        let bad = binding_request(ice.username_fragment(), "peer", "wrong-password-wrong-password!!", false, false);
        assert!(matches!(ice.handle_stun(now, t, &bad), StunOutcome::Dropped(_)));
        // Wrong ufrag.
        let bad = binding_request("someoneelse", "peer", ice.password(), false, false);
        assert!(matches!(ice.handle_stun(now, t, &bad), StunOutcome::Dropped(_)));
        // Garbage and truncation.
        assert!(matches!(ice.handle_stun(now, t, &[0, 1, 0, 0]), StunOutcome::Dropped(_)));
        let good = request(&ice, false);
        assert!(matches!(ice.handle_stun(now, t, &good[..good.len() - 3]), StunOutcome::Dropped(_)));
        assert_eq!(ice.state(), IceState::New);
        assert!(ice.poll_event().is_none());

        let StunOutcome::Reply(resp) = ice.handle_stun(now, t, &good) else { panic!("no reply") };
        let mut m = Message::new();
        m.unmarshal_binary(&resp).unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        MessageIntegrity::check(&mut m, ice.password().as_bytes(), crypto().crypto()).unwrap();
        FINGERPRINT.check(&m).unwrap();
        let mut xor = XorMappedAddress::default();
        xor.get_from_as(&m, rtc_stun::attributes::ATTR_XORMAPPED_ADDRESS).unwrap();
        assert_eq!(SocketAddr::new(xor.ip, xor.port), t.remote);
    }

    #[test]
    fn connected_then_completed_on_nomination() {
        let mut ice = IceServer::new(30, &mut Rng::from_seed([1; 32]));
        let now = Instant::now();
        let (a, b) = (tuple(5000), tuple(5001));
        assert!(matches!(ice.handle_stun(now, a, &request(&ice, false)), StunOutcome::Reply(_)));
        assert_eq!(ice.poll_event(), Some(IceEvent::SelectedTuple(a)));
        assert_eq!(ice.poll_event(), Some(IceEvent::State(IceState::Connected)));
        // A second tuple checks without nomination: valid but not selected.
        ice.handle_stun(now, b, &request(&ice, false));
        assert!(ice.is_valid_tuple(&b));
        assert_eq!(ice.poll_event(), None);
        // Nomination on b: completed, b selected.
        ice.handle_stun(now, b, &request(&ice, true));
        assert_eq!(ice.poll_event(), Some(IceEvent::SelectedTuple(b)));
        assert_eq!(ice.poll_event(), Some(IceEvent::State(IceState::Completed)));
        assert_eq!(ice.selected_tuple(), Some(b));
        // DTLS from a valid tuple may move the selection back.
        ice.may_force_selected_tuple(&a);
        assert_eq!(ice.poll_event(), Some(IceEvent::SelectedTuple(a)));
        ice.may_force_selected_tuple(&tuple(9999));
        assert_eq!(ice.poll_event(), None);
    }

    #[test]
    fn role_conflict_and_consent_expiry() {
        let mut ice = IceServer::new(3, &mut Rng::from_seed([1; 32])); // clamped to 10 s
        let now = Instant::now();
        let t = tuple(5000);
        let controlled = binding_request(ice.username_fragment(), "peer", ice.password(), true, true);
        let StunOutcome::Reply(resp) = ice.handle_stun(now, t, &controlled) else { panic!() };
        let mut m = Message::new();
        m.unmarshal_binary(&resp).unwrap();
        assert_eq!(m.typ.class, CLASS_ERROR_RESPONSE);
        assert_eq!(ice.state(), IceState::New);

        ice.handle_stun(now, t, &request(&ice, true));
        while ice.poll_event().is_some() {}
        assert_eq!(ice.poll_timeout(), Some(now + Duration::from_secs(10)));
        ice.handle_timeout(now + Duration::from_secs(9));
        assert_eq!(ice.state(), IceState::Completed);
        ice.handle_timeout(now + Duration::from_secs(10));
        assert_eq!(ice.state(), IceState::Disconnected);
        assert_eq!(ice.poll_event(), Some(IceEvent::TupleRemoved(t)));
        assert_eq!(ice.poll_event(), Some(IceEvent::State(IceState::Disconnected)));
        assert!(!ice.is_valid_tuple(&t));
        // A new check revives it.
        ice.handle_stun(now, t, &request(&ice, false));
        assert_eq!(ice.state(), IceState::Connected);
    }

    #[test]
    fn restart_keeps_old_credentials_until_new_ones_are_used() {
        let mut ice = IceServer::new(0, &mut Rng::from_seed([1; 32]));
        let now = Instant::now();
        let t = tuple(5000);
        let old_req = request(&ice, true);
        ice.restart(now, &mut Rng::from_seed([2; 32]));
        assert!(matches!(ice.handle_stun(now, t, &old_req), StunOutcome::Reply(_)));
        assert!(matches!(ice.handle_stun(now, t, &request(&ice, true)), StunOutcome::Reply(_)));
        assert!(matches!(ice.handle_stun(now, t, &old_req), StunOutcome::Dropped(_)));
        assert_eq!(ice.poll_timeout(), None); // consent disabled
    }

    #[test]
    fn demultiplexes_by_first_byte() {
        assert_eq!(demux(&[0; 20]), Demux::Stun);
        assert_eq!(demux(&[22; 20]), Demux::Dtls);
        let mut rtp = [0u8; 20];
        rtp[0] = 0x80;
        rtp[1] = 96;
        assert_eq!(demux(&rtp), Demux::Rtp);
        rtp[1] = 200;
        assert_eq!(demux(&rtp), Demux::Rtcp);
        assert_eq!(demux(&[255; 20]), Demux::Unknown);
        assert_eq!(demux(&[]), Demux::Unknown);
    }
}
