//! Synthetic media as a browser would send it: VP8-shaped video (frames of ~1,100-byte packets at
//! a frame rate and bitrate, a key frame every `key_interval` frames or on request) and
//! Opus-sized audio, as plain RTP on a schedule. Keeps what it sent so NACKs can be answered.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrosoup_sfu::rtp::rtcp::{self, Feedback};
use rtc_rtp::header::Header;
use rtc_rtp::packet::Packet;

/// Wall-clock microseconds: what synthetic video packets carry at payload bytes 2..10.
pub fn send_time_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The one-way delay of a synthetic video packet received now (both ends on one clock), if it
/// carries a plausible send time.
pub fn one_way_delay_us(payload: &[u8]) -> Option<u64> {
    let sent = u64::from_be_bytes(payload.get(2..10)?.try_into().ok()?);
    let now = send_time_us();
    (sent <= now && now - sent < 10_000_000).then(|| now - sent)
}

/// Largest payload per video packet (libwebrtc's packetizer stays near this).
const MAX_PAYLOAD: usize = 1100;
/// Packets kept for retransmission.
const HISTORY: usize = 2000;

#[derive(Clone, Debug)]
pub struct VideoConfig {
    pub ssrc: u32,
    pub payload_type: u8,
    pub kbps: u32,
    pub fps: u32,
    /// A key frame every this many frames.
    pub key_interval: u32,
    /// Split frames as libwebrtc does (sizes about equal: the last `bytes % packets` packets one
    /// byte longer, the frame's bytes exact) instead of all packets the same size.
    pub browser_sizes: bool,
}

#[derive(Clone, Debug)]
pub struct AudioConfig {
    pub ssrc: u32,
    pub payload_type: u8,
    pub packets_per_second: u32,
    /// Stop after this many packets (0: never).
    pub limit: u64,
}

struct Video {
    cfg: VideoConfig,
    seq: u16,
    ts: u32,
    frame: u64,
    force_key: bool,
}

struct Audio {
    cfg: AudioConfig,
    seq: u16,
    ts: u32,
    sent: u64,
}

pub struct Publisher {
    start: Instant,
    video: Option<Video>,
    audio: Option<Audio>,
    history: VecDeque<(u32, u16, Vec<u8>)>,
    pub video_packets: u64,
    pub audio_packets: u64,
    pub key_frames: u64,
    pub retransmitted: u64,
}

impl Publisher {
    pub fn new(start: Instant, video: Option<VideoConfig>, audio: Option<AudioConfig>, first_seq: u16) -> Self {
        Publisher {
            start,
            video: video.map(|cfg| Video { cfg, seq: first_seq, ts: 0, frame: 0, force_key: false }),
            audio: audio.map(|cfg| Audio { cfg, seq: first_seq, ts: 0, sent: 0 }),
            history: VecDeque::new(),
            video_packets: 0,
            audio_packets: 0,
            key_frames: 0,
            retransmitted: 0,
        }
    }

    fn frame_due(&self, v: &Video) -> Instant {
        self.start + Duration::from_micros(v.frame * 1_000_000 / u64::from(v.cfg.fps.max(1)))
    }

    fn audio_due(&self, a: &Audio) -> Option<Instant> {
        if a.cfg.limit > 0 && a.sent >= a.cfg.limit {
            return None;
        }
        Some(self.start + Duration::from_micros(a.sent * 1_000_000 / u64::from(a.cfg.packets_per_second.max(1))))
    }

    /// When the next packet is due.
    pub fn next_due(&self) -> Option<Instant> {
        let v = self.video.as_ref().map(|v| self.frame_due(v));
        let a = self.audio.as_ref().and_then(|a| self.audio_due(a));
        [v, a].into_iter().flatten().min()
    }

