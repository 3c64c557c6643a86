//! Router: one media room's routing table on a worker thread. Holds the RTP capabilities it
//! was created with; transports, producers and consumers join it in later layers.

use serde_json::{json, Value};

pub struct Router {
    pub id: String,
    pub rtp_capabilities: Value,
    /// Transports in creation order.
    pub transport_ids: Vec<String>,
}

impl Router {
    pub fn new(id: String, rtp_capabilities: Value) -> Self {
        Router { id, rtp_capabilities, transport_ids: Vec::new() }
    }

    /// `router.dump()`, in mediasoup's shape.
    pub fn dump(&self) -> Value {
        json!({
            "id": self.id,
            "transportIds": self.transport_ids,
            "rtpObserverIds": [],
            "mapProducerIdConsumerIds": [],
            "mapConsumerIdProducerId": [],
            "mapProducerIdObserverIds": [],
            "mapDataProducerIdDataConsumerIds": [],
            "mapDataConsumerIdDataProducerId": [],
        })
    }
}
