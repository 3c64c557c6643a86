//! H264 `profile-level-id` (RFC 6184 §8.1): profile/level parsing and the answer's level, as
//! WebRTC endpoints negotiate them. Used by strict codec matching.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    ConstrainedBaseline = 1,
    Baseline = 2,
    Main = 3,
    ConstrainedHigh = 4,
    High = 5,
    PredictiveHigh444 = 6,
}

/// Level as `level_idc` (10 × level), with level 1b as 0.
pub type Level = u8;
const LEVEL_1B: Level = 0;
const LEVEL_1: Level = 10;
const LEVEL_1_1: Level = 11;
const KNOWN_LEVELS: [Level; 15] = [10, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileLevelId {
    pub profile: Profile,
    pub level: Level,
}

/// Constrained Baseline level 3.1: what an absent `profile-level-id` means.
const DEFAULT: ProfileLevelId = ProfileLevelId { profile: Profile::ConstrainedBaseline, level: 31 };

/// `profile_iop` patterns: for each bit from the MSB, `b'x'` = don't care, else the required bit.
const PATTERNS: [(u8, &[u8; 8], Profile); 9] = [
    (0x42, b"x1xx0000", Profile::ConstrainedBaseline),
    (0x4d, b"1xxx0000", Profile::ConstrainedBaseline),
    (0x58, b"11xx0000", Profile::ConstrainedBaseline),
    (0x42, b"x0xx0000", Profile::Baseline),
    (0x58, b"10xx0000", Profile::Baseline),
    (0x4d, b"0x0x0000", Profile::Main),
    (0x64, b"00000000", Profile::High),
    (0x64, b"00001100", Profile::ConstrainedHigh),
    (0xf4, b"00000000", Profile::PredictiveHigh444),
];

fn iop_matches(pattern: &[u8; 8], iop: u8) -> bool {
    pattern.iter().enumerate().all(|(i, c)| {
        let bit = (iop >> (7 - i)) & 1;
        match c {
            b'x' => true,
            b'1' => bit == 1,
            _ => bit == 0,
        }
    })
}

/// Parses the leading hexadecimal digits as JS `parseInt(s, 16)` does (NaN → 0 here, which
/// every caller rejects anyway).
fn parse_hex_prefix(s: &str) -> u32 {
    let t = s.trim_start();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    let mut v: u32 = 0;
    for c in t.chars() {
        match c.to_digit(16) {
            Some(d) => v = v.wrapping_mul(16).wrapping_add(d),
            None => break,
        }
    }
    v
}

pub fn parse_profile_level_id(s: &str) -> Option<ProfileLevelId> {
    const CONSTRAINT_SET3: u32 = 0x10;
    if s.encode_utf16().count() != 6 {
        return None;
    }
    let n = parse_hex_prefix(s);
    if n == 0 {
        return None;
    }
    let level_idc = (n & 0xff) as u8;
    let iop = ((n >> 8) & 0xff) as u8;
    let idc = ((n >> 16) & 0xff) as u8;
    let level = if level_idc == LEVEL_1_1 {
        if u32::from(iop) & CONSTRAINT_SET3 != 0 {
            LEVEL_1B
        } else {
            LEVEL_1_1
        }
    } else if KNOWN_LEVELS.contains(&level_idc) {
        level_idc
    } else {
        return None;
    };
    PATTERNS
        .iter()
        .find(|(p_idc, pattern, _)| *p_idc == idc && iop_matches(pattern, iop))
        .map(|(_, _, profile)| ProfileLevelId { profile: *profile, level })
}

pub fn profile_level_id_to_string(p: ProfileLevelId) -> Option<String> {
    if p.level == LEVEL_1B {
        return match p.profile {
            Profile::ConstrainedBaseline => Some("42f00b".into()),
            Profile::Baseline => Some("42100b".into()),
            Profile::Main => Some("4d100b".into()),
            _ => None,
        };
    }
    let idc_iop = match p.profile {
        Profile::ConstrainedBaseline => "42e0",
        Profile::Baseline => "4200",
        Profile::Main => "4d00",
        Profile::ConstrainedHigh => "640c",
        Profile::High => "6400",
        Profile::PredictiveHigh444 => "f400",
    };
    Some(format!("{idc_iop}{:02x}", p.level))
}

fn param<'a>(params: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    params.and_then(|p| p.get(key))
}

