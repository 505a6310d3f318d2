//! The generic JSON webhook payload: one POST carries a group of notifications.
//!
//! ```json
//! {"source":"firewatch","alerts_url":"…/api/v1/alerts","notifications":[
//!   {"idempotency_key":"…","state":"firing","alert":{…alert JSON…},"resolved_at":null,
//!    "search_url":"…/api/v1/search?q=…"}]}
//! ```

use serde_json::{json, Value};

use crate::delivery::Encoder;
use crate::links::Links;
use crate::outbox::Notification;
use firewatch_ingest::record::rfc3339_nanos;

/// Posts notification groups to one URL.
pub struct Webhook {
    url: String,
}

impl Webhook {
    pub fn new(url: &str) -> Self {
        Webhook {
            url: url.to_string(),
        }
    }
}

impl Encoder for Webhook {
    fn endpoint(&self) -> &str {
        &self.url
    }

    fn encode(&self, batch: &[Notification], links: &Links, _now: i64) -> Value {
        let notifications: Vec<Value> = batch
            .iter()
            .map(|n| {
                json!({
                    "idempotency_key": n.idempotency_key,
                    "state": n.alert.state,
                    "alert": n.alert,
                    "resolved_at": n.resolved_at.map(rfc3339_nanos::format),
                    "search_url": links.search(&n.alert),
                })
            })
            .collect();
        json!({
            "source": "firewatch",
            "alerts_url": links.alerts(),
            "notifications": notifications,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertState;
    use crate::lifecycle::{tests::alert, TrackedAlert};

    #[test]
    fn payload_carries_keys_states_and_links() {
        let t = TrackedAlert {
            alert: alert("x", AlertState::Resolved, 0, 5),
            resolved_at: Some(5),
        };
        let n = Notification::from(&t);
        let v = Webhook::new("http://h/hook").encode(
            std::slice::from_ref(&n),
            &Links::new("http://node"),
            0,
        );
        let got = &v["notifications"][0];
        assert_eq!(got["idempotency_key"], n.idempotency_key.as_str());
        assert_eq!(got["state"], "resolved");
        assert_eq!(got["alert"]["service"], "svc-x");
        assert_eq!(got["resolved_at"], "1970-01-01T00:00:00.000000005Z");
        assert_eq!(v["alerts_url"], "http://node/api/v1/alerts");
    }
}
