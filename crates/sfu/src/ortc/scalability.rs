//! Scalability modes (`L1T3`, `S3T3`, `L2T2_KEY`...) as mediasoup parses them.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalabilityMode {
    pub spatial_layers: u32,
    pub temporal_layers: u32,
    pub ksvc: bool,
}

/// `^[LS]([1-9]\d?)T([1-9]\d?)(_KEY)?` at the start of the string; anything else (or nothing)
/// is one spatial and one temporal layer.
pub fn parse(mode: Option<&str>) -> ScalabilityMode {
    fn layers(s: &[u8]) -> Option<(u32, usize)> {
        let first = *s.first()?;
        if !(b'1'..=b'9').contains(&first) {
            return None;
        }
        match s.get(1) {
            Some(d) if d.is_ascii_digit() => Some((u32::from(first - b'0') * 10 + u32::from(d - b'0'), 2)),
            _ => Some((u32::from(first - b'0'), 1)),
        }
    }
    let fallback = ScalabilityMode { spatial_layers: 1, temporal_layers: 1, ksvc: false };
    let s = mode.unwrap_or("").as_bytes();
    if !matches!(s.first(), Some(b'L') | Some(b'S')) {
        return fallback;
    }
    let Some((spatial, n)) = layers(&s[1..]) else { return fallback };
    let rest = &s[1 + n..];
    if rest.first() != Some(&b'T') {
        return fallback;
    }
    let Some((temporal, m)) = layers(&rest[1..]) else { return fallback };
    let ksvc = rest[1 + m..].starts_with(b"_KEY");
    ScalabilityMode { spatial_layers: spatial, temporal_layers: temporal, ksvc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        let p = |s| parse(Some(s));
        assert_eq!(p("L1T3"), ScalabilityMode { spatial_layers: 1, temporal_layers: 3, ksvc: false });
        assert_eq!(p("S3T3"), ScalabilityMode { spatial_layers: 3, temporal_layers: 3, ksvc: false });
        assert_eq!(p("L3T3_KEY"), ScalabilityMode { spatial_layers: 3, temporal_layers: 3, ksvc: true });
        assert_eq!(p("L12T10").spatial_layers, 12);
        assert_eq!(p("L12T10").temporal_layers, 10);
        // Greedy two digits, as the regular expression: "L123T1" does not match.
        assert_eq!(p("L123T1"), parse(None));
        assert_eq!(p("L0T1"), parse(None));
        assert_eq!(p("foo"), parse(None));
        assert_eq!(parse(None), ScalabilityMode { spatial_layers: 1, temporal_layers: 1, ksvc: false });
    }
}
