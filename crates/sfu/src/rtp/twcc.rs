//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01): arrival times of what a sender sends, reported back so its bandwidth
//! estimator (Chromium's) keeps its bitrate.

use std::collections::BTreeMap;
use std::time::Instant;

use rtc_rtcp::transport_feedbacks::transport_layer_cc::{
    PacketStatusChunk, RecvDelta, StatusChunkTypeTcc, StatusVectorChunk, SymbolSizeTypeTcc,
    SymbolTypeTcc, TransportLayerCc,
};

/// Most packets one feedback message reports.
const MAX_PER_FEEDBACK: i64 = 2000;
/// Most arrivals kept between two feedback messages (a flood between ticks drops the oldest).
const MAX_PENDING: usize = 10_000;

#[derive(Default)]
pub struct TwccRecorder {
    epoch: Option<Instant>,
    /// Unwrapped sequence number → arrival (µs since `epoch`).
    arrivals: BTreeMap<i64, i64>,
    seq: super::SeqUnwrapper,
    /// First sequence number the next feedback covers.
    next_base: Option<i64>,
    fb_count: u8,
}

impl TwccRecorder {
    pub fn record(&mut self, seq: u16, now: Instant) {
        let epoch = *self.epoch.get_or_insert(now);
        let s = self.seq.unwrap(seq);
        if self.next_base.is_some_and(|b| s < b) {
            return; // already reported
        }
        self.arrivals.insert(s, now.saturating_duration_since(epoch).as_micros() as i64);
        if self.arrivals.len() > MAX_PENDING {
            self.arrivals.pop_first();
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.arrivals.is_empty()
    }

    /// Builds one feedback message for what arrived since the last one.
    pub fn feedback(&mut self, sender_ssrc: u32, media_ssrc: u32) -> Option<TransportLayerCc> {
        let (&first, _) = self.arrivals.iter().next()?;
        // After a gap longer than one message covers, start at what arrived (the numbers in
        // between are never reported, as in mediasoup).
        let base = self.next_base.filter(|b| first - b < MAX_PER_FEEDBACK).unwrap_or(first);
        let last = *self.arrivals.keys().next_back()?;
        let end = last.min(base + MAX_PER_FEEDBACK - 1);
        let first_arrival = self.arrivals.range(base..=end).next().map(|(_, a)| *a)?;
        // Reference time in 64 ms units; deltas are relative to it.
        let reference = first_arrival / 64_000;
        let mut prev = reference * 64_000;
        let mut symbols = Vec::new();
        let mut deltas = Vec::new();
        for s in base..=end {
            match self.arrivals.get(&s) {
                Some(&at) => {
                    // Quantize to 250 µs, as the wire format carries it.
                    let delta = ((at - prev) / 250) * 250;
                    prev += delta;
                    let small = (0..=255 * 250).contains(&delta);
                    let symbol = if small { SymbolTypeTcc::PacketReceivedSmallDelta } else { SymbolTypeTcc::PacketReceivedLargeDelta };
                    let delta = delta.clamp(-32768 * 250, 32767 * 250);
                    symbols.push(symbol);
                    deltas.push(RecvDelta { type_tcc_packet: symbol, delta });
                }
                None => symbols.push(SymbolTypeTcc::PacketNotReceived),
            }
        }
        let chunks = symbols
            .chunks(7)
            .map(|c| {
                let mut list = c.to_vec();
                list.resize(7, SymbolTypeTcc::PacketNotReceived);
                PacketStatusChunk::StatusVectorChunk(StatusVectorChunk {
                    type_tcc: StatusChunkTypeTcc::StatusVectorChunk,
                    symbol_size: SymbolSizeTypeTcc::TwoBit,
                    symbol_list: list,
                })
            })
            .collect();
        let fb = TransportLayerCc {
            sender_ssrc,
            media_ssrc,
            base_sequence_number: base as u16,
            packet_status_count: (end - base + 1) as u16,
            reference_time: (reference as u32) & 0x00ff_ffff,
            fb_pkt_count: self.fb_count,
            packet_chunks: chunks,
            recv_deltas: deltas,
        };
        self.fb_count = self.fb_count.wrapping_add(1);
        self.arrivals = self.arrivals.split_off(&(end + 1));
        self.next_base = Some(end + 1);
        Some(fb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_shared::marshal::{Marshal, Unmarshal};
    use std::time::Duration;

    #[test]
    fn feedback_reports_arrivals_and_losses_and_round_trips() {
        let t0 = Instant::now();
        let mut r = TwccRecorder::default();
        for (i, seq) in [65534u16, 65535, 1, 2].iter().enumerate() {
            r.record(*seq, t0 + Duration::from_millis(i as u64 * 5));
        }
        let fb = r.feedback(1, 2).unwrap();
        assert_eq!(fb.base_sequence_number, 65534);
        assert_eq!(fb.packet_status_count, 5); // 0 is missing
        assert_eq!(fb.recv_deltas.len(), 4);
        assert_eq!(fb.recv_deltas[1].delta, 5000);
        let bytes = fb.marshal().unwrap();
        let mut b = bytes.freeze();
        let back = TransportLayerCc::unmarshal(&mut b).unwrap();
        assert_eq!(back.packet_status_count, 5);
        assert_eq!(back.recv_deltas.len(), 4);
        assert!(!r.has_pending());
        // Late arrival of an already-reported sequence number is ignored.
        r.record(0, t0 + Duration::from_millis(30));
        assert!(!r.has_pending());
        r.record(3, t0 + Duration::from_millis(40));
        assert_eq!(r.feedback(1, 2).unwrap().base_sequence_number, 3);
    }

    #[test]
    fn feedback_keeps_coming_past_wraps_and_after_long_gaps() {
        let t0 = Instant::now();
        let mut r = TwccRecorder::default();
        let mut seq = 65_000u16;
        let mut reported = 0u64;
        // 200,000 packets, 100 per feedback, with a 5,000-number gap in the middle.
        for i in 0..200_000u64 {
            if i == 100_000 {
                seq = seq.wrapping_add(5_000);
            }
            r.record(seq, t0 + Duration::from_micros(i * 100));
            seq = seq.wrapping_add(1);
            if i % 100 == 99 {
                let fb = r.feedback(1, 2).expect("feedback after every batch");
                reported += fb.recv_deltas.len() as u64;
                assert!(fb.packet_status_count <= 100, "{}", fb.packet_status_count);
            }
        }
        assert_eq!(reported, 200_000);
        assert!(!r.has_pending());
        // A flood between two feedback messages keeps at most MAX_PENDING arrivals.
        for i in 0..50_000u64 {
            r.record(seq.wrapping_add(i as u16), t0 + Duration::from_secs(30));
        }
        assert_eq!(r.arrivals.len(), MAX_PENDING);
    }
}
