//! RTCP in and out, over `rtc-rtcp`: the feedback the router acts on, and the reports and
//! requests it sends.

use bytes::Bytes;
use rtc_rtcp::packet::Packet;
use rtc_rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtc_rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc_rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use rtc_rtcp::source_description::{SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem};
use rtc_rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use rtc_rtcp::transport_feedbacks::transport_layer_nack::{nack_pairs_from_sequence_numbers, TransportLayerNack};

/// What the router cares about in a received compound packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Feedback {
    SenderReport { ssrc: u32, ntp: u64, rtp_time: u32 },
    ReceptionReport { ssrc: u32, fraction_lost: u8, total_lost: u32, jitter: u32, lsr: u32, dlsr: u32 },
    Nack { media_ssrc: u32, seqs: Vec<u16> },
    Pli { media_ssrc: u32 },
    Fir { media_ssrc: u32 },
    Remb { bitrate: u64, ssrcs: Vec<u32> },
    TransportCc(TwccFeedback),
}

/// A transport-wide-cc feedback message: from `base` on, each packet's arrival (µs on the
/// receiver's clock) or `None` when it did not arrive.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TwccFeedback {
    pub base: u16,
    pub arrivals: Vec<Option<i64>>,
}

impl TwccFeedback {
    /// Most statuses one message may carry (a hostile count is cut here).
    const MAX: usize = 8192;

    fn from(cc: &TransportLayerCc) -> TwccFeedback {
        use rtc_rtcp::transport_feedbacks::transport_layer_cc::{PacketStatusChunk, SymbolTypeTcc};
        let count = usize::from(cc.packet_status_count).min(Self::MAX);
        let mut arrivals = Vec::with_capacity(count);
        let mut deltas = cc.recv_deltas.iter();
        // Reference time: 64 ms units (24 bits).
        let mut at = i64::from(cc.reference_time) * 64_000;
        let mut push = |symbol: SymbolTypeTcc, arrivals: &mut Vec<Option<i64>>| {
            if arrivals.len() >= count {
                return;
            }
            match symbol {
                SymbolTypeTcc::PacketReceivedSmallDelta | SymbolTypeTcc::PacketReceivedLargeDelta => match deltas.next() {
                    Some(d) => {
                        at += d.delta;
                        arrivals.push(Some(at));
                    }
                    None => arrivals.push(None),
                },
                _ => arrivals.push(None),
            }
        };
        for chunk in &cc.packet_chunks {
            match chunk {
                PacketStatusChunk::RunLengthChunk(r) => {
                    for _ in 0..usize::from(r.run_length).min(count) {
                        push(r.packet_status_symbol, &mut arrivals);
                    }
                }
                PacketStatusChunk::StatusVectorChunk(v) => {
                    for &symbol in &v.symbol_list {
                        push(symbol, &mut arrivals);
                    }
                }
            }
        }
        TwccFeedback { base: cc.base_sequence_number, arrivals }
    }
}

/// Parses a compound RTCP packet. `None` if it is malformed (the caller drops and counts it).
pub fn parse(data: &[u8]) -> Option<Vec<Feedback>> {
    let mut b = Bytes::copy_from_slice(data);
    let packets = rtc_rtcp::packet::unmarshal(&mut b).ok()?;
    let mut out = Vec::new();
    for p in packets {
        let any = p.as_any();
        if let Some(sr) = any.downcast_ref::<SenderReport>() {
            out.push(Feedback::SenderReport { ssrc: sr.ssrc, ntp: sr.ntp_time, rtp_time: sr.rtp_time });
            out.extend(sr.reports.iter().map(reception));
        } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            out.extend(rr.reports.iter().map(reception));
        } else if let Some(n) = any.downcast_ref::<TransportLayerNack>() {
            let seqs = n.nacks.iter().flat_map(|pair| pair.packet_list()).collect();
            out.push(Feedback::Nack { media_ssrc: n.media_ssrc, seqs });
        } else if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
            out.push(Feedback::Pli { media_ssrc: pli.media_ssrc });
        } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
            // FIR names its targets in the entries (the header's media SSRC is 0).
            for e in &fir.fir {
                out.push(Feedback::Fir { media_ssrc: e.ssrc });
            }
        } else if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
            out.push(Feedback::Remb { bitrate: remb.bitrate as u64, ssrcs: remb.ssrcs.clone() });
        } else if let Some(cc) = any.downcast_ref::<TransportLayerCc>() {
            out.push(Feedback::TransportCc(TwccFeedback::from(cc)));
        }
    }
    Some(out)
}

fn reception(r: &ReceptionReport) -> Feedback {
    Feedback::ReceptionReport {
        ssrc: r.ssrc,
        fraction_lost: r.fraction_lost,
        total_lost: r.total_lost,
        jitter: r.jitter,
        lsr: r.last_sender_report,
        dlsr: r.delay,
    }
}

pub fn marshal(packets: &[Box<dyn Packet>]) -> Option<Vec<u8>> {
    if packets.is_empty() {
        return None;
    }
    rtc_rtcp::packet::marshal(packets).ok().map(|b| b.to_vec())
}

pub fn pli(sender_ssrc: u32, media_ssrc: u32) -> Box<dyn Packet> {
    Box::new(PictureLossIndication { sender_ssrc, media_ssrc })
}