    /// The packets due by `now` (plain RTP).
    pub fn poll(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(v) = self.video.as_ref() {
            if self.frame_due(v) > now {
                break;
            }
            let v = self.video.as_mut().expect("checked");
            let key = v.frame % u64::from(v.cfg.key_interval.max(1)) == 0 || v.force_key;
            v.force_key = false;
            let frame_bytes = (v.cfg.kbps as usize * 1000 / 8) / v.cfg.fps.max(1) as usize;
            let packets = frame_bytes.div_ceil(MAX_PAYLOAD).max(1);
            let size = (frame_bytes / packets).max(12);
            let longer = if v.cfg.browser_sizes { frame_bytes % packets } else { 0 };
            // When it leaves (µs since the Unix epoch), for receivers to measure the one-way delay.
            let sent_at = send_time_us();
            for i in 0..packets {
                let mut payload = vec![0xABu8; size + usize::from(i >= packets - longer)];
                // VP8 payload descriptor: S bit on the first packet, partition 0; frame header
                // P bit clear on a key frame.
                payload[0] = if i == 0 { 0x10 } else { 0x00 };
                payload[1] = if key { 0x00 } else { 0x01 };
                payload[2..10].copy_from_slice(&sent_at.to_be_bytes());
                let p = Packet {
                    header: Header { version: 2, payload_type: v.cfg.payload_type, sequence_number: v.seq, timestamp: v.ts, ssrc: v.cfg.ssrc, marker: i + 1 == packets, ..Default::default() },
                    payload: Bytes::from(payload),
                };
                v.seq = v.seq.wrapping_add(1);
                if let Some(b) = ferrosoup_sfu::rtp::marshal(&p) {
                    out.push((v.cfg.ssrc, p.header.sequence_number, b));
                }
            }
            v.ts = v.ts.wrapping_add(90_000 / v.cfg.fps.max(1));
            v.frame += 1;
            self.video_packets += packets as u64;
            self.key_frames += u64::from(key);
        }
        while let Some(a) = self.audio.as_ref() {
            if self.audio_due(a).is_none_or(|d| d > now) {
                break;
            }
            let a = self.audio.as_mut().expect("checked");
            let p = Packet {
                header: Header { version: 2, payload_type: a.cfg.payload_type, sequence_number: a.seq, timestamp: a.ts, ssrc: a.cfg.ssrc, ..Default::default() },
                payload: Bytes::from(vec![0x5Au8; 100]),
            };
            a.seq = a.seq.wrapping_add(1);
            a.ts = a.ts.wrapping_add(48_000 / a.cfg.packets_per_second.max(1));
            a.sent += 1;
            self.audio_packets += 1;
            if let Some(b) = ferrosoup_sfu::rtp::marshal(&p) {
                out.push((a.cfg.ssrc, p.header.sequence_number, b));
            }
        }
        for (ssrc, seq, b) in &out {
            self.history.push_back((*ssrc, *seq, b.clone()));
        }
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        out.into_iter().map(|(_, _, b)| b).collect()
    }

    /// Feedback from the server: PLI/FIR make the next frame a key frame; NACKs are answered
    /// with the original packets (returned, to send).
    pub fn on_rtcp(&mut self, plain: &[u8]) -> Vec<Vec<u8>> {
        let mut resend = Vec::new();
        for fb in rtcp::parse(plain).unwrap_or_default() {
            match fb {
                Feedback::Pli { .. } | Feedback::Fir { .. } => {
                    if let Some(v) = self.video.as_mut() {
                        v.force_key = true;
                    }
                }
                Feedback::Nack { media_ssrc, seqs } => {
                    for seq in seqs {
                        if let Some((_, _, b)) = self.history.iter().find(|(s, q, _)| *s == media_ssrc && *q == seq) {
                            resend.push(b.clone());
                            self.retransmitted += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        resend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_frames_and_audio_with_key_frames_on_schedule_and_request() {
        let t0 = Instant::now();
        let mut p = Publisher::new(
            t0,
            Some(VideoConfig { ssrc: 1, payload_type: 96, kbps: 1000, fps: 25, key_interval: 50, browser_sizes: false }),
            Some(AudioConfig { ssrc: 2, payload_type: 111, packets_per_second: 50, limit: 0 }),
            65_530,
        );
        let first = p.poll(t0);
        assert_eq!(p.key_frames, 1);
        assert!(first.len() >= 5, "a 1 Mbit/s frame is several packets plus audio");
        let all: Vec<Vec<u8>> = (1..=1000).flat_map(|ms| p.poll(t0 + Duration::from_millis(ms))).collect();
        assert_eq!(p.audio_packets, 51);
        assert_eq!(p.key_frames, 1, "next scheduled key frame at 2 s");
        let pli = rtcp::marshal(&[rtcp::pli(9, 1)]).unwrap();
        assert!(p.on_rtcp(&pli).is_empty());
        p.poll(t0 + Duration::from_millis(1040));
        assert_eq!(p.key_frames, 2, "a PLI makes the next frame a key frame");
        // A NACK is answered with the packet as first sent.
        let nack = rtcp::marshal(&[rtcp::nack(9, 2, &[65_531])]).unwrap();
        let resent = p.on_rtcp(&nack);
        assert_eq!(resent.len(), 1);
        assert!(all.iter().chain(&first).any(|b| *b == resent[0]));
    }
}
