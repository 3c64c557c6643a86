//! One SCTP association of a transport (DataChannels, RFC 8831), sans-IO over rtc-sctp: fed SCTP
//! packets (from DTLS application data on a WebRtcTransport, from UDP on Plain/Pipe transports)
//! and time; hands out packets to send and events (state, messages, buffered amount low, peer
//! stream resets).
//!
//! What mediasoup's association does that rtc-sctp does not, done here: messages sent before
//! the association is up are queued; the send buffer (`sctpSendBufferSize`, per stream
//! `sctpPerStreamSendQueueLimit`) refuses messages beyond it; received messages over
//! `maxReceiveMessageSize` are dropped; empty payloads are refused. Only negotiated channels
//! (no DCEP), as mediasoup.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rtc_sctp::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event, PayloadProtocolIdentifier,
    ReliabilityType, ServerConfig, StreamEvent, TransportConfig,
};
use rtc_shared::TransportProtocol;

/// The association's two ends as rtc-sctp sees them (the transport knows the real ones).
const LOCAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5001);

/// Streams in each direction we offer (mediasoup's OS and MIS).
pub const MAX_STREAMS: u16 = 65535;
/// The SCTP port (both ends), as mediasoup.
pub const PORT: u16 = 5000;
/// Messages queued before the association is up, at most (then the send buffer refuses).
const MAX_PENDING_MESSAGES: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpOptions {
    pub max_send_message_size: usize,
    pub max_receive_message_size: usize,
    pub send_buffer_size: usize,
    pub per_stream_send_queue_limit: usize,
    pub max_receiver_window: u32,
    pub default_buffered_amount_low_threshold: usize,
}

impl Default for SctpOptions {
    fn default() -> Self {
        SctpOptions {
            max_send_message_size: 262_144,
            max_receive_message_size: 262_144,
            send_buffer_size: 2_000_000,
            per_stream_send_queue_limit: 2_000_000,
            max_receiver_window: 5_242_880,
            default_buffered_amount_low_threshold: 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SctpState {
    New,
    Connecting,
    Connected,
    Failed,
    Closed,
}

impl SctpState {
    pub fn name(self) -> &'static str {
        match self {
            SctpState::New => "new",
            SctpState::Connecting => "connecting",
            SctpState::Connected => "connected",
            SctpState::Failed => "failed",
            SctpState::Closed => "closed",
        }
    }
}

/// How a stream's messages travel (a DataConsumer's `sctpStreamParameters`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reliability {
    pub ordered: bool,
    pub max_packet_life_time: Option<u32>,
    pub max_retransmits: Option<u32>,
}

impl Reliability {
    pub fn reliable() -> Self {
        Reliability { ordered: true, max_packet_life_time: None, max_retransmits: None }
    }