pub fn fir(sender_ssrc: u32, media_ssrc: u32, seq: u8) -> Box<dyn Packet> {
    Box::new(FullIntraRequest { sender_ssrc, media_ssrc: 0, fir: vec![FirEntry { ssrc: media_ssrc, sequence_number: seq }] })
}

/// Most NACK items (PID + bitmask) per packet (rtc-rtcp refuses more than 253; this keeps a
/// packet near 1 kB).
pub const MAX_NACK_ITEMS: usize = 250;

/// One NACK packet for `seqs` (at most `MAX_NACK_ITEMS` items: see [`nacks`] for more).
pub fn nack(sender_ssrc: u32, media_ssrc: u32, seqs: &[u16]) -> Box<dyn Packet> {
    let mut pairs = nack_pairs_from_sequence_numbers(seqs);
    pairs.truncate(MAX_NACK_ITEMS);
    Box::new(TransportLayerNack { sender_ssrc, media_ssrc, nacks: pairs })
}

/// NACK packets for any number of `seqs`, each at most `MAX_NACK_ITEMS` items.
pub fn nacks(sender_ssrc: u32, media_ssrc: u32, seqs: &[u16]) -> Vec<Box<dyn Packet>> {
    nack_pairs_from_sequence_numbers(seqs)
        .chunks(MAX_NACK_ITEMS)
        .map(|c| Box::new(TransportLayerNack { sender_ssrc, media_ssrc, nacks: c.to_vec() }) as Box<dyn Packet>)
        .collect()
}

pub fn receiver_report(sender_ssrc: u32, reports: Vec<ReceptionReport>) -> Box<dyn Packet> {
    Box::new(ReceiverReport { ssrc: sender_ssrc, reports, profile_extensions: Bytes::new() })
}

pub fn sender_report(ssrc: u32, ntp: u64, rtp_time: u32, packets: u32, octets: u32) -> Box<dyn Packet> {
    Box::new(SenderReport {
        ssrc,
        ntp_time: ntp,
        rtp_time,
        packet_count: packets,
        octet_count: octets,
        reports: vec![],
        profile_extensions: Bytes::new(),
    })
}

pub fn sdes(ssrc: u32, cname: &str) -> Box<dyn Packet> {
    Box::new(SourceDescription {
        chunks: vec![SourceDescriptionChunk {
            source: ssrc,
            items: vec![SourceDescriptionItem { sdes_type: SdesType::SdesCname, text: Bytes::copy_from_slice(cname.as_bytes()) }],
        }],
    })
}

pub fn remb(sender_ssrc: u32, bitrate: u64, ssrcs: Vec<u32>) -> Box<dyn Packet> {
    Box::new(ReceiverEstimatedMaximumBitrate { sender_ssrc, bitrate: bitrate as f32, ssrcs })
}

/// NTP time (RFC 3550) for a wall-clock time (since the Unix epoch).
pub fn ntp(d: std::time::Duration) -> u64 {
    let secs = d.as_secs() + 2_208_988_800;
    let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp, as LSR carries it.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_round_trip() {
        let out = marshal(&[
            receiver_report(1, vec![ReceptionReport { ssrc: 10, fraction_lost: 25, total_lost: 3, last_sequence_number: 100, jitter: 7, last_sender_report: 5, delay: 6 }]),
            sdes(1, "cname"),
            nack(1, 10, &[5, 6, 9, 40]),
            pli(1, 10),
            fir(1, 11, 3),
            remb(1, 500_000, vec![10]),
        ])
        .unwrap();
        let fb = parse(&out).unwrap();
        assert_eq!(fb[0], Feedback::ReceptionReport { ssrc: 10, fraction_lost: 25, total_lost: 3, jitter: 7, lsr: 5, dlsr: 6 });
        assert_eq!(fb[1], Feedback::Nack { media_ssrc: 10, seqs: vec![5, 6, 9, 40] });
        assert_eq!(fb[2], Feedback::Pli { media_ssrc: 10 });
        assert_eq!(fb[3], Feedback::Fir { media_ssrc: 11 });
        assert!(matches!(&fb[4], Feedback::Remb { bitrate, ssrcs } if (*bitrate as i64 - 500_000).abs() < 1000 && ssrcs == &vec![10]));
        let sr = marshal(&[sender_report(9, ntp(std::time::Duration::from_secs(1_700_000_000)), 1234, 10, 1000)]).unwrap();
        // Many scattered losses: several NACK packets, each one marshals.
        let scattered: Vec<u16> = (0..2000u16).map(|i| i * 20).collect();
        let packets = nacks(1, 10, &scattered);
        assert_eq!(packets.len(), 8);
        let mut all = Vec::new();
        for p in packets {
            all.extend(parse(&marshal(&[p]).unwrap()).unwrap());
        }
        assert_eq!(all.iter().map(|f| if let Feedback::Nack { seqs, .. } = f { seqs.len() } else { 0 }).sum::<usize>(), 2000);
        assert!(matches!(parse(&sr).unwrap()[0], Feedback::SenderReport { ssrc: 9, rtp_time: 1234, .. }));
        assert!(parse(&[0x80, 200, 0, 50]).is_none());
        assert!(parse(&[]).is_none() || parse(&[]).unwrap().is_empty());
    }
}
