//! Typed ids. The app names every object with a string (a UUID in mediasoup's JS); the newtypes
//! keep a router id from being used as a consumer id. They are reference-counted, so naming an
//! object in an event costs no allocation.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(s: &str) -> Self {
                $name(Arc::from(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The shared string (for events naming this object).
            pub fn arc(&self) -> &Arc<str> {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if s.is_empty() {
                    return Err(serde::de::Error::custom(concat!("empty ", stringify!($name))));
                }
                Ok($name(Arc::from(s)))
            }
        }
    )*};
}

id_type!(RouterId, TransportId, ProducerId, ConsumerId, WebRtcServerId, RtpObserverId, DataProducerId, DataConsumerId);

/// A producer's or consumer's media kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strings_on_the_wire_and_never_empty() {
        let id: ProducerId = serde_json::from_str("\"p-1\"").unwrap();
        assert_eq!(id.as_str(), "p-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"p-1\"");
        assert!(serde_json::from_str::<ProducerId>("\"\"").is_err());
        assert!(serde_json::from_str::<ProducerId>("3").is_err());
        assert_eq!(serde_json::from_str::<MediaKind>("\"video\"").unwrap(), MediaKind::Video);
        assert!(serde_json::from_str::<MediaKind>("\"data\"").is_err());
    }
}