    fn params(self) -> (bool, ReliabilityType, u32) {
        match (self.max_retransmits, self.max_packet_life_time) {
            (Some(n), _) => (!self.ordered, ReliabilityType::Rexmit, n),
            (None, Some(ms)) => (!self.ordered, ReliabilityType::Timed, ms),
            (None, None) => (!self.ordered, ReliabilityType::Reliable, 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SctpEvent {
    State(SctpState),
    /// Negotiated stream counts (outbound, inbound), just before `Connected`.
    Capabilities { outbound: u16, inbound: u16 },
    Message { stream: u16, ppid: u32, data: Vec<u8> },
    BufferedAmountLow { stream: u16, amount: usize },
    /// The peer reset its outgoing stream (its DataChannel closed).
    StreamReset(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    Empty,
    TooLarge,
    /// The send buffer is full (`sctpsendbufferfull`).
    Full,
    Closed,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SctpDrops {
    /// Not an SCTP packet, or not for our association.
    pub malformed: u64,
    /// Received messages over `maxReceiveMessageSize`.
    pub too_big: u64,
    /// Packets with a FORWARD TSN or SACK that would make rtc-sctp walk far more TSNs than the
    /// association holds (see [`TsnBounds`]).
    pub over_limit: u64,
    /// Packets that made rtc-sctp panic (the association failed; see `SctpAssociation::guarded`).
    pub panicked: u64,
}

struct Queued {
    stream: u16,
    ppid: u32,
    data: Vec<u8>,
    reliability: Reliability,
}

pub struct SctpAssociation {
    opts: SctpOptions,
    endpoint: Endpoint,
    assoc: Option<(AssociationHandle, Association)>,
    /// We send the INIT (else we wait for the peer's).
    client: bool,
    state: SctpState,
    pending: VecDeque<Queued>,
    pending_bytes: HashMap<u16, usize>,
    /// How each stream we send on is set up.
    streams: HashMap<u16, Reliability>,
    thresholds: HashMap<u16, usize>,
    transmits: VecDeque<Vec<u8>>,
    bounds: TsnBounds,
    events: VecDeque<SctpEvent>,
    pub drops: SctpDrops,
}

fn transport_config(opts: &SctpOptions) -> TransportConfig {
    TransportConfig::default()
        .with_sctp_port(PORT)
        .with_max_receive_buffer_size(opts.max_receiver_window)
        .with_max_message_size(opts.max_send_message_size.min(u32::MAX as usize) as u32)
        .with_max_num_outbound_streams(MAX_STREAMS)
        .with_max_num_inbound_streams(MAX_STREAMS)
}

fn ppi(ppid: u32) -> PayloadProtocolIdentifier {
    match ppid {
        50 => PayloadProtocolIdentifier::Dcep,
        51 => PayloadProtocolIdentifier::String,
        56 => PayloadProtocolIdentifier::StringEmpty,
        57 => PayloadProtocolIdentifier::BinaryEmpty,
        // rtc-sctp only carries the WebRTC identifiers: anything else travels as binary.
        _ => PayloadProtocolIdentifier::Binary,
    }
}

fn ppid(p: PayloadProtocolIdentifier) -> u32 {
    match p {
        PayloadProtocolIdentifier::Unknown => 53,
        p => p as u32,
    }
}

/// Whether every length in an SCTP packet stays inside what contains it: each chunk inside the
/// packet, and the parameters or error causes of the chunks that carry them inside their chunk.
fn well_formed(p: &[u8]) -> bool {
    /// Type-length-value items (parameters, error causes) filling `body` exactly (padded to 4).
    fn tlvs(body: &[u8]) -> bool {
        let mut at = 0;
        while at < body.len() {
            let Some(h) = body.get(at..at + 4) else { return false };
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if len < 4 || at + len > body.len() {
                return false;
            }
            at += len.div_ceil(4) * 4;
        }
        true
    }
    /// The same items walked as rtc-sctp walks the error causes of ABORT and ERROR: without the
    /// padding between them (a cause of odd length shifts where it reads the next), and filling
    /// the chunk exactly (rtc-sctp steps to the next chunk by what it parsed, not by the chunk's
    /// length: any difference makes it parse the middle of a chunk as the next).
    fn unpadded(body: &[u8]) -> bool {
        let mut at = 0;
        while at + 4 <= body.len() {
            let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
            if len < 4 || at + len > body.len() {
                return false;
            }
            at += len;
        }
        at == body.len()
    }
    if p.len() < 12 {
        return false;
    }
    let mut at = 12;
    while at < p.len() {
        let Some(h) = p.get(at..at + 4) else { return false };
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if len < 4 || at + len > p.len() {
            return false;
        }
        let value = &p[at + 4..at + len];
        let ok = match h[0] {
            // INIT, INIT ACK: 16 bytes of fixed fields, then parameters.
            1 | 2 => value.len() >= 16 && tlvs(&value[16..]),
            // HEARTBEAT, HEARTBEAT ACK, RE-CONFIG: parameters.
            4 | 5 | 130 => tlvs(value),
            // ABORT, ERROR: error causes, as the RFC lays them out and as rtc-sctp reads them.
            6 | 9 => tlvs(value) && unpadded(value),
            // SACK: its fixed fields, gap blocks and duplicate TSNs, exactly (see `unpadded`).
            3 => value.len() >= 12 && value.len() == 12 + 4 * (usize::from(u16::from_be_bytes([value[8], value[9]])) + usize::from(u16::from_be_bytes([value[10], value[11]]))),
            // SHUTDOWN: a cumulative TSN; SHUTDOWN ACK, COOKIE ACK, SHUTDOWN COMPLETE: nothing.
            7 => value.len() == 4,
            8 | 11 | 14 => value.is_empty(),
            // FORWARD TSN: a new cumulative TSN, then (stream, sequence) pairs.
            192 => value.len() >= 4 && value.len().is_multiple_of(4),
            _ => true,
        };
        if !ok {
            return false;
        }
        at += len.div_ceil(4) * 4;
    }
    true
}

/// How far a FORWARD TSN may move the peer's cumulative TSN past what this end last acknowledged.
/// rtc-sctp walks every TSN in between, one at a time (a new cumulative TSN 2^31 ahead held a worker
/// for seconds; found by fuzzing). A real sender only skips chunks it sent since our last SACK.
const FORWARD_TSN_MAX: u32 = 8192;

/// The TSNs rtc-sctp will loop over for a peer's chunks, checked against what the association
/// really holds before it reads them. rtc-sctp keeps its counters private, so they are followed
/// from the packets: the peer's initial TSN (INIT / INIT ACK during the handshake), the cumulative
/// TSN in each SACK this end sends (rtc-sctp's own value at that moment; it only grows after), and
/// the highest TSN this end sent.
#[derive(Default)]
struct TsnBounds {
    peer_cum: Option<u32>,
    sent_high: Option<u32>,
}

/// `a` is after `b` in TSN serial arithmetic (RFC 1982), by less than 2^31.
fn tsn_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

impl TsnBounds {
    /// Chunks of a well-formed packet.
    fn chunks(p: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
        let mut at = 12;
        std::iter::from_fn(move || {
            let h = p.get(at..at + 4)?;
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let value = p.get(at + 4..at + len.max(4))?;
            at += len.max(4).div_ceil(4) * 4;
            Some((h[0], value))
        })
    }

    fn u32_at(v: &[u8], at: usize) -> Option<u32> {
        v.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Whether a (well-formed) packet from the peer may reach rtc-sctp.
    fn admits(&mut self, p: &[u8], handshaking: bool) -> bool {
        for (kind, v) in Self::chunks(p) {
            match kind {
                // INIT, INIT ACK: rtc-sctp takes the peer's initial TSN while handshaking.
                1 | 2 if handshaking => {
                    if let Some(tsn) = Self::u32_at(v, 12) {
                        self.peer_cum = Some(tsn.wrapping_sub(1));
                    }
                }
                // FORWARD TSN: rtc-sctp steps from its cumulative TSN to the new one.
                192 => {
                    let Some(new) = Self::u32_at(v, 0) else { continue };
                    match self.peer_cum {
                        Some(cum) if tsn_after(new, cum) && new.wrapping_sub(cum) > FORWARD_TSN_MAX => return false,
                        None => return false,
                        _ => {}
                    }
                }
                // SACK: rtc-sctp visits every TSN of every gap block. Blocks must be in order,
                // not overlap, and end at or before the highest TSN sent, which bounds the walk
                // by what is in flight.
                3 => {
                    let (Some(cum), Some(counts)) = (Self::u32_at(v, 0), Self::u32_at(v, 8)) else { continue };
                    let blocks = (counts >> 16) as usize;
                    let mut previous_end = 0u32;
                    for i in 0..blocks {
                        let Some(b) = Self::u32_at(v, 12 + 4 * i) else { break };
                        let (start, end) = (b >> 16, b & 0xffff);
                        let last = cum.wrapping_add(end);
                        let sent = self.sent_high.is_some_and(|high| !tsn_after(last, high));
                        if start == 0 || start > end || start <= previous_end || !sent {
                            return false;
                        }
                        previous_end = end;
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// A packet this end sends.
    fn sent(&mut self, p: &[u8]) {
        for (kind, v) in Self::chunks(p) {
            match (kind, Self::u32_at(v, 0)) {
                (0, Some(tsn)) if self.sent_high.is_none_or(|high| tsn_after(tsn, high)) => self.sent_high = Some(tsn),
                (3, Some(cum)) => self.peer_cum = Some(cum),
                _ => {}
            }
        }
    }
}

impl SctpAssociation {
    /// `client`: this end sends the INIT once [`SctpAssociation::connect`] is called; otherwise
    /// it answers the peer's (browsers always send one after DTLS).
    pub fn new(opts: SctpOptions, client: bool) -> Self {
        let server = Arc::new(ServerConfig::new(transport_config(&opts)));
        let endpoint = Endpoint::new(LOCAL, TransportProtocol::UDP, Arc::new(EndpointConfig::new()), (!client).then_some(server));
        SctpAssociation {
            opts,
            endpoint,
            assoc: None,
            client,
            state: SctpState::New,
            pending: VecDeque::new(),
            pending_bytes: HashMap::new(),
            streams: HashMap::new(),
            thresholds: HashMap::new(),
            transmits: VecDeque::new(),
            bounds: TsnBounds::default(),
            events: VecDeque::new(),
            drops: SctpDrops::default(),
        }
    }

    pub fn state(&self) -> SctpState {
        self.state
    }

    pub fn options(&self) -> &SctpOptions {
        &self.opts
    }

    fn set_state(&mut self, s: SctpState) {
        if self.state != s {
            self.state = s;
            self.events.push_back(SctpEvent::State(s));
        }
    }

    /// Makes this end the one that sends the INIT (before anything happened).
    pub fn become_client(&mut self) {
        if self.state == SctpState::New && self.assoc.is_none() && !self.client {
            self.client = true;
            self.endpoint.set_server_config(None);
        }
    }

    /// The transport is up: a client end sends its INIT (once).
    pub fn connect(&mut self, now: Instant) {
        if !self.client || self.state != SctpState::New || self.assoc.is_some() {
            return;
        }
        match self.endpoint.connect(now, ClientConfig::new(transport_config(&self.opts)), PEER) {
            Ok(a) => {
                self.assoc = Some(a);
                self.set_state(SctpState::Connecting);
            }
            Err(_) => self.set_state(SctpState::Failed),
        }
        self.drive(now);
    }

    /// One SCTP packet from the peer.
    pub fn handle_packet(&mut self, now: Instant, data: &[u8]) {
        if matches!(self.state, SctpState::Closed | SctpState::Failed) {
            return;
        }
        if !well_formed(data) {
            // rtc-sctp trusts lengths inside chunks (it panics on some): check them first.
            self.drops.malformed += 1;
            return;
        }
        if !self.bounds.admits(data, self.state != SctpState::Connected) {
            self.drops.over_limit += 1;
            return;
        }
        let packet = Bytes::copy_from_slice(data);
        let Some(handled) = self.guarded(|s| s.endpoint.handle(now, PEER, None, packet)) else { return };
        let Some((ch, ev)) = handled else {
            self.drops.malformed += 1;
            return;
        };
        match ev {
            DatagramEvent::NewAssociation(a) => {
                // One association per transport: a second INIT (a restart) is not followed.
                if self.assoc.is_none() {
                    self.assoc = Some((ch, a));
                    self.set_state(SctpState::Connecting);
                } else {
                    self.drops.malformed += 1;
                }
            }
            DatagramEvent::AssociationEvent(e) => match &self.assoc {
                Some((h, _)) if *h == ch => {
                    if self.guarded(|s| s.assoc.as_mut().map(|(_, a)| a.handle_event(e))).is_none() {
                        return;
                    }
                }
                _ => self.drops.malformed += 1,
            },
            _ => self.drops.malformed += 1,
        }
        self.drive(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, SctpState::Closed | SctpState::Failed) {
            return None;
        }
        self.assoc.as_ref().and_then(|(_, a)| a.poll_timeout())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due = self.assoc.as_ref().is_some_and(|(_, a)| a.poll_timeout().is_some_and(|t| t <= now));
        if due && self.guarded(|s| s.assoc.as_mut().map(|(_, a)| a.handle_timeout(now))).is_none() {
            return;
        }
        self.drive(now);
    }

    /// Runs `f`, which calls into rtc-sctp with what the peer sent. rtc-sctp parses hostile
    /// input and has panicked on some (each case found is checked for before it reads a
    /// packet, see `well_formed` and `TsnBounds`); should another one panic, it costs this
    /// association (failed, counted), not the worker. `None` then.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self))) {
            Ok(v) => Some(v),
            Err(_) => {
                self.assoc = None;
                self.drops.panicked += 1;
                self.set_state_later(SctpState::Failed);
                None
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SctpEvent> {
        self.events.pop_front()
    }

    /// Bytes of `stream` not sent yet (queued before the association was up, or not yet
    /// acknowledged).
    pub fn buffered_amount(&mut self, stream: u16) -> usize {
        let queued = self.pending_bytes.get(&stream).copied().unwrap_or(0);
        let in_flight = match &mut self.assoc {
            Some((_, a)) if self.streams.contains_key(&stream) => a.stream(stream).ok().and_then(|s| s.buffered_amount().ok()).unwrap_or(0),
            _ => 0,
        };
        queued + in_flight
    }

    fn total_buffered(&mut self) -> usize {
        let ids: Vec<u16> = self.streams.keys().chain(self.pending_bytes.keys()).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        ids.into_iter().map(|s| self.buffered_amount(s)).sum()
    }

    pub fn set_buffered_amount_low_threshold(&mut self, stream: u16, threshold: usize) {
        self.thresholds.insert(stream, threshold);
        if let Some((_, a)) = &mut self.assoc {
            if let Ok(mut s) = a.stream(stream) {
                let _ = s.set_buffered_amount_low_threshold(threshold);
            }
        }
    }

    /// Queues a message on `stream`; the stream's buffered amount after it.
    pub fn send(&mut self, now: Instant, stream: u16, ppid: u32, data: &[u8], reliability: Reliability) -> Result<usize, SendError> {
        if data.is_empty() {
            return Err(SendError::Empty);
        }
        if data.len() > self.opts.max_send_message_size {
            return Err(SendError::TooLarge);
        }
        if matches!(self.state, SctpState::Closed | SctpState::Failed) {
            return Err(SendError::Closed);
        }
        // Checked before adding (one message may overshoot), as mediasoup.
        if self.buffered_amount(stream) >= self.opts.per_stream_send_queue_limit
            || self.total_buffered() >= self.opts.send_buffer_size
            || self.pending.len() >= MAX_PENDING_MESSAGES
        {
            return Err(SendError::Full);
        }
        if self.state != SctpState::Connected {
            *self.pending_bytes.entry(stream).or_default() += data.len();
            self.pending.push_back(Queued { stream, ppid, data: data.to_vec(), reliability });
            return Ok(self.buffered_amount(stream));
        }
        self.write(now, stream, ppid, data, reliability)?;
        self.drive(now);
        Ok(self.buffered_amount(stream))
    }

    fn write(&mut self, now: Instant, stream: u16, ppid: u32, data: &[u8], reliability: Reliability) -> Result<(), SendError> {
        let threshold = self.thresholds.get(&stream).copied().unwrap_or(self.opts.default_buffered_amount_low_threshold);
        let Some((_, a)) = &mut self.assoc else { return Err(SendError::Closed) };
        if !self.streams.contains_key(&stream) {
            // The peer may have opened it already (it sent on it first).
            if a.stream(stream).is_err() && a.open_stream(stream, ppi(ppid)).is_err() {
                return Err(SendError::Closed);
            }
            if let Ok(mut s) = a.stream(stream) {
                let _ = s.set_buffered_amount_low_threshold(threshold);
            }
        }
        let mut s = a.stream(stream).map_err(|_| SendError::Closed)?;
        if self.streams.get(&stream) != Some(&reliability) {
            let (unordered, ty, value) = reliability.params();
            let _ = s.set_reliability_params(unordered, ty, value);
            self.streams.insert(stream, reliability);
        }
        s.write_with_ppi(now, data, ppi(ppid)).map(|_| ()).map_err(|_| SendError::Closed)
    }

    /// Resets our outgoing `stream` (its DataConsumer closed).
    pub fn reset_stream(&mut self, now: Instant, stream: u16) {
        self.pending.retain(|q| q.stream != stream);
        self.pending_bytes.remove(&stream);
        self.thresholds.remove(&stream);
        if self.streams.remove(&stream).is_some() && self.state == SctpState::Connected {
            if let Some((_, a)) = &mut self.assoc {
                if let Ok(mut s) = a.stream(stream) {
                    let _ = s.close(now);
                }
            }
            self.drive(now);
        }
    }

    /// Ends the association (ABORT), as mediasoup does when its transport closes.
    pub fn close(&mut self, now: Instant) {
        if let Some((_, a)) = &mut self.assoc {
            let _ = a.abort();
        }
        self.drive(now);
        self.pending.clear();
        self.pending_bytes.clear();
        self.set_state(SctpState::Closed);
    }

    /// Applies what the association did: events, packets to send.
    fn drive(&mut self, now: Instant) {
        // Should rtc-sctp panic here, the association has failed (see `guarded`).
        let _ = self.guarded(|s| s.drive_unguarded(now));
    }

    fn drive_unguarded(&mut self, now: Instant) {
        let Some((ch, a)) = &mut self.assoc else { return };
        let ch = *ch;
        let mut connected = false;
        let mut ended = None;
        let mut resets = Vec::new();
        let mut readable = Vec::new();
        let mut low = Vec::new();
        while let Some(e) = a.poll() {
            match e {
                Event::Connected => connected = true,
                Event::HandshakeFailed { .. } => ended = Some(SctpState::Failed),
                Event::AssociationLost { id, .. } if a.is_closed() => {
                    let _ = id;
                    ended = ended.or(Some(SctpState::Closed));
                }
                Event::AssociationLost { id, .. } => resets.push(id),
                Event::Stream(StreamEvent::Readable { id }) => readable.push(id),
                Event::Stream(StreamEvent::BufferedAmountLow { id }) => low.push(id),
                _ => {}
            }
        }
        // Closed without a stream to report it on (an ABORT with no stream open).
        if a.is_closed() && !a.is_handshaking() && ended.is_none() {
            ended = Some(SctpState::Closed);
        }
        // Streams the peer opened wait in the accept queue: keep it empty.
        while a.accept_stream().is_some() {}
        let mut messages = Vec::new();
        let mut too_big = 0;
        for id in readable {
            let Ok(mut s) = a.stream(id) else { continue };
            while let Ok(Some(chunks)) = s.read_sctp() {
                if chunks.len() > self.opts.max_receive_message_size {
                    too_big += 1;
                    continue;
                }
                if let Ok(data) = chunks.to_payload(self.opts.max_receive_message_size) {
                    messages.push(SctpEvent::Message { stream: id, ppid: ppid(chunks.ppi), data: data.to_vec() });
                }
            }
        }
        let low: Vec<SctpEvent> = low
            .into_iter()
            .map(|id| SctpEvent::BufferedAmountLow { stream: id, amount: a.stream(id).ok().and_then(|s| s.buffered_amount().ok()).unwrap_or(0) })
            .collect();
        let negotiated = a.negotiated_max_streams().unwrap_or(MAX_STREAMS);
        let mut endpoint_events = Vec::new();
        while let Some(ev) = a.poll_endpoint_event() {
            endpoint_events.push(ev);
        }
        while let Some(t) = a.poll_transmit(now) {
            if let rtc_sctp::Payload::RawEncode(packets) = t.message {
                for b in packets {
                    self.bounds.sent(&b);
                    self.transmits.push_back(b.to_vec());
                }
            }
        }
        for ev in endpoint_events {
            self.endpoint.handle_event(ch, ev);
        }
        self.drops.too_big += too_big;
        for id in resets {
            self.streams.remove(&id);
            self.events.push_back(SctpEvent::StreamReset(id));
        }
        self.events.extend(messages);
        self.events.extend(low);
        if connected && self.state != SctpState::Connected {
            self.events.push_back(SctpEvent::Capabilities { outbound: negotiated, inbound: negotiated });
            self.set_state(SctpState::Connected);
            // What waited for the association goes now.
            for q in std::mem::take(&mut self.pending) {
                let _ = self.write(now, q.stream, q.ppid, &q.data, q.reliability);
            }
            self.pending_bytes.clear();
            self.drive(now);
        }
        if let Some(s) = ended {
            self.set_state_later(s);
        }
    }

    fn set_state_later(&mut self, s: SctpState) {
        self.pending.clear();
        self.pending_bytes.clear();
        self.set_state(s);
    }
}

#[cfg(test)]
mod tests;
