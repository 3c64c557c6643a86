//! `enableTraceEvent()` types, as a set (checked per packet, so no string compares there).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TraceType {
    Rtp = 0,
    KeyFrame,
    Nack,
    Pli,
    Fir,
    Sr,
    Probation,
    Bwe,
}

const NAMES: [(TraceType, &str); 8] = [
    (TraceType::Rtp, "rtp"),
    (TraceType::KeyFrame, "keyframe"),
    (TraceType::Nack, "nack"),
    (TraceType::Pli, "pli"),
    (TraceType::Fir, "fir"),
    (TraceType::Sr, "sr"),
    (TraceType::Probation, "probation"),
    (TraceType::Bwe, "bwe"),
];

impl TraceType {
    pub fn name(self) -> &'static str {
        NAMES[self as usize].1
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceTypes(u16);

impl TraceTypes {
    /// From the names the app gave (unknown ones are ignored, as mediasoup ignores them).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Self {
        let mut bits = 0u16;
        for n in names {
            if let Some((t, _)) = NAMES.iter().find(|(_, name)| *name == n.as_ref()) {
                bits |= 1 << (*t as u8);
            }
        }
        TraceTypes(bits)
    }

    /// Only the types that apply to an object (e.g. a transport's `probation` and `bwe`).
    pub fn restricted_to(self, allowed: &[TraceType]) -> Self {
        let mask = allowed.iter().fold(0u16, |m, t| m | 1 << (*t as u8));
        TraceTypes(self.0 & mask)
    }

    pub fn has(self, t: TraceType) -> bool {
        self.0 & (1 << (t as u8)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn names(self) -> Vec<&'static str> {
        NAMES.iter().filter(|(t, _)| self.has(*t)).map(|(_, n)| *n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_ignored() {
        let t = TraceTypes::from_names(&["keyframe", "bogus", "rtp"]);
        assert!(t.has(TraceType::Rtp) && t.has(TraceType::KeyFrame) && !t.has(TraceType::Pli));
        assert_eq!(t.names(), vec!["rtp", "keyframe"]);
        assert_eq!(TraceTypes::from_names(&["bwe", "rtp"]).restricted_to(&[TraceType::Bwe, TraceType::Probation]).names(), vec!["bwe"]);
    }
}