/// The profile-level-id in codec parameters; `None` when present but invalid.
fn parse_sdp(params: Option<&Value>) -> Option<ProfileLevelId> {
    let v = param(params, "profile-level-id");
    if crate::ortc::js::truthy(v) {
        v.and_then(Value::as_str).and_then(parse_profile_level_id)
    } else {
        Some(DEFAULT)
    }
}

pub fn is_same_profile(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (parse_sdp(a), parse_sdp(b)) {
        (Some(x), Some(y)) => x.profile == y.profile,
        _ => false,
    }
}

fn level_asymmetry_allowed(params: Option<&Value>) -> bool {
    match param(params, "level-asymmetry-allowed") {
        Some(Value::Bool(true)) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(1.0),
        Some(Value::String(s)) => s == "1",
        _ => false,
    }
}

fn is_less_level(a: Level, b: Level) -> bool {
    if a == LEVEL_1B {
        return b != LEVEL_1 && b != LEVEL_1B;
    }
    if b == LEVEL_1B {
        return a != LEVEL_1;
    }
    a < b
}

/// The profile-level-id to answer with. `Ok(None)` when neither side gave one; `Err` when the
/// two cannot be reconciled.
pub fn profile_level_id_for_answer(
    local: Option<&Value>,
    remote: Option<&Value>,
) -> Result<Option<String>, &'static str> {
    if !crate::ortc::js::truthy(param(local, "profile-level-id"))
        && !crate::ortc::js::truthy(param(remote, "profile-level-id"))
    {
        return Ok(None);
    }
    let l = parse_sdp(local).ok_or("invalid local_profile_level_id")?;
    let r = parse_sdp(remote).ok_or("invalid remote_profile_level_id")?;
    if l.profile != r.profile {
        return Err("H264 Profile mismatch");
    }
    let min = if is_less_level(l.level, r.level) { l.level } else { r.level };
    let level =
        if level_asymmetry_allowed(local) && level_asymmetry_allowed(remote) { l.level } else { min };
    Ok(profile_level_id_to_string(ProfileLevelId { profile: l.profile, level }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_common_browser_profiles() {
        let p = parse_profile_level_id("42e01f").unwrap();
        assert_eq!((p.profile, p.level), (Profile::ConstrainedBaseline, 31));
        let p = parse_profile_level_id("4d001f").unwrap();
        assert_eq!(p.profile, Profile::Main);
        let p = parse_profile_level_id("640c34").unwrap();
        assert_eq!((p.profile, p.level), (Profile::ConstrainedHigh, 52));
        assert_eq!(parse_profile_level_id("42f00b").unwrap().level, LEVEL_1B);
        assert!(parse_profile_level_id("42e0ff").is_none()); // unknown level
        assert!(parse_profile_level_id("000000").is_none());
        assert!(parse_profile_level_id("42e01").is_none());
        assert!(parse_profile_level_id("zzzzzz").is_none());
    }

    #[test]
    fn round_trips_to_string() {
        for s in ["42e01f", "4d0032", "640c34", "42f00b", "f4001f"] {
            assert_eq!(profile_level_id_to_string(parse_profile_level_id(s).unwrap()).unwrap(), s);
        }
    }

    #[test]
    fn answer_level_is_the_minimum_unless_asymmetry_is_allowed() {
        let local = json!({"profile-level-id": "42e01f"});
        let remote = json!({"profile-level-id": "42e015"});
        assert_eq!(
            profile_level_id_for_answer(Some(&local), Some(&remote)).unwrap().unwrap(),
            "42e015"
        );
        let local = json!({"profile-level-id": "42e01f", "level-asymmetry-allowed": 1});
        let remote = json!({"profile-level-id": "42e015", "level-asymmetry-allowed": "1"});
        assert_eq!(
            profile_level_id_for_answer(Some(&local), Some(&remote)).unwrap().unwrap(),
            "42e01f"
        );
        let high = json!({"profile-level-id": "640032"});
        assert!(profile_level_id_for_answer(Some(&local), Some(&high)).is_err());
        assert_eq!(profile_level_id_for_answer(Some(&json!({})), None), Ok(None));
        assert!(is_same_profile(Some(&json!({})), Some(&json!({"profile-level-id": "42e01f"}))));
    }
}
